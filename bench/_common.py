"""What every benchmark needs: child processes with their own rusage, fresh databases,
generated articles and posts, medians and a plain table printer."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The fakes and the throwaway-database helper live with the tests; reuse them.
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from pgserver import pg_problem, temporary_database  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CAMPAIGN_BENCH_PG_URL",
    os.environ.get("CAMPAIGN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
DATABASES = ("sqlite", "postgresql")


def campaign_exe() -> list[str]:
    """The installed console script, as a user runs it (else `python -m`)."""
    script = Path(sys.executable).parent / "campaign"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "scheduler.cli.app"]


# -- child processes ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChildResult:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child (and its reaped children)
    maxrss_mb: float  # ru_maxrss of the child
    code: int
    stdout: str
    stderr: str


def run_child(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
) -> ChildResult:
    """Run one child; wall time, rusage (os.wait4 on its pid) and output. Killed at timeout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            maxrss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            code=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def check(result: ChildResult, what: str) -> ChildResult:
    if result.code != 0:
        raise SystemExit(f"bench: {what} exited {result.code}:\n{result.stderr[-2000:]}")
    return result


def clean_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment without the developer's campaign settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPAIGN_", "X_", "BLUESKY_"))}
    env["CAMPAIGN_DATA_DIR"] = str(data_dir)
    env["CAMPAIGN_TZ"] = "UTC"
    if database_url is not None:
        env["CAMPAIGN_DATABASE_URL"] = database_url
    env.update(extra)
    return env


# -- databases ---------------------------------------------------------------------------


def pg_available() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    return pg_problem(PG_ADMIN_URL)


def databases(wanted: str) -> list[str]:
    """`sqlite`, `postgresql` or `both`; PostgreSQL is dropped (with a note) if down."""
    kinds = list(DATABASES) if wanted == "both" else [wanted]
    if "postgresql" in kinds:
        problem = pg_available()
        if problem is not None:
            print(f"note: PostgreSQL skipped, unreachable: {problem}")
            kinds.remove("postgresql")
    return kinds


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """A new, empty database URL: a SQLite file in workdir, or a PostgreSQL database
    created on the test server and dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for p in workdir.glob(path.name + "*"):
                p.unlink(missing_ok=True)
        return
    with temporary_database(PG_ADMIN_URL, "campaign_bench") as url:
        yield url


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"campaign-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fill_queue(
    url: str,
    count: int,
    first: datetime,
    every: timedelta,
    platforms: Sequence[str] = ("x", "bluesky"),
    thread: bool = False,
    name: str = "bench",
) -> None:
    """Queue `count` posts (round-robin over platforms, unique texts) in-process through
    the store's own `queue`, one transaction, as `campaign queue` stores them."""
    from scheduler.model import Plan, PlannedPost, Platform
    from scheduler.store import open_store

    rng = random.Random(count)
    planned = []
    seqs = dict.fromkeys(platforms, 0)
    for i in range(count):
        platform = platforms[i % len(platforms)]
        seqs[platform] += 1
        planned.append(
            PlannedPost(
                platform=Platform(platform),
                seq=seqs[platform],
                text=f"{i + 1}. {sentence(rng, 120, 200)} #Artsakh #Armenia",
                scheduled_at=first + every * i,
                thread=thread,
            )
        )
    plan = Plan(name, tuple(planned), "/bench/generated.txt", "0" * 64, "#Artsakh #Armenia")
    with open_store(url) as store:
        store.queue(plan, datetime.now(UTC))


class Fakes:
    """bench._fakes (FakeX and FakePDS) in a child process, so they share no GIL with what
    is measured; env() points `campaign` at them; stop() returns what they received."""

    def __init__(self, latency: float, requests: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._fakes", str(latency), str(requests)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, str] = json.loads(self.proc.stdout.readline())

    def env(self) -> dict[str, str]:
        i = self.info
        return {
            "X_API_KEY": i["x_api_key"],
            "X_API_SECRET": "bench-consumer-secret",
            "X_ACCESS_TOKEN": i["x_access_token"],
            "X_ACCESS_TOKEN_SECRET": "bench-token-secret",
            "X_API_BASE_URL": i["x_url"],
            "BLUESKY_HANDLE": i["bsky_handle"],
            "BLUESKY_APP_PASSWORD": i["bsky_password"],
            "BLUESKY_PDS_URL": i["pds_url"],
        }

    def stop(self) -> dict[str, int]:
        out, _ = self.proc.communicate(timeout=30)
        counts: dict[str, int] = json.loads(out.strip().splitlines()[-1])
        return counts


# -- generated English -------------------------------------------------------------------

_SUBJECTS = (
    "The U.S. State Department",
    "Dr. Anahit Petrosyan",
    "Mr. Hamparian",
    "The committee",
    "A spokesperson for the E.U.",
    "Gov. Lee",
    "Sen. Markey",
    "Our volunteers",
    "The research team at St. Mary's",
    "Prof. J. R. Avakian",
    "Local officials",
    "The U.N. rapporteur",
)
_VERBS = (
    "said",
    "reported",
    "warned",
    "confirmed",
    "argued",
    "explained",
    "wrote",
    "noted",
)
_CLAUSES = (
    "that the blockade had cut food and medicine to the region for months",
    "that aid convoys were stopped at the checkpoint at 9 a.m. on Tuesday",
    "that the agreement, signed in Washington, D.C., was never enforced",
    "that more than 120,000 people, e.g. families with young children, were at risk",
    "that the data are published at https://example.org/reports/2023/blockade-timeline",
    "that independent monitors (i.e. the OSCE mission) had been denied access",
    "that the decision was made at approx. 4 p.m. local time",
    "that the hearing will resume on Jan. 12 with testimony from Dr. Grigoryan",
    "that schools, hospitals and power lines had been damaged",
    "that the full statement is available at www.example.com/statement",
    "that donors had pledged $2.5 million through the fund; more is needed",
    "that the talks – brokered by three governments – broke down after a week",
)
_TAILS = (
    ".",
    ".",
    ".",
    ", according to a statement released on Monday.",
    ", citing reports from the ground.",
    "; the ministry did not respond to a request for comment.",
    " (see p. 14 of the report).",
    "!",
    "?",
)


def sentence(rng: random.Random, min_chars: int = 0, max_chars: int = 10_000) -> str:
    """One English sentence with abbreviations, numbers and sometimes a URL."""
    while True:
        text = (
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_CLAUSES)}"
            f"{rng.choice(_TAILS)}"
        )
        if rng.random() < 0.3:
            extra = rng.choice(_CLAUSES).removeprefix("that ")
            text = text[:-1] + f", and {extra}."
        if min_chars <= len(text) <= max_chars:
            return text


def article_text(target_bytes: int, seed: int = 1) -> str:
    """A plain-text article of about `target_bytes` UTF-8 bytes: a title, a byline,
    then paragraphs of 2-6 sentences."""
    rng = random.Random(seed)
    parts = [
        "Why the Blockade Must End Now",
        "By Aram S. Hamparian, Executive Director",
    ]
    size = sum(len(p) + 2 for p in parts)
    while size < target_bytes:
        paragraph = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
        parts.append(paragraph)
        size += len(paragraph.encode()) + 2
    text = "\n\n".join(parts)
    return text.encode()[:target_bytes].decode("utf-8", "ignore").rstrip() + "\n"


def one_post_per_sentence_article(sentences: int, seed: int = 2) -> str:
    """Paragraphs of one 150-240 character sentence: two never fit one post on X or
    Bluesky, so the article yields about one post per sentence."""
    rng = random.Random(seed)
    parts = ["Bench Campaign", "By the bench"]
    parts += [sentence(rng, 150, 240) for _ in range(sentences)]
    return "\n\n".join(parts) + "\n"


# -- figures -----------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    if title:
        lines.append(title)
    for n, row in enumerate(cells):
        padded = (
            c.rjust(w) if n and i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        lines.append("  ".join(padded))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine_note() -> str:
    load = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at start; python {sys.version.split()[0]}"
    )
