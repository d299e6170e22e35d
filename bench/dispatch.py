"""The real daemon (`campaign run --until-done`) publishing against the loopback fakes.

    python -m bench.dispatch [--runs 3] [--posts 1000] [--slow-posts 200]
                             [--window 10] [--lead 8] [--db sqlite|postgresql|both]
    python -m bench.dispatch --posts 5000 --slow-posts 1000 --window 20   # the full size

FakeX and FakePDS (tests/fakes, unmodified) run in a separate process (bench._fakes).
Posts alternate X / Bluesky, standalone (no thread: a thread lets one post of each
platform be claimable at a time). Each daemon run gets a fresh database and fresh fakes.

- spread, 0 ms latency: `--posts` due evenly over `--window` seconds (compressed from
  "within one minute"), the first `--lead` seconds after queueing so the daemon is up:
  lateness p50/p99/max = published event time - scheduled_at, from the database.
- burst, 0 ms and 50 ms latency: all posts due at the same instant (`--slow-posts` at
  50 ms, since publishing is sequential: 5,000 x 50 ms is over 4 minutes): throughput =
  posts / (last published - due time), against the baseline, what a user's ten-line
  script does: a bare loop of the SDKs' own calls (tweepy `Client.create_tweet`, atproto
  `com.atproto.repo.create_record`) for the same posts in a child process. A loop of our
  adapters (`XPublisher`/`BlueskyPublisher.publish`) is shown beside it: the adapters'
  own cost.
- CPU s per 1,000 posts: the daemon child's rusage minus the median rusage of a daemon
  run with nothing to publish (start-up and shutdown); the bare loop measures its loop.
Targets: lateness p99 <= 1 s at 0 ms; daemon throughput >= 0.8x the bare SDK loop.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import (
    REPO,
    Fakes,
    campaign_exe,
    check,
    clean_env,
    databases,
    fill_queue,
    fresh_database,
    machine_note,
    median,
    run_child,
    sentence,
    table,
    verdict,
    workdir,
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def published_times(url: str) -> list[tuple[datetime, datetime]]:
    """(scheduled_at, published event time) of every published post."""
    from scheduler.store import open_store

    with open_store(url, migrate=False) as store:
        scheduled = {p.id: p.scheduled_at for p in store.posts()}
        published = store.log(kinds=["published"])
    return [(scheduled[e.post_id], e.at) for e in published if e.post_id is not None]


def daemon_run(
    kind: str, tmp: Path, posts: int, latency: float, every: timedelta, lead: float
) -> dict[str, float]:
    fakes = Fakes(latency, posts + 10)
    try:
        with fresh_database(kind, tmp) as url:
            due = datetime.now(UTC) + timedelta(seconds=lead)
            if posts:
                fill_queue(url, posts, due, every)
            env = clean_env(tmp / f"data-{time.monotonic_ns()}", url, **fakes.env())
            result = check(
                run_child(
                    [*campaign_exe(), "run", "--until-done"], env, tmp, timeout=120 + posts * 0.2
                ),
                "campaign run",
            )
            times = published_times(url) if posts else []
    finally:
        counts = fakes.stop()
    if len(times) != posts or counts["tweets"] + counts["records"] != posts:
        raise SystemExit(f"bench: expected {posts} published, got {len(times)} ({counts})")
    figures = {"cpu": result.cpu, "wall": result.wall, "rss": result.maxrss_mb}
    if posts:
        late = [(a - s).total_seconds() for s, a in times]
        figures |= {
            "p50": percentile(late, 50),
            "p99": percentile(late, 99),
            "max": max(late),
            "rate": posts / (max(a for _, a in times) - due).total_seconds(),
        }
    return figures


def bare_run(tmp: Path, posts: int, latency: float, mode: str) -> dict[str, float]:
    """A baseline loop in a child process: `sdk` (the SDKs' own calls) or `adapter`."""
    fakes = Fakes(latency, posts + 10)
    try:
        config = {
            **fakes.info,
            "posts": posts,
            "mode": mode,
            "data": str(tmp / f"bare-{time.monotonic_ns()}"),
        }
        result = check(
            run_child(
                [sys.executable, "-m", "bench.dispatch", "--bare-child", json.dumps(config)],
                clean_env(tmp / "data", PYTHONPATH=str(REPO)),
                tmp,
                timeout=120 + posts * 0.2,
            ),
            f"{mode} loop",
        )
    finally:
        counts = fakes.stop()
    if counts["tweets"] + counts["records"] != posts:
        raise SystemExit(f"bench: {mode} loop published {counts}, expected {posts}")
    loop: dict[str, float] = json.loads(result.stdout)
    return {"cpu": loop["cpu"], "rate": posts / loop["wall"], "wall": loop["wall"]}


def _texts(posts: int) -> list[tuple[str, str]]:
    rng = random.Random(posts)
    return [
        (("x", "bluesky")[i % 2], f"{i + 1}. {sentence(rng, 120, 200)} #Artsakh #Armenia")
        for i in range(posts)
    ]  # as fill_queue


def _sdk_loop(config: dict[str, Any]) -> Callable[[str, str], None]:
    """What a user's ten-line script does: tweepy's create_tweet and atproto's
    create_record, the SDKs' own calls. tweepy has its host built in, so the script
    mounts a transport adapter that sends api.twitter.com to the fake (as the tests do)."""
    import requests
    import tweepy
    from atproto import Client

    class ToFake(requests.adapters.HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            request.url = request.url.replace("https://api.twitter.com", config["x_url"])
            return super().send(request, *args, **kwargs)

    x = tweepy.Client(
        consumer_key=config["x_api_key"],
        consumer_secret="bench-consumer-secret",
        access_token=config["x_access_token"],
        access_token_secret="bench-token-secret",
    )
    x.session.mount("https://api.twitter.com/", ToFake())
    bsky = Client(config["pds_url"])
    # A bare PDS has no app.bsky.* service, so no profile lookup.
    bsky.login(config["bsky_handle"], config["bsky_password"], fetch_bsky_profile=False)
    did = bsky.com.atproto.server.get_session().did

    def publish(platform: str, text: str) -> None:
        if platform == "x":
            x.create_tweet(text=text, user_auth=True)
        else:
            record = {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": bsky.get_current_time_iso(),
            }
            bsky.com.atproto.repo.create_record(
                {"repo": did, "collection": "app.bsky.feed.post", "record": record}
            )

    return publish


def _adapter_loop(config: dict[str, Any]) -> Callable[[str, str], None]:
    """Our adapters called in a loop: the SDK calls plus what the adapters add."""
    from scheduler.config import BlueskyCredentials, XCredentials
    from scheduler.keys import new_tid
    from scheduler.model import OutgoingPost, Platform
    from scheduler.platforms.bluesky import BlueskyPublisher
    from scheduler.platforms.x import XPublisher

    Path(config["data"]).mkdir(parents=True, exist_ok=True)
    x = XPublisher(
        XCredentials(
            config["x_api_key"],
            "bench-consumer-secret",
            config["x_access_token"],
            "bench-token-secret",
            config["x_url"],
        )
    )
    bsky = BlueskyPublisher(
        BlueskyCredentials(config["bsky_handle"], config["bsky_password"], config["pds_url"]),
        session_path=Path(config["data"]) / "bluesky-session",
    )
    counter = iter(range(1, 10**9))

    def publish(platform: str, text: str) -> None:
        n = next(counter)
        if platform == "x":
            x.publish(OutgoingPost(n, Platform.X, text, f"bare-{n}"), None)
        else:
            bsky.publish(OutgoingPost(n, Platform.BLUESKY, text, new_tid()), None)

    return publish


def bare_child(config: dict[str, Any]) -> None:
    """A baseline: publish the posts in a plain loop, timing the loop alone."""
    publish = (_sdk_loop if config["mode"] == "sdk" else _adapter_loop)(config)
    posts = _texts(config["posts"])
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for platform, text in posts:
        publish(platform, text)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    print(json.dumps({"wall": wall, "cpu": cpu}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--slow-posts", type=int, default=200, help="posts at 50 ms latency")
    parser.add_argument("--latency", type=float, default=0.05, help="the slow latency, s")
    parser.add_argument("--window", type=float, default=10.0, help="spread posts over, s")
    parser.add_argument("--lead", type=float, default=8.0, help="first due after queueing, s")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--bare-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_child:
        bare_child(json.loads(args.bare_child))
        return
    print(machine_note())
    kinds = databases(args.db)
    spread_every = timedelta(seconds=args.window / args.posts)
    results: dict[str, list[dict[str, float]]] = {}

    def add(label: str, figures: dict[str, float]) -> None:
        results.setdefault(label, []).append(figures)

    with workdir("dispatch") as tmp:
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs} ...", flush=True)
            add("bare SDK loop, 0 ms", bare_run(tmp, args.posts, 0.0, "sdk"))
            add("adapter loop, 0 ms", bare_run(tmp, args.posts, 0.0, "adapter"))
            add(
                f"bare SDK loop, {args.latency * 1000:.0f} ms",
                bare_run(tmp, args.slow_posts, args.latency, "sdk"),
            )
            for kind in kinds:
                add(
                    f"daemon start-up only ({kind})", daemon_run(kind, tmp, 0, 0.0, spread_every, 0)
                )
                add(
                    f"daemon spread, 0 ms ({kind})",
                    daemon_run(kind, tmp, args.posts, 0.0, spread_every, args.lead),
                )
                add(
                    f"daemon burst, 0 ms ({kind})",
                    daemon_run(kind, tmp, args.posts, 0.0, timedelta(0), args.lead),
                )
                slow = daemon_run(kind, tmp, args.slow_posts, args.latency, timedelta(0), args.lead)
                add(f"daemon burst, {args.latency * 1000:.0f} ms ({kind})", slow)

    def med(label: str, key: str) -> float:
        return median([r[key] for r in results[label]])

    rows = []
    for label in results:
        if label.startswith("daemon start-up"):
            rows.append((label, "", "", "", "", "", "", f"{med(label, 'cpu'):.2f} s total", ""))
            continue
        slow = not label.endswith(("0 ms", "0 ms (sqlite)", "0 ms (postgresql)")) or (
            f"{args.latency * 1000:.0f} ms" in label
        )
        posts = args.slow_posts if slow else args.posts
        rate = med(label, "rate")
        if label.startswith(("bare", "adapter")):
            cpu = med(label, "cpu") / posts * 1000
            bare = med("bare SDK loop, 0 ms" if not slow else label, "rate")
            rows.append((label, posts, rate, f"{rate / bare:.2f}", "", "", "", f"{cpu:.2f}", ""))
            continue
        kind = label[label.rindex("(") + 1 : -1]
        startup = med(f"daemon start-up only ({kind})", "cpu")
        cpu = (med(label, "cpu") - startup) / posts * 1000
        bare = med(
            f"bare SDK loop, {args.latency * 1000:.0f} ms" if slow else "bare SDK loop, 0 ms",
            "rate",
        )
        notes = []
        if "spread" in label:
            notes.append(f"p99 <= 1 s {verdict(med(label, 'p99') <= 1.0)}")
            ratio = ""
        else:
            ratio = f"{rate / bare:.2f}"
            notes.append(f">= 0.8x {verdict(rate / bare >= 0.8)}")
        rows.append((label, posts, rate, ratio, med(label, "p50"), med(label, "p99"),
                     med(label, "max"), f"{cpu:.2f}", "; ".join(notes)))  # fmt: skip
    print(
        table(
            (
                "run",
                "posts",
                "posts/s",
                "x bare",
                "late p50 s",
                "late p99 s",
                "late max s",
                "CPU s / 1000",
                "targets",
            ),
            rows,
            title=f"dispatch: medians of {args.runs} runs; spread = due over {args.window:g} s",
        )
    )


if __name__ == "__main__":
    main()
