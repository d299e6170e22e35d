"""The fault matrix: each platform fault, on each platform, ends in its documented state.

Driven in-process: a real `Dispatcher` over a real SQLite store, the real adapters
(`XPublisher` over tweepy, `BlueskyPublisher` over atproto) talking HTTP to the loopback
fakes, and a clock the test moves to the next due time (backoff, rate-limit reset).
Every row also counts the copies each fake holds: a post is never lost or doubled.

    fault                       documented end state
    5xx burst (3 x 503)         published after retries: attempts 4, 3 `retry scheduled`
    5xx beyond max attempts     failed with the reason, replies held, nothing live
    429 storm (3 x 429)         `rate-limited` events deferred to the platform's reset time,
                                not counted as attempts, then published
    timeout after the store     ambiguous -> recovered, one copy
    connection dropped after    recovered, one copy
      the store
    401 mid-campaign            earlier post stays published; the affected post failed with
                                the platform's reason, its reply held; after the fix
                                `campaign retry` publishes the rest exactly once
    X duplicate content, not    failed: the account has the text but no attempt of ours
      ours                        may have made it; the reason names the existing post and
                                  says to change the text; replies held; nothing new on X
    Bluesky record already      recovered (published), one copy, the thread chains on
      under our key               the existing record
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, stored_post
from fakes.mastodon import FakeMastodon
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from plans import planned, queue

from scheduler.config import BlueskyCredentials, MastodonCredentials, XCredentials
from scheduler.dispatch import Dispatcher, DispatchSettings
from scheduler.model import LogEntry, Platform, PostRow, Status
from scheduler.platforms.base import Publisher
from scheduler.platforms.bluesky import BlueskyPublisher
from scheduler.platforms.mastodon import UNAUTHORIZED as MASTODON_UNAUTHORIZED
from scheduler.platforms.mastodon import MastodonPublisher
from scheduler.platforms.x import UNAUTHORIZED, XPublisher
from scheduler.store import Store, open_store

X_SECRET = "x-consumer-secret-matrix"
X_TOKEN_SECRET = "x-token-secret-matrix"
BSKY_PASSWORD = "bsky-app-pw-matrix"
# Loopback answers take milliseconds; a stalled answer is well past this.
ADAPTER_TIMEOUT = 2.0
STALL = 4.0
MAX_ATTEMPTS = 3
FINAL = {Status.PUBLISHED, Status.FAILED, Status.HELD, Status.CANCELLED}


class Clock:
    """A clock the test moves by hand, given to the dispatcher and the adapters alike. It
    starts at the real time because the fakes send rate-limit resets as real epochs."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = max(self.now, when)


@dataclass
class Rig:
    fx: FakeX
    pds: FakePDS
    fm: FakeMastodon
    store: Store
    clock: Clock
    db_url: str
    session_path: Path
    publishers: dict[str, Publisher] = field(default_factory=dict)

    def publisher(self, platform: str) -> Publisher:
        if platform not in self.publishers:
            self.publishers[platform] = self._build(platform)
        return self.publishers[platform]

    def restart_publisher(self, platform: str) -> None:
        """What a daemon restart does: a new adapter (Bluesky resumes its saved session)."""
        old = self.publishers.pop(platform, None)
        if old is not None:
            old.close()

    def fake(self, platform: str) -> Any:
        """The platform's fake: they share their fault methods (fail_next, ...)."""
        return {"x": self.fx, "bluesky": self.pds, "mastodon": self.fm}[platform]

    def _build(self, platform: str) -> Publisher:
        if platform == "mastodon":
            return MastodonPublisher(
                MastodonCredentials(self.fm.base_url, self.fm.access_token),
                timeout=ADAPTER_TIMEOUT,
                clock=self.clock,
            )
        if platform == "x":
            fx = self.fx
            credentials = XCredentials(
                fx.api_key, X_SECRET, fx.access_token, X_TOKEN_SECRET, fx.base_url
            )
            return XPublisher(credentials, timeout=ADAPTER_TIMEOUT, clock=self.clock)
        return BlueskyPublisher(
            BlueskyCredentials(self.pds.handle, BSKY_PASSWORD, self.pds.base_url),
            session_path=self.session_path,
            timeout=ADAPTER_TIMEOUT,
            clock=self.clock,
        )

    def dispatcher(self, platform: str, max_attempts: int = 8) -> Dispatcher:
        return Dispatcher(
            self.store,
            {Platform(platform): self.publisher(platform)},
            "matrix-worker",
            DispatchSettings(
                batch_size=5,
                lease=timedelta(seconds=60),
                backoff_base=1.0,
                backoff_cap=4.0,
                max_attempts=max_attempts,
                record_patience=5.0,
            ),
            clock=self.clock,
            rng=random.Random(6),
        )

    # -- the platforms, alike -----------------------------------------------------------

    def fail_next(self, platform: str, n: int, status: int = 503) -> None:
        self.fake(platform).fail_next(n, status)

    def rate_limit_next(self, platform: str, n: int, reset_in: float) -> None:
        self.fake(platform).rate_limit_next(n, reset_in)

    def delay_next(self, platform: str, seconds: float) -> None:
        self.fake(platform).delay_next(seconds)

    def drop_after_store_next(self, platform: str) -> None:
        self.fake(platform).drop_after_store_next()

    def live_texts(self, platform: str) -> list[str]:
        if platform == "x":
            return [t.text for t in self.fx.tweets]
        if platform == "mastodon":
            return [status.text for status in self.fm.statuses]
        return [str(r.value["text"]) for r in self.pds.records.values()]

    def copies(self, platform: str, texts: list[str]) -> list[int]:
        live = self.live_texts(platform)
        return [live.count(t) for t in texts]

    def chained(self, platform: str, texts: list[str]) -> bool:
        """Each live post replies to the live post of the text before it."""
        if platform == "x":
            by_text = {t.text: t for t in self.fx.tweets}
            tweets = [by_text[t] for t in texts]
            return tweets[0].in_reply_to is None and all(
                b.in_reply_to == a.id for a, b in itertools.pairwise(tweets)
            )
        if platform == "mastodon":
            by_text_s = {status.text: status for status in self.fm.statuses}
            statuses = [by_text_s[t] for t in texts]
            return statuses[0].in_reply_to_id is None and all(
                b.in_reply_to_id == a.id for a, b in itertools.pairwise(statuses)
            )
        by_text_r = {str(r.value["text"]): r for r in self.pds.records.values()}
        records = [by_text_r[t] for t in texts]
        root = records[0]

        def ref(record: Any, role: str) -> tuple[str, str]:
            strong = record.value["reply"][role]
            return strong["uri"], strong["cid"]

        return "reply" not in root.value and all(
            ref(b, "parent") == (a.uri, a.cid) and ref(b, "root") == (root.uri, root.cid)
            for a, b in itertools.pairwise(records)
        )


@pytest.fixture
def rig(tmp_path: Path, sqlite_url: str) -> Iterator[Rig]:
    fx = FakeX().start()
    pds = FakePDS(password=BSKY_PASSWORD)
    pds.start()
    fm = FakeMastodon().start()
    store = open_store(sqlite_url)
    made = Rig(fx, pds, fm, store, Clock(), sqlite_url, tmp_path / "data" / "bluesky-session")
    try:
        yield made
    finally:
        for publisher in made.publishers.values():
            publisher.close()
        store.close()
        fm.stop()
        pds.stop()
        fx.stop()


@dataclass(frozen=True)
class Thread:
    campaign: str
    ids: list[int]
    texts: list[str]


def queue_thread(rig: Rig, platform: str, n: int = 3, spacing: float = 0.0) -> Thread:
    """A thread of `n` posts on `platform`, the first due now, then every `spacing` s."""
    tag = uuid.uuid4().hex[:8]
    texts = [f"Fault matrix {tag}: part {i} of the {platform} thread #Artsakh" for i in range(n)]
    times = [rig.clock() + timedelta(seconds=i * spacing) for i in range(n)]
    name = f"matrix-{tag}"
    posts = planned(platform, times, texts=texts)
    queued = queue(rig.store, posts, name, now=rig.clock(), hashtags="#Artsakh")
    return Thread(name, [q.id for q in queued], texts)


def rows(rig: Rig, ids: list[int]) -> list[PostRow]:
    found = {p.id: p for p in rig.store.posts(post_ids=ids)}
    return [found[i] for i in ids]


def events(rig: Rig, post_id: int, kind: str | None = None) -> list[LogEntry]:
    return rig.store.log(post_id=post_id, kinds=[kind] if kind else ())


def drive(rig: Rig, dispatcher: Dispatcher, ids: list[int], max_ticks: int = 30) -> int:
    """Tick, moving the clock to the next due time, until every post is final."""
    for ticks in range(1, max_ticks + 1):
        dispatcher.tick()
        posts = rows(rig, ids)
        if all(p.status in FINAL for p in posts):
            return ticks
        now = rig.clock()
        waiting = [
            p.next_attempt_at
            for p in posts
            if p.status == Status.QUEUED and p.next_attempt_at > now
        ]
        rig.clock.set(min(waiting) if waiting else now + timedelta(seconds=1))
    raise AssertionError(f"not settled after {max_ticks} ticks: {[p.status for p in posts]}")


def report(fault: str, platform: str, end_state: str, copies: list[int]) -> None:
    shown = copies[0] if len(set(copies)) == 1 else copies
    print(f"fault matrix: {fault} on {platform}: {end_state} (copies={shown})")


# -- the rows ------------------------------------------------------------------------------


def five_xx_burst(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform)
    rig.fail_next(platform, 3, 503)
    drive(rig, rig.dispatcher(platform), thread.ids)

    first = rows(rig, thread.ids)[0]
    assert [p.status for p in rows(rig, thread.ids)] == ["published"] * 3
    assert first.attempts == 4
    retries = events(rig, first.id, "retry scheduled")
    assert [e.detail["attempt"] for e in retries] == [1, 2, 3]
    assert all("503" in e.detail["reason"] for e in retries)
    assert events(rig, first.id, "published")  # a clean answer, not a recovery
    assert rig.copies(platform, thread.texts) == [1, 1, 1]
    assert rig.chained(platform, thread.texts)
    return f"published after {len(retries)} retries (attempts {first.attempts})", thread


def five_xx_beyond_max(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform)
    rig.fail_next(platform, MAX_ATTEMPTS, 503)
    drive(rig, rig.dispatcher(platform, max_attempts=MAX_ATTEMPTS), thread.ids)

    first, *replies = rows(rig, thread.ids)
    assert first.status == "failed"
    assert first.attempts == MAX_ATTEMPTS
    assert first.last_error is not None and "503" in first.last_error
    assert f"gave up after {MAX_ATTEMPTS} attempts" in first.last_error
    assert [r.status for r in replies] == ["held", "held"]
    assert all(f"post {first.id} failed" in (r.last_error or "") for r in replies)
    assert len(events(rig, first.id, "retry scheduled")) == MAX_ATTEMPTS - 1
    assert rig.copies(platform, thread.texts) == [0, 0, 0]
    return f"failed after {first.attempts} attempts, {len(replies)} replies held", thread


def rate_limit_storm(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform)
    # Each 429 names the end of the window the previous one was in; the test clock jumps
    # to each reset, ahead of the real clock the fakes use, so the resets step by 60 s.
    for window in (1, 2, 3):
        rig.rate_limit_next(platform, 1, reset_in=60 * window)
    dispatcher = rig.dispatcher(platform)
    resets: list[datetime] = []
    for _ in range(3):
        dispatcher.tick()
        if platform == "x":
            header = rig.fx.requests[-1].response_headers["x-rate-limit-reset"]
            resets.append(datetime.fromtimestamp(int(header), UTC))
        elif platform == "mastodon":
            # Mastodon.py reads the ISO 8601 reset and corrects it by the Date header.
            header = rig.fm.requests[-1].response_headers["X-RateLimit-Reset"]
            sent = datetime.fromisoformat(header.replace("Z", "+00:00"))
            deferred = rows(rig, thread.ids)[0].next_attempt_at
            assert abs((deferred - sent).total_seconds()) < 2
            resets.append(deferred)
        else:
            assert rig.pds.last_reset_at is not None
            resets.append(datetime.fromtimestamp(rig.pds.last_reset_at, UTC))
        first = rows(rig, thread.ids)[0]
        assert first.status == "queued" and first.attempts == 0
        # Deferred to the reset the platform sent, not to a backoff.
        assert first.next_attempt_at == resets[-1]
        assert resets[-1] > rig.clock() + timedelta(seconds=50)
        dispatcher.tick()  # before the reset: nothing is sent
        rig.clock.set(first.next_attempt_at)
    drive(rig, dispatcher, thread.ids)

    first = rows(rig, thread.ids)[0]
    limited = events(rig, first.id, "rate-limited")
    assert [datetime.fromisoformat(e.detail["until"]) for e in limited] == resets
    assert events(rig, first.id, "retry scheduled") == []
    assert first.attempts == 1  # the three 429s did not count
    assert [p.status for p in rows(rig, thread.ids)] == ["published"] * 3
    assert rig.copies(platform, thread.texts) == [1, 1, 1]
    assert rig.chained(platform, thread.texts)
    return (
        f"published after {len(limited)} rate-limited deferrals to the reset time "
        f"(attempts {first.attempts})"
    ), thread


def _recovered_once(rig: Rig, platform: str, thread: Thread) -> str:
    first = rows(rig, thread.ids)[0]
    assert [p.status for p in rows(rig, thread.ids)] == ["published"] * 3
    recovered = events(rig, first.id, "recovered")
    assert len(recovered) == 1
    assert recovered[0].detail["remote_id"] == first.remote_id
    assert events(rig, first.id, "published") == []
    assert rig.copies(platform, thread.texts) == [1, 1, 1]
    assert rig.chained(platform, thread.texts)
    return f"recovered (attempts {first.attempts})"


def timeout(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform)
    rig.delay_next(platform, STALL)
    drive(rig, rig.dispatcher(platform), thread.ids)
    first = rows(rig, thread.ids)[0]
    if platform == "x":
        # X: the timeout leaves the outcome unknown; the retry finds it in the timeline.
        (retry,) = events(rig, first.id, "retry scheduled")
        assert "did not answer" in retry.detail["reason"]
        assert rig.fx.post_attempts == 3  # the timed-out one and the two replies
    elif platform == "mastodon":
        # Mastodon: the retry looks among the account's statuses before sending again.
        (retry,) = events(rig, first.id, "retry scheduled")
        assert "Mastodon did not answer" in retry.detail["reason"]
        assert len(rig.fm.statuses) == 3
    else:
        # Bluesky: the adapter asks the PDS for the record key at once.
        assert events(rig, first.id, "retry scheduled") == []
    return "ambiguous -> " + _recovered_once(rig, platform, thread), thread


def dropped_after_store(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform)
    rig.drop_after_store_next(platform)
    drive(rig, rig.dispatcher(platform), thread.ids)
    first = rows(rig, thread.ids)[0]
    if platform in ("x", "mastodon"):
        (retry,) = events(rig, first.id, "retry scheduled")
        name = "X" if platform == "x" else "Mastodon"
        assert f"connection to {name} lost" in retry.detail["reason"]
    return _recovered_once(rig, platform, thread), thread


def unauthorized_mid_campaign(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform, spacing=60)
    dispatcher = rig.dispatcher(platform)
    dispatcher.tick()
    assert [p.status for p in rows(rig, thread.ids)] == ["published", "queued", "queued"]
    cut = 1
    if platform == "x":
        rig.fx.unauthorized(True)
        reason = UNAUTHORIZED
    elif platform == "mastodon":
        rig.fm.unauthorized(True)
        reason = MASTODON_UNAUTHORIZED
    else:
        # The app password was revoked: its tokens die with it and the login is refused.
        rig.pds.reject_password(True)
        rig.pds.expire_tokens(refresh=True)
        reason = "Bluesky rejected the login for @campaign.test"
    drive(rig, dispatcher, thread.ids)

    posts = rows(rig, thread.ids)
    affected, *held = posts[cut:]
    assert [p.status for p in posts[:cut]] == ["published"] * cut
    assert affected.status == "failed" and affected.attempts == 1
    assert affected.last_error is not None and affected.last_error.startswith(reason)
    assert [p.status for p in held] == ["held"] * len(held)
    state = f"{cut} published, 1 failed ({affected.last_error[:40]}...), {len(held)} held"

    # The fix: X takes the tokens again; Bluesky gets a working app password, which the
    # daemon reads when it starts again.
    if platform in ("x", "mastodon"):
        rig.fake(platform).unauthorized(False)
    else:
        rig.pds.reject_password(False)
        rig.restart_publisher(platform)
    retried = cli("retry", "--campaign", thread.campaign, env={"CAMPAIGN_DATABASE_URL": rig.db_url})
    assert retried.code == 0, retried.stderr
    assert f"queued again {len(posts) - cut} posts" in retried.stdout
    drive(rig, rig.dispatcher(platform), thread.ids)

    assert [p.status for p in rows(rig, thread.ids)] == ["published"] * len(posts)
    assert rig.copies(platform, thread.texts) == [1] * len(posts)
    assert rig.chained(platform, thread.texts)
    return state + "; after the fix `campaign retry` published the rest", thread


def already_there(rig: Rig, platform: str, cli: Cli) -> tuple[str, Thread]:
    thread = queue_thread(rig, platform)
    if platform == "x":
        existing = rig.fx.add_existing(thread.texts[0])
        drive(rig, rig.dispatcher(platform), thread.ids)
        first, *replies = rows(rig, thread.ids)
        assert (first.status, first.attempts, first.remote_id) == ("failed", 1, None)
        assert first.last_error == (
            "X refused it as duplicate content: the account already has this text "
            f"(https://x.com/i/web/status/{existing.id}); change the text, then "
            f"`campaign retry {first.id}`"
        )
        assert [r.status for r in replies] == ["held", "held"]
        assert rig.copies(platform, thread.texts) == [1, 0, 0]  # only the one it already had
        return "failed, naming the existing post; replies held", thread
    key = stored_post(rig.db_url, thread.ids[0])["idempotency_key"]
    if platform == "mastodon":
        # An earlier request under the post's Idempotency-Key made the status: the
        # server answers the repeat with it, and no second one is made.
        made = rig.fm.client().status_post(thread.texts[0], idempotency_key=key)
        drive(rig, rig.dispatcher(platform), thread.ids)
        first = rows(rig, thread.ids)[0]
        assert (first.status, first.remote_id) == ("published", str(made["id"]))
        assert first.attempts == 1
        assert rig.copies(platform, thread.texts) == [1, 1, 1]
        assert rig.chained(platform, thread.texts)
        return "published: the server answered with the status made under its key", thread
    rig.pds.put_record(key, {"text": thread.texts[0], "createdAt": "2030-01-01T00:00:00.000Z"})
    drive(rig, rig.dispatcher(platform), thread.ids)
    first = rows(rig, thread.ids)[0]
    assert first.remote_id == key
    assert len(events(rig, first.id, "recovered")) == 1
    assert first.attempts == 1
    return "published (" + _recovered_once(rig, platform, thread) + ")", thread


Scenario = Callable[[Rig, str, Cli], tuple[str, Thread]]

MATRIX: list[tuple[str, str, Scenario]] = [
    ("5xx burst", "x", five_xx_burst),
    ("5xx burst", "bluesky", five_xx_burst),
    ("5xx beyond max attempts", "x", five_xx_beyond_max),
    ("5xx beyond max attempts", "bluesky", five_xx_beyond_max),
    ("429 storm", "x", rate_limit_storm),
    ("429 storm", "bluesky", rate_limit_storm),
    ("timeout", "x", timeout),
    ("timeout", "bluesky", timeout),
    ("connection dropped after store", "x", dropped_after_store),
    ("connection dropped after store", "bluesky", dropped_after_store),
    ("401 mid-campaign", "x", unauthorized_mid_campaign),
    ("401 mid-campaign", "bluesky", unauthorized_mid_campaign),
    ("duplicate content", "x", already_there),
    ("record already under our key", "bluesky", already_there),
    ("5xx burst", "mastodon", five_xx_burst),
    ("5xx beyond max attempts", "mastodon", five_xx_beyond_max),
    ("429 storm", "mastodon", rate_limit_storm),
    ("timeout", "mastodon", timeout),
    ("connection dropped after store", "mastodon", dropped_after_store),
    ("401 mid-campaign", "mastodon", unauthorized_mid_campaign),
    ("status already under our key", "mastodon", already_there),
]


@pytest.mark.parametrize(
    ("fault", "platform", "scenario"),
    MATRIX,
    ids=[f"{fault}-{platform}".replace(" ", "-") for fault, platform, _ in MATRIX],
)
def test_fault_matrix(rig: Rig, cli: Cli, fault: str, platform: str, scenario: Scenario) -> None:
    end_state, thread = scenario(rig, platform, cli)
    copies = rig.copies(platform, thread.texts)
    assert max(copies) <= 1, f"a post went out twice: {copies}"
    live = rig.live_texts(platform)
    assert len(live) == len(set(live)), "a post went out twice"
    report(fault, platform, end_state, copies)
