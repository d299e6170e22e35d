"""A loopback fake of a bare Bluesky PDS (no AppView), for tests through the real atproto SDK.

It speaks the XRPC wire format of bluesky-social/atproto packages/pds: JSON error bodies
{"error": ..., "message": ...} with the same status codes and messages, RateLimit-* headers,
JWT access/refresh tokens the SDK can decode, createRecord with a caller-chosen rkey (a
duplicate rkey is a 500, as on the real PDS: bluesky-social/atproto#3718), getRecord's
RecordNotFound, and app.bsky.* answered with "No service configured" like a PDS without an
AppView. Faults are injected per endpoint and consume one request each.

Blobs: uploadBlob keeps the raw bytes under a real raw-codec CID (bafkrei...), refuses bodies
over the PDS's default 5 MiB blobUploadLimit with 413 PayloadTooLarge, and takes the mime type
from the bytes (Pillow) before the Content-Type, as the PDS sniffs it. createRecord checks a
post's embeds, langs and labels against the lexicons, then every blob it references against
what was uploaded (BlobNotFound / InvalidMimeType / InvalidSize, as the PDS's blob transactor).

    with FakePDS(handle="campaign.test", password="app-pass-1234") as pds:
        client = atproto.Client(pds.base_url)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import regex
from PIL import Image, UnidentifiedImageError

CREATE_RECORD = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
GET_SESSION = "com.atproto.server.getSession"
GET_PROFILE = "app.bsky.actor.getProfile"
UPLOAD_BLOB = "com.atproto.repo.uploadBlob"
POST_COLLECTION = "app.bsky.feed.post"

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
# @atproto/syntax ensureValidRecordKey
_RKEY_RE = regex.compile(r"^[a-zA-Z0-9_~.:-]{1,512}$")
_MAX_GRAPHEMES = 300
_MAX_TEXT_LEN = 3000
# packages/pds/src/config/config.ts: blobUploadLimit defaults to 5 * 1024 * 1024.
BLOB_UPLOAD_LIMIT = 5 * 1024 * 1024
# lexicons/app/bsky/embed/images.json: maxSize 2000000 since bluesky-social/atproto#4823
# (commit d8801e2a17, 2026-04-08, "Increase max image upload size to 2mb from 1mb").
IMAGE_MAX_SIZE = 2_000_000
# lexicons/app/bsky/embed/external.json: the card thumb kept maxSize 1000000.
THUMB_MAX_SIZE = 1_000_000
_MAX_IMAGES = 4  # images.json: maxLength 4 (and no minLength)
_MAX_LANGS = 3  # feed/post.json: langs maxLength 3
_MAX_SELF_LABELS = 10  # label/defs.json: selfLabels.values maxLength 10
_MAX_LABEL_VAL = 128  # label/defs.json: selfLabel.val maxLength 128
SELF_LABELS = "com.atproto.label.defs#selfLabels"
IMAGES_EMBED = "app.bsky.embed.images"
EXTERNAL_EMBED = "app.bsky.embed.external"
# BCP 47 in the shape @atproto/syntax's isValidLanguage takes: a primary subtag, then more.
_LANGUAGE_RE = regex.compile(r"^(i|[a-z]{2,3})(-[a-zA-Z0-9]+)*$")


def fake_cid(data: Any) -> str:
    """A CIDv1 (dag-cbor, sha2-256) shaped string: 'bafyrei' + base32 of the digest.

    The digest is over canonical JSON, not DAG-CBOR, so it is stable and unique per
    content but not the CID a real PDS would compute."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    return _cid_string(0x71, digest.digest())


def blob_cid(data: bytes) -> str:
    """The CID a PDS gives a blob: CIDv1, raw codec, sha2-256 ('bafkrei...')."""
    return _cid_string(0x55, hashlib.sha256(data).digest())


def _cid_string(codec: int, digest: bytes) -> str:
    raw = bytes([0x01, codec, 0x12, 0x20]) + digest
    bits = int.from_bytes(raw, "big")
    nbits = len(raw) * 8
    pad = (5 - nbits % 5) % 5
    bits <<= pad
    chars = [_B32[(bits >> shift) & 31] for shift in range(nbits + pad - 5, -1, -5)]
    return "b" + "".join(chars)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _rev() -> str:
    n = (time.time_ns() // 1000) << 10 | secrets.randbelow(1024)
    return "".join(_SORTABLE[(n >> s) & 31] for s in range(60, -1, -5))


@dataclass
class StoredRecord:
    uri: str
    cid: str
    value: dict[str, Any]
    collection: str = POST_COLLECTION


@dataclass(frozen=True)
class StoredBlob:
    cid: str
    mime_type: str  # as the PDS recorded it: sniffed from the bytes, else the Content-Type
    size: int
    data: bytes = field(repr=False)

    def ref(self) -> dict[str, Any]:
        """The blob as a record references it (and uploadBlob answers it)."""
        return {
            "$type": "blob",
            "ref": {"$link": self.cid},
            "mimeType": self.mime_type,
            "size": self.size,
        }


@dataclass
class _Fault:
    kind: str  # "fail" | "rate_limit" | "delay" | "drop"
    status: int = 500
    seconds: float = 0.0


class XrpcError(Exception):
    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


_STATUS_ERRORS = {
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}


@dataclass
class FakePDS:
    handle: str = "campaign.test"
    password: str = "app-pass-1234"
    did: str = "did:plc:campaigntestaccount0"
    access_ttl: int = 2 * 3600  # seconds; the SDK refreshes 15 min before exp
    refresh_ttl: int = 90 * 24 * 3600
    serve_profile: bool = False  # True: answer app.bsky.actor.getProfile like an AppView
    rate_limit: int = 5000  # per window, for the RateLimit-* headers of normal answers
    rate_window: int = 3600

    logins: int = 0
    refreshes: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    last_reset_at: int | None = None  # ratelimit-reset of the last injected 429
    tokens_issued: list[str] = field(default_factory=list)  # every JWT, for secret checks

    _repo: dict[tuple[str, str], StoredRecord] = field(default_factory=dict)
    _blobs: dict[str, StoredBlob] = field(default_factory=dict)
    _faults: dict[str, deque[_Fault]] = field(default_factory=dict)
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _live_refresh: set[str] = field(default_factory=set)  # jti of usable refresh tokens
    _expired_access: set[str] = field(default_factory=set)
    _issued_access: set[str] = field(default_factory=set)
    _reject_password: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> FakePDS:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        pds = self

        class Handler(_Handler):
            fake = pds

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll
            name="fake-pds",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._closing.set()  # wake delayed handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakePDS is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- inspection --------------------------------------------------------------------

    @property
    def records(self) -> dict[str, StoredRecord]:
        """Posts by rkey, in creation order."""
        with self._lock:
            return {rkey: r for (coll, rkey), r in self._repo.items() if coll == POST_COLLECTION}

    @property
    def blobs(self) -> dict[str, StoredBlob]:
        """Uploaded blobs by CID, in upload order."""
        with self._lock:
            return dict(self._blobs)

    def put_blob(self, data: bytes, mime_type: str | None = None) -> StoredBlob:
        """Keep a blob as if uploaded earlier (no request, no limits)."""
        with self._lock:
            return self._keep_blob(data, mime_type)

    def put_record(
        self, rkey: str, value: dict[str, Any], collection: str = POST_COLLECTION
    ) -> str:
        """Store a record directly (as if an earlier request had landed); returns its URI."""
        with self._lock:
            rec = self._store(collection, rkey, value)
            return rec.uri

    # -- fault injection (thread-safe; each fault consumes one request of `endpoint`) ---

    def _add(self, endpoint: str, fault: _Fault, n: int) -> None:
        with self._lock:
            self._faults.setdefault(endpoint, deque()).extend(fault for _ in range(n))

    def fail_next(self, n: int = 1, status: int = 500, endpoint: str = CREATE_RECORD) -> None:
        """Answer with a 5xx (XRPC body) without storing anything."""
        self._add(endpoint, _Fault("fail", status=status), n)

    def rate_limit_next(
        self, n: int = 1, reset_in: float = 60, endpoint: str = CREATE_RECORD
    ) -> None:
        """Answer 429 RateLimitExceeded with RateLimit-Reset = now + reset_in (epoch s)."""
        self._add(endpoint, _Fault("rate_limit", seconds=reset_in), n)

    def delay_next(self, seconds: float, n: int = 1, endpoint: str = CREATE_RECORD) -> None:
        """Handle the request (a create is stored), then sleep before answering."""
        self._add(endpoint, _Fault("delay", seconds=seconds), n)

    def drop_after_store_next(self, n: int = 1, endpoint: str = CREATE_RECORD) -> None:
        """Handle the request (a create is stored), then close the socket unanswered."""
        self._add(endpoint, _Fault("drop"), n)

    def expire_tokens(self, refresh: bool = False) -> None:
        """Make every access token issued so far expired server-side (their JWT exp still
        says otherwise, so the SDK will not refresh by itself). refresh=True: refresh
        tokens too, so only a new login helps."""
        with self._lock:
            self._expired_access |= self._issued_access
            if refresh:
                self._live_refresh.clear()

    def reject_password(self, reject: bool = True) -> None:
        with self._lock:
            self._reject_password = reject

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    # -- tokens ------------------------------------------------------------------------

    def _jwt(self, payload: dict[str, Any], typ: str) -> str:
        header = _b64url(json.dumps({"typ": typ, "alg": "HS256"}).encode())
        body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
        sig = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64url(sig)}"

    def _issue(self) -> dict[str, str]:
        now = int(time.time())
        jti = secrets.token_urlsafe(16)
        access = self._jwt(
            {
                "scope": "com.atproto.access",
                "sub": self.did,
                "aud": "did:web:pds.campaign.test",
                "iat": now,
                "exp": now + self.access_ttl,
                "nonce": secrets.token_hex(4),  # two logins in one second still differ
            },
            "at+jwt",
        )
        refresh = self._jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": self.did,
                "aud": "did:web:pds.campaign.test",
                "jti": jti,
                "iat": now,
                "exp": now + self.refresh_ttl,
            },
            "refresh+jwt",
        )
        self._issued_access.add(access)
        self.tokens_issued += [access, refresh]
        self._live_refresh.add(jti)
        return {"accessJwt": access, "refreshJwt": refresh}

    def _verify(self, authorization: str | None, scope: str) -> dict[str, Any]:
        """Mirror of the PDS auth verifier: 401 AuthMissing, 400 ExpiredToken/InvalidToken."""
        if not authorization or not authorization.startswith("Bearer "):
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        token = authorization[len("Bearer ") :]
        try:
            header_b64, body_b64, sig_b64 = token.split(".")
            expected = hmac.new(
                self._secret, f"{header_b64}.{body_b64}".encode(), hashlib.sha256
            ).digest()
            if not hmac.compare_digest(expected, _b64url_decode(sig_b64)):
                raise ValueError("bad signature")
            payload: dict[str, Any] = json.loads(_b64url_decode(body_b64))
        except (ValueError, json.JSONDecodeError) as exc:
            raise XrpcError(400, "InvalidToken", "Token could not be verified") from exc
        if payload.get("exp", 0) <= time.time() or token in self._expired_access:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        if payload.get("scope") != scope:
            raise XrpcError(400, "InvalidToken", "Bad token scope")
        if scope == "com.atproto.refresh" and payload.get("jti") not in self._live_refresh:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        return payload

    # -- endpoints ---------------------------------------------------------------------

    def _did_doc(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "alsoKnownAs": [f"at://{self.handle}"],
            "verificationMethod": [],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.base_url,
                }
            ],
        }

    def _session_body(self, tokens: dict[str, str]) -> dict[str, Any]:
        return {
            **tokens,
            "handle": self.handle,
            "did": self.did,
            "didDoc": self._did_doc(),
            "email": "owner@campaign.test",
            "emailConfirmed": True,
            "emailAuthFactor": False,
            "active": True,
        }

    def _create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        identifier = str(body.get("identifier", "")).lower().lstrip("@")
        if (
            self._reject_password
            or identifier not in (self.handle.lower(), self.did)
            or body.get("password") != self.password
        ):
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        self.logins += 1
        return self._session_body(self._issue())

    def _refresh_session(self, auth: str | None) -> dict[str, Any]:
        payload = self._verify(auth, "com.atproto.refresh")
        self._live_refresh.discard(payload["jti"])  # rotation revokes the old token
        self.refreshes += 1
        return self._session_body(self._issue())

    def _create_record(self, body: dict[str, Any]) -> dict[str, Any]:
        for prop in ("repo", "collection", "record"):
            if prop not in body:
                raise XrpcError(400, "InvalidRequest", f'Input must have the property "{prop}"')
        rkey = body.get("rkey")
        if rkey is not None and not (
            isinstance(rkey, str) and _RKEY_RE.match(rkey) and rkey not in (".", "..")
        ):
            raise XrpcError(400, "InvalidRequest", "Input/rkey must be a valid Record Key")
        if body["repo"] not in (self.did, self.handle):
            raise XrpcError(400, "InvalidRequest", f"Could not find repo: {body['repo']}")
        collection = body["collection"]
        if not isinstance(body["record"], dict):
            raise XrpcError(400, "InvalidRequest", "Input/record must be an object")
        record = dict(body["record"])
        record.setdefault("$type", collection)
        if record["$type"] != collection:
            raise XrpcError(
                400,
                "InvalidRequest",
                f"Invalid $type: expected {collection}, got {record['$type']}",
            )
        if collection == POST_COLLECTION and body.get("validate") is not False:
            _validate_post(record)
        # The PDS validates first, then checks each referenced blob against its store
        # (whatever the collection, validated or not).
        for blob in _blob_refs(record):
            self._check_blob(blob)
        if rkey is None:
            rkey = _rev()
        if (collection, rkey) in self._repo:
            # The real PDS fails inside the MST insert and answers a bare 500.
            raise XrpcError(500, "InternalServerError", "Internal Server Error")
        stored = self._store(collection, rkey, record)
        return {
            "uri": stored.uri,
            "cid": stored.cid,
            "commit": {"cid": fake_cid({"commit": stored.cid, "rkey": rkey}), "rev": _rev()},
            "validationStatus": "valid",
        }

    def _upload_blob(self, data: bytes, encoding: str | None) -> dict[str, Any]:
        if len(data) > BLOB_UPLOAD_LIMIT:
            # @atproto/xrpc-server refuses the body by its length before any handler runs.
            raise XrpcError(413, "PayloadTooLarge", "request entity too large")
        return {"blob": self._keep_blob(data, encoding).ref()}

    def _keep_blob(self, data: bytes, encoding: str | None) -> StoredBlob:
        mime = _sniff_mime(data) or encoding or "application/octet-stream"
        blob = StoredBlob(blob_cid(data), mime, len(data), data)
        self._blobs.setdefault(blob.cid, blob)
        return self._blobs[blob.cid]

    def _check_blob(self, ref: dict[str, Any]) -> None:
        """packages/pds/src/actor-store/blob/transactor.ts verifyBlobAndMakePermanent."""
        cid = ref["ref"]["$link"]
        found = self._blobs.get(cid)
        if found is None:
            raise XrpcError(400, "BlobNotFound", f"Could not find blob: {cid}")
        if ref["mimeType"] != found.mime_type:
            raise XrpcError(
                400,
                "InvalidMimeType",
                "Referenced Mimetype does not match stored blob. "
                f"Expected: {found.mime_type}, Got: {ref['mimeType']}",
            )
        if ref["size"] != found.size:
            raise XrpcError(
                400,
                "InvalidSize",
                "Referenced Size does not match stored blob. "
                f"Expected: {found.size}, Got: {ref['size']}",
            )

    def _store(self, collection: str, rkey: str, value: dict[str, Any]) -> StoredRecord:
        value = {"$type": collection, **value}
        rec = StoredRecord(
            uri=f"at://{self.did}/{collection}/{rkey}",
            cid=fake_cid(value),
            value=value,
            collection=collection,
        )
        self._repo[(collection, rkey)] = rec
        return rec

    def _get_record(self, query: dict[str, str]) -> dict[str, Any]:
        for prop in ("repo", "collection", "rkey"):
            if prop not in query:
                raise XrpcError(400, "InvalidRequest", f'Params must have the property "{prop}"')
        if query["repo"] not in (self.did, self.handle):
            raise XrpcError(400, "InvalidRequest", f"Could not find repo: {query['repo']}")
        uri = f"at://{self.did}/{query['collection']}/{query['rkey']}"
        rec = self._repo.get((query["collection"], query["rkey"]))
        if rec is None:
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": rec.uri, "cid": rec.cid, "value": rec.value}

    def _get_profile(self, query: dict[str, str]) -> dict[str, Any]:
        if not self.serve_profile:
            raise XrpcError(400, "InvalidRequest", f"No service configured for {GET_PROFILE}")
        if query.get("actor") not in (self.did, self.handle):
            raise XrpcError(400, "InvalidRequest", "Profile not found")
        return {"did": self.did, "handle": self.handle, "displayName": "Campaign"}

    def handle_xrpc(
        self,
        method: str,
        nsid: str,
        query: dict[str, str],
        body: Any,
        auth: str | None,
        encoding: str | None = None,
    ) -> dict[str, Any]:
        """Answer one XRPC call (already past fault injection); raises XrpcError.
        `body` is decoded JSON, except for uploadBlob: the raw bytes, of type `encoding`."""
        with self._lock:
            if nsid == UPLOAD_BLOB and method == "POST":
                self._verify(auth, "com.atproto.access")
                return self._upload_blob(body if isinstance(body, bytes) else b"", encoding)
            if nsid == CREATE_SESSION and method == "POST":
                return self._create_session(body if isinstance(body, dict) else {})
            if nsid == REFRESH_SESSION and method == "POST":
                return self._refresh_session(auth)
            if nsid == GET_SESSION and method == "GET":
                self._verify(auth, "com.atproto.access")
                return {
                    "handle": self.handle,
                    "did": self.did,
                    "didDoc": self._did_doc(),
                    "active": True,
                }
            if nsid == CREATE_RECORD and method == "POST":
                self._verify(auth, "com.atproto.access")
                if not isinstance(body, dict):
                    raise XrpcError(
                        400, "InvalidRequest", "Request encoding (Content-Type) required"
                    )
                return self._create_record(body)
            if nsid == GET_RECORD and method == "GET":
                return self._get_record(query)
            if nsid.startswith(("app.bsky.", "chat.bsky.")):
                self._verify(auth, "com.atproto.access")  # the proxy checks auth first
                if nsid == GET_PROFILE:
                    return self._get_profile(query)
                raise XrpcError(400, "InvalidRequest", f"No service configured for {nsid}")
            raise XrpcError(501, "MethodNotImplemented", "Method Not Implemented")

    def rate_headers(self) -> dict[str, str]:
        reset = int(time.time()) + self.rate_window
        return {
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Remaining": str(self.rate_limit - 1),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{self.rate_limit};w={self.rate_window}",
        }


def _validate_post(record: dict[str, Any]) -> None:
    """The parts of the app.bsky.feed.post lexicon a text post can break."""

    def invalid(detail: str) -> XrpcError:
        return XrpcError(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {detail}")

    text = record.get("text")
    if not isinstance(text, str):
        raise invalid('Record must have the property "text"')
    if "createdAt" not in record:
        raise invalid('Record must have the property "createdAt"')
    if len(text.encode()) > _MAX_TEXT_LEN:
        raise invalid(f"Record/text must not be longer than {_MAX_TEXT_LEN} characters")
    if len(regex.findall(r"\X", text)) > _MAX_GRAPHEMES:
        raise invalid(f"Record/text must not be longer than {_MAX_GRAPHEMES} graphemes")
    reply = record.get("reply")
    if reply is not None:
        for part in ("root", "parent"):
            ref = reply.get(part) if isinstance(reply, dict) else None
            if not isinstance(ref, dict) or "uri" not in ref or "cid" not in ref:
                raise invalid(f'Record/reply must have the property "{part}"')
    embed = record.get("embed")
    if embed is not None:
        _validate_embed(embed, invalid)
    langs = record.get("langs")
    if langs is not None:
        if not isinstance(langs, list):
            raise invalid("Record/langs must be an array")
        if len(langs) > _MAX_LANGS:
            raise invalid(f"Record/langs must not have more than {_MAX_LANGS} elements")
        for i, lang in enumerate(langs):
            if not isinstance(lang, str) or not _LANGUAGE_RE.match(lang):
                raise invalid(f"Record/langs/{i} must be a well-formed BCP 47 language tag")
    labels = record.get("labels")
    if labels is not None:
        _validate_self_labels(labels, invalid)


_Invalid = Callable[[str], XrpcError]


def _validate_embed(embed: Any, invalid: _Invalid) -> None:
    """app.bsky.embed.images and app.bsky.embed.external; other members of the open union
    (record, video, recordWithMedia, ...) pass unchecked."""
    if not isinstance(embed, dict) or not isinstance(embed.get("$type"), str):
        raise invalid('Record/embed must be an object which includes the "$type" property')
    if embed["$type"] == IMAGES_EMBED:
        images = embed.get("images")
        if not isinstance(images, list):
            raise invalid('Record/embed must have the property "images"')
        if len(images) > _MAX_IMAGES:
            raise invalid(f"Record/embed/images must not have more than {_MAX_IMAGES} elements")
        for i, image in enumerate(images):
            path = f"Record/embed/images/{i}"
            if not isinstance(image, dict):
                raise invalid(f"{path} must be an object")
            for prop in ("image", "alt"):
                if prop not in image:
                    raise invalid(f'{path} must have the property "{prop}"')
            if not isinstance(image["alt"], str):
                raise invalid(f"{path}/alt must be a string")
            _validate_image_blob(image["image"], f"{path}/image", IMAGE_MAX_SIZE, invalid)
            ratio = image.get("aspectRatio")
            if ratio is not None:
                _validate_aspect_ratio(ratio, f"{path}/aspectRatio", invalid)
    elif embed["$type"] == EXTERNAL_EMBED:
        external = embed.get("external")
        if not isinstance(external, dict):
            raise invalid('Record/embed must have the property "external"')
        for prop in ("uri", "title", "description"):
            if not isinstance(external.get(prop), str):
                raise invalid(f'Record/embed/external must have the property "{prop}"')
        if "thumb" in external:
            _validate_image_blob(
                external["thumb"], "Record/embed/external/thumb", THUMB_MAX_SIZE, invalid
            )


def _validate_image_blob(blob: Any, path: str, max_size: int, invalid: _Invalid) -> None:
    if not _is_blob_ref(blob):
        raise invalid(f"{path} should be a blob ref")
    if not blob["mimeType"].startswith("image/"):
        raise invalid(f"{path} mimeType must be one of image/*, got {blob['mimeType']}")
    if blob["size"] > max_size:
        raise invalid(f"{path} is too big: {blob['size']} bytes, maximum {max_size}")


def _validate_aspect_ratio(ratio: Any, path: str, invalid: _Invalid) -> None:
    if not isinstance(ratio, dict):
        raise invalid(f"{path} must be an object")
    for side in ("width", "height"):
        value = ratio.get(side)
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid(f'{path} must have the property "{side}"')
        if value < 1:
            raise invalid(f"{path}/{side} can not be less than 1")


def _validate_self_labels(labels: Any, invalid: _Invalid) -> None:
    if not isinstance(labels, dict) or labels.get("$type") != SELF_LABELS:
        raise invalid(f"Record/labels must be an object which includes the $type {SELF_LABELS}")
    values = labels.get("values")
    if not isinstance(values, list):
        raise invalid('Record/labels must have the property "values"')
    if len(values) > _MAX_SELF_LABELS:
        raise invalid(f"Record/labels/values must not have more than {_MAX_SELF_LABELS} elements")
    for i, label in enumerate(values):
        val = label.get("val") if isinstance(label, dict) else None
        if not isinstance(val, str):
            raise invalid(f'Record/labels/values/{i} must have the property "val"')
        if len(val.encode()) > _MAX_LABEL_VAL:
            raise invalid(
                f"Record/labels/values/{i}/val must not be longer than {_MAX_LABEL_VAL} characters"
            )


def _is_blob_ref(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("$type") == "blob"
        and isinstance(value.get("ref"), dict)
        and isinstance(value["ref"].get("$link"), str)
        and isinstance(value.get("mimeType"), str)
        and isinstance(value.get("size"), int)
    )


def _blob_refs(value: Any) -> list[dict[str, Any]]:
    """Every blob ref anywhere in a record, as the PDS enumerates them."""
    if _is_blob_ref(value):
        return [value]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _blob_refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _blob_refs(item)]
    return []


def _sniff_mime(data: bytes) -> str | None:
    """The image type in the bytes, as the PDS's file-type sniffing finds it; None if none."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return Image.MIME.get(image.format or "")
    except (UnidentifiedImageError, OSError, ValueError):
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakePDS
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind a proxy
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        if not parts.path.startswith("/xrpc/"):
            self._send(404, {"error": "NotFound", "message": "Not Found"})
            return
        nsid = parts.path[len("/xrpc/") :]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with fake._lock:
            fake.requests[nsid] += 1
        fault = fake._take_fault(nsid)

        if fault is not None and fault.kind == "fail":
            error, message = _STATUS_ERRORS.get(fault.status, ("InternalServerError", "Error"))
            self._send(fault.status, {"error": error, "message": message})
            return
        if fault is not None and fault.kind == "rate_limit":
            reset = int(time.time() + fault.seconds)
            with fake._lock:
                fake.last_reset_at = reset
            headers = {
                "RateLimit-Limit": "30",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": "30;w=300",
            }
            limited = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
            self._send(429, limited, headers)
            return

        body: Any = raw
        if nsid != UPLOAD_BLOB:
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                self._send(400, {"error": "InvalidRequest", "message": "Invalid JSON body"})
                return
        try:
            result = fake.handle_xrpc(
                method,
                nsid,
                query,
                body,
                self.headers.get("Authorization"),
                self.headers.get("Content-Type"),
            )
            status, payload, headers = 200, result, fake.rate_headers()
        except XrpcError as exc:
            status = exc.status
            payload = {"error": exc.error, "message": exc.message}
            headers = exc.headers

        if fault is not None and fault.kind == "drop":
            self.close_connection = True  # no bytes at all: the client sees a disconnect
            return
        if fault is not None and fault.kind == "delay" and fake._closing.wait(fault.seconds):
            self.close_connection = True
            return
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to do
