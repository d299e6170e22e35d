"""A loopback fake of the Mastodon REST API endpoints the Mastodon adapter uses.

Tests drive it through the real Mastodon.py SDK (2.x) over HTTP, so it mirrors the server's
wire format (mastodon/mastodon): errors as {"error": "..."} with the status codes Mastodon
uses, X-RateLimit-* headers with an ISO 8601 reset (config/initializers/rack_attack.rb,
app/controllers/concerns/rate_limit_headers.rb), statuses rendered to HTML `content` while
their plain source stays behind GET /api/v1/statuses/:id/source.

    with FakeMastodon() as fake:
        api = fake.client()
        api.status_post("hello", idempotency_key="post-1")

Posting follows app/services/post_status_service.rb: an Idempotency-Key seen from the same
account within `idempotency_window` (3,600 s there) returns the status it created, without
creating another; the key is remembered only once a status was stored. The length rule is
app/validators/status_length_validator.rb: grapheme clusters of spoiler_text + text, each
http(s) URL counting characters_reserved_per_url (23), each @user@domain counting as @user.

Mastodon.py decides between POST /api/v2/media and the old /api/v1/media by the server
version, which it fetches lazily from GET /api/v1/instance/ (then /api/v2/instance/) on the
first media_post unless told a version; both instance endpoints answer without a token.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import hashlib
import html
import io
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import regex
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:
    from mastodon import Mastodon


from fakes.serving import LoopbackServer

VERIFY_CREDENTIALS = "GET /api/v1/accounts/verify_credentials"
INSTANCE_V1 = "GET /api/v1/instance"
INSTANCE_V2 = "GET /api/v2/instance"
POST_STATUS = "POST /api/v1/statuses"
GET_STATUS = "GET /api/v1/statuses/:id"
STATUS_SOURCE = "GET /api/v1/statuses/:id/source"
ACCOUNT_STATUSES = "GET /api/v1/accounts/:id/statuses"
POST_MEDIA = "POST /api/v2/media"
POST_MEDIA_V1 = "POST /api/v1/media"  # where Mastodon.py uploads when it thinks the server < 3.1.4
GET_MEDIA = "GET /api/v1/media/:id"
UPDATE_MEDIA = "PUT /api/v1/media/:id"
ENDPOINTS = (
    VERIFY_CREDENTIALS,
    INSTANCE_V1,
    INSTANCE_V2,
    POST_STATUS,
    GET_STATUS,
    STATUS_SOURCE,
    ACCOUNT_STATUSES,
    POST_MEDIA,
    POST_MEDIA_V1,
    GET_MEDIA,
    UPDATE_MEDIA,
)
PUBLIC_ENDPOINTS = (INSTANCE_V1, INSTANCE_V2)  # InstancesController checks no token

VERSION = "4.3.0"
API_VERSION = 2  # api_versions.mastodon of 4.3.0; without it Mastodon.py warns
IDEMPOTENCY_WINDOW = 3_600  # seconds: redis.setex(idempotency_key, 3_600, ...)
# rack_attack.rb: throttle('throttle_per_token_api', limit: 300, period: 5.minutes)
RATE_LIMIT = 300
RATE_PERIOD = 300
URL_PLACEHOLDER_CHARS = 23  # StatusLengthValidator::URL_PLACEHOLDER_CHARS
MAX_MEDIA_ATTACHMENTS = 4  # Status::MEDIA_ATTACHMENTS_LIMIT
MAX_DESCRIPTION = 1_500  # MediaAttachment::MAX_DESCRIPTION_LENGTH
IMAGE_LIMIT = 16 * 1024 * 1024  # MediaAttachment::IMAGE_LIMIT
IMAGE_MATRIX_LIMIT = 33_177_600  # Attachmentable::MAX_MATRIX_LIMIT (7680x4320)
STATUSES_LIMIT = 20  # DEFAULT_STATUSES_LIMIT of GET /api/v1/accounts/:id/statuses
MAX_STATUSES_LIMIT = 40
VISIBILITIES = ("public", "unlisted", "private", "direct")
IMAGE_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}

INVALID_TOKEN = "The access token is invalid"  # Doorkeeper's 401
RECORD_NOT_FOUND = "Record not found"  # Api::BaseController rescue_from RecordNotFound
IN_REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
TOO_MANY_REQUESTS = "Too many requests"  # I18n errors.429, rack_attack throttled_response
NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"
FILE_TYPE_ERROR = "File type of uploaded media could not be verified"

# A URL as twitter-text extracts it with extract_url_without_protocol: false: a scheme is
# required; trailing punctuation is not part of it.
_URL = regex.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?)\]'\"]*(?:\s|$))")
# Account::MENTION_RE: @user or @user@domain, not inside a word, a path or after "=".
_MENTION = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(@\w+(?:[.-]+\w+)*)?", regex.IGNORECASE
)
# Tag::HASHTAG_RE, simplified: a # not inside a word, then word characters, not all digits.
_HASHTAG = regex.compile(r"(?<![\w/#&])#(\w*[^\W\d]\w*)")
_STATUS_PATH = regex.compile(r"^/api/v1/statuses/([^/]+)(/source)?$")
_ACCOUNT_STATUSES_PATH = regex.compile(r"^/api/v1/accounts/([^/]+)/statuses$")
_MEDIA_PATH = regex.compile(r"^/api/v1/media/([^/]+)$")


@dataclass(frozen=True)
class StoredStatus:
    id: str
    text: str  # the source, exactly as the client sent it
    visibility: str
    language: str | None
    in_reply_to_id: str | None
    sensitive: bool
    spoiler_text: str
    media_ids: tuple[str, ...]
    idempotency_key: str | None
    created_at: datetime
    order: int  # 1-based creation order


@dataclass(frozen=True)
class StoredMedia:
    id: str
    sha256: str
    mime: str  # from the bytes (Pillow), not from the part's Content-Type
    width: int
    height: int
    size: int
    description: str | None
    processed: bool
    status_id: str | None = None  # set once a status attached it
    polls_left: int = 0  # GET /api/v1/media/:id answers until it is processed
    data: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # path and query as received
    endpoint: str | None  # one of ENDPOINTS, None for an unknown route
    status: int | None  # None when the connection was dropped without an answer
    headers: dict[str, str] = field(default_factory=dict)  # as the client sent them
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Fault:
    kind: str  # "fail" | "rate_limit" | "delay" | "drop"
    status: int = 503
    seconds: float = 0.0


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _Dropped(Exception):
    """Close the connection without answering."""


def _error(status: int, message: str) -> _Answer:
    return _Answer(status, {"error": message})


class FakeMastodon(LoopbackServer):
    def __init__(
        self,
        *,
        access_token: str = "fake-mastodon-access-token",
        account_id: str = "109000000000000001",
        username: str = "campaign",
        display_name: str = "Campaign Test",
        max_characters: int = 500,
        characters_reserved_per_url: int = URL_PLACEHOLDER_CHARS,
        max_media_attachments: int = MAX_MEDIA_ATTACHMENTS,
        media_processing_polls: int = 0,
        idempotency_window: float = IDEMPOTENCY_WINDOW,
        version: str = VERSION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access_token = access_token
        self.account_id = account_id
        self.username = username
        self.display_name = display_name
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.max_media_attachments = max_media_attachments
        # 0: POST /api/v2/media answers 200 with a url. N > 0: 202 with "url": null, and
        # the Nth GET /api/v1/media/:id after it answers 200 with a url (206 before).
        self.media_processing_polls = media_processing_polls
        self.idempotency_window = idempotency_window
        self.version = version
        # Epoch seconds for what the fake dates (ids, idempotency, rate windows and the Date
        # header, which Mastodon.py uses to correct X-RateLimit-Reset to its own clock).
        self._clock = clock

        self._lock = threading.RLock()  # re-entered by helpers that also lock
        self._closing = threading.Event()  # wakes delayed handlers on stop()
        self._statuses: dict[str, StoredStatus] = {}  # by id, in creation order
        self._media: dict[str, StoredMedia] = {}
        self._idempotency: dict[str, tuple[str, float]] = {}  # key -> (status id, expiry)
        self._requests: list[RecordedRequest] = []
        self._faults: dict[str, deque[_Fault]] = {e: deque() for e in ENDPOINTS}
        self._unauthorized = False
        self._window = (0, 0)  # (reset epoch, used) of the one per-token API window
        self._last_id = 0

        self._listen(_Handler, "fake-mastodon")

    # -- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        self._closing.set()  # wakes delayed handlers first
        super().stop()

    # -- records ---------------------------------------------------------------------

    @property
    def statuses(self) -> list[StoredStatus]:
        with self._lock:
            return list(self._statuses.values())

    @property
    def media(self) -> list[StoredMedia]:
        """Every upload, oldest first, as of now (processed, description, attached)."""
        with self._lock:
            return list(self._media.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, endpoint: str) -> int:
        with self._lock:
            return sum(1 for r in self._requests if r.endpoint == endpoint)

    def add_existing(self, text: str, in_reply_to: str | None = None) -> StoredStatus:
        """Store a status as if published earlier by other means (no request, no checks)."""
        with self._lock:
            return self._store(text, in_reply_to=in_reply_to, now=self._clock())

    # -- fault injection: each fault consumes one request of `endpoint` ---------------

    def fail_next(self, n: int = 1, status: int = 503, *, endpoint: str = POST_STATUS) -> None:
        """Answer `status` with {"error": <its phrase>}, doing nothing."""
        self._add(endpoint, n, _Fault("fail", status=status))

    def rate_limit_next(
        self, n: int = 1, reset_in: float = RATE_PERIOD, *, endpoint: str = POST_STATUS
    ) -> None:
        """429 {"error": "Too many requests"}, X-RateLimit-Reset = now + reset_in (ISO 8601)."""
        self._add(endpoint, n, _Fault("rate_limit", seconds=reset_in))

    def delay_next(self, seconds: float, n: int = 1, *, endpoint: str = POST_STATUS) -> None:
        """Do the work (store the status), then wait before answering."""
        self._add(endpoint, n, _Fault("delay", seconds=seconds))

    def drop_after_store_next(self, n: int = 1, *, endpoint: str = POST_STATUS) -> None:
        """Do the work (store the status), then close the socket without an answer."""
        self._add(endpoint, n, _Fault("drop"))

    def unauthorized(self, on: bool = True) -> None:
        """While on, every token is refused with 401, as after the token was revoked."""
        with self._lock:
            self._unauthorized = on

    def _add(self, endpoint: str, n: int, fault: _Fault) -> None:
        if endpoint not in self._faults:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        with self._lock:
            self._faults[endpoint].extend([fault] * n)

    # -- a real Mastodon.py client pointed at the fake ---------------------------------

    def client(self, **kw: Any) -> Mastodon:
        """mastodon.Mastodon on this fake: ratelimit_method="throw", no version check at
        construction (Mastodon.py's default), a short timeout; `kw` overrides any of them."""
        from mastodon import Mastodon

        options: dict[str, Any] = {
            "access_token": self.access_token,
            "api_base_url": self.base_url,
            "ratelimit_method": "throw",
            "request_timeout": 5.0,
            "version_check_mode": "none",
            **kw,
        }
        return Mastodon(**options)

    # -- request handling (called from server threads) ------------------------------

    def _handle(self, method: str, target: str, headers: Any, body: bytes) -> _Answer:
        parts = urlsplit(target)
        endpoint, path_id = _route(method, parts.path)
        if endpoint is None:
            return self._with_limits(_error(404, RECORD_NOT_FOUND))
        with self._lock:
            authorized = not self._unauthorized and (
                headers.get("Authorization", "") == f"Bearer {self.access_token}"
            )
            if not authorized and endpoint not in PUBLIC_ENDPOINTS:
                return self._with_limits(_error(401, INVALID_TOKEN))
            fault = self._faults[endpoint].popleft() if self._faults[endpoint] else None

        if fault is not None and fault.kind == "fail":
            return self._with_limits(_error(fault.status, HTTPStatus(fault.status).phrase))
        if fault is not None and fault.kind == "rate_limit":
            return self._too_many(self._clock() + fault.seconds)
        with self._lock:
            limited = self._window_exhausted()
        if limited is not None:
            return limited

        query = parse_qs(parts.query, keep_blank_values=True)
        content_type = headers.get("Content-Type", "")
        if endpoint == VERIFY_CREDENTIALS:
            answer = _Answer(200, self._account_json(with_source=True))
        elif endpoint == INSTANCE_V1:
            answer = _Answer(200, self._instance_v1())
        elif endpoint == INSTANCE_V2:
            answer = _Answer(200, self._instance_v2())
        elif endpoint == POST_STATUS:
            answer = self._post_status(content_type, body, headers.get("Idempotency-Key"))
        elif endpoint == GET_STATUS:
            answer = self._get_status(path_id or "")
        elif endpoint == STATUS_SOURCE:
            answer = self._status_source(path_id or "")
        elif endpoint == ACCOUNT_STATUSES:
            answer = self._account_statuses(path_id or "", query)
        elif endpoint in (POST_MEDIA, POST_MEDIA_V1):
            answer = self._post_media(content_type, body, v2=endpoint == POST_MEDIA)
        elif endpoint == GET_MEDIA:
            answer = self._get_media(path_id or "")
        else:
            answer = self._update_media(path_id or "", content_type, body)
        answer = self._with_limits(answer)

        if fault is not None and fault.kind == "drop":
            raise _Dropped
        if fault is not None and fault.kind == "delay" and self._closing.wait(fault.seconds):
            raise _Dropped
        return answer

    # -- statuses --------------------------------------------------------------------

    def _post_status(self, content_type: str, body: bytes, key: str | None) -> _Answer:
        fields = _form(content_type, body)
        text = _first(fields, "status") or ""
        spoiler = _first(fields, "spoiler_text") or ""
        reply_to = _first(fields, "in_reply_to_id") or None
        visibility = _first(fields, "visibility") or "public"
        language = _first(fields, "language") or None
        sensitive = (_first(fields, "sensitive") or "").lower() in ("1", "true")
        media_ids = tuple(fields.get("media_ids[]", fields.get("media_ids", [])))
        now = self._clock()
        with self._lock:
            # StatusesController#set_thread runs before PostStatusService.
            if reply_to is not None and reply_to not in self._statuses:
                return _error(404, IN_REPLY_NOT_FOUND)
            if key:
                remembered = self._idempotency.get(key)
                if remembered is not None and remembered[1] > now:
                    return _Answer(200, self._status_json(self._statuses[remembered[0]]))
            refused = self._check_media(media_ids)
            if refused is not None:
                return refused
            if visibility not in VISIBILITIES:
                return _error(422, "Validation failed: Visibility is not included in the list")
            if not text.strip() and not media_ids:
                return _error(422, "Validation failed: Text can't be blank")
            if countable_length(text, spoiler, self.characters_reserved_per_url) > (
                self.max_characters
            ):
                return _error(
                    422,
                    f"Validation failed: Text character limit of {self.max_characters} exceeded",
                )
            status = self._store(
                text,
                in_reply_to=reply_to,
                now=now,
                visibility=visibility,
                language=language,
                sensitive=sensitive,
                spoiler_text=spoiler,
                media_ids=media_ids,
                idempotency_key=key or None,
            )
            for media_id in media_ids:
                self._media[media_id] = replace(self._media[media_id], status_id=status.id)
            if key:
                self._idempotency[key] = (status.id, now + self.idempotency_window)
            return _Answer(200, self._status_json(status))

    def _check_media(self, media_ids: tuple[str, ...]) -> _Answer | None:
        """PostStatusService#validate_media! (locked)."""
        if not media_ids:
            return None
        if len(media_ids) > self.max_media_attachments:
            return _error(422, f"Cannot attach more than {self.max_media_attachments} files")
        missing = [
            i for i in media_ids if i not in self._media or self._media[i].status_id is not None
        ]
        if missing:
            ids = ", ".join(missing)
            return _error(422, f"Media {ids} not found or already attached to another post")
        if any(not self._media[i].processed for i in media_ids):
            return _error(422, NOT_READY)
        return None

    def _get_status(self, status_id: str) -> _Answer:
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None:
                return _error(404, RECORD_NOT_FOUND)
            return _Answer(200, self._status_json(status))

    def _status_source(self, status_id: str) -> _Answer:
        with self._lock:
            status = self._statuses.get(status_id)
        if status is None:
            return _error(404, RECORD_NOT_FOUND)
        return _Answer(
            200, {"id": status.id, "text": status.text, "spoiler_text": status.spoiler_text}
        )

    def _account_statuses(self, account_id: str, query: dict[str, list[str]]) -> _Answer:
        if account_id != self.account_id:
            return _error(404, RECORD_NOT_FOUND)
        try:
            limit = int(query.get("limit", [str(STATUSES_LIMIT)])[0])
        except ValueError:
            limit = STATUSES_LIMIT
        limit = max(1, min(limit, MAX_STATUSES_LIMIT))
        max_id = _int_param(query, "max_id")
        since_id = _int_param(query, "since_id")
        min_id = _int_param(query, "min_id")
        exclude_replies = query.get("exclude_replies", [""])[0].lower() in ("1", "true")
        with self._lock:
            chosen = [
                s
                for s in self._statuses.values()
                if (max_id is None or int(s.id) < max_id)
                and (since_id is None or int(s.id) > since_id)
                and (min_id is None or int(s.id) > min_id)
                and not (exclude_replies and s.in_reply_to_id is not None)
            ]
            # newest first; with min_id, the page just above it (still shown newest first)
            chosen.sort(key=lambda s: int(s.id), reverse=min_id is None)
            page = chosen[:limit]
            page.sort(key=lambda s: int(s.id), reverse=True)
            body = [self._status_json(s) for s in page]
        answer = _Answer(200, body)
        if page:
            # Api::BaseController#insert_pagination_headers: next only after a full page.
            path = f"{self.base_url}/api/v1/accounts/{account_id}/statuses"
            links = []
            if len(page) == limit:
                links.append(
                    f'<{path}?{urlencode({"limit": limit, "max_id": page[-1].id})}>; rel="next"'
                )
            links.append(
                f'<{path}?{urlencode({"limit": limit, "min_id": page[0].id})}>; rel="prev"'
            )
            answer.headers["Link"] = ", ".join(links)
        return answer

    def _store(
        self,
        text: str,
        *,
        in_reply_to: str | None,
        now: float,
        visibility: str = "public",
        language: str | None = None,
        sensitive: bool = False,
        spoiler_text: str = "",
        media_ids: tuple[str, ...] = (),
        idempotency_key: str | None = None,
    ) -> StoredStatus:
        status = StoredStatus(
            id=self._next_id(now),
            text=text,
            visibility=visibility,
            language=language,
            in_reply_to_id=in_reply_to,
            sensitive=sensitive,
            spoiler_text=spoiler_text,
            media_ids=media_ids,
            idempotency_key=idempotency_key,
            created_at=datetime.fromtimestamp(now, UTC),
            order=len(self._statuses) + 1,
        )
        self._statuses[status.id] = status
        return status

    def _next_id(self, now: float) -> str:
        # Mastodon::Snowflake: milliseconds since the epoch above 16 bits of sequence.
        self._last_id = max(int(now * 1000) << 16, self._last_id + 1)
        return str(self._last_id)

    # -- media -----------------------------------------------------------------------

    def _post_media(self, content_type: str, body: bytes, *, v2: bool) -> _Answer:
        parts = _multipart(content_type, body)
        data = parts.get("file", b"")
        description = parts["description"].decode() if "description" in parts else None
        if not data:
            return _error(422, "Validation failed: File can't be blank")
        if description is not None and len(description) > MAX_DESCRIPTION:
            return _error(
                422,
                f"Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} "
                "characters)",
            )
        if len(data) > IMAGE_LIMIT:
            return _error(422, "Validation failed: File file size must be less than 16 MB")
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                kind, (width, height) = image.format or "", image.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return _error(422, FILE_TYPE_ERROR)
        if kind not in IMAGE_MIMES:
            return _error(422, "Validation failed: File content type is invalid")
        if width * height > IMAGE_MATRIX_LIMIT:
            return _error(422, "Validation failed: File dimensions are too large")
        polls = self.media_processing_polls if v2 else 0
        with self._lock:
            media = StoredMedia(
                id=self._next_id(self._clock()),
                sha256=hashlib.sha256(data).hexdigest(),
                mime=IMAGE_MIMES[kind],
                width=width,
                height=height,
                size=len(data),
                description=description,
                processed=polls == 0,
                polls_left=polls,
                data=data,
            )
            self._media[media.id] = media
        return _Answer(200 if media.processed else 202, self._media_json(media))

    def _get_media(self, media_id: str) -> _Answer:
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.status_id is not None:
                return _error(404, RECORD_NOT_FOUND)
            if not media.processed:
                left = media.polls_left - 1
                media = replace(media, polls_left=left, processed=left <= 0)
                self._media[media_id] = media
            # Api::V1::MediaController#status_code_for_media_attachment
            return _Answer(200 if media.processed else 206, self._media_json(media))

    def _update_media(self, media_id: str, content_type: str, body: bytes) -> _Answer:
        if content_type.startswith("multipart/form-data"):
            parts = _multipart(content_type, body)
            fields = {k: [v.decode()] for k, v in parts.items()}
        else:
            fields = _form(content_type, body)
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.status_id is not None:
                return _error(404, RECORD_NOT_FOUND)
            description = _first(fields, "description")
            if description is not None:
                if len(description) > MAX_DESCRIPTION:
                    return _error(
                        422,
                        "Validation failed: Description is too long (maximum is "
                        f"{MAX_DESCRIPTION} characters)",
                    )
                media = replace(media, description=description)
                self._media[media_id] = media
            return _Answer(200 if media.processed else 206, self._media_json(media))

    # -- JSON as the REST serializers render it ----------------------------------------

    def _account_json(self, *, with_source: bool = False) -> dict[str, Any]:
        statuses = list(self._statuses.values())
        account: dict[str, Any] = {
            "id": self.account_id,
            "username": self.username,
            "acct": self.username,  # local accounts have no @domain in acct
            "display_name": self.display_name,
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "url": f"{self.base_url}/@{self.username}",
            "uri": f"{self.base_url}/users/{self.username}",
            "avatar": f"{self.base_url}/avatars/original/missing.png",
            "avatar_static": f"{self.base_url}/avatars/original/missing.png",
            "header": f"{self.base_url}/headers/original/missing.png",
            "header_static": f"{self.base_url}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(statuses),
            "last_status_at": statuses[-1].created_at.strftime("%Y-%m-%d") if statuses else None,
            "emojis": [],
            "fields": [],
        }
        if with_source:
            account["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": None,
                "note": "",
                "fields": [],
                "follow_requests_count": 0,
            }
        return account

    def _status_json(self, status: StoredStatus) -> dict[str, Any]:
        parent = self._statuses.get(status.in_reply_to_id or "")
        url = f"{self.base_url}/@{self.username}/{status.id}"
        return {
            "id": status.id,
            "created_at": _iso(status.created_at),
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": self.account_id if parent is not None else None,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"{self.base_url}/users/{self.username}/statuses/{status.id}",
            "url": url,
            "replies_count": sum(
                1 for s in self._statuses.values() if s.in_reply_to_id == status.id
            ),
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "content": render_content(status.text, self.base_url, self.username),
            "reblog": None,
            "application": {"name": "campaign", "website": None},
            "account": self._account_json(),
            "media_attachments": [
                self._media_json(self._media[i]) for i in status.media_ids if i in self._media
            ],
            "mentions": [],
            "tags": [
                {"name": tag.lower(), "url": f"{self.base_url}/tags/{tag.lower()}"}
                for tag in _HASHTAG.findall(status.text)
            ],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _media_json(self, media: StoredMedia) -> dict[str, Any]:
        path = f"{self.base_url}/system/media_attachments/files/{media.id}"
        ext = media.mime.split("/")[1]
        size = {
            "width": media.width,
            "height": media.height,
            "size": f"{media.width}x{media.height}",
            "aspect": media.width / media.height if media.height else 1.0,
        }
        return {
            "id": media.id,
            "type": "gifv" if media.mime == "image/gif" else "image",
            "url": f"{path}/original/image.{ext}" if media.processed else None,
            "preview_url": f"{path}/small/image.{ext}",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"original": size, "small": size} if media.processed else {},
            "description": media.description,
            "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH" if media.processed else None,
        }

    def _configuration(self) -> dict[str, Any]:
        return {
            "statuses": {
                "max_characters": self.max_characters,
                "max_media_attachments": self.max_media_attachments,
                "characters_reserved_per_url": self.characters_reserved_per_url,
            },
            "media_attachments": {
                "supported_mime_types": list(IMAGE_MIMES.values()),
                "description_limit": MAX_DESCRIPTION,
                "image_size_limit": IMAGE_LIMIT,
                "image_matrix_limit": IMAGE_MATRIX_LIMIT,
                "video_size_limit": 99 * 1024 * 1024,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746,
            },
        }

    def _instance_v1(self) -> dict[str, Any]:
        host = urlsplit(self.base_url).netloc
        return {
            "uri": host,
            "title": "Fake Mastodon",
            "short_description": "",
            "description": "A loopback fake for tests",
            "email": "admin@example.invalid",
            "version": self.version,
            "urls": {"streaming_api": f"ws://{host}"},
            "stats": {"user_count": 1, "status_count": len(self._statuses), "domain_count": 0},
            "thumbnail": None,
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": self._configuration(),
            "contact_account": None,
            "rules": [],
        }

    def _instance_v2(self) -> dict[str, Any]:
        host = urlsplit(self.base_url).netloc
        configuration = self._configuration()
        configuration["urls"] = {"streaming": f"ws://{host}", "status": None}
        configuration["accounts"] = {"max_featured_tags": 10, "max_pinned_statuses": 5}
        configuration["translation"] = {"enabled": False}
        return {
            "domain": host,
            "title": "Fake Mastodon",
            "version": self.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A loopback fake for tests",
            "usage": {"users": {"active_month": 1}},
            "thumbnail": {"url": f"{self.base_url}/packs/media/images/preview.png"},
            "icon": [],
            "languages": ["en"],
            "configuration": configuration,
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "api_versions": {"mastodon": API_VERSION},
            "contact": {"email": "admin@example.invalid", "account": None},
            "rules": [],
        }

    # -- rate limits -----------------------------------------------------------------

    def _current_window(self, now: float) -> tuple[int, int]:
        reset, used = self._window
        if now >= reset:
            # rack_attack.rb: the window ends at the next multiple of the period.
            reset, used = int(now) + RATE_PERIOD - int(now) % RATE_PERIOD, 0
        return reset, used

    def _window_exhausted(self) -> _Answer | None:
        reset, used = self._current_window(self._clock())
        return self._too_many(reset) if used >= RATE_LIMIT else None

    def _with_limits(self, answer: _Answer) -> _Answer:
        with self._lock:
            reset, used = self._current_window(self._clock())
            used = min(used + 1, RATE_LIMIT)
            self._window = (reset, used)
        answer.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
        answer.headers.setdefault("X-RateLimit-Remaining", str(RATE_LIMIT - used))
        answer.headers.setdefault("X-RateLimit-Reset", _iso6(reset))
        return answer

    def _too_many(self, reset: float) -> _Answer:
        answer = _error(429, TOO_MANY_REQUESTS)
        answer.headers.update(
            {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _iso6(reset),
            }
        )
        return answer

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


# -- the length rule and the HTML, as Mastodon computes them -----------------------------


def countable_length(text: str, spoiler_text: str = "", url_chars: int = 23) -> int:
    """StatusLengthValidator: grapheme clusters of spoiler_text + countable_text(text), where
    every http(s) URL counts `url_chars` and every @user@domain counts as @user."""
    if not text.strip():
        countable = ""
    else:
        countable = _URL.sub("x" * url_chars, _without_mention_domains(text))
    return len(regex.findall(r"\X", spoiler_text + countable))


def _without_mention_domains(text: str) -> str:
    """Mentions outside URLs rewritten to @user (remove_overlapping_entities keeps URLs)."""
    urls = [m.span() for m in _URL.finditer(text)]

    def rewrite(match: Any) -> str:
        start = match.start()
        if any(a <= start < b for a, b in urls):
            return str(match.group(0))
        return "@" + str(match.group(1))

    return str(_MENTION.sub(rewrite, text))


def render_content(text: str, base_url: str, username: str) -> str:
    """TextFormatter#to_s for a local status: HTML-escaped text, a <p> per paragraph,
    <br /> per line break, links shortened as Mastodon shows them, hashtags and mentions of
    the local account as links (mentions of unknown accounts stay text)."""
    paragraphs = regex.split(r"\n\n+", text.replace("\r\n", "\n").strip("\n"))
    rendered = []
    for paragraph in paragraphs:
        lines = [_render_line(line, base_url, username) for line in paragraph.split("\n")]
        rendered.append("<p>" + "<br />".join(lines) + "</p>")
    return "".join(rendered)


_ENTITY = regex.compile(
    rf"(?P<url>{_URL.pattern})|(?P<tag>{_HASHTAG.pattern})|(?P<mention>{_MENTION.pattern})",
    regex.IGNORECASE,
)


def _render_line(line: str, base_url: str, username: str) -> str:
    out: list[str] = []
    last = 0
    for match in _ENTITY.finditer(line):
        out.append(html.escape(line[last : match.start()]))
        last = match.end()
        token = match.group(0)
        if match.group("url"):
            out.append(_link(token))
        elif match.group("tag"):
            tag = token[1:]
            out.append(
                f'<a href="{base_url}/tags/{html.escape(tag.lower())}" class="mention hashtag" '
                f'rel="tag">#<span>{html.escape(tag)}</span></a>'
            )
        elif token[1:].split("@")[0].lower() == username.lower():
            out.append(
                f'<span class="h-card" translate="no"><a href="{base_url}/@{username}" '
                f'class="u-url mention">@<span>{username}</span></a></span>'
            )
        else:
            out.append(html.escape(token))
    out.append(html.escape(line[last:]))
    return "".join(out)


def _link(url: str) -> str:
    """TextFormatter.shortened_link: scheme hidden, 30 characters shown, the rest hidden."""
    match = regex.match(r"(https?://(?:www\.)?)(.*)", url)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", url)
    shown, hidden = rest[:30], rest[30:]
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{html.escape(prefix)}</span>'
        f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
        f'<span class="invisible">{html.escape(hidden)}</span></a>'
    )


# -- plumbing ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind a pooled session
    server_version = "Mastodon"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle plus delayed ACKs
        # add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header on the fake's clock: Mastodon.py shifts X-RateLimit-Reset by
        # (its time - Date), so a test clock moved ahead still yields a sane reset.
        fake: FakeMastodon = self.server.fake  # type: ignore[attr-defined]
        return formatdate(fake._clock() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        fake: FakeMastodon = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        endpoint, _ = _route(method, urlsplit(self.path).path)
        sent = dict(self.headers.items())
        try:
            answer = fake._handle(method, self.path, self.headers, body)
        except _Dropped:
            fake._record(RecordedRequest(method, self.path, endpoint, None, sent))
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        fake._record(
            RecordedRequest(method, self.path, endpoint, answer.status, sent, dict(answer.headers))
        )
        payload = json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "private, no-store")
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
    path = path.rstrip("/") or "/"  # Rails ignores a trailing slash; Mastodon.py sends some
    fixed = {
        ("GET", "/api/v1/accounts/verify_credentials"): VERIFY_CREDENTIALS,
        ("GET", "/api/v1/instance"): INSTANCE_V1,
        ("GET", "/api/v2/instance"): INSTANCE_V2,
        ("POST", "/api/v1/statuses"): POST_STATUS,
        ("POST", "/api/v2/media"): POST_MEDIA,
        ("POST", "/api/v1/media"): POST_MEDIA_V1,
    }
    if (method, path) in fixed:
        return fixed[(method, path)], None
    status = _STATUS_PATH.match(path)
    if method == "GET" and status:
        return (STATUS_SOURCE if status.group(2) else GET_STATUS), status.group(1)
    account = _ACCOUNT_STATUSES_PATH.match(path)
    if method == "GET" and account:
        return ACCOUNT_STATUSES, account.group(1)
    media = _MEDIA_PATH.match(path)
    if media and method in ("GET", "PUT"):
        return (GET_MEDIA if method == "GET" else UPDATE_MEDIA), media.group(1)
    return None, None


def _form(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Form or JSON parameters, by name, every value as a list of strings."""
    if content_type.startswith("application/json"):
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return {}
        if not isinstance(payload, dict):
            return {}
        fields: dict[str, list[str]] = {}
        for key, value in payload.items():
            values = value if isinstance(value, list) else [value]
            fields[key] = [
                json.dumps(v) if isinstance(v, bool) else str(v) for v in values if v is not None
            ]
        return fields
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _int_param(query: dict[str, list[str]], name: str) -> int | None:
    value = query.get(name, [""])[0]
    return int(value) if value.isdigit() else None


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


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso6(epoch: float) -> str:
    """Time#iso8601(6) in UTC, as X-RateLimit-Reset carries it."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
