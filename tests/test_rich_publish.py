"""Rich posts published (issue 13): images through X API v2 media upload and Bluesky
blobs, link cards, languages and labels, and X's 402, through the real tweepy and atproto
SDKs against the loopback fakes (which check uploads and embeds as the services do).

An upload is not the irreversible step: a failure (or a crash) after it costs a re-upload,
never a second post.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLE, Cli, run_campaign
from fakes.pds import CREATE_RECORD, UPLOAD_BLOB, FakePDS
from fakes.web import Reply, serving
from fakes.x_api import CREATE_TWEET, MEDIA_METADATA, MEDIA_UPLOAD, FakeX
from harness import (
    BSKY_PASSWORD,
    X_SECRET,
    X_TOKEN_SECRET,
    daemon_env,
    daemons,
    fake_settings,
    wait_for,
)
from PIL import Image

from scheduler.config import BlueskyCredentials, XCredentials
from scheduler.keys import new_tid
from scheduler.media import MediaDir, image_from_bytes
from scheduler.model import Attachments, LinkCard, OutgoingPost, Platform, StoredImage
from scheduler.platforms.base import OutOfCredits, Permanent, RateLimited, Transient
from scheduler.platforms.bluesky import BlueskyPublisher
from scheduler.platforms.x import XPublisher

# atproto's uploadBlob hands httpx its bytes the deprecated way (the SDK's, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def media(tmp_path: Path) -> MediaDir:
    return MediaDir(tmp_path / "media")


@pytest.fixture
def photo(media: MediaDir) -> StoredImage:
    return image_from_bytes(png(800, 450), "march.png", "Marchers on the bridge", media)


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def pds() -> Iterator[FakePDS]:
    with FakePDS(password=BSKY_PASSWORD) as fake:
        yield fake


@pytest.fixture
def x(fx: FakeX, media: MediaDir) -> Iterator[XPublisher]:
    credentials = XCredentials(fx.api_key, X_SECRET, fx.access_token, X_TOKEN_SECRET, fx.base_url)
    publisher = XPublisher(
        credentials, timeout=1.0, media=media.read, credits_wait=timedelta(minutes=30)
    )
    yield publisher
    publisher.close()


@pytest.fixture
def bluesky(pds: FakePDS, media: MediaDir, tmp_path: Path) -> Iterator[BlueskyPublisher]:
    credentials = BlueskyCredentials(pds.handle, BSKY_PASSWORD, pds.base_url)
    publisher = BlueskyPublisher(
        credentials, session_path=tmp_path / "session", timeout=1.0, media=media.read
    )
    yield publisher
    publisher.close()


def x_post(text: str, attached: Attachments, *, ambiguous: bool = False) -> OutgoingPost:
    return OutgoingPost(1, Platform.X, text, "key-1", 2 if ambiguous else 1, ambiguous, attached)


def bluesky_post(text: str, attached: Attachments) -> OutgoingPost:
    return OutgoingPost(1, Platform.BLUESKY, text, new_tid(), attachments=attached)


# -- X ---------------------------------------------------------------------------------------


def test_x_uploads_through_v2_sets_the_alt_text_and_posts_with_the_media_id(
    x: XPublisher, fx: FakeX, photo: StoredImage
) -> None:
    ref = x.publish(x_post("With a picture", Attachments(images=(photo,))), None)
    [tweet] = fx.tweets
    assert tweet.id == ref.id
    [uploaded] = fx.media_of(tweet)
    assert uploaded.sha256 == photo.sha256 and uploaded.mime == "image/png"
    assert uploaded.alt_text == "Marchers on the bridge"
    assert (fx.count(MEDIA_UPLOAD), fx.count(MEDIA_METADATA)) == (1, 1)


def test_x_image_without_alt_sets_no_metadata(x: XPublisher, fx: FakeX, media: MediaDir) -> None:
    bare = image_from_bytes(png(100, 100), "bare.png", "", media)
    x.publish(x_post("No description, on purpose", Attachments(images=(bare,))), None)
    assert fx.count(MEDIA_METADATA) == 0 and len(fx.media_of(fx.tweets[0])) == 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("fail", Transient),
        ("rate_limit", RateLimited),
        ("drop", Transient),
        ("delay", Transient),
    ],
)
def test_a_failed_upload_is_never_an_ambiguous_post_and_the_retry_posts_once(
    x: XPublisher, fx: FakeX, photo: StoredImage, fault: str, kind: type[Exception]
) -> None:
    inject: dict[str, Callable[[], None]] = {
        "fail": lambda: fx.fail_next(status=503, endpoint=MEDIA_UPLOAD),
        "rate_limit": lambda: fx.rate_limit_next(endpoint=MEDIA_UPLOAD),
        "drop": lambda: fx.drop_after_store_next(endpoint=MEDIA_UPLOAD),
        "delay": lambda: fx.delay_next(2.0, endpoint=MEDIA_UPLOAD),  # past the 1 s timeout
    }
    inject[fault]()
    post = x_post("A picture, retried", Attachments(images=(photo,)))
    with pytest.raises(kind) as raised:
        x.publish(post, None)
    assert not getattr(raised.value, "ambiguous", False)  # nothing was posted
    assert fx.tweets == []
    x.publish(post, None)  # the next attempt uploads again and posts
    assert len(fx.tweets) == 1 and len(fx.media_of(fx.tweets[0])) == 1


def test_a_metadata_failure_is_a_retry_before_the_post(
    x: XPublisher, fx: FakeX, photo: StoredImage
) -> None:
    fx.fail_next(status=500, endpoint=MEDIA_METADATA)
    with pytest.raises(Transient):
        x.publish(x_post("Alt text first", Attachments(images=(photo,))), None)
    assert fx.tweets == []


def test_x_out_of_credits_is_not_a_failure_of_the_post(
    x: XPublisher, fx: FakeX, photo: StoredImage
) -> None:
    fx.fail_next(status=402)
    before = datetime.now(UTC)
    with pytest.raises(OutOfCredits) as raised:
        x.publish(x_post("Out of credits", Attachments()), None)
    assert "out of credits (402 Payment Required)" in str(raised.value)
    assert raised.value.reset_at >= before + timedelta(minutes=29)  # the credits_wait
    fx.usage_capped_next()
    with pytest.raises(OutOfCredits) as capped:
        x.publish(x_post("Over the cap", Attachments()), None)
    assert "over its usage cap (429)" in str(capped.value)
    fx.rate_limit_next()  # an ordinary 15-minute window is still a rate limit
    with pytest.raises(RateLimited) as limited:
        x.publish(x_post("Rate limited", Attachments()), None)
    assert not isinstance(limited.value, OutOfCredits)


def test_x_recovery_reads_are_counted(x: XPublisher, fx: FakeX) -> None:
    fx.drop_after_store_next()
    post = x_post("Counted reads", Attachments())
    with pytest.raises(Transient):
        x.publish(post, None)
    ref = x.publish(x_post("Counted reads", Attachments(), ambiguous=True), None)
    assert ref.recovered and ref.reads == 1  # X bills each post read back


def test_a_lost_image_file_fails_the_post_with_its_hash(
    x: XPublisher, fx: FakeX, photo: StoredImage, media: MediaDir
) -> None:
    media.path(photo.sha256).unlink()
    with pytest.raises(Permanent, match=f"image {photo.sha256} is missing"):
        x.publish(x_post("Lost", Attachments(images=(photo,))), None)
    assert fx.tweets == [] and fx.count(MEDIA_UPLOAD) == 0


# -- Bluesky ---------------------------------------------------------------------------------


def test_bluesky_images_embed_with_alt_and_aspect_ratio(
    bluesky: BlueskyPublisher, pds: FakePDS, photo: StoredImage
) -> None:
    attached = Attachments(images=(photo,), langs=("hy", "en"), labels=("graphic-media",))
    ref = bluesky.publish(bluesky_post("With a picture", attached), None)
    record = pds.records[ref.id or ""].value
    [image] = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert image["alt"] == "Marchers on the bridge"
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (800, 450)
    blob = pds.blobs[image["image"]["ref"]["$link"]]
    assert hashlib.sha256(blob.data).hexdigest() == photo.sha256
    assert blob.mime_type == "image/png"
    assert record["langs"] == ["hy", "en"]
    labels = record["labels"]
    assert labels["$type"] == "com.atproto.label.defs#selfLabels"
    assert [v["val"] for v in labels["values"]] == ["graphic-media"]


def test_bluesky_link_card_with_its_thumbnail(
    bluesky: BlueskyPublisher, pds: FakePDS, media: MediaDir
) -> None:
    thumb = image_from_bytes(png(600, 315), "thumb", "", media)
    card = LinkCard("https://example.org/op-ed", "Lift the blockade", "Why now.", thumb)
    ref = bluesky.publish(
        bluesky_post("Read it: https://example.org/op-ed", Attachments(card=card)), None
    )
    external = pds.records[ref.id or ""].value["embed"]["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        "https://example.org/op-ed",
        "Lift the blockade",
        "Why now.",
    )
    assert pds.blobs[external["thumb"]["ref"]["$link"]].size == thumb.size


@pytest.mark.parametrize(("status", "kind"), [(500, Transient), (413, Permanent)])
def test_a_failed_blob_upload_stores_no_post(
    bluesky: BlueskyPublisher,
    pds: FakePDS,
    photo: StoredImage,
    status: int,
    kind: type[Exception],
) -> None:
    pds.fail_next(status=status, endpoint=UPLOAD_BLOB)
    post = bluesky_post("A picture", Attachments(images=(photo,)))
    with pytest.raises(kind):
        bluesky.publish(post, None)
    assert pds.records == {}
    if kind is Transient:
        bluesky.publish(post, None)
        assert len(pds.records) == 1


@pytest.mark.parametrize(("fault", "kind"), [("drop", Transient), ("delay", Transient),
                                            ("rate_limit", RateLimited)])  # fmt: skip
def test_a_blob_upload_that_fails_on_the_way_is_retried_and_posts_once(
    bluesky: BlueskyPublisher,
    pds: FakePDS,
    photo: StoredImage,
    fault: str,
    kind: type[Exception],
) -> None:
    inject: dict[str, Callable[[], None]] = {
        "drop": lambda: pds.drop_after_store_next(endpoint=UPLOAD_BLOB),
        "delay": lambda: pds.delay_next(2.0, endpoint=UPLOAD_BLOB),  # past the 1 s timeout
        "rate_limit": lambda: pds.rate_limit_next(endpoint=UPLOAD_BLOB),
    }
    inject[fault]()
    post = bluesky_post("A picture", Attachments(images=(photo,)))
    with pytest.raises(kind) as raised:
        bluesky.publish(post, None)
    assert not getattr(raised.value, "ambiguous", False) and pds.records == {}
    bluesky.publish(post, None)
    assert len(pds.records) == 1


# -- end to end ------------------------------------------------------------------------------

OG_PAGE = (
    b"<!doctype html><html><head>"
    b'<meta property="og:title" content="Lift the blockade">'
    b'<meta property="og:description" content="Why the corridor must open now.">'
    b'<meta property="og:image" content="/card.png">'
    b"</head><body><p>The article.</p></body></html>"
)


def test_the_op_ed_with_a_link_and_an_image_on_both_platforms(
    cli: Cli, tmp_path: Path, fx: FakeX, pds: FakePDS
) -> None:
    picture = tmp_path / "march.png"
    picture.write_bytes(png(1200, 800))
    with serving() as site:
        site.routes["/op-ed"] = Reply(body=OG_PAGE)
        site.routes["/card.png"] = Reply(body=png(600, 315, (20, 20, 160)), type="image/png")
        link = site.url("/op-ed")
        env = fake_settings(fx, pds, f"sqlite:///{tmp_path / 'rich.db'}", tmp_path / "data",
                            CAMPAIGN_ALLOW_PRIVATE_LINKS="1")  # fmt: skip
        queued = cli("queue", str(EXAMPLE), "-p", "x", "-p", "bluesky", "--start", "now",
                     "--spread-until", "+3s", "-t", "Artsakh", "-t", "Armenia", "--link", link,
                     "--image", str(picture), "--alt", "Marchers on the bridge", "--lang", "en",
                     "--json", env=env)  # fmt: skip
        assert queued.code == 0, queued.stderr
        # Images win the one embed on Bluesky: the card is skipped, with a warning.
        assert "so the link gets no card" in queued.stderr
        carded = cli("queue", str(EXAMPLE), "-p", "bluesky", "--start", "now", "--campaign",
                     "carded", "-t", "Artsakh", "--link", link, "--standalone",
                     "--spread-until", "+3s", env=env)  # fmt: skip
        assert carded.code == 0, carded.stderr
    picture.unlink()  # publishing needs only the copy in the data directory
    daemon = run_campaign("run", "--until-done", "--poll", "0.2",
                          env={**os.environ, **env}, cwd=tmp_path)  # fmt: skip
    assert daemon.returncode == 0, daemon.stderr

    posts = json.loads(queued.stdout)["posts"]
    x_count = sum(1 for p in posts if p["platform"] == "x")
    assert len(fx.tweets) == x_count  # each once
    first_tweet = fx.tweets[0]
    [uploaded] = fx.media_of(first_tweet)
    assert uploaded.alt_text == "Marchers on the bridge" and (uploaded.width, uploaded.height) == (
        1200,
        800,
    )
    assert all(t.media_ids == () for t in fx.tweets[1:])

    records = [r.value for r in pds.records.values()]
    thread = [r for r in records if "reply" in r or "images" in str(r.get("embed"))]
    first = next(r for r in records if r.get("embed", {}).get("$type") == "app.bsky.embed.images")
    [image] = first["embed"]["images"]
    assert image["alt"] == "Marchers on the bridge"
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (1200, 800)
    assert image["image"]["ref"]["$link"] in pds.blobs
    assert all(r["langs"] == ["en"] for r in thread)
    cards = [r["embed"]["external"] for r in records
             if r.get("embed", {}).get("$type") == "app.bsky.embed.external"]  # fmt: skip
    assert len(cards) == 1  # the first post of the standalone campaign
    assert cards[0]["title"] == "Lift the blockade" and cards[0]["thumb"]["size"] > 0
    listed = cli("list", "--json", env=env)
    assert {r["status"] for r in json.loads(listed.stdout)} == {"published"}


def test_out_of_credits_holds_the_accounts_posts_with_one_event_until_retry(
    cli: Cli, tmp_path: Path, fx: FakeX, pds: FakePDS
) -> None:
    env = fake_settings(fx, pds, f"sqlite:///{tmp_path / 'credits.db'}", tmp_path / "data")
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Standalone posts all due at once: one claimed batch, one refused by X, the rest
    # passed on without knocking again.
    queued = cli("queue", str(EXAMPLE), "-p", "x", "--start", past, "--allow-past",
                 "--every", "1s", "--standalone", "--campaign", "broke", "--json",
                 env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    total = len(json.loads(queued.stdout)["posts"])
    fx.fail_next(status=402)
    once = run_campaign("run", "--once", env={**os.environ, **env}, cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert fx.tweets == [] and fx.post_attempts == 1
    log = json.loads(cli("log", "--json", "--kind", "out of credits", env=env).stdout)
    assert len(log) == 1 and log[0]["detail"]["waiting"] == total
    rows = json.loads(cli("list", "--json", env=env).stdout)
    assert {r["status"] for r in rows} == {"queued"} and all(r["attempts"] == 0 for r in rows)
    status = cli("status", env=env).stdout
    assert f"out of credits: x, {total} posts wait until" in status
    retried = cli("retry", "--campaign", "broke", env=env)
    assert retried.code == 0, retried.stderr
    daemon = run_campaign("run", "--until-done", "--poll", "0.2",
                          env={**os.environ, **env}, cwd=tmp_path)  # fmt: skip
    assert daemon.returncode == 0, daemon.stderr
    assert len(fx.tweets) == total
    assert "out of credits" not in cli("status", env=env).stdout


# -- crash safety: kill -9 between the upload and the post, and after the post ---------------


@pytest.mark.parametrize("platform", ["x", "bluesky"])
@pytest.mark.parametrize("when", ["after the upload", "after the post"])
def test_a_killed_daemon_publishes_an_image_post_once(
    cli: Cli, tmp_path: Path, fx: FakeX, pds: FakePDS, when: str, platform: str
) -> None:
    picture = tmp_path / "march.png"
    picture.write_bytes(png(640, 480))
    env = daemon_env(fx, pds, f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "data",
                     CAMPAIGN_LEASE_SECONDS="2")  # fmt: skip
    queued = cli("queue", str(EXAMPLE), "-p", platform, "--start", "now", "--every", "1s",
                 "--image", str(picture), "--alt", "Marchers", env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    stall: dict[tuple[str, str], Callable[[], None]] = {
        # The image stored, then the next step stalls: the post is not made yet.
        ("x", "after the upload"): lambda: fx.delay_next(60, endpoint=MEDIA_METADATA),
        ("bluesky", "after the upload"): lambda: pds.delay_next(60, endpoint=UPLOAD_BLOB),
        # The post stored, its answer stalled.
        ("x", "after the post"): lambda: fx.delay_next(60, endpoint=CREATE_TWEET),
        ("bluesky", "after the post"): lambda: pds.delay_next(60, endpoint=CREATE_RECORD),
    }
    stall[(platform, when)]()
    uploads: Callable[[], int] = lambda: len(fx.media) + len(pds.blobs)  # noqa: E731
    posts_made: Callable[[], int] = lambda: len(fx.tweets) + len(pds.records)  # noqa: E731
    reached = uploads if when == "after the upload" else posts_made
    with daemons(1, env, tmp_path, poll=0.2) as started:
        assert wait_for(lambda: reached() == 1, 30), started[0].stderr()
        started[0].proc.kill()  # SIGKILL: no chance to release anything
        started[0].proc.wait(timeout=10)
    restarted = run_campaign("run", "--until-done", "--poll", "0.2", env=env, cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stderr

    posts = json.loads(cli("list", "--json", env=env).stdout)
    assert {p["status"] for p in posts} == {"published"}
    if platform == "x":
        assert len(fx.tweets) == len(posts) == len({t.text for t in fx.tweets})  # each once
        [with_media] = [t for t in fx.tweets if t.media_ids]
        assert [m.alt_text for m in fx.media_of(with_media)] == ["Marchers"]
    else:
        assert len(pds.records) == len(posts)
        embeds = [r.value["embed"] for r in pds.records.values() if "embed" in r.value]
        assert len(embeds) == 1 and embeds[0]["images"][0]["alt"] == "Marchers"
    if when == "after the upload" and platform == "x":
        assert len(fx.media) >= 2  # uploaded again after the restart, posted once
