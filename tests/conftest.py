"""Shared fixtures: real SQLite files, a real PostgreSQL database, and the CLI in-process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from pgserver import pg_problem, temporary_database

from scheduler.config import get_settings

if TYPE_CHECKING:
    from scheduler.store import Store

PG_ADMIN_URL = os.environ.get(
    "CAMPAIGN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "artsakh-op-ed.txt"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or environment, or writes their data dir."""
    for name in list(os.environ):
        if name.startswith(("CAMPAIGN_", "X_", "BLUESKY_")) and name != "CAMPAIGN_TEST_PG_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # nor the user's own
    monkeypatch.setenv("CAMPAIGN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAMPAIGN_TZ", "UTC")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'campaign.db'}"


def _pg_available() -> str | None:
    return pg_problem(PG_ADMIN_URL)


CAMPAIGN = [sys.executable, "-m", "scheduler.cli.app"]


def run_campaign(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`campaign ARGS` in a child process: needed for `run` and `demo`, which end with
    os._exit. `env` is the child's whole environment (default: this process's)."""
    return subprocess.run(
        [*CAMPAIGN, *args],
        env=dict(os.environ if env is None else env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


TABLES = ("campaigns", "posts", "events", "workers")


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to compare before and after a change that must not be."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: [
                    tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
                ]
                for table in TABLES
            }
    finally:
        engine.dispose()


def stored_posts(url: str, post_id: int | None = None) -> list[dict[str, Any]]:
    """Every column of the posts (or one) as the store wrote them (times aware, status a
    Status), for tests that check what no listing shows: leases, keys, thread links and
    remote refs. Read-only, through the store's table definitions."""
    from sqlalchemy import create_engine, select

    from scheduler.store.models import Post

    query = select(Post.__table__).order_by(Post.id)
    if post_id is not None:
        query = query.where(Post.id == post_id)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def stored_post(url: str, post_id: int) -> dict[str, Any]:
    [row] = stored_posts(url, post_id)
    return row


def _require_pg() -> None:
    problem = _pg_available()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new database on the test server (skipped, or failed in CI, when it is down)."""
    _require_pg()
    with temporary_database(PG_ADMIN_URL, "campaign_test") as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def shared_pg_url() -> Iterator[str]:
    """One migrated PostgreSQL database per test module; `reused_db_url` empties it per
    test. Creating and dropping a database costs over a second, emptying the tables
    milliseconds; tests of migrations and first use still get a fresh one (`db_url`)."""
    from scheduler.store import open_store

    with fresh_pg_database() as url:
        open_store(url).close()  # migrate once
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def reused_db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A fresh SQLite file, or the module's PostgreSQL database with every table empty."""
    from sqlalchemy import create_engine, text

    if request.param == "sqlite":
        return sqlite_url
    url = str(request.getfixturevalue("shared_pg_url"))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on a real SQLite file and on real PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(reused_db_url: str) -> Iterator[Store]:
    """The store façade on `reused_db_url`, closed after the test."""
    from scheduler.store import open_store

    with open_store(reused_db_url) as opened:
        yield opened


@pytest.fixture
def article(tmp_path: Path) -> Path:
    """Five paragraphs: a thread of several posts on each platform."""
    path = tmp_path / "op-ed.txt"
    path.write_text(
        "\n\n".join(
            f"Paragraph {i} makes its case plainly, with facts and with care. " * 3
            for i in range(1, 6)
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


class Cli(Protocol):
    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult: ...


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `campaign ARGS...` in-process: cli(*args, env={...}) -> CliResult."""
    from scheduler.cli.app import main

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
