"""XPublisher against the X API fake, through the real tweepy SDK over loopback HTTP."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fakes.x_api import CREATE_TWEET, GET_ME, USER_TWEETS, FakeX

from scheduler.config import Settings, XCredentials
from scheduler.errors import MissingCredentials
from scheduler.model import OutgoingPost, Platform, RemoteRef, ReplyTarget
from scheduler.platforms.base import (
    DuplicateContent,
    Permanent,
    Publisher,
    PublishError,
    RateLimited,
    Transient,
)
from scheduler.platforms.x import UNAUTHORIZED, XPublisher, same_text

API_KEY = "ck-Zq7RkTn3VwPp9YtL2mXe"
API_SECRET = "cs-Hb4uJ8sQ1nFd6GcW0aKr5vTy"
ACCESS_TOKEN = "1500000000000000001-At9LmQ2wEr7TyUi4OpAs"
ACCESS_TOKEN_SECRET = "ats-Df3GhJ6kLz8XcVb1Nm5QwEr"
SECRETS = (API_KEY, API_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_SECRET)
TIMEOUT = 1.0


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(api_key=API_KEY, access_token=ACCESS_TOKEN) as fake:
        yield fake


def make_publisher(base_url: str, api_key: str = API_KEY) -> XPublisher:
    credentials = XCredentials(api_key, API_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_SECRET, base_url)
    return XPublisher(credentials, timeout=TIMEOUT)


@pytest.fixture
def x(fake: FakeX) -> Iterator[XPublisher]:
    publisher = make_publisher(fake.base_url)
    yield publisher
    publisher.close()


def outgoing(text: str, *, post_id: int = 1, ambiguous: bool = False) -> OutgoingPost:
    return OutgoingPost(
        post_id=post_id,
        platform=Platform.X,
        text=text,
        idempotency_key=f"key-{post_id}",
        attempt=2 if ambiguous else 1,
        ambiguous=ambiguous,
    )


def reply_to(root: RemoteRef, parent: RemoteRef) -> ReplyTarget:
    return ReplyTarget(root=root, parent=parent)


def test_satisfies_the_publisher_protocol(x: XPublisher) -> None:
    publisher: Publisher = x
    assert publisher.platform == "x"


def test_publish_and_reply_chain(fake: FakeX, x: XPublisher) -> None:
    root = x.publish(outgoing("1/3 a thread", post_id=1), None)
    second = x.publish(outgoing("2/3 goes on", post_id=2), reply_to(root, root))
    third = x.publish(outgoing("3/3 and ends", post_id=3), reply_to(root, second))

    stored = fake.tweets
    assert [t.id for t in stored] == [root.id, second.id, third.id]
    assert [t.in_reply_to for t in stored] == [None, root.id, second.id]
    assert root == RemoteRef(id=stored[0].id, url=f"https://x.com/i/web/status/{stored[0].id}")
    assert not root.recovered and root.note is None


def test_reply_to_a_parent_without_id_is_permanent(fake: FakeX, x: XPublisher) -> None:
    unknown = RemoteRef(id=None, recovered=True, note="published, id unknown")

    with pytest.raises(Permanent):
        x.publish(outgoing("reply"), reply_to(unknown, unknown))
    assert fake.post_attempts == 0


def test_503_is_transient_not_ambiguous_and_nothing_is_stored(fake: FakeX, x: XPublisher) -> None:
    fake.fail_next(status=503)

    with pytest.raises(Transient) as raised:
        x.publish(outgoing("try again"), None)

    assert raised.value.ambiguous is False
    assert "503" in str(raised.value)
    assert fake.tweets == []
    assert x.publish(outgoing("try again"), None).id == fake.tweets[0].id


def test_504_from_a_gateway_is_ambiguous(fake: FakeX, x: XPublisher) -> None:
    fake.fail_next(status=504)

    with pytest.raises(Transient) as raised:
        x.publish(outgoing("behind a gateway"), None)

    assert raised.value.ambiguous is True


def test_429_defers_to_the_reset_header_without_sleeping(fake: FakeX, x: XPublisher) -> None:
    fake.rate_limit_next(reset_in=3600)
    started = time.monotonic()

    with pytest.raises(RateLimited) as raised:
        x.publish(outgoing("not now"), None)

    # With wait_on_rate_limit tweepy would sleep for the hour instead of raising.
    assert time.monotonic() - started < 60
    header = fake.requests[-1].response_headers["x-rate-limit-reset"]
    assert raised.value.reset_at == datetime.fromtimestamp(int(header), UTC)
    assert fake.tweets == []


def test_429_from_the_daily_cap_waits_for_the_daily_reset(fake: FakeX, x: XPublisher) -> None:
    fake.rate_limit_next(reset_in=900, daily_reset_in=20_000)

    with pytest.raises(RateLimited) as raised:
        x.publish(outgoing("tomorrow"), None)

    headers = fake.requests[-1].response_headers
    assert raised.value.reset_at == datetime.fromtimestamp(
        int(headers["x-user-limit-24hour-reset"]), UTC
    )
    assert int(headers["x-rate-limit-reset"]) < int(headers["x-user-limit-24hour-reset"])


def test_timeout_after_store_is_ambiguous_then_recovered(fake: FakeX, x: XPublisher) -> None:
    fake.delay_next(TIMEOUT + 0.5)

    with pytest.raises(Transient) as raised:
        x.publish(outgoing("slow answer"), None)
    assert raised.value.ambiguous is True

    ref = x.publish(outgoing("slow answer", ambiguous=True), None)

    (stored,) = fake.tweets
    assert ref.id == stored.id
    assert ref.recovered is True
    assert ref.note is not None and ref.note.startswith(
        "recovered from the account's recent posts after"
    )
    assert fake.post_attempts == 1  # looked, found it, did not post again


def test_dropped_connection_after_store_is_ambiguous_then_recovered(
    fake: FakeX, x: XPublisher
) -> None:
    root = x.publish(outgoing("root", post_id=1), None)
    fake.drop_after_store_next()

    with pytest.raises(Transient) as raised:
        x.publish(outgoing("reply lost", post_id=2), reply_to(root, root))
    assert raised.value.ambiguous is True

    ref = x.publish(outgoing("reply lost", post_id=2, ambiguous=True), reply_to(root, root))

    assert len(fake.tweets) == 2
    assert ref.id == fake.tweets[1].id and ref.recovered
    assert fake.post_attempts == 2


def test_ambiguous_precheck_that_finds_nothing_posts(fake: FakeX, x: XPublisher) -> None:
    x.publish(outgoing("other text", post_id=1), None)

    ref = x.publish(outgoing("never arrived", post_id=2, ambiguous=True), None)

    assert [t.text for t in fake.tweets] == ["other text", "never arrived"]
    assert ref.id == fake.tweets[1].id and not ref.recovered
    assert fake.count(USER_TWEETS) == 1


def test_recovery_requires_the_same_parent(fake: FakeX, x: XPublisher) -> None:
    # The same text standing alone is not the reply we are looking for.
    alone = x.publish(outgoing("same words", post_id=1), None)
    parent = x.publish(outgoing("a parent", post_id=2), None)

    with pytest.raises(DuplicateContent) as raised:
        x.publish(outgoing("same words", post_id=3, ambiguous=True), reply_to(parent, parent))

    # Not taken as ours; the post with the same words is named, so the store can say whose.
    assert raised.value.existing is not None and raised.value.existing.id == alone.id
    assert "not among the account's 200 latest posts" in str(raised.value)
    assert "may be live" in str(raised.value)


def test_duplicate_content_is_not_taken_as_this_post_on_a_first_attempt(
    fake: FakeX, x: XPublisher
) -> None:
    first = x.publish(outgoing("said it once", post_id=1), None)

    with pytest.raises(DuplicateContent) as raised:
        x.publish(outgoing("said it once", post_id=2), None)

    assert raised.value.existing == RemoteRef(id=first.id, url=first.url)
    assert str(raised.value) == (
        f"X refused it as duplicate content: the account already has this text ({first.url})"
    )
    assert len(fake.tweets) == 1


def test_duplicate_content_after_an_ambiguous_attempt_recovers_the_id(
    fake: FakeX, x: XPublisher
) -> None:
    first = x.publish(outgoing("said it once", post_id=1), None)
    fake.timeline_forbidden = True  # the pre-check cannot see it; X's refusal then does
    with pytest.raises(DuplicateContent):
        x.publish(outgoing("said it once", post_id=1, ambiguous=True), None)
    fake.timeline_forbidden = False

    again = x.publish(outgoing("said it once", post_id=1, ambiguous=True), None)

    assert again.id == first.id
    assert again.recovered is True
    assert again.note is not None and "an earlier attempt ended without an answer" in again.note
    assert len(fake.tweets) == 1


def test_recovery_matches_xs_rendering_of_links_and_entities(fake: FakeX, x: XPublisher) -> None:
    # X shows URLs as t.co links and escapes &, <, >: the pre-check must still match.
    text = "Read https://example.com/op-ed?ref=x, & share <3\n#Artsakh"
    fake.delay_next(TIMEOUT + 0.5)
    with pytest.raises(Transient):
        x.publish(outgoing(text), None)

    ref = x.publish(outgoing(text, ambiguous=True), None)

    assert ref.id == fake.tweets[0].id and ref.recovered
    assert fake.post_attempts == 1


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("a & b <c>", "a &amp; b &lt;c&gt;", True),
        ("see https://example.com/x.", "see https://t.co/AbC123xyZ0.", True),
        ("see example.com, now", "see https://t.co/AbC123xyZ0, now", True),
        ("two\r\nlines  here ", "two\nlines here", True),
        ("caf\u00e9", "cafe\u0301", True),  # NFC vs NFD
        ("hello", "https://t.co/AbC123xyZ0", False),  # a link stands for a URL, not any word
        ("see https://example.com", "see https://t.co/AbC123xyZ0 too", False),
        ("post 1", "post 10", False),
    ],
)
def test_same_text(ours: str, theirs: str, same: bool) -> None:
    assert same_text(ours, theirs) is same


def test_duplicate_reply_finds_the_reply_not_another_post(fake: FakeX, x: XPublisher) -> None:
    root = x.publish(outgoing("root", post_id=1), None)
    reply = x.publish(outgoing("in thread", post_id=2), reply_to(root, root))

    again = x.publish(outgoing("in thread", post_id=2, ambiguous=True), reply_to(root, root))

    assert again.id == reply.id


def test_duplicate_on_a_page_past_the_first(fake: FakeX, x: XPublisher) -> None:
    old = x.publish(outgoing("an old post", post_id=1), None)
    for i in range(100):
        fake.add_existing(f"newer post {i}")

    again = x.publish(outgoing("an old post", post_id=1, ambiguous=True), None)

    assert again.id == old.id
    assert fake.count(USER_TWEETS) == 2


def test_duplicate_with_unreadable_timeline_names_nothing(fake: FakeX, x: XPublisher) -> None:
    x.publish(outgoing("free tier"), None)
    fake.timeline_forbidden = True

    with pytest.raises(DuplicateContent) as raised:
        x.publish(outgoing("free tier", post_id=2), None)

    assert raised.value.existing is None
    assert str(raised.value) == (
        "X refused it as duplicate content: the account already has this text"
    )


def test_ambiguous_with_unreadable_timeline_falls_back_on_duplicate_check(
    fake: FakeX, x: XPublisher
) -> None:
    fake.timeline_forbidden = True
    fake.delay_next(TIMEOUT + 0.5)
    with pytest.raises(Transient):
        x.publish(outgoing("went out"), None)

    with pytest.raises(DuplicateContent) as raised:
        x.publish(outgoing("went out", ambiguous=True), None)

    assert raised.value.existing is None
    assert "the account's posts could not be read" in str(raised.value)
    assert "403" in str(raised.value) and "may be live" in str(raised.value)
    assert len(fake.tweets) == 1


def test_get_me_is_called_once_for_lookups(fake: FakeX, x: XPublisher) -> None:
    x.publish(outgoing("a"), None)
    for _ in range(2):
        with pytest.raises(DuplicateContent):
            x.publish(outgoing("a", post_id=2), None)

    assert fake.count(GET_ME) == 1


def test_401_is_permanent_and_names_the_variables(fake: FakeX, x: XPublisher) -> None:
    fake.unauthorized(True)

    with pytest.raises(Permanent) as on_publish:
        x.publish(outgoing("no entry"), None)
    with pytest.raises(Permanent) as on_check:
        x.check()

    assert str(on_publish.value) == UNAUTHORIZED
    assert str(on_check.value) == UNAUTHORIZED
    assert "X_ACCESS_TOKEN_SECRET" in UNAUTHORIZED


def test_wrong_key_is_rejected(fake: FakeX) -> None:
    publisher = make_publisher(fake.base_url, api_key="ck-wrongwrongwrong")
    with pytest.raises(Permanent, match="401"):
        publisher.check()
    publisher.close()


def test_too_long_is_permanent_with_xs_detail(fake: FakeX, x: XPublisher) -> None:
    with pytest.raises(Permanent, match="Your Tweet text is too long"):
        x.publish(outgoing("x" * 281), None)


def test_check_names_the_account(fake: FakeX, x: XPublisher) -> None:
    assert x.check() == f"@{fake.username} (id {fake.user_id})"


def test_refused_connection_is_transient_and_not_ambiguous() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    publisher = make_publisher(f"http://127.0.0.1:{port}")

    with pytest.raises(Transient) as raised:
        publisher.publish(outgoing("nobody home"), None)

    assert raised.value.ambiguous is False
    publisher.close()


def test_missing_credentials_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_API_KEY", API_KEY)
    monkeypatch.setenv("X_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("X_API_SECRET", "  ")  # blank is unset
    with pytest.raises(MissingCredentials) as raised:
        Settings().x_credentials()

    assert str(raised.value) == ("X_API_SECRET, X_ACCESS_TOKEN_SECRET not set (see .env.example)")
    assert API_KEY not in repr(Settings())


def test_secrets_never_reach_errors_notes_or_logs(
    fake: FakeX, x: XPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every library's debug output, signing included
    seen: list[str] = [repr(x), x.check()]

    def attempt(post: OutgoingPost) -> None:
        try:
            ref = x.publish(post, None)
            seen.append(repr(ref))
        except PublishError as exc:
            seen.extend([str(exc), repr(exc)])

    attempt(outgoing("one"))
    attempt(outgoing("one", ambiguous=True))  # duplicate, recovered
    fake.fail_next(status=503)
    attempt(outgoing("two"))
    fake.rate_limit_next(reset_in=3600)
    attempt(outgoing("two"))
    fake.drop_after_store_next()
    attempt(outgoing("three"))
    fake.timeline_forbidden = True
    attempt(outgoing("one", post_id=9))  # duplicate, not ours
    fake.unauthorized(True)
    attempt(outgoing("four"))
    try:
        x.check()
    except PublishError as exc:
        seen.append(str(exc))

    # requests_oauthlib logged the signed Authorization header, masked.
    assert "[redacted]" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text
        for text in seen:
            assert secret not in text
    assert fake.count(CREATE_TWEET) == 6  # the ambiguous repeat was found before posting
