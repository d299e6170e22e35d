"""`campaign --help` and `campaign list` over 10,000 posts, against `python -c "import typer"`.

    python -m bench.startup [--runs 5] [--posts 10000] [--db sqlite|postgresql|both]

Each run interleaves the baseline and the commands, so load on a shared machine hits
them alike; the table shows medians and ratios to the baseline.
Targets: `--help` <= 1.5x the bare typer import; `list` <= 1 s (table and --json).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import (
    campaign_exe,
    check,
    clean_env,
    databases,
    fill_queue,
    fresh_database,
    machine_note,
    median,
    run_child,
    table,
    verdict,
    workdir,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    print(machine_note())
    kinds = databases(args.db)
    cli = campaign_exe()
    times: dict[str, list[float]] = {}

    def timed(label: str, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        result = check(run_child(cmd, env=env, cwd=cwd, timeout=120), label)
        times.setdefault(label, []).append(result.wall)

    with workdir("startup") as tmp:
        env = clean_env(tmp / "data", f"sqlite:///{tmp / 'help.db'}")
        with contextlib.ExitStack() as stack:
            urls: dict[str, str] = {}
            for kind in kinds:
                url = stack.enter_context(fresh_database(kind, tmp))
                fill_queue(
                    url, args.posts, datetime.now(UTC) + timedelta(days=1), timedelta(minutes=1)
                )
                urls[kind] = url
            for _ in range(args.runs):
                timed(
                    "python -c 'import typer' (baseline)",
                    [sys.executable, "-c", "import typer"],
                    env,
                    tmp,
                )
                timed("campaign --help", [*cli, "--help"], env, tmp)
                for kind, url in urls.items():
                    db_env = clean_env(tmp / "data", url)
                    timed(f"campaign list ({kind}, table)", [*cli, "list"], db_env, tmp)
                    timed(f"campaign list ({kind}, --json)", [*cli, "list", "--json"], db_env, tmp)

    base = median(times["python -c 'import typer' (baseline)"])
    rows = []
    for label, values in times.items():
        m = median(values)
        if label == "campaign --help":
            target, ok = "<= 1.5x baseline", m <= 1.5 * base
        elif label.startswith("campaign list"):
            target, ok = "<= 1 s", m <= 1.0
        else:
            target, ok = "", True
        rows.append(
            (label, m, min(values), max(values), m / base, target, verdict(ok) if target else "")
        )
    print(
        table(
            ("command", "median s", "min s", "max s", "x baseline", "target", ""),
            rows,
            title=f"startup: medians of {args.runs} runs; list over {args.posts:,} posts",
        )
    )


if __name__ == "__main__":
    main()
