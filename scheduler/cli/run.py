"""`campaign run` (the daemon) and `campaign demo` (the whole path, dry-run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posts.platform import Platform
from scheduler.cli.context import open_default_store, settings
from scheduler.cli.root import app
from scheduler.errors import BadInput

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "artsakh-op-ed.txt"


def _configure_logging() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The SDKs' and APScheduler's own chatter would drown the post log.
    for noisy in ("apscheduler", "httpx", "urllib3", "tweepy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A poll that finds the previous tick still running is skipped by design (one
    # executor thread, max_instances=1); APScheduler warns about each one.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


@app.command()
def run(
    poll: Annotated[
        float | None,
        typer.Option(
            "--poll", metavar="SECONDS", help="Seconds between polls (default 5).", min=0.05
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit (for cron).")] = False,
    until_done: Annotated[
        bool,
        typer.Option(
            "--until-done", help="Exit when nothing it can publish is queued or publishing."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print what would be published, and when, changing nothing: no post is "
            "claimed, published or logged.",
        ),
    ] = False,
) -> None:
    """Run the daemon: publish each due post once, on time. SIGINT/SIGTERM stop it cleanly.

    With --dry-run it only rehearses: --once prints what is due now, --until-done every
    queued post, and plain --dry-run prints posts as they fall due until stopped.
    """
    import os
    import sys
    from datetime import timedelta

    if dry_run:
        _rehearse(poll, once, until_done)
        return

    from scheduler.daemon import Daemon, DaemonOptions
    from scheduler.dispatch import DispatchSettings
    from scheduler.platforms.factory import build_publishers

    _configure_logging()
    config = settings()
    publishers, missing = build_publishers(config)
    if not publishers:
        raise BadInput(
            "no platform can publish: "
            + "; ".join(missing[p] for p in sorted(missing))
            + " (or see what would go out with --dry-run)"
        )
    store = open_default_store()
    daemon = Daemon(
        store,
        publishers,
        missing,
        DispatchSettings(
            batch_size=config.batch_size,
            lease=timedelta(seconds=config.lease_seconds),
            backoff_base=config.backoff_base_seconds,
            backoff_cap=config.backoff_cap_seconds,
            max_attempts=config.max_attempts,
            catch_up=timedelta(hours=config.catch_up_hours),
        ),
        DaemonOptions(
            poll_seconds=poll or config.poll_seconds,
            once=once,
            until_done=until_done,
            shutdown_grace=config.shutdown_grace_seconds,
        ),
    )
    daemon.install_signal_handlers()
    totals = daemon.run()
    for publisher in publishers.values():
        publisher.close()
    store.close()
    sys.stderr.write(
        f"campaign run: {totals.published} published, {totals.retried} to retry, "
        f"{totals.rate_limited} rate-limited, {totals.failed} failed, "
        f"{totals.released} released\n"
    )
    sys.stderr.flush()
    sys.stdout.flush()
    # A publish still stuck past the grace period must not keep the process alive:
    # its lease expires and the next run checks the platform before posting again.
    os._exit(0)


def _rehearse(poll: float | None, once: bool, until_done: bool) -> None:
    import signal
    import sys
    import threading

    from scheduler.cli.context import display_zone
    from scheduler.clock import utcnow
    from scheduler.model import Platform
    from scheduler.rehearsal import Rehearsal, rehearse_until_stopped, summary

    with open_default_store() as store:
        rehearsal = Rehearsal(store, list(Platform), sys.stdout, display_zone())
        if once or until_done:
            rehearsal.show_due(utcnow() if once else None)
        else:
            stopping = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stopping.set())
            rehearse_until_stopped(rehearsal, utcnow, poll or settings().poll_seconds, stopping)
        sys.stderr.write(summary(len(rehearsal.shown), rehearsal.waiting(utcnow())) + "\n")


@app.command()
def demo(
    article: Annotated[
        Path | None,
        typer.Option("--article", metavar="ARTICLE", help="Another article to demo with."),
    ] = None,
) -> None:
    """Queue the example op-ed for X and Bluesky in a throwaway database, publish it with dry-run publishers, and print the post log."""  # noqa: E501
    import os
    import tempfile

    from scheduler.cli.log import log as show_log
    from scheduler.cli.queue import queue as queue_posts
    from scheduler.config import get_settings

    source = article or EXAMPLE
    if not source.exists():
        raise BadInput(f"the demo article is missing: {source}")
    with tempfile.TemporaryDirectory(prefix="campaign-demo-") as tmp:
        os.environ["CAMPAIGN_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'demo.db'}"
        os.environ["CAMPAIGN_DATA_DIR"] = tmp
        get_settings.cache_clear()
        typer.echo(f"demo: a throwaway database in {tmp}; nothing is sent anywhere\n")
        queue_posts(
            article=source,
            platform=[p.value for p in Platform],
            start="now",
            every="1s",
            tag=["Artsakh", "Armenia"],
            campaign="demo",
        )
        typer.echo("\ndemo: running the daemon with dry-run publishers until every post is out\n")
        _daemon_until_done()
        typer.echo("")
        show_log(campaign="demo", post=None, platform=None, kind=None, since=None, count=None)


def _daemon_until_done() -> None:
    from datetime import timedelta

    from scheduler.daemon import Daemon, DaemonOptions
    from scheduler.dispatch import DispatchSettings
    from scheduler.platforms.factory import build_publishers

    publishers, missing = build_publishers(settings(), dry_run=True)
    with open_default_store() as store:
        Daemon(
            store,
            publishers,
            missing,
            DispatchSettings(lease=timedelta(seconds=60)),
            DaemonOptions(poll_seconds=1.0, until_done=True),
        ).run()
