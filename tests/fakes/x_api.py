"""A loopback fake of the X API v2 endpoints the X adapter uses.

Tests drive it through the real tweepy SDK over HTTP, so it mirrors X's wire format:
status codes, problem bodies ({"title", "detail", "type", "status"}), rate-limit headers
and HTML-escaped tweet text with URLs rewritten to t.co links.

    with FakeX(api_key="k", access_token="t") as fake:
        client = fake.tweepy_client(api_secret="s", access_token_secret="ts")
        client.create_tweet(text="hello", user_auth=True)

Media go up as X API v2 does it since 2025 (docs.x.com/x-api/media): one-shot
POST /2/media/upload (multipart `media` + `media_category`, or JSON with base64 `media`), or
POST /2/media/upload/initialize -> /2/media/upload/{id}/append -> /{id}/finalize; alt text
through POST /2/media/metadata; POST /2/tweets takes them as {"media": {"media_ids": [...]}}.
Uploads are checked by content with Pillow and expire 86,400 s after upload, on the fake's clock.
tweepy has no v2 upload call: sign a request on the client's session with
`fake.oauth1()`: requests_oauthlib's OAuth1, which signs a multipart body by oauth params only.

The OAuth 1.0a signature is NOT verified: clients reach the fake by rewriting the URL
after tweepy signed it for https://api.twitter.com, so only the consumer key and access
token in the Authorization header are checked.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import html
import io
import json
import random
import re
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import tweepy
from PIL import Image, UnidentifiedImageError
from requests.adapters import HTTPAdapter

from fakes.serving import LoopbackServer

CREATE_TWEET = "POST /2/tweets"
GET_ME = "GET /2/users/me"
USER_TWEETS = "GET /2/users/:id/tweets"
MEDIA_UPLOAD = "POST /2/media/upload"
MEDIA_INITIALIZE = "POST /2/media/upload/initialize"
MEDIA_APPEND = "POST /2/media/upload/:id/append"
MEDIA_FINALIZE = "POST /2/media/upload/:id/finalize"
MEDIA_METADATA = "POST /2/media/metadata"
MEDIA_ENDPOINTS = (MEDIA_UPLOAD, MEDIA_INITIALIZE, MEDIA_APPEND, MEDIA_FINALIZE, MEDIA_METADATA)
ENDPOINTS = (CREATE_TWEET, GET_ME, USER_TWEETS, *MEDIA_ENDPOINTS)

X_API = "https://api.twitter.com"
WINDOW_SECONDS = 15 * 60
DAY_SECONDS = 24 * 60 * 60
# Per-user 15-minute limits, generous so that only injected faults produce 429s in tests.
WINDOW_LIMITS = {
    CREATE_TWEET: 100,
    GET_ME: 75,
    USER_TWEETS: 900,
    **{endpoint: 500 for endpoint in MEDIA_ENDPOINTS},
}
TWITTER_EPOCH_MS = 1288834974657

MEDIA_EXPIRES_AFTER = 86_400  # seconds, as every upload answer says
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # 5,242,880: X's limit for a photo (GIFs may be 15 MB)
MAX_GIF_BYTES = 15 * 1024 * 1024
MAX_ALT_TEXT = 1000  # characters (POST media/metadata/create: "Must be <= 1000 chars")
MAX_MEDIA_PER_TWEET = 4
# Photo formats X takes, by what Pillow reads in the bytes.
IMAGE_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
IMAGE_CATEGORIES = ("tweet_image", "dm_image", "tweet_gif", "dm_gif")

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG_DETAIL = (
    "Your Tweet text is too long. For more information on how Twitter determines text "
    "length see https://github.com/twitter/twitter-text."
)
INVALID_MEDIA_IDS = "Your media IDs are invalid."
CLIENT_FORBIDDEN = {
    "client_id": "28000000",
    "detail": (
        "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
        "and tokens from a Twitter developer App that is attached to a Project. You can "
        "create a project via the developer portal."
    ),
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
}

_URL = re.compile(r"https?://\S+?(?=[.,;:!?)\]'\"]*(?:\s|$))")
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
_USER_TWEETS_PATH = re.compile(r"^/2/users/([^/]+)/tweets$")
_MEDIA_STEP_PATH = re.compile(r"^/2/media/upload/([^/]+)/(append|finalize)$")


@dataclass(frozen=True)
class StoredTweet:
    id: str
    text: str  # exactly as the client sent it
    display_text: str  # as X shows it: URLs replaced by t.co links (HTML escaping on output)
    in_reply_to: str | None
    order: int  # 1-based creation order
    created_at: datetime
    media_ids: tuple[str, ...] = ()  # look them up with FakeX.media_of(tweet)


@dataclass(frozen=True)
class StoredMedia:
    """One finished upload: what X would attach to a tweet under `id`."""

    id: str
    media_key: str  # "3_<id>" for a photo, "16_<id>" for an animated GIF
    category: str  # media_category as sent, e.g. "tweet_image"
    mime: str  # from the bytes, not from the request's media_type
    width: int
    height: int
    size: int
    sha256: str
    expires_at: float  # epoch seconds on the fake's clock
    alt_text: str | None = None
    data: bytes = field(default=b"", repr=False)


@dataclass
class _Upload:
    """A chunked upload between initialize and finalize."""

    id: str
    media_type: str
    total_bytes: int
    category: str
    expires_at: float
    segments: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # path and query as received
    endpoint: str | None  # one of ENDPOINTS, None for an unknown route
    status: int | None  # None when the connection was dropped without an answer
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Fault:
    kind: str  # "fail" | "rate_limit" | "usage_cap" | "delay" | "drop"
    status: int = 503
    seconds: float = 0.0
    daily_reset_in: float | None = None


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


class _Dropped(Exception):
    """Close the connection without answering."""


class FakeX(LoopbackServer):
    def __init__(
        self,
        *,
        api_key: str = "fake-consumer-key",
        access_token: str = "1500000000000000001-fakeaccesstoken",
        user_id: str = "1500000000000000001",
        username: str = "campaign_test",
        name: str = "Campaign Test",
        timeline_forbidden: bool = False,
        daily_post_limit: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.access_token = access_token
        self.user_id = user_id
        self.username = username
        self.name = name
        # Like the Free access tier: may post and call /users/me, may not read timelines.
        self.timeline_forbidden = timeline_forbidden
        self.daily_post_limit = daily_post_limit
        # Epoch seconds for everything the fake dates (tweets, rate windows, media expiry);
        # a test may move it forward. Injected delays still sleep in real time.
        self._clock = clock

        self._lock = threading.RLock()  # re-entered by helpers that also lock
        self._tweets: list[StoredTweet] = []
        self._media: dict[str, StoredMedia] = {}  # finished uploads by id, in upload order
        self._uploads: dict[str, _Upload] = {}  # chunked uploads not yet finalized
        self._requests: list[RecordedRequest] = []
        self._post_attempts = 0
        self._faults: dict[str, deque[_Fault]] = {e: deque() for e in ENDPOINTS}
        self._unauthorized = False
        self._windows: dict[str, tuple[int, int]] = {}  # endpoint -> (reset epoch, used)
        self._last_id = 0
        self._tco = random.Random(0)

        self._listen(_Handler, "fake-x")

    # -- records ---------------------------------------------------------------------

    @property
    def tweets(self) -> list[StoredTweet]:
        with self._lock:
            return list(self._tweets)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def post_attempts(self) -> int:
        """POST /2/tweets requests received, whatever their outcome."""
        with self._lock:
            return self._post_attempts

    @property
    def media(self) -> list[StoredMedia]:
        """Every finished upload (one-shot or finalized), expired ones too, oldest first."""
        with self._lock:
            return list(self._media.values())

    def media_of(self, tweet: StoredTweet) -> list[StoredMedia]:
        """The uploads a tweet carries, in the order it listed them (alt text as of now)."""
        with self._lock:
            return [self._media[media_id] for media_id in tweet.media_ids]

    def add_existing(self, text: str, in_reply_to: str | None = None) -> StoredTweet:
        """Store a post as if published earlier by other means (no request, no limits)."""
        now = self._clock()
        with self._lock:
            tweet = self._store(text, in_reply_to, now)
        return tweet

    def count(self, endpoint: str) -> int:
        with self._lock:
            return sum(1 for r in self._requests if r.endpoint == endpoint)

    # -- fault injection: each fault consumes one authenticated request of `endpoint` -----

    def fail_next(self, n: int = 1, status: int = 503, *, endpoint: str = CREATE_TWEET) -> None:
        self._add(endpoint, n, _Fault("fail", status=status))

    def rate_limit_next(
        self,
        n: int = 1,
        reset_in: float = WINDOW_SECONDS,
        *,
        daily_reset_in: float | None = None,
        endpoint: str = CREATE_TWEET,
    ) -> None:
        """429. With `daily_reset_in`, it is the 24-hour posting cap that ran out: the
        15-minute window headers still show requests left, as X sends them."""
        self._add(
            endpoint, n, _Fault("rate_limit", seconds=reset_in, daily_reset_in=daily_reset_in)
        )

    def usage_capped_next(self, n: int = 1, *, endpoint: str = CREATE_TWEET) -> None:
        """429 for the app's monthly usage cap, not a 15-minute window: X's problem type
        .../problems/usage-capped (docs.x.com/x-api/fundamentals/post-cap)."""
        self._add(endpoint, n, _Fault("usage_cap"))

    def delay_next(self, seconds: float, n: int = 1, *, endpoint: str = CREATE_TWEET) -> None:
        """Do the work (store the tweet), then wait before answering."""
        self._add(endpoint, n, _Fault("delay", seconds=seconds))

    def drop_after_store_next(self, n: int = 1, *, endpoint: str = CREATE_TWEET) -> None:
        """Do the work (store the tweet), then close the socket without an answer."""
        self._add(endpoint, n, _Fault("drop"))

    def unauthorized(self, on: bool = True) -> None:
        """While on, every request is answered 401, as after the tokens were revoked."""
        with self._lock:
            self._unauthorized = on

    def _add(self, endpoint: str, n: int, fault: _Fault) -> None:
        if endpoint not in self._faults:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        with self._lock:
            self._faults[endpoint].extend([fault] * n)

    # -- a real tweepy client pointed at the fake ---------------------------------------

    def tweepy_client(
        self,
        *,
        api_key: str | None = None,
        api_secret: str = "fake-consumer-secret",
        access_token: str | None = None,
        access_token_secret: str = "fake-access-token-secret",
        timeout: float = 5.0,
    ) -> Any:
        client = tweepy.Client(
            consumer_key=self.api_key if api_key is None else api_key,
            consumer_secret=api_secret,
            access_token=self.access_token if access_token is None else access_token,
            access_token_secret=access_token_secret,
            wait_on_rate_limit=False,
        )
        client.session.mount(f"{X_API}/", LoopbackAdapter(self.base_url, timeout))
        return client

    def oauth1(
        self,
        *,
        api_secret: str = "fake-consumer-secret",
        access_token_secret: str = "fake-access-token-secret",
    ) -> Any:
        """The OAuth 1.0a signer tweepy.Client itself builds (a requests_oauthlib.OAuth1),
        for the media calls tweepy lacks:
        `client.session.post(f"{X_API}/2/media/upload", files=..., auth=fake.oauth1())`."""
        handler = tweepy.OAuth1UserHandler(
            self.api_key, api_secret, self.access_token, access_token_secret
        )
        return handler.apply_auth()

    # -- request handling (called from server threads) ------------------------------

    def _handle(self, method: str, target: str, headers: Any, body: bytes) -> _Answer:
        parts = urlsplit(target)
        endpoint, path_user = _route(method, parts.path)
        with self._lock:
            if endpoint == CREATE_TWEET:
                self._post_attempts += 1
            if endpoint is None:
                return _problem(404, "Not Found Error", f"Could not find {parts.path}")
            if self._unauthorized or not self._authorized(headers.get("Authorization", "")):
                return self._with_limits(endpoint, _problem(401, "Unauthorized", "Unauthorized"))
            fault = self._faults[endpoint].popleft() if self._faults[endpoint] else None

        if fault is not None and fault.kind == "fail":
            phrase = HTTPStatus(fault.status).phrase
            return self._with_limits(endpoint, _problem(fault.status, phrase, phrase))
        if fault is not None and fault.kind == "rate_limit":
            return self._rate_limited(endpoint, fault)
        if fault is not None and fault.kind == "usage_cap":
            return _Answer(
                429,
                {
                    "title": "UsageCapExceeded",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.twitter.com/2/problems/usage-capped",
                    "period": "Monthly",
                    "scope": "Product",
                },
            )

        query = parse_qs(parts.query)
        with self._lock:
            limited = self._window_exhausted(endpoint)
        if limited is not None:
            return limited
        content_type = headers.get("Content-Type", "")
        if endpoint == CREATE_TWEET:
            answer = self._create_tweet(body)
        elif endpoint == MEDIA_UPLOAD:
            answer = self._upload_media(content_type, body)
        elif endpoint == MEDIA_INITIALIZE:
            answer = self._initialize_upload(body)
        elif endpoint == MEDIA_APPEND:
            answer = self._append_upload(path_user or "", content_type, body)
        elif endpoint == MEDIA_FINALIZE:
            answer = self._finalize_upload(path_user or "")
        elif endpoint == MEDIA_METADATA:
            answer = self._create_metadata(body)
        elif endpoint == GET_ME:
            answer = _Answer(
                200, {"data": {"id": self.user_id, "name": self.name, "username": self.username}}
            )
        else:
            answer = self._user_tweets(path_user or "", query)
        answer = self._with_limits(endpoint, answer)

        if fault is not None and fault.kind == "drop":
            raise _Dropped
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        return answer

    def _authorized(self, header: str) -> bool:
        if not header.startswith("OAuth "):
            return False
        params = {k: unquote(v) for k, v in _OAUTH_PARAM.findall(header)}
        return (
            params.get("oauth_consumer_key") == self.api_key
            and params.get("oauth_token") == self.access_token
            and bool(params.get("oauth_signature"))
        )

    def _create_tweet(self, body: bytes) -> _Answer:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _invalid_request("body", "Request body is not valid JSON.")
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return _invalid_request("text", "Your Tweet text is empty.")
        if len(text) > 280:
            return _problem(400, "Bad Request", TOO_LONG_DETAIL)
        reply = payload.get("reply") or {}
        in_reply_to = reply.get("in_reply_to_tweet_id")
        now = self._clock()
        with self._lock:
            media_ids, refused = self._tweet_media(payload.get("media"), now)
            if refused is not None:
                return refused
            if any(t.text == text for t in self._tweets):
                return _problem(403, "Forbidden", DUPLICATE_DETAIL)
            posted_today = sum(
                1 for t in self._tweets if t.created_at.timestamp() > now - DAY_SECONDS
            )
            if posted_today >= self.daily_post_limit:
                first = min(t.created_at.timestamp() for t in self._tweets[-posted_today:])
                return self._rate_limited(
                    CREATE_TWEET, _Fault("rate_limit", daily_reset_in=first + DAY_SECONDS - now)
                )
            tweet = self._store(
                text, str(in_reply_to) if in_reply_to is not None else None, now, media_ids
            )
            answer = _Answer(201, {"data": _tweet_json(tweet, fields=())})
            answer.headers.update(self._daily_headers(now))
        return answer

    # -- media (X API v2) ------------------------------------------------------------

    def _tweet_media(self, media: Any, now: float) -> tuple[tuple[str, ...], _Answer | None]:
        """The media ids a tweet asks for, or the 400 X gives for them."""
        if media is None:
            return (), None
        ids = media.get("media_ids") if isinstance(media, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return (), _invalid_request("media.media_ids", "media.media_ids must be strings.")
        if not 1 <= len(ids) <= MAX_MEDIA_PER_TWEET:
            return (), _invalid_request(
                "media.media_ids",
                f"The `media.media_ids` array size [{len(ids)}] is not between 1 and "
                f"{MAX_MEDIA_PER_TWEET}",
            )
        invalid = [i for i in ids if i not in self._media or self._media[i].expires_at <= now]
        if invalid:
            return (), _invalid_request("media.media_ids", INVALID_MEDIA_IDS, values=invalid)
        return tuple(ids), None

    def _upload_media(self, content_type: str, body: bytes) -> _Answer:
        if content_type.startswith("multipart/form-data"):
            fields = _multipart(content_type, body)
        else:
            try:
                payload = json.loads(body or b"{}")
                fields = {k: str(v).encode() for k, v in payload.items() if k != "media"}
                fields["media"] = base64.b64decode(payload.get("media", ""), validate=True)
            except (ValueError, AttributeError):
                return _invalid_request("body", "Request body is not valid JSON.")
        data = fields.get("media")
        if not data:
            return _invalid_request("media", "The `media` parameter is required.")
        category = fields.get("media_category", b"tweet_image").decode()
        media_type = fields.get("media_type", b"").decode()
        now = self._clock()
        with self._lock:
            return self._finish(self._next_id(now), category, media_type, data, now)

    def _initialize_upload(self, body: bytes) -> _Answer:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _invalid_request("body", "Request body is not valid JSON.")
        media_type = payload.get("media_type")
        total = payload.get("total_bytes")
        category = payload.get("media_category", "tweet_image")
        if not isinstance(media_type, str) or not media_type:
            return _invalid_request("media_type", "The `media_type` parameter is required.")
        if not isinstance(total, int) or total <= 0:
            return _invalid_request("total_bytes", "The `total_bytes` parameter is invalid.")
        too_big = _too_big(category, total)
        if too_big is not None:
            return too_big
        now = self._clock()
        with self._lock:
            upload = _Upload(
                self._next_id(now), media_type, total, category, now + MEDIA_EXPIRES_AFTER
            )
            self._uploads[upload.id] = upload
        return _Answer(
            200, {"data": _media_json(upload.id, category, None, now, upload.expires_at)}
        )

    def _append_upload(self, media_id: str, content_type: str, body: bytes) -> _Answer:
        fields = _multipart(content_type, body) if "multipart" in content_type else {}
        data = fields.get("media")
        try:
            segment = int(fields.get("segment_index", b""))
        except ValueError:
            segment = -1
        if data is None:
            return _invalid_request("media", "The `media` parameter is required.")
        if not 0 <= segment <= 999:
            return _invalid_request("segment_index", "The `segment_index` must be 0 to 999.")
        with self._lock:
            upload = self._uploads.get(media_id)
            if upload is None or upload.expires_at <= self._clock():
                return _invalid_request("id", f"Could not find upload with id: [{media_id}].")
            upload.segments[segment] = data
            if sum(map(len, upload.segments.values())) > upload.total_bytes:
                del self._uploads[media_id]
                return _invalid_request("media", "Appended bytes exceed `total_bytes`.")
            return _Answer(200, {"data": {"expires_at": int(upload.expires_at)}})

    def _finalize_upload(self, media_id: str) -> _Answer:
        now = self._clock()
        with self._lock:
            upload = self._uploads.get(media_id)
            if upload is None or upload.expires_at <= now:
                return _invalid_request("id", f"Could not find upload with id: [{media_id}].")
            data = b"".join(upload.segments[i] for i in sorted(upload.segments))
            if len(data) != upload.total_bytes:
                return _invalid_request(
                    "total_bytes",
                    f"Uploaded {len(data)} bytes, `total_bytes` said {upload.total_bytes}.",
                )
            del self._uploads[media_id]
            return self._finish(media_id, upload.category, upload.media_type, data, now)

    def _finish(
        self, media_id: str, category: str, media_type: str, data: bytes, now: float
    ) -> _Answer:
        """Check the bytes as X does for a photo and keep them under `media_id` (locked)."""
        if category not in IMAGE_CATEGORIES:
            return _invalid_request("media_category", f"This fake takes only {IMAGE_CATEGORIES}.")
        too_big = _too_big(category, len(data))
        if too_big is not None:
            return too_big
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                kind, (width, height) = image.format or "", image.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return _invalid_request("media", "The media is not a valid image.")
        if kind not in IMAGE_MIMES:
            return _invalid_request("media", f"Unsupported image format {kind}.")
        if media_type and media_type != IMAGE_MIMES[kind]:
            return _invalid_request(
                "media_type", f"`media_type` {media_type} is not {IMAGE_MIMES[kind]}."
            )
        stored = StoredMedia(
            id=media_id,
            media_key=_media_key(media_id, category),
            category=category,
            mime=IMAGE_MIMES[kind],
            width=width,
            height=height,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            expires_at=now + MEDIA_EXPIRES_AFTER,
            data=data,
        )
        self._media[media_id] = stored
        return _Answer(
            200, {"data": _media_json(media_id, category, stored.size, now, stored.expires_at)}
        )

    def _create_metadata(self, body: bytes) -> _Answer:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _invalid_request("body", "Request body is not valid JSON.")
        media_id = payload.get("id")
        metadata = payload.get("metadata")
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        text = alt.get("text") if isinstance(alt, dict) else None
        if not isinstance(text, str):
            return _invalid_request("metadata.alt_text.text", "Alt text must be a string.")
        if len(text) > MAX_ALT_TEXT:
            return _invalid_request(
                "metadata.alt_text.text",
                f"Alt text is {len(text)} characters, more than {MAX_ALT_TEXT}.",
            )
        with self._lock:
            stored = self._media.get(media_id) if isinstance(media_id, str) else None
            if stored is None or stored.expires_at <= self._clock():
                return _invalid_request("id", f"Could not find media with id: [{media_id}].")
            self._media[stored.id] = replace(stored, alt_text=text)
        return _Answer(
            200,
            {"data": {"id": stored.id, "associated_metadata": {"alt_text": {"text": text}}}},
        )

    def _user_tweets(self, user_id: str, query: dict[str, list[str]]) -> _Answer:
        if self.timeline_forbidden:
            return _Answer(403, dict(CLIENT_FORBIDDEN))
        if user_id != self.user_id:
            return _Answer(200, {"errors": [_not_found_user(user_id)]})
        try:
            max_results = int(query.get("max_results", ["10"])[0])
        except ValueError:
            max_results = 0
        if not 5 <= max_results <= 100:
            return _invalid_request(
                "max_results",
                f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
            )
        token = query.get("pagination_token", [None])[0]
        start = _decode_token(token) if token else 0
        if start is None:
            return _invalid_request("pagination_token", "The `pagination_token` is invalid.")
        fields = ",".join(query.get("tweet.fields", [])).split(",")
        with self._lock:
            newest_first = list(reversed(self._tweets))
        page = newest_first[start : start + max_results]
        if not page:
            return _Answer(200, {"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if start + max_results < len(newest_first):
            meta["next_token"] = _encode_token(start + max_results)
        return _Answer(200, {"data": [_tweet_json(t, fields) for t in page], "meta": meta})

    def _window(self, endpoint: str, now: float) -> tuple[int, int]:
        reset, used = self._windows.get(endpoint, (0, 0))
        if now >= reset:
            reset, used = int(now) + WINDOW_SECONDS, 0
        return reset, used

    def _window_exhausted(self, endpoint: str) -> _Answer | None:
        reset, used = self._window(endpoint, self._clock())
        if used < WINDOW_LIMITS[endpoint]:
            return None
        return self._too_many(endpoint, reset, remaining=0)

    def _with_limits(self, endpoint: str, answer: _Answer) -> _Answer:
        with self._lock:
            reset, used = self._window(endpoint, self._clock())
            used = min(used + 1, WINDOW_LIMITS[endpoint])
            self._windows[endpoint] = (reset, used)
        answer.headers.setdefault("x-rate-limit-limit", str(WINDOW_LIMITS[endpoint]))
        answer.headers.setdefault("x-rate-limit-remaining", str(WINDOW_LIMITS[endpoint] - used))
        answer.headers.setdefault("x-rate-limit-reset", str(reset))
        return answer

    def _rate_limited(self, endpoint: str, fault: _Fault) -> _Answer:
        now = self._clock()
        if fault.daily_reset_in is None:
            return self._too_many(endpoint, int(now + fault.seconds), remaining=0)
        # The 24-hour cap: the 15-minute window still has room, the daily headers do not.
        with self._lock:
            reset, used = self._window(endpoint, now)
        answer = self._too_many(endpoint, reset, remaining=WINDOW_LIMITS[endpoint] - used - 1)
        answer.headers.update(
            {
                "x-user-limit-24hour-limit": str(self.daily_post_limit),
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(int(now + fault.daily_reset_in)),
            }
        )
        return answer

    def _too_many(self, endpoint: str, reset: int, *, remaining: int) -> _Answer:
        answer = _problem(429, "Too Many Requests", "Too Many Requests")
        answer.headers.update(
            {
                "x-rate-limit-limit": str(WINDOW_LIMITS[endpoint]),
                "x-rate-limit-remaining": str(max(remaining, 0)),
                "x-rate-limit-reset": str(reset),
            }
        )
        return answer

    def _daily_headers(self, now: float) -> dict[str, str]:
        today = [t for t in self._tweets if t.created_at.timestamp() > now - DAY_SECONDS]
        reset = (today[0].created_at.timestamp() if today else now) + DAY_SECONDS
        return {
            "x-user-limit-24hour-limit": str(self.daily_post_limit),
            "x-user-limit-24hour-remaining": str(max(self.daily_post_limit - len(today), 0)),
            "x-user-limit-24hour-reset": str(int(reset)),
        }

    def _store(
        self, text: str, in_reply_to: str | None, now: float, media_ids: tuple[str, ...] = ()
    ) -> StoredTweet:
        tweet = StoredTweet(
            id=self._next_id(now),
            text=text,
            display_text=_URL.sub(lambda _: self._tco_link(), text),
            in_reply_to=in_reply_to,
            order=len(self._tweets) + 1,
            created_at=datetime.fromtimestamp(now, UTC),
            media_ids=media_ids,
        )
        self._tweets.append(tweet)
        return tweet

    def _next_id(self, now: float) -> str:
        # Snowflake layout: milliseconds since the Twitter epoch above 22 bits of
        # worker/sequence, so ids grow with time like real ones.
        candidate = (int(now * 1000) - TWITTER_EPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def _tco_link(self) -> str:
        chars = string.ascii_letters + string.digits
        return "https://t.co/" + "".join(self._tco.choice(chars) for _ in range(10))

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


class LoopbackAdapter(HTTPAdapter):
    """Sends requests signed for https://api.twitter.com to the fake instead."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self._base_url = base_url
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        request.url = self._base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        kwargs["timeout"] = self._timeout
        kwargs["proxies"] = {}
        return super().send(request, *args, **kwargs)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind a pooled session
    server_version = "tsa"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle plus delayed ACKs
        # add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake: FakeX = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        endpoint, _ = _route(method, urlsplit(self.path).path)
        try:
            answer = fake._handle(method, self.path, self.headers, body)
        except _Dropped:
            fake._record(RecordedRequest(method, self.path, endpoint, None))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        fake._record(
            RecordedRequest(method, self.path, endpoint, answer.status, dict(answer.headers))
        )
        payload = json.dumps(answer.body).encode() if answer.body is not None else b""
        try:
            self.send_response(answer.status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.send_header("cache-control", "no-cache, no-store, max-age=0")
            self.send_header("x-access-level", "read-write")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            # The client gave up (timeout) while we were delaying: nobody to answer.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


def _route(method: str, path: str) -> tuple[str | None, str | None]:
    if method == "POST" and path == "/2/tweets":
        return CREATE_TWEET, None
    if method == "GET" and path == "/2/users/me":
        return GET_ME, None
    match = _USER_TWEETS_PATH.match(path)
    if method == "GET" and match:
        return USER_TWEETS, match.group(1)
    if method == "POST" and path == "/2/media/upload":
        return MEDIA_UPLOAD, None
    if method == "POST" and path == "/2/media/upload/initialize":
        return MEDIA_INITIALIZE, None
    if method == "POST" and path == "/2/media/metadata":
        return MEDIA_METADATA, None
    step = _MEDIA_STEP_PATH.match(path)
    if method == "POST" and step:
        return (MEDIA_APPEND if step.group(2) == "append" else MEDIA_FINALIZE), step.group(1)
    return None, None


def _problem(status: int, title: str, detail: str) -> _Answer:
    return _Answer(
        status, {"title": title, "detail": detail, "type": "about:blank", "status": status}
    )


def _invalid_request(parameter: str, message: str, values: list[str] | None = None) -> _Answer:
    return _Answer(
        400,
        {
            "errors": [{"parameters": {parameter: values or []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def _too_big(category: str, size: int) -> _Answer | None:
    limit = MAX_GIF_BYTES if category.endswith("_gif") else MAX_IMAGE_BYTES
    if size <= limit:
        return None
    return _invalid_request("media", f"File size {size} exceeds the {limit}-byte limit.")


def _media_key(media_id: str, category: str) -> str:
    return ("16_" if category.endswith("_gif") else "3_") + media_id


def _media_json(
    media_id: str, category: str, size: int | None, now: float, expires_at: float
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": media_id,
        "media_key": _media_key(media_id, category),
        "expires_after_secs": max(int(expires_at - now), 0),
    }
    if size is not None:
        data["size"] = size
    return data


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """multipart/form-data fields by name (file parts as their raw bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def _not_found_user(user_id: str) -> dict[str, str]:
    return {
        "value": user_id,
        "detail": f"Could not find user with id: [{user_id}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "id",
        "resource_id": user_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _tweet_json(tweet: StoredTweet, fields: Any) -> dict[str, Any]:
    # X escapes &, < and > in tweet text.
    data: dict[str, Any] = {
        "id": tweet.id,
        "text": html.escape(tweet.display_text, quote=False),
        "edit_history_tweet_ids": [tweet.id],
    }
    if "referenced_tweets" in fields and tweet.in_reply_to is not None:
        data["referenced_tweets"] = [{"type": "replied_to", "id": tweet.in_reply_to}]
    if "created_at" in fields:
        data["created_at"] = tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{tweet.created_at.microsecond // 1000:03d}Z"
        )
    return data


def _encode_token(offset: int) -> str:
    return f"7140dibdnow9c7btw{offset:08x}"


def _decode_token(token: str) -> int | None:
    if not token.startswith("7140dibdnow9c7btw"):
        return None
    try:
        return int(token[len("7140dibdnow9c7btw") :], 16)
    except ValueError:
        return None
