"""The fake PDS speaks the wire format the atproto SDK (0.0.73) expects from a bare PDS.

Everything here goes through the real `atproto.Client` over loopback HTTP, so these tests
also pin down the SDK behaviour the Bluesky adapter relies on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from atproto import Client, Request, Session
from atproto_client import exceptions as xrpc
from fakes.pds import (
    CREATE_RECORD,
    GET_PROFILE,
    GET_RECORD,
    FakePDS,
    fake_cid,
)

DID = "did:plc:campaigntestaccount0"
RKEY = "3lbq2gd5hm22a"
CID_RE = re.compile(r"bafyrei[a-z2-7]{52}")


@pytest.fixture
def pds() -> Iterator[FakePDS]:
    with FakePDS(handle="campaign.test", password="app-pass-1234", did=DID) as fake:
        yield fake


def client_for(pds: FakePDS, timeout: float = 2.0) -> Client:
    client = Client(pds.base_url, request=Request(timeout=timeout))
    client.login(pds.handle, pds.password, fetch_bsky_profile=False)
    return client


def post(text: str = "hello") -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2027-03-01T12:00:00.000Z"}


def create(client: Client, rkey: str = RKEY, text: str = "hello") -> Any:
    return client.com.atproto.repo.create_record(
        {"repo": DID, "collection": "app.bsky.feed.post", "rkey": rkey, "record": post(text)}
    )


def get(client: Client, rkey: str = RKEY) -> Any:
    return client.com.atproto.repo.get_record(
        {"repo": DID, "collection": "app.bsky.feed.post", "rkey": rkey}
    )


def test_login_without_profile_lookup_gives_a_decodable_session(pds: FakePDS) -> None:
    client = client_for(pds)
    session = Session.decode(client.export_session_string())
    assert (session.handle, session.did) == ("campaign.test", DID)
    access, refresh = session.access_jwt_payload, session.refresh_jwt_payload
    assert access.sub == DID and access.scope == "com.atproto.access"
    assert refresh.scope == "com.atproto.refresh" and refresh.jti
    assert access.exp is not None and access.iat is not None
    assert access.exp - access.iat == 2 * 3600
    # the SDK follows the PDS endpoint in the DID document
    assert session.pds_endpoint == pds.base_url
    assert pds.logins == 1 and pds.requests[GET_PROFILE] == 0


def test_default_login_fails_on_a_pds_without_appview(pds: FakePDS) -> None:
    """SDK 0.0.73 looks up app.bsky.actor.getProfile after createSession and only tolerates
    404/501; a bare PDS answers 400, so login() raises although the session exists."""
    client = Client(pds.base_url)
    with pytest.raises(xrpc.BadRequestError) as err:
        client.login(pds.handle, pds.password)
    assert err.value.response is not None
    assert err.value.response.status_code == 400
    assert err.value.response.content.error == "InvalidRequest"
    assert err.value.response.content.message == (
        "No service configured for app.bsky.actor.getProfile"
    )
    assert pds.logins == 1 and pds.requests[GET_PROFILE] == 1


def test_profile_can_be_served(pds: FakePDS) -> None:
    pds.serve_profile = True
    client = Client(pds.base_url)
    profile = client.login(pds.handle, pds.password)
    assert profile is not None and profile.did == DID


def test_bad_password_is_401(pds: FakePDS) -> None:
    with pytest.raises(xrpc.UnauthorizedError) as err:
        Client(pds.base_url).login(pds.handle, "wrong-password", fetch_bsky_profile=False)
    assert str(err.value) == "401 AuthenticationRequired: Invalid identifier or password"
    assert pds.logins == 0
    pds.reject_password(True)
    with pytest.raises(xrpc.UnauthorizedError):
        Client(pds.base_url).login(pds.handle, pds.password, fetch_bsky_profile=False)


def test_create_with_rkey_then_get(pds: FakePDS) -> None:
    client = client_for(pds)
    out = create(client)
    assert out.uri == f"at://{DID}/app.bsky.feed.post/{RKEY}"
    assert CID_RE.fullmatch(out.cid)
    assert out.validation_status == "valid"
    assert out.commit is not None and CID_RE.fullmatch(out.commit.cid)
    got = get(client)
    assert (got.uri, got.cid, got.value.text) == (out.uri, out.cid, "hello")
    assert list(pds.records) == [RKEY]
    assert pds.records[RKEY].value["text"] == "hello"


def test_duplicate_rkey_is_a_bare_500(pds: FakePDS) -> None:
    client = client_for(pds)
    first = create(client)
    with pytest.raises(xrpc.RequestException) as err:
        create(client, text="again")
    assert not isinstance(err.value, xrpc.BadRequestError)
    assert str(err.value) == "500 InternalServerError: Internal Server Error"
    assert pds.records[RKEY].cid == first.cid  # the original is untouched


def test_invalid_record_key_is_400(pds: FakePDS) -> None:
    client = client_for(pds)
    with pytest.raises(xrpc.BadRequestError) as err:
        create(client, rkey="not a key!")
    assert str(err.value) == "400 InvalidRequest: Input/rkey must be a valid Record Key"
    assert pds.records == {}


def test_get_missing_record_is_record_not_found(pds: FakePDS) -> None:
    client = client_for(pds)
    with pytest.raises(xrpc.BadRequestError) as err:
        get(client)
    assert err.value.response is not None
    assert err.value.response.content.error == "RecordNotFound"
    assert err.value.response.content.message == (
        f"Could not locate record: at://{DID}/app.bsky.feed.post/{RKEY}"
    )


def test_429_carries_ratelimit_headers(pds: FakePDS) -> None:
    client = client_for(pds)
    pds.rate_limit_next(reset_in=90)
    with pytest.raises(xrpc.RateLimitExceededError) as err:
        create(client)
    assert pds.last_reset_at is not None
    assert err.value.reset_at == datetime.fromtimestamp(pds.last_reset_at, UTC)
    assert (err.value.limit, err.value.remaining, err.value.policy) == (30, 0, "30;w=300")
    assert str(err.value) == "429 RateLimitExceeded: Rate Limit Exceeded"
    assert pds.records == {}
    create(client)  # the fault consumed exactly one request
    assert list(pds.records) == [RKEY]


def test_normal_answers_carry_ratelimit_headers(pds: FakePDS) -> None:
    with httpx.Client() as http:
        answer = http.post(
            f"{pds.base_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": pds.handle, "password": pds.password},
        )
    assert answer.status_code == 200
    for header in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy"):
        assert header in answer.headers


def test_text_over_300_graphemes_is_rejected(pds: FakePDS) -> None:
    client = client_for(pds)
    create(client, rkey="3lbq2gd5hm22b", text="🇦🇲" * 300)  # 300 graphemes, 600 code points
    with pytest.raises(xrpc.BadRequestError) as err:
        create(client, text="a" * 301)
    assert str(err.value) == (
        "400 InvalidRequest: Invalid app.bsky.feed.post record: "
        "Record/text must not be longer than 300 graphemes"
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, xrpc.RequestException), (502, xrpc.NetworkError), (503, xrpc.RequestException)],
)
def test_injected_5xx_stores_nothing(pds: FakePDS, status: int, kind: type[Exception]) -> None:
    client = client_for(pds)
    pds.fail_next(status=status)
    with pytest.raises(kind) as err:
        create(client)
    assert str(err.value).startswith(str(status))
    assert pds.records == {}


def test_drop_after_store_is_a_raw_httpx_error(pds: FakePDS) -> None:
    """The SDK wraps httpx timeouts and httpx.NetworkError only; a server that hangs up
    without answering surfaces as httpx.RemoteProtocolError."""
    client = client_for(pds)
    pds.drop_after_store_next()
    with pytest.raises(httpx.RemoteProtocolError):
        create(client)
    assert list(pds.records) == [RKEY]


def test_delay_after_store_times_out(pds: FakePDS) -> None:
    client = client_for(pds, timeout=0.3)
    pds.delay_next(1.0)
    with pytest.raises(xrpc.InvokeTimeoutError) as err:
        create(client)
    assert err.value.response is None and str(err.value) == ""  # nothing to log but the type
    assert list(pds.records) == [RKEY]


def test_faults_target_one_endpoint(pds: FakePDS) -> None:
    client = client_for(pds)
    create(client)
    pds.fail_next(status=503, endpoint=GET_RECORD)
    with pytest.raises(xrpc.RequestException):
        get(client)
    assert get(client).uri.endswith(RKEY)
    assert pds.requests[GET_RECORD] == 2 and pds.requests[CREATE_RECORD] == 1


def test_expired_token_is_400_and_the_sdk_does_not_refresh_by_itself(pds: FakePDS) -> None:
    client = client_for(pds)
    pds.expire_tokens()
    with pytest.raises(xrpc.BadRequestError) as err:
        create(client)
    assert str(err.value) == "400 ExpiredToken: Token has expired"
    assert pds.refreshes == 0


def test_sdk_refreshes_early_and_rotates_refresh_tokens(pds: FakePDS) -> None:
    """The SDK refreshes when exp is within 15 minutes, before the request itself."""
    pds.access_ttl = 600
    client = client_for(pds)
    old_refresh = Session.decode(client.export_session_string()).refresh_jwt
    create(client)
    assert pds.refreshes == 1 and pds.logins == 1
    with httpx.Client() as http:
        replay = http.post(
            f"{pds.base_url}/xrpc/com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {old_refresh}"},
        )
    assert replay.status_code == 400
    assert replay.json() == {"error": "ExpiredToken", "message": "Token has been revoked"}


def test_app_bsky_reads_have_no_service(pds: FakePDS) -> None:
    client = client_for(pds)
    with pytest.raises(xrpc.BadRequestError) as err:
        client.app.bsky.feed.get_timeline()
    assert str(err.value) == (
        "400 InvalidRequest: No service configured for app.bsky.feed.getTimeline"
    )


def test_missing_auth_is_401(pds: FakePDS) -> None:
    with pytest.raises(xrpc.UnauthorizedError) as err:
        create(Client(pds.base_url))
    assert str(err.value) == "401 AuthMissing: Authentication Required"


def test_fake_cid_shape_and_stability() -> None:
    assert CID_RE.fullmatch(fake_cid({"a": 1}))
    assert fake_cid({"a": 1, "b": 2}) == fake_cid({"b": 2, "a": 1})
    assert fake_cid({"a": 1}) != fake_cid({"a": 2})
