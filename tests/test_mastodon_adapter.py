"""MastodonPublisher against the loopback Mastodon fake, through the real Mastodon.py.

Exactly once rests on the Idempotency-Key: a repeat within the server's window returns
the status it made; after an unclear attempt the account's statuses are looked at first.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.mastodon import (
    ACCOUNT_STATUSES,
    GET_MEDIA,
    POST_MEDIA,
    POST_STATUS,
    FakeMastodon,
)
from PIL import Image

from scheduler.config import MastodonCredentials
from scheduler.media import MediaDir, image_from_bytes
from scheduler.model import Attachments, OutgoingPost, Platform, RemoteRef, ReplyTarget
from scheduler.platforms.base import Permanent, RateLimited, Transient
from scheduler.platforms.mastodon import MastodonPublisher, html_to_text

TIMEOUT = 1.0


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> MediaDir:
    return MediaDir(tmp_path / "media")


def publisher(fake: FakeMastodon, media: MediaDir | None = None, **kw: object) -> MastodonPublisher:
    credentials = MastodonCredentials(fake.base_url, fake.access_token)
    return MastodonPublisher(
        credentials,
        timeout=TIMEOUT,
        media=None if media is None else media.read,
        sleep=lambda _: None,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def mastodon(fake: FakeMastodon, media: MediaDir) -> Iterator[MastodonPublisher]:
    made = publisher(fake, media)
    yield made
    made.close()


def post(
    text: str, key: str = "key-1", *, ambiguous: bool = False, **attached: object
) -> OutgoingPost:
    return OutgoingPost(
        1, Platform.MASTODON, text, key, 2 if ambiguous else 1, ambiguous,
        Attachments(**attached),  # type: ignore[arg-type]
    )  # fmt: skip


def reply_to(ref: RemoteRef) -> ReplyTarget:
    return ReplyTarget(root=ref, parent=ref)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (10, 120, 60)).save(out, "PNG")
    return out.getvalue()


# -- posting ---------------------------------------------------------------------------------


def test_a_thread_is_chained_and_visibility_and_language_are_sent(
    fake: FakeMastodon, media: MediaDir
) -> None:
    quiet = publisher(fake, media, visibility="public", reply_visibility="unlisted")
    first = quiet.publish(post("1/2 The op-ed #Artsakh", "k1", langs=("hy-AM",)), None)
    second = quiet.publish(post("2/2 The rest #Artsakh", "k2"), reply_to(first))
    one, two = fake.statuses
    assert (one.id, two.id) == (first.id, second.id)
    assert two.in_reply_to_id == one.id and one.in_reply_to_id is None
    assert (one.visibility, two.visibility) == ("public", "unlisted")  # always sent
    assert one.language == "hy" and two.language is None
    assert first.url is not None and first.url.startswith(fake.base_url)


def test_a_content_warning_marks_the_post_sensitive(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    mastodon.publish(post("Images of the shelling", content_warning="war imagery"), None)
    [status] = fake.statuses
    assert status.sensitive and status.spoiler_text == "war imagery"


def test_an_image_is_uploaded_with_its_alt_text_and_waited_for(
    fake: FakeMastodon, media: MediaDir
) -> None:
    slow = FakeMastodon(media_processing_polls=2)
    with slow:
        made = publisher(slow, media)
        image = image_from_bytes(png(), "march.png", "Marchers on the bridge", media)
        made.publish(post("With a picture", images=(image,)), None)
        [uploaded] = slow.media
        assert uploaded.description == "Marchers on the bridge" and uploaded.processed
        assert slow.statuses[0].media_ids == (uploaded.id,)
        assert slow.count(GET_MEDIA) >= 2  # polled until it had a URL
        made.close()


def test_an_image_never_processed_is_a_clean_retry(fake: FakeMastodon, media: MediaDir) -> None:
    slow = FakeMastodon(media_processing_polls=1000)
    with slow:
        made = publisher(slow, media, media_wait=0.05)
        image = image_from_bytes(png(), "march.png", "Marchers", media)
        with pytest.raises(Transient, match="had not processed the image") as raised:
            made.publish(post("With a picture", images=(image,)), None)
        assert not raised.value.ambiguous and slow.statuses == []
        made.close()


# -- exactly once ----------------------------------------------------------------------------


def test_a_lost_answer_is_recovered_by_the_idempotency_key(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    fake.drop_after_store_next()
    with pytest.raises(Transient) as raised:
        mastodon.publish(post("Once only #Artsakh", "key-7"), None)
    assert raised.value.ambiguous
    again = mastodon.publish(post("Once only #Artsakh", "key-7", ambiguous=True), None)
    assert len(fake.statuses) == 1 and again.id == fake.statuses[0].id


def test_after_the_keys_window_the_status_is_found_among_the_accounts(
    fake: FakeMastodon, media: MediaDir
) -> None:
    now = [datetime.now(UTC).timestamp()]
    with FakeMastodon(clock=lambda: now[0]) as server:
        made = publisher(server, media)
        first = made.publish(post("1/2 First", "k-a"), None)
        server.drop_after_store_next()
        with pytest.raises(Transient):
            made.publish(post("2/2 The reply, with https://example.org/a/long/path", "k-b"),
                         reply_to(first))  # fmt: skip
        now[0] += 2 * 3600  # the server has forgotten the key
        found = made.publish(
            post("2/2 The reply, with https://example.org/a/long/path", "k-b", ambiguous=True),
            reply_to(first),
        )
        assert found.recovered and len(server.statuses) == 2
        assert found.id == server.statuses[1].id
        assert server.count(ACCOUNT_STATUSES) == 1
        made.close()


def test_a_same_text_under_another_parent_is_not_taken_for_this_post(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    fake.add_existing("Repeated text")  # a root, not a reply
    parent = mastodon.publish(post("The parent", "k-p"), None)
    made = mastodon.publish(post("Repeated text", "k-r", ambiguous=True), reply_to(parent))
    assert not made.recovered and len(fake.statuses) == 3


# -- errors ----------------------------------------------------------------------------------


def test_rate_limit_defers_to_the_reset_and_never_sleeps(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    fake.rate_limit_next(reset_in=120)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as raised:
        mastodon.publish(post("Too soon"), None)
    assert before + timedelta(seconds=100) < raised.value.reset_at < before + timedelta(seconds=200)
    assert fake.statuses == []


@pytest.mark.parametrize(
    ("status", "kind", "says"),
    [
        (500, Transient, "Mastodon answered 500"),
        (503, Transient, "Mastodon answered 503"),
        (422, Permanent, "Mastodon refused the request (422)"),
        (403, Permanent, "Mastodon refused the request (403)"),
    ],
)
def test_server_errors_are_retried_and_refusals_are_final(
    mastodon: MastodonPublisher,
    fake: FakeMastodon,
    status: int,
    kind: type[Exception],
    says: str,
) -> None:
    fake.fail_next(status=status)
    with pytest.raises(kind, match=re.escape(says)):
        mastodon.publish(post("A post"), None)


def test_a_timeout_is_unclear_and_the_retry_posts_once(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    fake.delay_next(2 * TIMEOUT)
    with pytest.raises(Transient, match="did not answer") as raised:
        mastodon.publish(post("Slow", "k-s"), None)
    assert raised.value.ambiguous
    mastodon.publish(post("Slow", "k-s", ambiguous=True), None)
    assert len(fake.statuses) == 1


def test_a_refused_token_is_permanent_and_never_in_the_message(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    fake.unauthorized()
    with pytest.raises(Permanent, match="MASTODON_ACCESS_TOKEN") as raised:
        mastodon.publish(post("A post"), None)
    assert fake.access_token not in str(raised.value)


def test_a_reply_whose_parent_is_gone_says_so(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    ghost = RemoteRef(id="99999999999")
    with pytest.raises(Permanent, match="replies to \\(99999999999\\) is gone"):
        mastodon.publish(post("Orphan"), reply_to(ghost))


def test_a_too_long_post_is_refused_by_the_servers_count(
    mastodon: MastodonPublisher, fake: FakeMastodon
) -> None:
    with pytest.raises(Permanent, match="character limit"):
        mastodon.publish(post("x" * 501), None)
    mastodon.publish(post("x" * 470 + " https://example.org/" + "p" * 200), None)  # 23 a URL
    assert len(fake.statuses) == 1


def test_upload_faults_never_make_an_unclear_post(
    mastodon: MastodonPublisher, fake: FakeMastodon, media: MediaDir
) -> None:
    image = image_from_bytes(png(), "march.png", "Marchers", media)
    fake.fail_next(status=503, endpoint=POST_MEDIA)
    with pytest.raises(Transient) as raised:
        mastodon.publish(post("Picture", images=(image,)), None)
    assert not raised.value.ambiguous and fake.statuses == []
    fake.drop_after_store_next(endpoint=POST_MEDIA)
    with pytest.raises(Transient) as dropped:
        mastodon.publish(post("Picture", images=(image,)), None)
    assert not dropped.value.ambiguous and fake.statuses == []
    mastodon.publish(post("Picture", images=(image,)), None)
    assert len(fake.statuses) == 1 and fake.count(POST_STATUS) == 1


# -- account and instance ----------------------------------------------------------------------


def test_check_and_the_instances_limits(fake: FakeMastodon) -> None:
    with FakeMastodon(max_characters=1000, characters_reserved_per_url=30) as big:
        made = publisher(big)
        assert made.check().startswith("@")
        assert "@127.0.0.1" in made.check() or "@localhost" in made.check()
        assert made.instance_limits() == (1000, 30)
        made.close()


def test_html_back_to_text() -> None:
    content = (
        '<p>First line<br />second &amp; <a href="https://example.org/a/b">'
        '<span class="invisible">https://</span><span class="ellipsis">example.org/a</span>'
        '<span class="invisible">/b</span></a></p><p>#<span>Artsakh</span></p>'
    )
    assert html_to_text(content) == "First line\nsecond & https://example.org/a/b\n\n#Artsakh"
