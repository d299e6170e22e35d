"""The fakes take rich posts the way X and a Bluesky PDS do: images, alt text, link cards.

Everything goes through the real clients over loopback HTTP: tweepy's session signed with
OAuth 1.0a for X's v2 media calls (tweepy has no upload call of its own), and
`atproto.Client` for uploadBlob and createRecord."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import tweepy
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
