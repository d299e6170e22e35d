"""Bluesky adapter: publishes through the atproto SDK straight to the account's PDS.

Exactly-once rests on the record key: the queue stores a TID (`post.idempotency_key`) before
the first attempt and every attempt creates the record under that key. After any outcome we
cannot read (timeout, dropped connection, 5xx) we ask the PDS for that key: found means the
post is out. A second create with the same key is refused by the PDS (a bare 500 today,
bluesky-social/atproto#3718), which also sends us to look it up, so a post is never doubled.

Only com.atproto.* methods are used, so this works on a PDS without an AppView.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from atproto import Client, Request, Session, SessionEvent, client_utils, models
from atproto_client import exceptions as xrpc

from scheduler.clock import utcnow
from scheduler.keys import is_tid
from scheduler.model import (
    NO_ATTACHMENTS,
    Attachments,
    Clock,
    OutgoingPost,
    Platform,
    RemoteRef,
    ReplyTarget,
    StoredImage,
)
from scheduler.platforms.base import (
    MediaSource,
    Permanent,
    RateLimited,
    Transient,
    image_bytes,
)

if TYPE_CHECKING:
    from scheduler.config import BlueskyCredentials

log = logging.getLogger(__name__)

T = TypeVar("T")

POST_COLLECTION = "app.bsky.feed.post"
# The SDK refreshes by itself when the access token expires within 15 minutes. We refresh a
# little earlier, outside the createRecord call, so a failed refresh can never be mistaken
# for a create whose outcome is unknown.
_REFRESH_MARGIN = timedelta(minutes=16)
# 2: the file carries a keyed hash of the handle and password it was made from.
_SESSION_FILE_VERSION = 2
# Token errors the PDS answers with 400 (auth-verifier.ts) or 401: re-authenticate and retry.
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing"})
_DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=1)


class BlueskyPublisher:
    platform = Platform.BLUESKY

    def __init__(
        self,
        credentials: BlueskyCredentials,
        session_path: Path | None = None,
        timeout: float = 30.0,
        *,
        langs: Sequence[str] | None = None,
        clock: Clock = utcnow,
        media: MediaSource | None = None,
    ) -> None:
        self._handle = credentials.handle
        self._password = credentials.app_password
        self._pds_url = credentials.pds_url.rstrip("/")
        self._session_path = session_path
        self._timeout = timeout
        self._clock = clock
        self._langs = list(langs) if langs else None
        self._media = media
        self._client: Any = None
        self._session: Any = None  # atproto Session, kept current by on_session_change
        # Set once the PDS refuses the password: asking again for every queued post would
        # only burn the createSession limit (30 per 5 minutes per handle).
        self._rejected: str | None = None
        self._expiry_of: Any = None  # the session whose expiry `_expiry` is
        self._expiry: datetime | None = None
        # One publisher may be shared by threads; logins and refreshes must not interleave.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"BlueskyPublisher(handle='@{self._handle}', pds_url='{self._pds_url}')"

    # -- Publisher protocol ----------------------------------------------------------

    def check(self) -> str:
        with self._lock:
            self._ready()
            # A resumed session has not touched the network yet: ask the PDS who we are.
            try:
                info = self._authed(lambda c: c.com.atproto.server.get_session())
            except xrpc.RateLimitExceededError as exc:
                raise _rate_limited(
                    "Bluesky rate limit on getSession", exc, self._clock()
                ) from None
            except (xrpc.BadRequestError, xrpc.UnauthorizedError) as exc:
                raise Permanent(
                    f"Bluesky refused the session of @{self._handle}: {_describe(exc)}"
                ) from None
            except (httpx.HTTPError, xrpc.AtProtocolError) as exc:
                raise Transient(f"Bluesky session check failed: {_describe(exc)}") from None
            return f"@{info.handle} ({info.did})"

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef:
        rkey = post.idempotency_key
        if not is_tid(rkey):
            # Our own bug, not the network's: a non-TID key breaks ordering and lookups.
            raise Permanent(f"post {post.post_id}: record key {rkey!r} is not a TID")
        with self._lock:
            self._ready()
            if post.ambiguous:
                found = self._lookup(rkey, post.text, "an earlier attempt with unknown outcome")
                if found is not None:
                    return found
            # Blobs first: an upload is not the post, so a failure here (or a crash) costs
            # a re-upload next time, never a second post; the PDS drops unused blobs.
            embed = self._embed(post.attachments)
            record = self._record(post.text, reply_to, post.attachments, embed)
            try:
                out = self._authed(
                    lambda c: c.com.atproto.repo.create_record(
                        {
                            "repo": self._did(),
                            "collection": POST_COLLECTION,
                            "rkey": rkey,
                            "record": record,
                        }
                    )
                )
            except xrpc.RateLimitExceededError as exc:
                raise _rate_limited(
                    "Bluesky rate limit on createRecord", exc, self._clock()
                ) from None
            except (xrpc.BadRequestError, xrpc.UnauthorizedError) as exc:
                if _xrpc_error(exc) == "RecordAlreadyExists":  # newer PDS, atproto#4728
                    return self._recover(rkey, post.text, "the PDS said the record exists")
                raise Permanent(f"Bluesky rejected the post: {_describe(exc)}") from None
            except xrpc.RequestErrorBase as exc:
                status = _status(exc)
                if status is None and isinstance(exc.__cause__, httpx.ConnectError):
                    # No connection, so no request: nothing can have been stored.
                    raise Transient(f"Bluesky unreachable: {_describe(exc)}") from None
                if status in (409, 500, 502, 503, 504) or status is None:
                    return self._recover(rkey, post.text, _describe(exc), status)
                raise Permanent(f"Bluesky rejected the post: {_describe(exc)}") from None
            except (httpx.HTTPError, xrpc.AtProtocolError) as exc:
                # Dropped connections surface as raw httpx errors (the SDK wraps only
                # timeouts and httpx.NetworkError); an unreadable 200 lands here too.
                return self._recover(rkey, post.text, _describe(exc))
            return RemoteRef(id=rkey, uri=str(out.uri), cid=str(out.cid), url=self._web_url(rkey))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.request.close()
                self._client = None
                self._session = None

    # -- recovery by record key ------------------------------------------------------

    def _recover(self, rkey: str, text: str, reason: str, status: int | None = None) -> RemoteRef:
        """After an unreadable outcome: the record under our key is the truth."""
        found = self._lookup(rkey, text, reason)
        if found is not None:
            return found
        # A 500/503 answered by the PDS itself with nothing stored is a clean failure; a
        # timeout, a disconnect or a gateway error (502/504) may still land later.
        clean = status in (500, 503)
        raise Transient(f"{reason}; record {rkey} is not on the PDS", ambiguous=not clean)

    def _lookup(self, rkey: str, text: str, reason: str) -> RemoteRef | None:
        try:
            got = self._authed(
                lambda c: c.com.atproto.repo.get_record(
                    {"repo": self._did(), "collection": POST_COLLECTION, "rkey": rkey}
                )
            )
        except xrpc.BadRequestError as exc:
            if _xrpc_error(exc) == "RecordNotFound" or "Could not locate record" in _message(exc):
                return None
            raise Transient(f"{reason}; lookup failed: {_describe(exc)}", ambiguous=True) from None
        except (httpx.HTTPError, xrpc.AtProtocolError) as exc:
            # Rate limits included: we must not lose that the post may already be out.
            raise Transient(
                f"{reason}; could not check record {rkey}: {_describe(exc)}", ambiguous=True
            ) from None
        except (Transient, RateLimited) as exc:  # from re-authenticating mid-lookup
            raise Transient(
                f"{reason}; could not check record {rkey}: {exc}", ambiguous=True
            ) from None
        stored = _record_text(got.value)
        if stored is not None and stored != text:
            raise Permanent(f"record key {rkey} already holds a different post")
        log.info("bluesky: record %s found after %s", rkey, reason)
        return RemoteRef(
            id=rkey,
            uri=str(got.uri),
            cid=str(got.cid) if got.cid else None,
            url=self._web_url(rkey),
            recovered=True,
            note=f"recovered by record key after {reason}",
        )

    # -- the record ------------------------------------------------------------------

    def _embed(self, attached: Attachments) -> dict[str, Any] | None:
        """The post's one embed, its blobs uploaded: images (with alt and aspect ratio),
        else the link card (app.bsky.embed.images / app.bsky.embed.external)."""
        if attached.images:
            return {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "image": self._upload(image),
                        "alt": image.alt,
                        "aspectRatio": {"width": image.width, "height": image.height},
                    }
                    for image in attached.images
                ],
            }
        card = attached.card
        if card is None:
            return None
        external: dict[str, Any] = {
            "uri": card.uri,
            "title": card.title,
            "description": card.description,
        }
        if card.thumb is not None:
            external["thumb"] = self._upload(card.thumb)
        return {"$type": "app.bsky.embed.external", "external": external}

    def _upload(self, image: StoredImage) -> dict[str, Any]:
        """uploadBlob, with the image's type (the SDK would send */*); the blob's ref."""
        data = image_bytes(self._media, image)
        try:
            out = self._authed(
                lambda c: c.com.atproto.repo.upload_blob(data, headers={"Content-Type": image.mime})
            )
        except xrpc.RateLimitExceededError as exc:
            raise _rate_limited("Bluesky rate limit on uploadBlob", exc, self._clock()) from None
        except (xrpc.BadRequestError, xrpc.UnauthorizedError) as exc:
            raise Permanent(f"Bluesky refused the image: {_describe(exc)}") from None
        except xrpc.RequestErrorBase as exc:
            if _status(exc) == 413:
                raise Permanent(
                    f"Bluesky refused the image as too large ({image.size:,} bytes)"
                ) from None
            raise Transient(f"image upload failed: {_describe(exc)}") from None
        except (httpx.HTTPError, xrpc.AtProtocolError) as exc:
            raise Transient(f"image upload failed: {_describe(exc)}") from None
        blob: dict[str, Any] = out.blob.model_dump(by_alias=True, exclude_none=True)
        return blob

    def _record(
        self,
        text: str,
        reply_to: ReplyTarget | None,
        attached: Attachments = NO_ATTACHMENTS,
        embed: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": self._clock()
            .astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        facets = build_facets(text)
        if facets:
            record["facets"] = facets
        langs = list(attached.langs) or self._langs
        if langs:
            record["langs"] = langs
        if embed is not None:
            record["embed"] = embed
        if attached.labels:
            record["labels"] = {
                "$type": "com.atproto.label.defs#selfLabels",
                "values": [{"val": label} for label in attached.labels],
            }
        if reply_to is not None:
            record["reply"] = {
                "root": _strong_ref(reply_to.root, "root"),
                "parent": _strong_ref(reply_to.parent, "parent"),
            }
        return record

    def _rate_limited(self, what: str, exc: xrpc.RateLimitExceededError) -> RateLimited:
        return _rate_limited(what, exc, self._clock())

    def _web_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self._handle}/post/{rkey}"

    # -- session ---------------------------------------------------------------------

    def _did(self) -> str:
        assert self._session is not None
        return str(self._session.did)

    def _ready(self) -> None:
        """Have a session: resume the saved one, else log in; refresh it if it is due."""
        if self._client is None:
            self._client = Client(self._pds_url, request=Request(timeout=self._timeout))

            # A plain function, not a bound method: the SDK docs warn that other callables
            # may be accepted and never called (0.0.73's sync client does call them).
            def on_change(event: Any, session: Any) -> None:
                self._on_session_change(event, session)

            self._client.on_session_change(on_change)
        if self._session is None:
            saved = self._load_session()
            if saved is not None:
                # fetch_bsky_profile=False: no app.bsky.actor.getProfile, which a bare PDS
                # answers with 400 and the SDK then raises (it tolerates only 404/501).
                # Resuming makes no request; the first call (or refresh) proves it.
                self._client.login(session_string=saved, fetch_bsky_profile=False)
                log.info("bluesky: resumed the saved session for @%s", self._handle)
            if self._session is None:
                self._login()
        if self._refresh_due():
            self._reauthenticate()

    def _login(self) -> None:
        if self._rejected is not None:
            raise Permanent(self._rejected)
        # A resumed session points the client at the PDS it was made on; ask the configured
        # one, which knows where the account lives now (the SDK follows the DID document).
        self._client.update_base_url(self._pds_url)
        try:
            self._client.login(self._handle, self._password, fetch_bsky_profile=False)
        except xrpc.RateLimitExceededError as exc:
            raise self._rate_limited("Bluesky rate limit on login", exc) from None
        except xrpc.UnauthorizedError as exc:
            self._rejected = self._login_rejected(exc)
            raise Permanent(self._rejected) from None
        except xrpc.BadRequestError as exc:
            self._rejected = f"{self._login_rejected(exc)}: {_message(exc)}"
            raise Permanent(self._rejected) from None
        except (httpx.HTTPError, xrpc.AtProtocolError) as exc:
            raise Transient(f"Bluesky login failed: {_describe(exc)}") from None
        log.info("bluesky: logged in as @%s (%s)", self._handle, self._did())

    def _login_rejected(self, exc: xrpc.RequestErrorBase) -> str:
        hint = "use an app password"
        if _xrpc_error(exc) == "AuthFactorTokenRequired":
            hint = "the account password needs an email code; use an app password"
        return (
            f"Bluesky rejected the login for @{self._handle}: check BLUESKY_HANDLE and "
            f"BLUESKY_APP_PASSWORD ({hint})"
        )

    def _reauthenticate(self) -> None:
        """Refresh the session; when the refresh token is no good either, log in again."""
        try:
            # The SDK has no public "refresh now"; this is what its own auto-refresh calls,
            # and it fires on_session_change(REFRESH), which saves the new tokens.
            self._client._refresh_and_set_session()
            log.info("bluesky: refreshed the session for @%s", self._handle)
            return
        except xrpc.RateLimitExceededError as exc:
            raise _rate_limited(
                "Bluesky rate limit on session refresh", exc, self._clock()
            ) from None
        except (xrpc.BadRequestError, xrpc.UnauthorizedError, xrpc.LoginRequiredError) as exc:
            log.info("bluesky: session refresh refused (%s); logging in again", _describe(exc))
        except (httpx.HTTPError, xrpc.AtProtocolError) as exc:
            raise Transient(f"Bluesky session refresh failed: {_describe(exc)}") from None
        self._login()

    def _refresh_due(self) -> bool:
        expires = self._expires_at(self._session)
        return expires is None or expires - _REFRESH_MARGIN <= self._clock()

    def _expires_at(self, session: Any) -> datetime | None:
        """When the session's access token expires, decoded once per session (decoding
        the JWT on every publish cost more than building the record)."""
        if session is not self._expiry_of:
            try:
                self._expiry = datetime.fromtimestamp(session.access_jwt_payload.exp, UTC)
            except Exception:  # no or undecodable exp: refresh, as the SDK would fail to
                self._expiry = None
            self._expiry_of = session
        return self._expiry

    def _authed(self, call: Callable[[Any], T]) -> T:
        """Run an SDK call; on a token error re-authenticate once and run it again.

        A token error is raised before the PDS handles the request, so nothing was written
        and the retry cannot double a post."""
        try:
            return call(self._client)
        except (xrpc.BadRequestError, xrpc.UnauthorizedError) as exc:
            if _xrpc_error(exc) not in _TOKEN_ERRORS:
                raise
            log.info("bluesky: %s; re-authenticating", _describe(exc))
        self._reauthenticate()
        return call(self._client)

    def _on_session_change(self, event: Any, session: Any) -> None:
        self._session = session
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            self._save_session(session)

    def _credential_hash(self, salt: str) -> str:
        """A slow keyed hash of the handle and password (never the password itself), to
        tell whether a saved session was made from the credentials now configured."""
        secret = f"{self._handle.lower()}\0{self._password}".encode()
        try:
            key = bytes.fromhex(salt)
        except ValueError:  # a damaged file: matches nothing
            return ""
        # scrypt, n=2**14 (about 30 ms): a stolen session file does not give the password away.
        return hashlib.scrypt(secret, salt=key, n=2**14, r=8, p=1).hex()

    def _load_session(self) -> str | None:
        if self._session_path is None:
            return None
        try:
            data = json.loads(self._session_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("bluesky: ignoring unreadable session file %s", self._session_path)
            return None
        # A session belongs to one account on one PDS, and was made from the password now
        # configured: after the password changes, `accounts check` must prove the new one.
        if (
            not isinstance(data, dict)
            or data.get("version") != _SESSION_FILE_VERSION
            or data.get("pds_url") != self._pds_url
            or str(data.get("handle", "")).lower() != self._handle.lower()
            or not isinstance(data.get("session"), str)
            or not isinstance(data.get("salt"), str)
            or not hmac.compare_digest(
                str(data.get("made_from", "")), self._credential_hash(data["salt"])
            )
        ):
            return None
        session: str = data["session"]
        return session if _resumable(session, self._clock()) else None

    def _save_session(self, session: Any) -> None:
        if self._session_path is None:
            return
        salt = secrets.token_hex(16)
        payload = json.dumps(
            {
                "version": _SESSION_FILE_VERSION,
                "pds_url": self._pds_url,
                "handle": self._handle,
                "salt": salt,
                "made_from": self._credential_hash(salt),
                "session": session.export(),
            }
        )
        path = self._session_path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created 0600 from the start: the tokens are as good as the password for 2 months.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(fd, 0o600)  # in case a stale tmp file had wider permissions
                os.write(fd, payload.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            # Posting still works; we just log in again next run.
            log.warning("bluesky: could not save the session to %s: %s", path, exc.strerror)


# -- facets ------------------------------------------------------------------------------


def build_facets(text: str) -> list[dict[str, Any]]:
    """Link and #hashtag facets with UTF-8 byte offsets, as app.bsky.richtext.facet wants.

    Detection is the SDK's port of the official app's (so results match what bsky.app
    would link); cashtags ($AMD) are left as plain text, and @mentions are not resolved."""
    facets: list[dict[str, Any]] = []
    for facet in client_utils.detect_facets(text):
        feature: dict[str, Any] | None = None
        for feat in facet.features:
            if isinstance(feat, models.AppBskyRichtextFacet.Link):
                feature = {"$type": "app.bsky.richtext.facet#link", "uri": str(feat.uri)}
            elif isinstance(feat, models.AppBskyRichtextFacet.Tag) and not feat.tag.startswith("$"):
                feature = {"$type": "app.bsky.richtext.facet#tag", "tag": str(feat.tag)}
        if feature is None:
            continue
        facets.append(
            {
                "$type": "app.bsky.richtext.facet",
                "index": {
                    "byteStart": int(facet.index.byte_start),
                    "byteEnd": int(facet.index.byte_end),
                },
                "features": [feature],
            }
        )
    return facets


# -- helpers -----------------------------------------------------------------------------


def _strong_ref(ref: RemoteRef, role: str) -> dict[str, str]:
    if not ref.uri or not ref.cid:
        raise Permanent(f"cannot reply: the thread {role} has no at:// URI and CID")
    return {"uri": ref.uri, "cid": ref.cid}


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return int(response.status_code) if response is not None else None


def _xrpc_error(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    error = getattr(content, "error", None)
    return str(error) if error else None


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    message = getattr(content, "message", None)
    return str(message) if message else (_xrpc_error(exc) or "")


def _describe(exc: BaseException) -> str:
    """One line for the post log. Built from the status and the server's XRPC error only,
    never from the request (whose headers carry the bearer token)."""
    status = _status(exc)
    if status is not None:
        error, message = _xrpc_error(exc), _message(exc)
        if error and message and message != error:
            return f"HTTP {status} {error}: {message}"
        return f"HTTP {status} {error or ''}".rstrip()
    if isinstance(exc, xrpc.InvokeTimeoutError | httpx.TimeoutException):
        return "timeout"
    cause = exc.__cause__ if isinstance(exc, xrpc.NetworkError) else exc
    if isinstance(cause, httpx.RemoteProtocolError):
        return "connection dropped before a response"
    if isinstance(cause, httpx.ConnectError):
        return "could not connect"
    return f"network error ({type(cause or exc).__name__})"


def _rate_limited(what: str, exc: xrpc.RateLimitExceededError, now: datetime) -> RateLimited:
    reset_at = exc.reset_at
    if reset_at is None:
        wait = exc.retry_after
        delay = timedelta(seconds=wait) if wait is not None else _DEFAULT_RATE_LIMIT_WAIT
        reset_at = now + delay
    return RateLimited(f"{what}; resets at {reset_at:%Y-%m-%d %H:%M:%S} UTC", reset_at)


def _resumable(session_string: str, now: datetime) -> bool:
    """A saved session worth resuming: well-formed, for an http(s) PDS, and with a refresh
    token that has not expired (else a refresh would fail and we would log in anyway)."""
    try:
        session = Session.decode(session_string)
        refresh = session.refresh_jwt_payload
        access = session.access_jwt_payload
        return (
            str(session.pds_endpoint).startswith(("https://", "http://"))
            and access.sub == session.did
            and refresh.exp is not None
            and datetime.fromtimestamp(refresh.exp, UTC) > now
        )
    except Exception:  # corrupt or foreign: fall back to the password
        return False


def _record_text(value: Any) -> str | None:
    text = value.get("text") if isinstance(value, dict) else getattr(value, "text", None)
    return text if isinstance(text, str) else None
