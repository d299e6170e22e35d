"""The fakes take rich posts the way X and a Bluesky PDS do: images, alt text, link cards.

Everything goes through the real clients over loopback HTTP: tweepy's session signed with
OAuth 1.0a for X's v2 media calls (tweepy has no upload call of its own), and
`atproto.Client` for uploadBlob and createRecord."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import requests
import tweepy
from atproto import Client, Request, models
from atproto_client import exceptions as xrpc
from fakes.pds import (
    BLOB_UPLOAD_LIMIT,
    EXTERNAL_EMBED,
    IMAGE_MAX_SIZE,
    IMAGES_EMBED,
    SELF_LABELS,
    UPLOAD_BLOB,
    FakePDS,
    blob_cid,
)
from fakes.x_api import (
    INVALID_MEDIA_IDS,
    MAX_IMAGE_BYTES,
    MEDIA_APPEND,
    MEDIA_ENDPOINTS,
    MEDIA_FINALIZE,
    MEDIA_INITIALIZE,
    MEDIA_METADATA,
    MEDIA_UPLOAD,
    X_API,
    FakeX,
)
from PIL import Image

# atproto 0.0.73 hands uploadBlob's bytes to httpx as data=, which httpx 0.28 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

# -- images ---------------------------------------------------------------------------


def image_bytes(width: int = 8, height: int = 6, kind: str = "PNG", shade: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200)).save(buffer, kind)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- X ------------------------------------------------------------------------------------


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def x(clock: Clock) -> Iterator[FakeX]:
    with FakeX(clock=clock) as fake:
        yield fake


@pytest.fixture
def client(x: FakeX) -> Iterator[Any]:
    client = x.tweepy_client(timeout=2.0)
    yield client
    client.session.close()


def x_post(
    x: FakeX, client: Any, path: str, *, auth: Any = None, **kwargs: Any
) -> requests.Response:
    """A signed call on the tweepy client's own session (so through its loopback adapter)."""
    response: requests.Response = client.session.post(
        f"{X_API}{path}", auth=x.oauth1() if auth is None else auth, **kwargs
    )
    return response


def upload(
    x: FakeX, client: Any, data: bytes, category: str = "tweet_image", **kwargs: Any
) -> requests.Response:
    return x_post(
        x,
        client,
        "/2/media/upload",
        files={"media": ("image", data, "application/octet-stream")},
        data={"media_category": category},
        **kwargs,
    )


def upload_id(x: FakeX, client: Any, data: bytes, alt: str | None = None) -> str:
    answer = upload(x, client, data)
    assert answer.status_code == 200, answer.text
    media_id: str = answer.json()["data"]["id"]
    if alt is not None:
        described = x_post(
            x,
            client,
            "/2/media/metadata",
            json={"id": media_id, "metadata": {"alt_text": {"text": alt}}},
        )
        assert described.status_code == 200, described.text
    return media_id


def upload_in_chunks(x: FakeX, client: Any, data: bytes, chunk: int) -> str:
    started = x_post(
        x,
        client,
        "/2/media/upload/initialize",
        json={"media_type": "image/png", "total_bytes": len(data), "media_category": "tweet_image"},
    )
    assert started.status_code == 200, started.text
    media_id: str = started.json()["data"]["id"]
    for index, start in enumerate(range(0, len(data), chunk)):
        appended = x_post(
            x,
            client,
            f"/2/media/upload/{media_id}/append",
            files={"media": ("chunk", data[start : start + chunk], "application/octet-stream")},
            data={"segment_index": str(index)},
        )
        assert appended.status_code == 200, appended.text
    finished = x_post(x, client, f"/2/media/upload/{media_id}/finalize")
    assert finished.status_code == 200, finished.text
    return media_id


def error_message(answer: requests.Response) -> str:
    message: str = answer.json()["errors"][0]["message"]
    return message


def test_one_shot_upload_answers_as_x_does(x: FakeX, client: Any) -> None:
    data = image_bytes(12, 9)

    answer = upload(x, client, data)

    assert answer.status_code == 200
    body = answer.json()["data"]
    assert body["id"].isdigit()
    assert body["media_key"] == f"3_{body['id']}"
    assert (body["size"], body["expires_after_secs"]) == (len(data), 86_400)
    (stored,) = x.media
    assert (stored.id, stored.mime, stored.width, stored.height) == (body["id"], "image/png", 12, 9)
    assert (stored.sha256, stored.size, stored.alt_text) == (sha256(data), len(data), None)


def test_upload_as_base64_json_is_the_same_upload(x: FakeX, client: Any) -> None:
    data = image_bytes(kind="JPEG")
    answer = x_post(
        x,
        client,
        "/2/media/upload",
        json={"media": base64.b64encode(data).decode(), "media_category": "tweet_image"},
    )

    assert answer.status_code == 200, answer.text
    assert [(m.mime, m.sha256) for m in x.media] == [("image/jpeg", sha256(data))]


def test_chunked_upload_keeps_the_whole_image_in_segment_order(x: FakeX, client: Any) -> None:
    data = image_bytes(40, 30)

    media_id = upload_in_chunks(x, client, data, chunk=len(data) // 3 + 1)

    (stored,) = x.media
    assert (stored.id, stored.sha256, stored.size) == (media_id, sha256(data), len(data))
    assert [x.count(e) for e in (MEDIA_INITIALIZE, MEDIA_APPEND, MEDIA_FINALIZE)] == [1, 3, 1]


def test_append_answers_with_the_upload_expiry(x: FakeX, client: Any, clock: Clock) -> None:
    started = x_post(
        x, client, "/2/media/upload/initialize", json={"media_type": "image/png", "total_bytes": 3}
    )
    media_id = started.json()["data"]["id"]
    assert started.json()["data"]["expires_after_secs"] == 86_400

    appended = x_post(
        x,
        client,
        f"/2/media/upload/{media_id}/append",
        files={"media": ("c", b"abc")},
        data={"segment_index": "0"},
    )

    assert appended.json() == {"data": {"expires_at": int(clock.now) + 86_400}}


def test_finalize_refuses_bytes_short_of_total_or_no_image(x: FakeX, client: Any) -> None:
    for total, chunk in ((10, b"short"), (5, b"short")):
        started = x_post(
            x,
            client,
            "/2/media/upload/initialize",
            json={"media_type": "image/png", "total_bytes": total},
        )
        media_id = started.json()["data"]["id"]
        x_post(
            x,
            client,
            f"/2/media/upload/{media_id}/append",
            files={"media": ("c", chunk)},
            data={"segment_index": "0"},
        )
        finished = x_post(x, client, f"/2/media/upload/{media_id}/finalize")
        assert finished.status_code == 400
    assert x.media == []


def test_tweets_carry_their_images_and_alt_text(x: FakeX, client: Any) -> None:
    first, second = image_bytes(shade=1), image_bytes(shade=2)
    a = upload_id(x, client, first, alt="A red square")
    b = upload_id(x, client, second, alt="")

    client.create_tweet(text="two pictures", media_ids=[b, a], user_auth=True)
    client.create_tweet(text="one picture", media_ids=[a], user_auth=True)

    two, one = x.tweets
    assert two.media_ids == (b, a)
    assert [(m.sha256, m.alt_text) for m in x.media_of(two)] == [
        (sha256(second), ""),
        (sha256(first), "A red square"),
    ]
    assert [m.sha256 for m in x.media_of(one)] == [sha256(first)]
    assert client.create_tweet(text="no picture", user_auth=True).data["id"]
    assert x.tweets[-1].media_ids == ()


def test_metadata_answers_with_the_alt_text_it_kept(x: FakeX, client: Any) -> None:
    media_id = upload_id(x, client, image_bytes())

    answer = x_post(
        x,
        client,
        "/2/media/metadata",
        json={"id": media_id, "metadata": {"alt_text": {"text": "é" * 1000}}},
    )

    assert answer.json() == {
        "data": {"id": media_id, "associated_metadata": {"alt_text": {"text": "é" * 1000}}}
    }
    assert x.media[0].alt_text == "é" * 1000


def test_metadata_refuses_long_alt_text_and_unknown_ids(x: FakeX, client: Any) -> None:
    media_id = upload_id(x, client, image_bytes())

    too_long = x_post(
        x,
        client,
        "/2/media/metadata",
        json={"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}},
    )
    unknown = x_post(
        x,
        client,
        "/2/media/metadata",
        json={"id": "1234", "metadata": {"alt_text": {"text": "a"}}},
    )

    assert (too_long.status_code, unknown.status_code) == (400, 400)
    assert too_long.json()["title"] == "Invalid Request"
    assert "1234" in error_message(unknown)
    assert x.media[0].alt_text is None


def test_bytes_that_are_no_image_are_refused(x: FakeX, client: Any) -> None:
    answer = upload(x, client, b"%PDF-1.7 not a picture")

    assert answer.status_code == 400
    assert answer.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert x.media == []


def test_images_over_5_mib_are_refused(x: FakeX, client: Any) -> None:
    too_big = image_bytes() + b"\0" * (MAX_IMAGE_BYTES - len(image_bytes()) + 1)

    one_shot = upload(x, client, too_big)
    chunked = x_post(
        x,
        client,
        "/2/media/upload/initialize",
        json={"media_type": "image/png", "total_bytes": MAX_IMAGE_BYTES + 1},
    )

    assert (one_shot.status_code, chunked.status_code) == (400, 400)
    assert str(MAX_IMAGE_BYTES) in error_message(one_shot)
    assert x.media == []


def test_unknown_or_expired_media_make_the_tweet_a_bad_request(
    x: FakeX, client: Any, clock: Clock
) -> None:
    media_id = upload_id(x, client, image_bytes())

    with pytest.raises(tweepy.BadRequest) as unknown:
        client.create_tweet(text="ghost", media_ids=[media_id, "99"], user_auth=True)
    clock.now += 86_400
    with pytest.raises(tweepy.BadRequest) as expired:
        client.create_tweet(text="too late", media_ids=[media_id], user_auth=True)

    for raised in (unknown, expired):
        assert raised.value.api_messages == [INVALID_MEDIA_IDS]
    assert unknown.value.response.json()["errors"][0]["parameters"] == {"media.media_ids": ["99"]}
    assert x.tweets == []


def test_more_than_four_media_is_a_bad_request(x: FakeX, client: Any) -> None:
    ids = [upload_id(x, client, image_bytes(shade=i)) for i in range(5)]

    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="five", media_ids=ids, user_auth=True)

    client.create_tweet(text="four", media_ids=ids[:4], user_auth=True)
    assert len(x.tweets[0].media_ids) == 4


def test_uploads_need_the_accounts_oauth1_signature(x: FakeX, client: Any) -> None:
    unsigned = requests.Request("POST", f"{X_API}/2/media/upload", files={"media": b"x"})
    answer = client.session.send(client.session.prepare_request(unsigned))
    wrong_key = upload(
        x,
        client,
        image_bytes(),
        auth=tweepy.OAuth1UserHandler("other-key", "s", x.access_token, "t").apply_auth(),
    )

    assert (answer.status_code, wrong_key.status_code) == (401, 401)
    assert x.media == []
    assert [r.status for r in x.requests] == [401, 401]


def test_the_multipart_upload_is_signed_by_oauth_params_only(x: FakeX, client: Any) -> None:
    """requests_oauthlib leaves a multipart body out of the signature base string."""
    answer = upload(x, client, image_bytes())

    authorization = answer.request.headers["Authorization"]
    assert isinstance(authorization, str)
    assert authorization.startswith("OAuth ")
    assert 'oauth_consumer_key="fake-consumer-key"' in authorization
    assert "media_category" not in authorization
    assert answer.status_code == 200


@pytest.mark.parametrize("endpoint", MEDIA_ENDPOINTS)
def test_every_media_endpoint_takes_injected_5xx(x: FakeX, client: Any, endpoint: str) -> None:
    media_id = upload_id(x, client, image_bytes())
    x.fail_next(status=503, endpoint=endpoint)
    path = {
        MEDIA_UPLOAD: "/2/media/upload",
        MEDIA_INITIALIZE: "/2/media/upload/initialize",
        MEDIA_APPEND: f"/2/media/upload/{media_id}/append",
        MEDIA_FINALIZE: f"/2/media/upload/{media_id}/finalize",
        MEDIA_METADATA: "/2/media/metadata",
    }[endpoint]

    answer = x_post(x, client, path, json={})

    assert answer.status_code == 503
    assert answer.json()["title"] == "Service Unavailable"
    assert x.count(endpoint) == (2 if endpoint == MEDIA_UPLOAD else 1)
    assert len(x.media) == 1


def test_upload_429_carries_the_reset_header_and_stores_nothing(
    x: FakeX, client: Any, clock: Clock
) -> None:
    x.rate_limit_next(reset_in=600, endpoint=MEDIA_UPLOAD)

    answer = upload(x, client, image_bytes())

    assert answer.status_code == 429
    assert answer.headers["x-rate-limit-reset"] == str(int(clock.now + 600))
    assert answer.headers["x-rate-limit-remaining"] == "0"
    assert x.media == []
    assert upload(x, client, image_bytes()).status_code == 200


def test_upload_dropped_after_store_is_kept_unanswered(x: FakeX, client: Any) -> None:
    x.drop_after_store_next(endpoint=MEDIA_UPLOAD)

    with pytest.raises(requests.exceptions.ConnectionError):
        upload(x, client, image_bytes())

    assert len(x.media) == 1
    assert x.requests[-1].status is None


def test_delayed_finalize_is_stored_but_answered_too_late(x: FakeX) -> None:
    client = x.tweepy_client(timeout=0.3)
    x.delay_next(1.0, endpoint=MEDIA_FINALIZE)

    with pytest.raises(requests.exceptions.ReadTimeout):
        upload_in_chunks(x, client, image_bytes(), chunk=64)

    assert len(x.media) == 1
    client.session.close()


# -- Bluesky PDS ------------------------------------------------------------------------

RKEY = "3lbq2gd5hm22a"
CREATED = "2027-03-01T12:00:00.000Z"


@pytest.fixture
def pds() -> Iterator[FakePDS]:
    with FakePDS() as fake:
        yield fake


def bsky(pds: FakePDS, timeout: float = 2.0) -> Client:
    client = Client(pds.base_url, request=Request(timeout=timeout))
    client.login(pds.handle, pds.password, fetch_bsky_profile=False)
    return client


@pytest.fixture
def bluesky(pds: FakePDS) -> Client:
    return bsky(pds)


def as_ref(blob: Any) -> dict[str, Any]:
    """The SDK's BlobRef as a record carries it."""
    return {
        "$type": "blob",
        "ref": {"$link": blob.ref.link},
        "mimeType": blob.mime_type,
        "size": blob.size,
    }


def uploaded(client: Client, data: bytes) -> dict[str, Any]:
    return as_ref(client.upload_blob(data).blob)


def padded_png(size: int) -> bytes:
    """A PNG of exactly `size` bytes (trailing bytes after IEND still read as PNG)."""
    data = image_bytes()
    return data + b"\0" * (size - len(data))


def images_embed(*refs: dict[str, Any], alt: str = "") -> dict[str, Any]:
    return {"$type": IMAGES_EMBED, "images": [{"image": ref, "alt": alt} for ref in refs]}


def post_with(**fields: Any) -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": "look", "createdAt": CREATED, **fields}


def create(pds: FakePDS, client: Client, record: dict[str, Any] | Any) -> Any:
    return client.com.atproto.repo.create_record(
        {"repo": pds.did, "collection": "app.bsky.feed.post", "rkey": RKEY, "record": record}
    )


def refused(pds: FakePDS, client: Client, record: dict[str, Any]) -> str:
    """createRecord's 400, as "Error: message"; asserts nothing was stored."""
    with pytest.raises(xrpc.BadRequestError) as raised:
        create(pds, client, record)
    assert pds.records == {}
    assert raised.value.response is not None
    content = raised.value.response.content
    return f"{content.error}: {content.message}"


def test_upload_blob_answers_a_raw_cid_and_keeps_the_bytes(pds: FakePDS, bluesky: Client) -> None:
    data = image_bytes(5, 4)

    blob = bluesky.upload_blob(data).blob

    assert blob.ref.link == blob_cid(data) and blob.ref.link.startswith("bafkrei")
    # The SDK sends Content-Type */*: the PDS names the type from the bytes.
    assert (blob.mime_type, blob.size) == ("image/png", len(data))
    stored = pds.blobs[blob.ref.link]
    assert (stored.data, stored.mime_type, stored.size) == (data, "image/png", len(data))


def test_upload_blob_of_unknown_bytes_keeps_the_declared_type(
    pds: FakePDS, bluesky: Client
) -> None:
    blob = bluesky.upload_blob(b"plain words").blob

    assert blob.mime_type == "*/*"  # the SDK's Content-Type, as the PDS falls back to it
    assert pds.blobs[blob.ref.link].data == b"plain words"


def test_upload_blob_needs_a_session(pds: FakePDS) -> None:
    with pytest.raises(xrpc.UnauthorizedError):
        Client(pds.base_url).com.atproto.repo.upload_blob(image_bytes())

    assert pds.blobs == {}


def test_blob_over_5_mib_is_413_which_the_sdk_raises_as_a_network_error(
    pds: FakePDS, bluesky: Client
) -> None:
    """atproto 0.0.73 files 413 with 409 and 502 as NetworkError (retry-worthy): an adapter
    must look at the status, or it retries an oversized image for ever."""
    bluesky.upload_blob(padded_png(BLOB_UPLOAD_LIMIT))

    with pytest.raises(xrpc.NetworkError) as raised:
        bluesky.upload_blob(padded_png(BLOB_UPLOAD_LIMIT + 1))

    assert raised.value.response is not None
    assert raised.value.response.status_code == 413
    assert str(raised.value) == "413 PayloadTooLarge: request entity too large"
    assert [b.size for b in pds.blobs.values()] == [BLOB_UPLOAD_LIMIT]


def test_a_post_with_images_langs_and_labels_is_stored(pds: FakePDS, bluesky: Client) -> None:
    first, second = image_bytes(4, 3, shade=1), image_bytes(4, 3, shade=2)
    blobs = [bluesky.upload_blob(data).blob for data in (first, second)]
    record = models.AppBskyFeedPost.Record(
        text="two pictures",
        created_at=CREATED,
        embed=models.AppBskyEmbedImages.Main(
            images=[
                models.AppBskyEmbedImages.Image(
                    alt=alt,
                    image=blob,
                    aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=4, height=3),
                )
                for alt, blob in zip(("A red square", ""), blobs, strict=True)
            ]
        ),
        langs=["en", "pt-BR"],
        labels=models.ComAtprotoLabelDefs.SelfLabels(
            values=[models.ComAtprotoLabelDefs.SelfLabel(val="graphic-media")]
        ),
    )

    create(pds, bluesky, record)

    value = pds.records[RKEY].value
    images = value["embed"]["images"]
    assert [(pds.blobs[i["image"]["ref"]["$link"]].data, i["alt"]) for i in images] == [
        (first, "A red square"),
        (second, ""),
    ]
    assert value["langs"] == ["en", "pt-BR"]
    assert value["labels"]["values"] == [
        {"$type": "com.atproto.label.defs#selfLabel", "val": "graphic-media"}
    ]


def test_a_link_card_with_a_thumb_is_stored(pds: FakePDS, bluesky: Client) -> None:
    thumb = bluesky.upload_blob(image_bytes(kind="JPEG")).blob
    card = models.AppBskyEmbedExternal.Main(
        external=models.AppBskyEmbedExternal.External(
            uri="https://example.com/a", title="A", description="", thumb=thumb
        )
    )

    create(pds, bluesky, models.AppBskyFeedPost.Record(text="read", created_at=CREATED, embed=card))

    external = pds.records[RKEY].value["embed"]["external"]
    assert pds.blobs[external["thumb"]["ref"]["$link"]].mime_type == "image/jpeg"


def test_images_may_be_2_mb_but_a_card_thumb_only_1_mb(pds: FakePDS, bluesky: Client) -> None:
    big = uploaded(bluesky, padded_png(IMAGE_MAX_SIZE))
    card = {"uri": "https://example.com", "title": "t", "description": "d", "thumb": big}

    message = refused(pds, bluesky, post_with(embed={"$type": EXTERNAL_EMBED, "external": card}))
    create(pds, bluesky, post_with(embed=images_embed(big)))

    assert message.startswith("InvalidRequest: Invalid app.bsky.feed.post record: ")
    assert "Record/embed/external/thumb is too big" in message
    assert list(pds.records) == [RKEY]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda ref: {"embed": images_embed(*[ref] * 5)}, "images must not have more than 4"),
        (
            lambda ref: {"embed": {"$type": IMAGES_EMBED, "images": [{"image": ref}]}},
            'Record/embed/images/0 must have the property "alt"',
        ),
        (
            lambda ref: {
                "embed": {
                    "$type": IMAGES_EMBED,
                    "images": [{"image": ref, "alt": "", "aspectRatio": {"width": 0, "height": 1}}],
                }
            },
            "Record/embed/images/0/aspectRatio/width can not be less than 1",
        ),
        (
            lambda ref: {"embed": images_embed({**ref, "$type": "image"})},
            "Record/embed/images/0/image should be a blob ref",
        ),
        (
            lambda ref: {
                "embed": {"$type": EXTERNAL_EMBED, "external": {"uri": "https://e.com"}},
            },
            'Record/embed/external must have the property "title"',
        ),
        (lambda ref: {"langs": ["en", "de", "fr", "pt"]}, "langs must not have more than 3"),
        (lambda ref: {"langs": ["not a tag"]}, "Record/langs/0 must be a well-formed"),
        (
            lambda ref: {
                "labels": {"$type": SELF_LABELS, "values": [{"val": f"l{i}"} for i in range(11)]}
            },
            "Record/labels/values must not have more than 10 elements",
        ),
        (
            lambda ref: {"labels": {"values": [{"val": "graphic-media"}]}},
            "Record/labels must be an object which includes the $type",
        ),
    ],
    ids=[
        "five-images",
        "no-alt",
        "flat-aspect-ratio",
        "not-a-blob",
        "card-without-title",
        "four-langs",
        "bad-lang",
        "eleven-labels",
        "labels-without-type",
    ],
)
def test_records_the_lexicons_refuse(
    pds: FakePDS, bluesky: Client, change: Any, expected: str
) -> None:
    ref = uploaded(bluesky, image_bytes())

    message = refused(pds, bluesky, post_with(**change(ref)))

    assert message.startswith("InvalidRequest: Invalid app.bsky.feed.post record: ")
    assert expected in message


def test_an_image_embed_takes_only_image_blobs(pds: FakePDS, bluesky: Client) -> None:
    words = uploaded(bluesky, b"plain words")

    message = refused(pds, bluesky, post_with(embed=images_embed(words)))

    assert "Record/embed/images/0/image mimeType must be one of image/*" in message


def test_each_referenced_blob_must_match_an_upload(pds: FakePDS, bluesky: Client) -> None:
    ref = uploaded(bluesky, image_bytes())
    unknown = {**ref, "ref": {"$link": blob_cid(b"never uploaded")}}

    assert refused(pds, bluesky, post_with(embed=images_embed(unknown))) == (
        f"BlobNotFound: Could not find blob: {blob_cid(b'never uploaded')}"
    )
    assert refused(
        pds, bluesky, post_with(embed=images_embed({**ref, "mimeType": "image/gif"}))
    ) == (
        "InvalidMimeType: Referenced Mimetype does not match stored blob. "
        "Expected: image/png, Got: image/gif"
    )
    assert refused(pds, bluesky, post_with(embed=images_embed({**ref, "size": 1}))) == (
        f"InvalidSize: Referenced Size does not match stored blob. Expected: {ref['size']}, Got: 1"
    )


def test_upload_blob_5xx_stores_nothing(pds: FakePDS, bluesky: Client) -> None:
    pds.fail_next(status=503, endpoint=UPLOAD_BLOB)

    with pytest.raises(xrpc.RequestException) as raised:
        bluesky.upload_blob(image_bytes())

    assert str(raised.value) == "503 NotEnoughResources: Not Enough Resources"
    assert pds.blobs == {}
    bluesky.upload_blob(image_bytes())
    assert len(pds.blobs) == 1 and pds.requests[UPLOAD_BLOB] == 2


def test_upload_blob_429_carries_ratelimit_reset(pds: FakePDS, bluesky: Client) -> None:
    pds.rate_limit_next(reset_in=120, endpoint=UPLOAD_BLOB)

    with pytest.raises(xrpc.RateLimitExceededError) as raised:
        bluesky.upload_blob(image_bytes())

    assert pds.last_reset_at is not None
    assert raised.value.reset_at == datetime.fromtimestamp(pds.last_reset_at, UTC)
    assert pds.blobs == {}


def test_upload_blob_dropped_after_store_keeps_the_blob(pds: FakePDS, bluesky: Client) -> None:
    pds.drop_after_store_next(endpoint=UPLOAD_BLOB)

    with pytest.raises(httpx.RemoteProtocolError):
        bluesky.upload_blob(image_bytes())

    assert [b.data for b in pds.blobs.values()] == [image_bytes()]


def test_upload_blob_delayed_after_store_times_out(pds: FakePDS) -> None:
    client = bsky(pds, timeout=0.3)
    pds.delay_next(1.0, endpoint=UPLOAD_BLOB)

    with pytest.raises(xrpc.InvokeTimeoutError):
        client.upload_blob(image_bytes())

    assert len(pds.blobs) == 1
