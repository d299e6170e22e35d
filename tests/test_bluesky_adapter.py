"""BlueskyPublisher against the fake PDS, through the real atproto SDK over loopback HTTP."""

from __future__ import annotations

import itertools
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.pds import (
    CREATE_RECORD,
    CREATE_SESSION,
    GET_PROFILE,
    GET_RECORD,
    REFRESH_SESSION,
    FakePDS,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.config import BlueskyCredentials
from scheduler.keys import is_tid, new_tid, tid_from, tid_timestamp
from scheduler.model import OutgoingPost, Platform, RemoteRef, ReplyTarget
from scheduler.platforms.base import Permanent, RateLimited, Transient
from scheduler.platforms.bluesky import BlueskyPublisher, build_facets

HANDLE = "campaign.test"
PASSWORD = "app-pass-1234"
DID = "did:plc:campaigntestaccount0"
LOGIN_REJECTED = (
    "Bluesky rejected the login for @campaign.test: check BLUESKY_HANDLE and "
    "BLUESKY_APP_PASSWORD (use an app password)"
)

MakePublisher = Callable[..., BlueskyPublisher]


@pytest.fixture
def pds() -> Iterator[FakePDS]:
    with FakePDS(handle=HANDLE, password=PASSWORD, did=DID) as fake:
        yield fake


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "bluesky-session.json"


@pytest.fixture
def make(pds: FakePDS, session_file: Path) -> Iterator[MakePublisher]:
    made: list[BlueskyPublisher] = []

    def factory(
        app_password: str = PASSWORD, pds_url: str | None = None, **overrides: Any
    ) -> BlueskyPublisher:
        credentials = BlueskyCredentials(HANDLE, app_password, pds_url or pds.base_url)
        kwargs: dict[str, Any] = {"session_path": session_file, "timeout": 1.0, **overrides}
        publisher = BlueskyPublisher(credentials, **kwargs)
        made.append(publisher)
        return publisher

    yield factory
    for publisher in made:
        publisher.close()


def outgoing(text: str = "Hello from the campaign", **kw: object) -> OutgoingPost:
    fields: dict[str, object] = {
        "post_id": 1,
        "platform": Platform.BLUESKY,
        "text": text,
        "idempotency_key": new_tid(),
        **kw,
    }
    return OutgoingPost(**fields)  # type: ignore[arg-type]


def utf8_slice(text: str, start: int, end: int) -> str:
    return text.encode("utf-8")[start:end].decode("utf-8")


# -- session ------------------------------------------------------------------------------


def test_check_logs_in_without_app_bsky(make: MakePublisher, pds: FakePDS) -> None:
    assert make().check() == f"@{HANDLE} ({DID})"
    assert pds.logins == 1
    assert pds.requests[GET_PROFILE] == 0  # the DID comes from the session


def test_bad_password_is_permanent(make: MakePublisher, pds: FakePDS) -> None:
    publisher = make(app_password="wrong-password-9")
    with pytest.raises(Permanent) as err:
        publisher.check()
    assert str(err.value) == LOGIN_REJECTED
    for _ in range(3):
        with pytest.raises(Permanent) as err:
            publisher.publish(outgoing(), None)
        assert str(err.value) == LOGIN_REJECTED
    assert pds.records == {}
    assert pds.requests[CREATE_SESSION] == 1  # refused once; not asked again per post


def test_many_posts_one_login_and_a_second_instance_resumes(
    make: MakePublisher, pds: FakePDS, session_file: Path
) -> None:
    publisher = make()
    for i in range(200):
        ref = publisher.publish(outgoing(f"post {i}", post_id=i), None)
        assert not ref.recovered
    assert pds.logins == 1 and len(pds.records) == 200

    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert PASSWORD not in session_file.read_text()

    again = make()
    again.publish(outgoing("after a restart"), None)
    assert again.check() == f"@{HANDLE} ({DID})"
    assert pds.logins == 1 and pds.refreshes == 0
    assert pds.requests[CREATE_RECORD] == 201


def test_session_file_is_0600_even_with_a_lax_umask(
    make: MakePublisher, session_file: Path
) -> None:
    old = os.umask(0)
    try:
        make().check()
    finally:
        os.umask(old)
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600


def test_expired_access_token_is_refreshed_not_relogged(
    make: MakePublisher, pds: FakePDS, session_file: Path
) -> None:
    publisher = make()
    publisher.publish(outgoing("one"), None)
    before = session_file.read_text()
    pds.expire_tokens()  # the server says expired; the JWT exp still says fine
    ref = publisher.publish(outgoing("two"), None)
    assert not ref.recovered
    assert (pds.logins, pds.refreshes) == (1, 1)
    assert len(pds.records) == 2
    assert session_file.read_text() != before  # the refreshed pair was saved


def test_token_near_expiry_is_refreshed_before_the_create(
    make: MakePublisher, pds: FakePDS
) -> None:
    # 15.5 minutes: inside our 16-minute margin, outside the SDK's own 15-minute one, so
    # every refresh below is ours, made before the create rather than inside it.
    pds.access_ttl = 15 * 60 + 30
    publisher = make()
    for i in range(3):
        publisher.publish(outgoing(f"post {i}"), None)
    assert pds.logins == 1 and pds.refreshes == 3
    assert pds.requests[CREATE_RECORD] == 3  # no create was spent on a token error


def test_stale_saved_session_logs_in_once(
    make: MakePublisher, pds: FakePDS, session_file: Path
) -> None:
    make().check()
    pds.expire_tokens(refresh=True)  # e.g. the app password was revoked and re-created
    publisher = make()
    for i in range(3):
        publisher.publish(outgoing(f"post {i}"), None)
    assert pds.logins == 2
    assert len(pds.records) == 3


def test_session_for_another_pds_is_ignored(make: MakePublisher, pds: FakePDS) -> None:
    with FakePDS(handle=HANDLE, password=PASSWORD, did=DID) as other:
        make(pds_url=other.base_url).check()
        assert other.logins == 1
    make().check()  # same file, different pds_url: not resumed
    assert pds.logins == 1


def test_saved_session_with_expired_refresh_token_is_not_resumed(
    pds: FakePDS, make: MakePublisher
) -> None:
    pds.refresh_ttl = -1  # every refresh token is born expired
    make().check()
    make().check()
    assert pds.logins == 2 and pds.requests[REFRESH_SESSION] == 0


def test_corrupt_session_file_falls_back_to_login(
    make: MakePublisher, pds: FakePDS, session_file: Path
) -> None:
    session_file.parent.mkdir(parents=True)
    session_file.write_text(
        json.dumps({"version": 1, "pds_url": pds.base_url, "handle": HANDLE, "session": "garbage"})
    )
    assert make().check() == f"@{HANDLE} ({DID})"
    assert pds.logins == 1
    # well-formed, but pointing at something that is not an http(s) PDS
    good = json.loads(session_file.read_text())
    handle, did, access, refresh, _ = good["session"].split(":::")
    good["session"] = ":::".join([handle, did, access, refresh, "file:///etc"])
    session_file.write_text(json.dumps(good))
    assert make().check() == f"@{HANDLE} ({DID})"
    assert pds.logins == 2


# -- records ------------------------------------------------------------------------------


def test_three_post_thread(make: MakePublisher, pds: FakePDS) -> None:
    publisher = make()
    first = publisher.publish(outgoing("1/3 the thread starts"), None)
    second = publisher.publish(outgoing("2/3 it goes on"), ReplyTarget(root=first, parent=first))
    third = publisher.publish(outgoing("3/3 it ends"), ReplyTarget(root=first, parent=second))

    for ref in (first, second, third):
        assert ref.id is not None and is_tid(ref.id)
        assert ref.uri == f"at://{DID}/app.bsky.feed.post/{ref.id}"
        assert ref.url == f"https://bsky.app/profile/{HANDLE}/post/{ref.id}"
        assert ref.cid == pds.records[ref.id].cid
    stored = [pds.records[r.id].value for r in (first, second, third) if r.id]
    assert "reply" not in stored[0]

    def strong(stored_ref: dict[str, str]) -> tuple[str | None, str | None]:
        # the SDK adds "$type": "com.atproto.repo.strongRef" on the way out; both are valid
        return stored_ref["uri"], stored_ref["cid"]

    assert strong(stored[1]["reply"]["root"]) == (first.uri, first.cid)
    assert strong(stored[1]["reply"]["parent"]) == (first.uri, first.cid)
    assert strong(stored[2]["reply"]["root"]) == (first.uri, first.cid)
    assert strong(stored[2]["reply"]["parent"]) == (second.uri, second.cid)
    created = datetime.fromisoformat(stored[0]["createdAt"])
    assert stored[0]["createdAt"].endswith("Z") and created.tzinfo is not None
    assert stored[0]["$type"] == "app.bsky.feed.post"


def test_reply_needs_uri_and_cid(make: MakePublisher, pds: FakePDS) -> None:
    parent = RemoteRef(id="123", url="https://x.com/i/status/123")
    with pytest.raises(Permanent, match="no at:// URI and CID"):
        make().publish(outgoing(), ReplyTarget(root=parent, parent=parent))
    assert pds.records == {}


def test_facets_on_multilingual_text(make: MakePublisher, pds: FakePDS) -> None:
    text = (
        "Բարև ձեզ 🇦🇲👨‍👩‍👧 東京からこんにちは #Artsakh #Armenia #Արցախ։ "
        "Read https://example.com/Արցախ?lang=hy, and $AMD notes"
    )
    ref = make().publish(outgoing(text), None)
    assert ref.id is not None
    record = pds.records[ref.id].value
    assert record["text"] == text
    found = []
    for facet in record["facets"]:
        (feature,) = facet["features"]
        piece = utf8_slice(text, facet["index"]["byteStart"], facet["index"]["byteEnd"])
        if feature["$type"] == "app.bsky.richtext.facet#tag":
            assert piece == "#" + feature["tag"]
            found.append(feature["tag"])
        else:
            assert feature["$type"] == "app.bsky.richtext.facet#link"
            assert piece == feature["uri"]
            found.append(feature["uri"])
    # Armenian full stop trimmed off the tag, trailing comma off the link, no cashtag
    assert found == ["Artsakh", "Armenia", "Արցախ", "https://example.com/Արցախ?lang=hy"]


_WORDS = st.sampled_from(["Բարև", "東京", "🇦🇲", "👩🏽‍💻", "naïve", "x", "ջան", "漢字かな"])
_TAGS = st.sampled_from(["#Artsakh", "#Armenia", "#Հայաստան", "#東京", "#tag_1"])
_LINKS = st.sampled_from(["https://example.com/a?b=c", "https://bsky.app/profile/x"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(_WORDS, _TAGS, _LINKS), min_size=1, max_size=12))
def test_facet_offsets_slice_utf8(parts: list[str]) -> None:
    text = " ".join(parts)
    expected = [p for p in parts if p.startswith(("#", "https://"))]
    got = []
    for facet in build_facets(text):
        (feature,) = facet["features"]
        piece = utf8_slice(text, facet["index"]["byteStart"], facet["index"]["byteEnd"])
        value = "#" + feature["tag"] if "tag" in feature else feature["uri"]
        assert piece == value
        got.append(piece)
    assert got == expected


def test_langs_are_optional(make: MakePublisher, pds: FakePDS) -> None:
    plain = make().publish(outgoing("no langs"), None)
    tagged = make(langs=["hy", "en"]).publish(outgoing("with langs"), None)
    assert plain.id and tagged.id
    assert "langs" not in pds.records[plain.id].value
    assert pds.records[tagged.id].value["langs"] == ["hy", "en"]


# -- errors and recovery ------------------------------------------------------------------


def test_text_too_long_is_permanent_with_the_server_message(
    make: MakePublisher, pds: FakePDS
) -> None:
    with pytest.raises(Permanent) as err:
        make().publish(outgoing("ա" * 301), None)
    assert "Record/text must not be longer than 300 graphemes" in str(err.value)
    assert pds.records == {}


def test_429_is_rate_limited_with_the_exact_reset(make: MakePublisher, pds: FakePDS) -> None:
    publisher = make()
    publisher.check()
    pds.rate_limit_next(reset_in=120)
    with pytest.raises(RateLimited) as err:
        publisher.publish(outgoing(), None)
    assert pds.last_reset_at is not None
    assert err.value.reset_at == datetime.fromtimestamp(pds.last_reset_at, UTC)
    assert pds.records == {}


def test_timeout_after_store_is_recovered_in_the_same_call(
    make: MakePublisher, pds: FakePDS
) -> None:
    publisher = make(timeout=0.5)
    post = outgoing()
    publisher.check()
    pds.delay_next(1.5)
    ref = publisher.publish(post, None)
    assert ref.recovered and ref.id == post.idempotency_key
    assert ref.note == "recovered by record key after timeout"
    assert ref.cid == pds.records[post.idempotency_key].cid
    assert len(pds.records) == 1 and pds.requests[CREATE_RECORD] == 1


def test_timeout_then_unreachable_lookup_is_ambiguous_then_recovered(
    make: MakePublisher, pds: FakePDS
) -> None:
    publisher = make(timeout=0.5)
    post = outgoing()
    publisher.check()
    pds.delay_next(1.5)
    pds.delay_next(1.5, endpoint=GET_RECORD)
    with pytest.raises(Transient) as err:
        publisher.publish(post, None)
    assert err.value.ambiguous
    assert "timeout" in str(err.value)

    retry = outgoing(post.text, idempotency_key=post.idempotency_key, attempt=2, ambiguous=True)
    ref = publisher.publish(retry, None)
    assert ref.recovered and ref.id == post.idempotency_key
    assert len(pds.records) == 1 and pds.requests[CREATE_RECORD] == 1


def test_drop_after_store_is_recovered(make: MakePublisher, pds: FakePDS) -> None:
    publisher = make()
    post = outgoing()
    publisher.check()
    pds.drop_after_store_next()
    ref = publisher.publish(post, None)
    assert ref.recovered
    assert ref.note == "recovered by record key after connection dropped before a response"
    assert len(pds.records) == 1


def test_drop_then_dropped_lookup_is_ambiguous_then_recovered(
    make: MakePublisher, pds: FakePDS
) -> None:
    publisher = make()
    post = outgoing()
    publisher.check()
    pds.drop_after_store_next()
    pds.drop_after_store_next(endpoint=GET_RECORD)
    with pytest.raises(Transient) as err:
        publisher.publish(post, None)
    assert err.value.ambiguous
    retry = outgoing(post.text, idempotency_key=post.idempotency_key, attempt=2, ambiguous=True)
    assert publisher.publish(retry, None).recovered
    assert len(pds.records) == 1 and pds.requests[CREATE_RECORD] == 1


def test_duplicate_rkey_500_is_recovered(make: MakePublisher, pds: FakePDS) -> None:
    """An earlier attempt landed but nobody knew (e.g. a lost lease without the flag)."""
    post = outgoing()
    pds.put_record(post.idempotency_key, {"text": post.text, "createdAt": "2027-01-01T00:00:00Z"})
    ref = make().publish(post, None)
    assert ref.recovered
    assert (
        ref.note
        == "recovered by record key after HTTP 500 InternalServerError: Internal Server Error"
    )
    assert len(pds.records) == 1 and pds.requests[CREATE_RECORD] == 1


def test_rkey_holding_another_post_is_permanent(make: MakePublisher, pds: FakePDS) -> None:
    post = outgoing("mine")
    pds.put_record(post.idempotency_key, {"text": "someone else's", "createdAt": "2027-01-01Z"})
    with pytest.raises(Permanent, match="already holds a different post"):
        make().publish(post, None)


def test_clean_500_is_transient_not_ambiguous(make: MakePublisher, pds: FakePDS) -> None:
    publisher = make()
    post = outgoing()
    pds.fail_next(status=500)
    with pytest.raises(Transient) as err:
        publisher.publish(post, None)
    assert not err.value.ambiguous
    assert pds.requests[GET_RECORD] == 1  # a 500 means "look first"
    ref = publisher.publish(outgoing(post.text, idempotency_key=post.idempotency_key), None)
    assert not ref.recovered and len(pds.records) == 1


def test_502_with_nothing_stored_stays_ambiguous(make: MakePublisher, pds: FakePDS) -> None:
    pds.fail_next(status=502)
    with pytest.raises(Transient) as err:
        make().publish(outgoing(), None)
    assert err.value.ambiguous and pds.records == {}


def test_ambiguous_post_is_looked_up_before_creating(make: MakePublisher, pds: FakePDS) -> None:
    publisher = make()
    landed = outgoing("landed earlier", ambiguous=True, attempt=2)
    pds.put_record(landed.idempotency_key, {"text": landed.text, "createdAt": "2027-01-01Z"})
    ref = publisher.publish(landed, None)
    assert ref.recovered and pds.requests[CREATE_RECORD] == 0

    lost = outgoing("never landed", ambiguous=True, attempt=2)
    ref = publisher.publish(lost, None)
    assert not ref.recovered and pds.requests[CREATE_RECORD] == 1
    assert pds.requests[GET_RECORD] == 2


def test_non_tid_key_is_permanent_before_any_request(make: MakePublisher, pds: FakePDS) -> None:
    with pytest.raises(Permanent, match="not a TID"):
        make().publish(outgoing(idempotency_key="post-1"), None)
    assert sum(pds.requests.values()) == 0


def test_unreachable_pds_is_transient(make: MakePublisher, pds: FakePDS) -> None:
    with FakePDS() as gone:
        url = gone.base_url
    with pytest.raises(Transient) as err:
        make(pds_url=url).publish(outgoing(), None)
    assert not err.value.ambiguous
    assert str(err.value) == "Bluesky login failed: could not connect"


def test_secrets_never_reach_errors_logs_or_repr(
    make: MakePublisher, pds: FakePDS, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    publisher = make(timeout=0.5)
    errors: list[str] = [repr(publisher)]
    publisher.publish(outgoing("ok"), None)
    pds.expire_tokens()
    publisher.publish(outgoing("refreshed"), None)

    def slow_create_and_lookup() -> None:
        pds.delay_next(1.0)
        pds.delay_next(1.0, endpoint=GET_RECORD)

    scenarios: list[Callable[[], None]] = [
        lambda: pds.fail_next(status=503),
        lambda: pds.rate_limit_next(),
        slow_create_and_lookup,
        lambda: pds.drop_after_store_next(),
        lambda: None,  # with a too-long text below
    ]
    for i, arrange in enumerate(scenarios):
        arrange()
        text = "x" * 400 if i == len(scenarios) - 1 else f"post {i}"
        try:
            publisher.publish(outgoing(text), None)
        except Exception as exc:
            errors.append(f"{exc} {exc!r}")
    pds.expire_tokens(refresh=True)
    pds.reject_password(True)
    for call in (publisher.check, make().check):
        try:
            call()
        except Exception as exc:
            errors.append(f"{exc} {exc!r}")

    secrets = [PASSWORD, *pds.tokens_issued]
    assert len(errors) >= 6
    for secret in secrets:
        for line in [*errors, caplog.text]:
            assert secret not in line
    assert PASSWORD not in caplog.text


# -- TIDs ---------------------------------------------------------------------------------


def test_new_tid_is_valid_unique_and_increasing_over_100k_calls() -> None:
    start = datetime.now(UTC).timestamp() * 1_000_000
    tids = [new_tid() for _ in range(100_000)]
    assert all(is_tid(t) for t in tids)
    assert len(set(tids)) == len(tids)
    assert all(a < b for a, b in itertools.pairwise(tids))
    assert abs(tid_timestamp(tids[0]) - start) < 10_000_000  # within 10 s of the clock


@given(st.integers(0, 2**53 - 1), st.integers(0, 1023), st.integers(0, 2**53 - 1))
def test_tid_roundtrip_and_order(micros: int, clock: int, other: int) -> None:
    tid = tid_from(micros, clock)
    assert is_tid(tid) and len(tid) == 13
    assert tid_timestamp(tid) == micros
    assert (tid < tid_from(other, clock)) == (micros < other)


def test_is_tid_rejects_bad_shapes() -> None:
    assert is_tid("3jzfcijpj2z2a")
    for bad in (
        "",
        "3jzfcijpj2z2",
        "3jzfcijpj2z2aa",
        "kjzfcijpj2z2a",
        "3jzfcijpj2z2A",
        "3jzf-ijpj2z2a",
    ):
        assert not is_tid(bad)
