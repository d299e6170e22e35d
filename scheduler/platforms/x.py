"""Publish to X through tweepy's v2 Client, with OAuth 1.0a user context.

X has no idempotency key for POST /2/tweets. So when an earlier attempt may have gone
through we look for the post among the account's recent posts (same text, same parent)
before sending it again. X's "duplicate content" refusal proves only that the account
has this text already: it is taken as this post only after an ambiguous earlier attempt
of it, and only when the matching post is found; otherwise it is DuplicateContent,
which fails the post with what we found.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError

from scheduler.clock import utcnow
from scheduler.model import Clock, OutgoingPost, Platform, RemoteRef, ReplyTarget, StoredImage
from scheduler.platforms.base import (
    DuplicateContent,
    MediaSource,
    OutOfCredits,
    Permanent,
    PublishError,
    RateLimited,
    Transient,
    image_bytes,
)

if TYPE_CHECKING:
    from scheduler.config import XCredentials

log = logging.getLogger(__name__)

X_API = "https://api.twitter.com"
UNAUTHORIZED = (
    "X rejected the credentials (401 Unauthorized): check X_API_KEY, X_API_SECRET, "
    "X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET"
)
LATEST = 200  # how many of the account's latest posts a lookup reads (2 pages of 100)
# X's 15-minute windows: the wait when a 429 carries no usable reset header.
DEFAULT_WAIT = timedelta(minutes=15)
# A reset already in the past (clock skew) must not turn into an immediate retry loop.
PAST_RESET_WAIT = timedelta(minutes=1)
TIMELINE_PAGE_SIZE = 100  # the most get_users_tweets returns per page
TIMELINE_PAGES = LATEST // TIMELINE_PAGE_SIZE
# X API v2 media (docs.x.com/x-api/media/upload-media, media-metadata): one multipart
# request an image (5 MB at most, checked at queue time), then its alt text.
MEDIA_UPLOAD = "/2/media/upload"
MEDIA_METADATA = "/2/media/metadata"
# What X answers when the account's prepaid credits ran out (pay-per-use API, 2026).
PAYMENT_REQUIRED = 402

_TCO = re.compile(r"https?://t\.co/\w+")
# What X may have replaced by a t.co link: one token with a dot in it (URL or bare domain).
_SHORTENED = r"\S*?\.\S*?"

# At DEBUG these libraries log the signed Authorization header (consumer key and access
# token in clear; oauthlib masks only the two secrets) and request details.
_NOISY_LOGGERS = (
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth1_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "tweepy.client",
    "tweepy.auth",
    "urllib3.connectionpool",
    __name__,
)


class _Redactor(logging.Filter):
    """Masks every credential an XPublisher was built with, in messages and log records."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, values: Iterable[str]) -> None:
        for value in values:
            if len(value) >= 4:  # masking a 1-3 character string would mangle every line
                # The Authorization header carries values percent-encoded.
                self._secrets.update({value, quote(value, safe="~")})

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem, not ours
            return True
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_REDACTOR = _Redactor()
for _name in _NOISY_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTOR)  # idempotent: the same filter object


class _XAdapter(HTTPAdapter):
    """Mounted for https://api.twitter.com/ on tweepy's session.

    Sets our timeout on every request (tweepy's Client has no timeout parameter) and,
    when a gateway base URL is configured, sends the request there instead. tweepy signs
    each request for api.twitter.com before it reaches this adapter, so a gateway must
    forward the Authorization header untouched. The proxies for the destination are read
    from the environment once, when the publisher is made (see XPublisher)."""

    def __init__(self, gateway: str | None, timeout: float, proxies: Mapping[str, str]) -> None:
        super().__init__()
        self._gateway = gateway
        self._timeout = timeout
        self._proxies = dict(proxies)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if self._gateway is not None:
            parts = urlsplit(request.url or "")
            request.url = self._gateway + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout,
            verify=verify,
            cert=cert,
            proxies=self._proxies,
        )


class XPublisher:
    platform = Platform.X

    def __init__(
        self,
        credentials: XCredentials,
        timeout: float = 30.0,
        clock: Clock = utcnow,
        *,
        media: MediaSource | None = None,
        credits_wait: timedelta = timedelta(hours=1),
    ) -> None:
        _REDACTOR.add(credentials.secrets())
        self._timeout = timeout
        self._clock = clock
        self._media = media
        self._credits_wait = credits_wait
        self._client: Any = tweepy.Client(
            consumer_key=credentials.api_key,
            consumer_secret=credentials.api_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
            # Sleeping inside a publish call would stall the dispatcher for up to 15 min;
            # it defers the post to reset_at instead.
            wait_on_rate_limit=False,
        )
        base = credentials.base_url.rstrip("/")
        gateway = None if base == X_API else base
        # requests reads the whole environment for proxies and CA bundles on every call
        # (twice, with a gateway): that was a quarter of a publish's CPU. Read it once
        # here, for where the requests really go, and tell the session not to read it.
        session = self._client.session
        env = session.merge_environment_settings(
            f"{gateway or X_API}/2/tweets", {}, None, None, None
        )
        session.verify = env["verify"]
        session.trust_env = False
        session.mount(f"{X_API}/", _XAdapter(gateway, timeout, env["proxies"]))
        self._me: tuple[str, str] | None = None  # (user id, username)
        self._reads = 0  # the account's posts read back during the current publish

    def __repr__(self) -> str:
        return "XPublisher()"  # the tweepy client inside holds the credentials

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef:
        # X bills each post read back: the log says how many a recovery read.
        self._reads = 0
        ref = self._publish(post, reply_to)
        return dataclasses.replace(ref, reads=self._reads) if self._reads else ref

    def _publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef:
        parent = None
        if reply_to is not None:
            parent = reply_to.parent.id
            if parent is None:
                raise Permanent("cannot reply on X: the id of the post to reply to is unknown")

        if post.ambiguous:
            found = self._precheck(post, parent)
            if found is not None:
                return found

        # Uploads come first and are not the irreversible step: a failure or a crash here
        # costs a re-upload next time, never a second post. Media ids expire (24 h), so
        # they are made now, at publish time, never stored.
        media_ids = [self._upload(image) for image in post.attachments.images] or None
        try:
            response = self._client.create_tweet(
                text=post.text, in_reply_to_tweet_id=parent, media_ids=media_ids, user_auth=True
            )
        except tweepy.Forbidden as exc:
            if _is_duplicate(exc):
                return self._after_duplicate(post, parent)
            raise self._translate(exc, may_have_posted=True) from exc
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._translate(exc, may_have_posted=True) from exc

        data = response.data if isinstance(response.data, dict) else {}
        tweet_id = data.get("id")
        if not tweet_id:
            # A success without an id: the post most likely exists, so look before retrying.
            raise Transient("X accepted the post but returned no id", ambiguous=True)
        return RemoteRef(id=str(tweet_id), url=status_url(str(tweet_id)))

    def _upload(self, image: StoredImage) -> str:
        """Upload one image through X API v2 and set its alt text; its media id.

        Signed with tweepy's own OAuth 1.0a handler and sent on tweepy's session, so the
        requests go through the same adapter (gateway, timeout) and the same redaction
        as every other call; the official xdk would bring a second HTTP stack and its own
        OAuth for two endpoints."""
        data = image_bytes(self._media, image)
        body = self._send(
            "POST",
            MEDIA_UPLOAD,
            files={"media": (f"image.{image.mime.split('/')[-1]}", data, image.mime)},
            data={"media_category": "tweet_image", "media_type": image.mime},
        )
        media_id = str((body.get("data") or {}).get("id") or "")
        if not media_id:
            raise Transient("X accepted the image upload but returned no media id")
        if image.alt:
            self._send(
                "POST",
                MEDIA_METADATA,
                json={"id": media_id, "metadata": {"alt_text": {"text": image.alt}}},
            )
        return media_id

    def _send(self, method: str, route: str, **kwargs: Any) -> dict[str, Any]:
        """A v2 request tweepy has no method for (multipart uploads), with tweepy's errors."""
        handler = tweepy.OAuth1UserHandler(
            self._client.consumer_key,
            self._client.consumer_secret,
            self._client.access_token,
            self._client.access_token_secret,
        )
        try:
            with self._client.session.request(
                method,
                X_API + route,
                auth=handler.apply_auth(),
                headers={"User-Agent": self._client.user_agent},
                **kwargs,
            ) as response:
                _raise_for_status(response)
                answer = response.json() if response.content else {}
        except (tweepy.TweepyException, requests.RequestException, ValueError) as exc:
            # Not the post: whatever happened, nothing was published.
            raise self._translate(exc, may_have_posted=False) from exc
        return answer if isinstance(answer, dict) else {}

    def check(self) -> str:
        user_id, username = self._whoami(refresh=True)
        return f"@{username} (id {user_id})"

    def close(self) -> None:
        self._client.session.close()

    # -- recovery ------------------------------------------------------------------------

    def _precheck(self, post: OutgoingPost, parent: str | None) -> RemoteRef | None:
        try:
            tweet_id, _ = self._find_recent(post.text, parent)
        except PublishError as exc:
            # Not fatal: if the post did go out, X refuses the repeat as duplicate content.
            log.info("X post %s: could not look for an earlier attempt (%s)", post.post_id, exc)
            return None
        if tweet_id is None:
            return None
        log.info("X post %s: found as %s among the account's recent posts", post.post_id, tweet_id)
        return _recovered(tweet_id, "an earlier attempt ended without an answer")

    def _after_duplicate(self, post: OutgoingPost, parent: str | None) -> RemoteRef:
        """X has this text already. Ours only if an earlier attempt of this post may have
        gone out and the account's post with this text replies to the same parent."""
        try:
            ours, same_text_elsewhere = self._find_recent(post.text, parent)
        except PublishError as exc:
            ours = same_text_elsewhere = None
            unread = f"the account's posts could not be read ({exc})"
        else:
            unread = f"it is not among the account's {LATEST} latest posts"
        if post.ambiguous and ours is not None:
            log.info("X post %s: duplicate content, found as %s", post.post_id, ours)
            return _recovered(ours, "X refused it as duplicate content")
        existing = ours or same_text_elsewhere
        found = None if existing is None else RemoteRef(id=existing, url=status_url(existing))
        if post.ambiguous:
            reason = (
                "X refused a retry as duplicate content after an earlier attempt ended "
                f"without an answer, but {unread}: it may be live with an id we cannot learn"
            )
        else:
            where = f" ({found.url})" if found is not None else ""
            reason = f"X refused it as duplicate content: the account already has this text{where}"
        log.info("X post %s: %s", post.post_id, reason)
        raise DuplicateContent(reason, found)

    def _find_recent(self, text: str, parent: str | None) -> tuple[str | None, str | None]:
        """Among the account's recent posts with this text: the id of the one replying to
        `parent`, and of the first with any parent. Raises PublishError when the
        timeline cannot be read (e.g. 403 on an access level without reads)."""
        user_id, _ = self._whoami()
        token: str | None = None
        any_parent: str | None = None
        for _ in range(TIMELINE_PAGES):
            params: dict[str, Any] = {
                "max_results": TIMELINE_PAGE_SIZE,
                "tweet_fields": ["referenced_tweets"],
                "user_auth": True,  # tweepy's default here is the bearer token we lack
            }
            if token:
                params["pagination_token"] = token
            response = self._read(self._client.get_users_tweets, user_id, **params)
            self._reads += len(response.data or [])
            for tweet in response.data or []:
                if same_text(text, str(tweet.text)):
                    if _replied_to(tweet) == parent:
                        return str(tweet.id), any_parent or str(tweet.id)
                    any_parent = any_parent or str(tweet.id)
            token = (response.meta or {}).get("next_token")
            if not token:
                break
        return None, any_parent

    def _whoami(self, refresh: bool = False) -> tuple[str, str]:
        if self._me is None or refresh:
            user = self._read(self._client.get_me, user_auth=True).data
            if user is None:
                raise Transient("X returned no account for these credentials")
            self._me = (str(user.id), str(user.username))
        return self._me

    def _read(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._translate(exc, may_have_posted=False) from exc

    def _translate(self, exc: Exception, *, may_have_posted: bool) -> PublishError:
        return _error_kind(
            exc,
            self._timeout,
            self._clock(),
            may_have_posted=may_have_posted,
            credits_wait=self._credits_wait,
        )


def _recovered(tweet_id: str, after: str) -> RemoteRef:
    return RemoteRef(
        id=tweet_id,
        url=status_url(tweet_id),
        recovered=True,
        note=f"recovered from the account's recent posts after {after}",
    )


def status_url(tweet_id: str) -> str:
    return f"https://x.com/i/web/status/{tweet_id}"


def same_text(ours: str, theirs: str) -> bool:
    """Whether X's rendering of a post (`theirs`: HTML-escaped, URLs as t.co links) is our
    text, ignoring Unicode normalisation and whitespace differences."""
    mine = _normalise(ours)
    shown = _normalise(html.unescape(theirs))
    if mine == shown:
        return True
    pieces = _TCO.split(shown)
    if len(pieces) == 1:
        return False
    return re.fullmatch(_SHORTENED.join(map(re.escape, pieces)), mine) is not None


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _replied_to(tweet: Any) -> str | None:
    for ref in getattr(tweet, "referenced_tweets", None) or []:
        if getattr(ref, "type", None) == "replied_to":
            return str(ref.id)
    return None


def _raise_for_status(response: requests.Response) -> None:
    """tweepy.Client.request's mapping of statuses onto its exceptions."""
    status = response.status_code
    errors: dict[int, type[tweepy.HTTPException]] = {
        400: tweepy.BadRequest,
        401: tweepy.Unauthorized,
        403: tweepy.Forbidden,
        404: tweepy.NotFound,
        429: tweepy.TooManyRequests,
    }
    if status in errors:
        raise errors[status](response)
    if status >= 500:
        raise tweepy.TwitterServerError(response)
    if not 200 <= status < 300:
        raise tweepy.HTTPException(response)


def _is_duplicate(exc: Any) -> bool:
    messages = [str(m).lower() for m in getattr(exc, "api_messages", [])]
    # 187 is v1.1's "Status is a duplicate.", which some gateways still pass through.
    return any("duplicate content" in m for m in messages) or 187 in getattr(exc, "api_codes", [])


def _usage_capped(exc: tweepy.HTTPException) -> bool:
    """X's monthly usage cap answers 429 with the problem type .../problems/usage-capped
    (docs.x.com/x-api/fundamentals/post-cap), not a 15-minute window."""
    try:
        body = exc.response.json()
    except ValueError:
        return False
    kind = str(body.get("type", "")) if isinstance(body, dict) else ""
    title = str(body.get("title", "")) if isinstance(body, dict) else ""
    return kind.endswith("/usage-capped") or title == "UsageCapExceeded"


def _error_kind(
    exc: Exception,
    timeout: float,
    now: datetime,
    *,
    may_have_posted: bool,
    credits_wait: timedelta = timedelta(hours=1),
) -> PublishError:
    """Map a tweepy or requests failure onto the error kinds the dispatcher acts on."""
    if isinstance(exc, tweepy.HTTPException):
        response = exc.response
        status = int(response.status_code)
        said = _detail(exc)
        if status == PAYMENT_REQUIRED or _usage_capped(exc):
            # Not this post's fault: every post of the account waits until credits are
            # bought (then `campaign retry`) or the wait is over; no attempt is spent.
            until = now + credits_wait
            why = (
                "out of credits (402 Payment Required)"
                if status == PAYMENT_REQUIRED
                else ("over its usage cap (429)")
            )
            return OutOfCredits(
                f"the X account is {why}: {said}; its posts wait until "
                f"{until:%Y-%m-%d %H:%M} UTC, or `campaign retry` once credits are added",
                until,
            )
        if isinstance(exc, tweepy.TooManyRequests):
            reset_at = _reset_at(response.headers, now)
            return RateLimited(
                f"X rate limit reached (429 Too Many Requests); "
                f"resets {reset_at:%Y-%m-%d %H:%M:%S} UTC",
                reset_at,
            )
        if isinstance(exc, tweepy.Unauthorized):
            return Permanent(UNAUTHORIZED)
        if status >= 500:
            # An answer from X means the request was handled and refused. A 504 comes from a
            # gateway that stopped waiting for X's backend, which may still create the post.
            return Transient(
                f"X answered {status}: {said}", ambiguous=may_have_posted and status == 504
            )
        if 400 <= status < 500:
            return Permanent(f"X refused the request ({status}): {said}")
        return Transient(f"X answered {status}: {said}", ambiguous=may_have_posted)

    maybe = "; the post may have gone out" if may_have_posted else ""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Transient(f"could not connect to X within {timeout:g} s")
    if isinstance(exc, requests.exceptions.Timeout):
        return Transient(f"X did not answer within {timeout:g} s{maybe}", ambiguous=may_have_posted)
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _never_sent(exc):
            return Transient(f"could not connect to X ({_cause(exc)})")
        return Transient(f"connection to X lost ({_cause(exc)}){maybe}", ambiguous=may_have_posted)
    # Unreadable answers (broken chunking, a 2xx that is not JSON) and anything else.
    return Transient(f"X request failed ({type(exc).__name__}){maybe}", ambiguous=may_have_posted)


def _detail(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", [])]
    text = "; ".join(messages) if messages else str(exc.response.reason)
    return _REDACTOR.scrub(" ".join(text.split()))


def _reset_at(headers: Mapping[str, str], now: datetime) -> datetime:
    """When to try again after a 429.

    x-rate-limit-reset is the 15-minute window. When the 24-hour posting cap is what ran
    out, X still sends window headers with requests left, and the daily reset is later."""
    candidates = []
    window = _epoch(headers.get("x-rate-limit-reset"))
    if window is not None:
        candidates.append(window)
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour"):
        daily = _epoch(headers.get(f"{prefix}-reset"))
        if daily is not None and _epoch(headers.get(f"{prefix}-remaining")) == 0:
            candidates.append(daily)
    if not candidates:
        return now + DEFAULT_WAIT
    reset_at = datetime.fromtimestamp(max(candidates), UTC)
    return reset_at if reset_at > now else now + PAST_RESET_WAIT


def _epoch(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection itself failed (refused, DNS, connect timeout), so X
    cannot have received the request. A dropped connection after sending is not."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # urllib3's NewConnectionError and NameResolutionError subclass ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)


def _cause(exc: requests.exceptions.ConnectionError) -> str:
    reason: Any = exc.args[0] if exc.args else exc
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    if isinstance(reason, ProtocolError) and len(reason.args) > 1:
        reason = reason.args[1]  # ("Connection aborted.", RemoteDisconnected(...))
    return type(reason).__name__
