"""Publish to a Mastodon instance through Mastodon.py, exactly once by Idempotency-Key.

Each post's idempotency key goes out as the `Idempotency-Key` header: within the window
the server keeps keys (an hour, app/services/post_status_service.rb), a repeat of the
request returns the status it made the first time instead of a second one. After an
unclear outcome the account's recent statuses are read first (text and parent), so an
attempt older than the window is found too, as the X adapter does.

Mastodon.py is imported here and nowhere else. It never sleeps on a rate limit
(`ratelimit_method="throw"`): the dispatcher defers the post to the reset time instead.
"""

from __future__ import annotations

import html
import io
import logging
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from scheduler.clock import utcnow
from scheduler.model import Clock, OutgoingPost, Platform, RemoteRef, ReplyTarget, StoredImage
from scheduler.platforms.base import (
    MediaSource,
    Permanent,
    PublishError,
    RateLimited,
    Transient,
    image_bytes,
)

if TYPE_CHECKING:
    from scheduler.config import MastodonCredentials

log = logging.getLogger(__name__)

UNAUTHORIZED = (
    "Mastodon rejected the access token (401 Unauthorized): check MASTODON_ACCESS_TOKEN "
    "and MASTODON_API_BASE_URL"
)
# How many of the account's latest statuses a lookup reads (the most one page holds).
LATEST = 40
# When a 429 carries no usable reset (Mastodon's windows are 5 minutes, rack_attack.rb).
DEFAULT_WAIT = timedelta(minutes=5)
PAST_RESET_WAIT = timedelta(seconds=30)
MEDIA_POLL_SECONDS = 1.0


class MastodonPublisher:
    platform = Platform.MASTODON

    def __init__(
        self,
        credentials: MastodonCredentials,
        timeout: float = 30.0,
        clock: Clock = utcnow,
        *,
        media: MediaSource | None = None,
        visibility: str = "public",
        reply_visibility: str | None = None,
        media_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._instance = credentials.api_base_url
        self._timeout = timeout
        self._clock = clock
        self._media = media
        self._visibility = visibility
        self._reply_visibility = reply_visibility or visibility
        self._media_wait = media_wait
        self._sleep = sleep
        self._client: Any = Mastodon(
            access_token=credentials.access_token,
            api_base_url=credentials.api_base_url,
            ratelimit_method="throw",
            request_timeout=timeout,
            version_check_mode="none",
            user_agent="campaign",
        )
        self._me: tuple[str, str] | None = None  # (account id, acct)

    def __repr__(self) -> str:
        return f"MastodonPublisher(instance={self._instance!r})"  # the client holds the token

    # -- Publisher protocol ----------------------------------------------------------

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef:
        parent = None
        if reply_to is not None:
            parent = reply_to.parent.id
            if parent is None:
                raise Permanent(
                    "cannot reply on Mastodon: the id of the post to reply to is unknown"
                )
        if post.ambiguous:
            found = self._look_for(post.text, parent)
            if found is not None:
                return found
        # Uploads first; they are not the post, so a failure here costs a re-upload.
        media_ids = [self._upload(image) for image in post.attachments.images] or None
        warning = post.attachments.content_warning
        try:
            status = self._client.status_post(
                post.text,
                in_reply_to_id=parent,
                media_ids=media_ids,
                visibility=self._reply_visibility if parent else self._visibility,
                language=_iso639_1(post.attachments.langs),
                sensitive=bool(warning),
                spoiler_text=warning or None,
                idempotency_key=post.idempotency_key,
            )
        except MastodonNotFoundError as exc:
            if parent is not None:
                raise Permanent(
                    f"the Mastodon post it replies to ({parent}) is gone: {_said(exc)}"
                ) from None
            raise Permanent(f"Mastodon refused the post (404): {_said(exc)}") from None
        except MastodonError as exc:
            raise self._translate(exc, may_have_posted=True) from None
        return RemoteRef(id=str(status["id"]), url=_url(status))

    def check(self) -> str:
        account_id, acct = self._whoami(refresh=True)
        return f"@{acct} (id {account_id})"

    def instance_limits(self) -> tuple[int, int]:
        """(max_characters, characters_reserved_per_url) as the instance says
        (GET /api/v2/instance, configuration.statuses)."""
        info = self._call(self._client.instance_v2)
        statuses = _get(_get(info, "configuration"), "statuses")
        return int(_get(statuses, "max_characters")), int(
            _get(statuses, "characters_reserved_per_url")
        )

    def close(self) -> None:
        session = getattr(self._client, "session", None)
        if isinstance(session, requests.Session):
            session.close()

    # -- media -------------------------------------------------------------------------

    def _upload(self, image: StoredImage) -> str:
        """POST /api/v2/media with the alt text as its description; an image may answer
        202 and be processed later: wait (bounded) until it has a URL."""
        data = image_bytes(self._media, image)
        attachment = self._call(
            self._client.media_post,
            io.BytesIO(data),
            mime_type=image.mime,
            description=image.alt or None,
            file_name=f"image.{image.mime.split('/')[-1]}",
        )
        deadline = time.monotonic() + self._media_wait
        while _get(attachment, "url") is None:
            if time.monotonic() > deadline:
                raise Transient(
                    f"Mastodon had not processed the image after {self._media_wait:g} s"
                )
            self._sleep(MEDIA_POLL_SECONDS)
            attachment = self._call(self._client.media, _get(attachment, "id"))
        return str(_get(attachment, "id"))

    # -- recovery ------------------------------------------------------------------------

    def _look_for(self, text: str, parent: str | None) -> RemoteRef | None:
        """Among the account's latest statuses: the one with this text replying to
        `parent`. Matched on the HTML as Mastodon renders it, then confirmed on its
        source text; a timeline that cannot be read is a retry, not a guess."""
        try:
            account_id, _ = self._whoami()
            statuses = self._call(self._client.account_statuses, account_id, limit=LATEST)
            for status in statuses or []:
                replied = _get(status, "in_reply_to_id")
                if (None if replied is None else str(replied)) != parent:
                    continue
                if _normal(html_to_text(str(_get(status, "content") or ""))) != _normal(text):
                    continue
                source = self._call(self._client.status_source, _get(status, "id"))
                if _normal(str(_get(source, "text"))) == _normal(text):
                    log.info("mastodon: found %s after an unclear attempt", _get(status, "id"))
                    return RemoteRef(
                        id=str(_get(status, "id")),
                        url=_url(status),
                        recovered=True,
                        note="recovered from the account's recent statuses after an "
                        "attempt ended without an answer",
                    )
        except PublishError as exc:
            # Within the key's window a repeat is safe anyway; after it, do not guess.
            raise Transient(
                f"could not look for an earlier attempt: {exc}", ambiguous=True
            ) from None
        return None

    def _whoami(self, refresh: bool = False) -> tuple[str, str]:
        if self._me is None or refresh:
            account = self._call(self._client.account_verify_credentials)
            acct = str(_get(account, "acct"))
            host = self._instance.split("://", 1)[-1].split("/", 1)[0]
            self._me = (str(_get(account, "id")), acct if "@" in acct else f"{acct}@{host}")
        return self._me

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except MastodonError as exc:
            raise self._translate(exc, may_have_posted=False) from None

    def _translate(self, exc: MastodonError, *, may_have_posted: bool) -> PublishError:
        return _error_kind(exc, self._client, self._timeout, self._clock(), may_have_posted)


# -- errors ----------------------------------------------------------------------------


def _error_kind(
    exc: MastodonError, client: Any, timeout: float, now: datetime, may_have_posted: bool
) -> PublishError:
    """Mastodon.py raises ex_type('Mastodon API returned error', status, reason, error)."""
    if isinstance(exc, MastodonRatelimitError):
        reset = getattr(client, "ratelimit_reset", None)
        reset_at = now + DEFAULT_WAIT
        if isinstance(reset, int | float):
            reset_at = datetime.fromtimestamp(reset, UTC)
            if reset_at <= now:
                reset_at = now + PAST_RESET_WAIT
        return RateLimited(
            f"Mastodon rate limit reached (429); resets {reset_at:%Y-%m-%d %H:%M:%S} UTC",
            reset_at,
        )
    if isinstance(exc, MastodonUnauthorizedError):
        return Permanent(UNAUTHORIZED)
    if isinstance(exc, MastodonServerError):
        status = _status(exc)
        # 502 and 504 come from a proxy that stopped waiting: the instance may still post.
        unclear = may_have_posted and status in (502, 504)
        return Transient(f"Mastodon answered {status}: {_said(exc)}", ambiguous=unclear)
    if isinstance(exc, MastodonNetworkError):
        cause = exc.__context__
        maybe = "; the post may have gone out" if may_have_posted else ""
        if isinstance(cause, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
            return Transient(f"could not connect to Mastodon within {timeout:g} s")
        if isinstance(cause, requests.exceptions.Timeout):
            return Transient(
                f"Mastodon did not answer within {timeout:g} s{maybe}", ambiguous=may_have_posted
            )
        if isinstance(cause, requests.exceptions.ConnectionError) and _never_sent(cause):
            return Transient("could not connect to Mastodon")
        return Transient(f"connection to Mastodon lost{maybe}", ambiguous=may_have_posted)
    if isinstance(exc, MastodonAPIError):
        return Permanent(f"Mastodon refused the request ({_status(exc)}): {_said(exc)}")
    # MastodonIllegalArgumentError, MastodonVersionError...: our request, not the network.
    return Permanent(f"Mastodon.py refused the request: {type(exc).__name__}: {exc}")


def _status(exc: MastodonError) -> int | None:
    status = exc.args[1] if len(exc.args) > 1 else None
    return status if isinstance(status, int) else None


def _said(exc: MastodonError) -> str:
    """The server's `error` text (args[3]), else the HTTP reason."""
    for value in (
        exc.args[3] if len(exc.args) > 3 else None,
        exc.args[2] if len(exc.args) > 2 else None,
    ):
        if value:
            return " ".join(str(value).split())
    return type(exc).__name__


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


# -- statuses ----------------------------------------------------------------------------


def _get(value: Any, key: str) -> Any:
    """A field of what Mastodon.py returns (AttribAccessDict: both item and attribute)."""
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, key, None)


def _url(status: Any) -> str | None:
    url = _get(status, "url") or _get(status, "uri")
    return None if url is None else str(url)


def _iso639_1(langs: tuple[str, ...]) -> str | None:
    """The first language as Mastodon takes it: its primary subtag ("en-GB" -> "en")."""
    return langs[0].split("-")[0].lower() if langs else None


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


class _Text(HTMLParser):
    """Mastodon's status HTML back to its text: paragraphs, line breaks, the whole of
    every link (shortened links keep their hidden parts in invisible spans)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    parser = _Text()
    parser.feed(content)
    parser.close()
    return html.unescape("".join(parser.parts))


__all__ = ["MastodonPublisher", "html_to_text"]
