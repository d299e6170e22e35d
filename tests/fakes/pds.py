"""A loopback fake of a bare Bluesky PDS (no AppView), for tests through the real atproto SDK.

It speaks the XRPC wire format of bluesky-social/atproto packages/pds: JSON error bodies
{"error": ..., "message": ...} with the same status codes and messages, RateLimit-* headers,
JWT access/refresh tokens the SDK can decode, createRecord with a caller-chosen rkey (a
duplicate rkey is a 500, as on the real PDS: bluesky-social/atproto#3718), getRecord's
RecordNotFound, and app.bsky.* answered with "No service configured" like a PDS without an
AppView. Faults are injected per endpoint and consume one request each.

    with FakePDS(handle="campaign.test", password="app-pass-1234") as pds:
        client = atproto.Client(pds.base_url)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import regex

CREATE_RECORD = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
GET_SESSION = "com.atproto.server.getSession"
GET_PROFILE = "app.bsky.actor.getProfile"
POST_COLLECTION = "app.bsky.feed.post"

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
# @atproto/syntax ensureValidRecordKey
_RKEY_RE = regex.compile(r"^[a-zA-Z0-9_~.:-]{1,512}$")
_MAX_GRAPHEMES = 300
_MAX_TEXT_LEN = 3000


def fake_cid(data: Any) -> str:
    """A CIDv1 (dag-cbor, sha2-256) shaped string: 'bafyrei' + base32 of the digest.

    The digest is over canonical JSON, not DAG-CBOR, so it is stable and unique per
    content but not the CID a real PDS would compute."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + digest.digest()
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
        self, method: str, nsid: str, query: dict[str, str], body: Any, auth: str | None
    ) -> dict[str, Any]:
        """Answer one XRPC call (already past fault injection); raises XrpcError."""
        with self._lock:
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

        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            self._send(400, {"error": "InvalidRequest", "message": "Invalid JSON body"})
            return
        try:
            result = fake.handle_xrpc(method, nsid, query, body, self.headers.get("Authorization"))
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
