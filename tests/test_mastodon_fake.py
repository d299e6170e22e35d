"""The fake Mastodon speaks the wire format Mastodon.py (2.x) expects from a real server.

Everything here goes through the real `mastodon.Mastodon` client over loopback HTTP, so these
tests also pin down the SDK behaviour the Mastodon adapter relies on: which requests it sends,
and how each failure surfaces (the exception class, and where status, text and reset live)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import mastodon
import pytest
import requests
from fakes.mastodon import (
    ACCOUNT_STATUSES,
    GET_MEDIA,
    INSTANCE_V1,
    INSTANCE_V2,
    POST_MEDIA,
    POST_MEDIA_V1,
    POST_STATUS,
    STATUS_SOURCE,
    FakeMastodon,
)
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonInternalServerError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)
from PIL import Image

LONG_URL = "https://example.com/" + "a" * 200  # counts 23, whatever its length


class Clock:
    """The fake's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeMastodon]:
    with FakeMastodon(clock=clock) as server:
        yield server


@pytest.fixture
def api(fake: FakeMastodon) -> Mastodon:
    return fake.client()


def png(size: tuple[int, int] = (4, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, "PNG")
    return buffer.getvalue()


def api_error(exc: pytest.ExceptionInfo[Any]) -> tuple[Any, ...]:
    """Mastodon.py raises ex_type('Mastodon API returned error', status, reason, error)."""
    return tuple(exc.value.args)


# -- construction, account, instance ------------------------------------------------------


def test_construction_sends_no_request(fake: FakeMastodon) -> None:
    fake.client()
    assert fake.requests == []


def test_verify_credentials_returns_the_account(fake: FakeMastodon, api: Mastodon) -> None:
    account = api.account_verify_credentials()
    assert (account["id"], account["username"], account["acct"]) == (
        fake.account_id,
        "campaign",
        "campaign",
    )
    assert account["url"] == f"{fake.base_url}/@campaign"


def test_instance_v2_carries_the_posting_limits(clock: Clock) -> None:
    with FakeMastodon(max_characters=1000, clock=clock) as fake:
        instance = fake.client().instance_v2()
    statuses = instance["configuration"]["statuses"]
    assert (statuses["max_characters"], statuses["characters_reserved_per_url"]) == (1000, 23)
    assert statuses["max_media_attachments"] == 4
    assert instance["configuration"]["media_attachments"]["description_limit"] == 1500
    assert instance["version"] == "4.3.0"


def test_version_check_mode_created_reads_both_instance_endpoints(fake: FakeMastodon) -> None:
    api = fake.client(version_check_mode="created")
    assert [r.path for r in fake.requests] == ["/api/v1/instance/", "/api/v2/instance/"]
    assert (api.mastodon_major, api.mastodon_minor, api.mastodon_api_version) == (4, 3, 2)


def test_instance_answers_even_to_a_revoked_token(fake: FakeMastodon, api: Mastodon) -> None:
    fake.unauthorized()
    assert api.instance_v1()["version"] == "4.3.0"
    with pytest.raises(MastodonUnauthorizedError):
        api.account_verify_credentials()


# -- posting --------------------------------------------------------------------------------


def test_status_post_stores_the_source_and_every_field(fake: FakeMastodon, api: Mastodon) -> None:
    status = api.status_post(
        "hello",
        visibility="unlisted",
        language="de",
        sensitive=True,
        spoiler_text="cw",
        idempotency_key="campaign-1",
    )
    [stored] = fake.statuses
    assert status["id"] == stored.id
    assert (stored.text, stored.visibility, stored.language) == ("hello", "unlisted", "de")
    assert (stored.sensitive, stored.spoiler_text, stored.idempotency_key) == (
        True,
        "cw",
        "campaign-1",
    )
    [request] = [r for r in fake.requests if r.endpoint == POST_STATUS]
    assert request.headers["Idempotency-Key"] == "campaign-1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_thread_is_linked_by_in_reply_to_id(fake: FakeMastodon, api: Mastodon) -> None:
    first = api.status_post("one")
    second = api.status_post("two", in_reply_to_id=first["id"])
    third = api.status_reply(second, "three")  # status_reply passes the id along
    assert [s.in_reply_to_id for s in fake.statuses] == [None, first["id"], second["id"]]
    assert third["in_reply_to_id"] == second["id"]
    assert int(first["id"]) < int(second["id"]) < int(third["id"])


def test_a_reply_to_an_unknown_status_is_404(fake: FakeMastodon, api: Mastodon) -> None:
    with pytest.raises(MastodonNotFoundError) as exc:
        api.status_post("orphan", in_reply_to_id="1")
    assert api_error(exc) == (
        "Mastodon API returned error",
        404,
        "Not Found",
        "The post you are trying to reply to does not appear to exist.",
    )
    assert fake.statuses == []


def test_the_same_idempotency_key_returns_the_same_status_within_the_window(
    fake: FakeMastodon, api: Mastodon, clock: Clock
) -> None:
    first = api.status_post("once", idempotency_key="k")
    clock.advance(3599)
    again = api.status_post("once", idempotency_key="k")
    assert again["id"] == first["id"]
    assert len(fake.statuses) == 1
    assert fake.count(POST_STATUS) == 2


def test_an_idempotency_key_expires_after_an_hour(
    fake: FakeMastodon, api: Mastodon, clock: Clock
) -> None:
    first = api.status_post("once", idempotency_key="k")
    clock.advance(3601)
    later = api.status_post("once", idempotency_key="k")
    assert later["id"] != first["id"]
    assert len(fake.statuses) == 2


def test_a_refused_post_does_not_remember_its_key(fake: FakeMastodon, api: Mastodon) -> None:
    with pytest.raises(MastodonAPIError):
        api.status_post("x" * 501, idempotency_key="k")
    assert api.status_post("short", idempotency_key="k")["id"] == fake.statuses[0].id


# -- the length rule ------------------------------------------------------------------------


def test_500_graphemes_with_a_long_url_pass(fake: FakeMastodon, api: Mastodon) -> None:
    text = "x" * (500 - 23 - 1) + " " + LONG_URL
    api.status_post(text)
    assert fake.statuses[0].text == text


def test_501_characters_fail_with_mastodons_message(fake: FakeMastodon, api: Mastodon) -> None:
    with pytest.raises(MastodonAPIError) as exc:
        api.status_post("x" * 501)
    assert type(exc.value) is MastodonAPIError
    assert api_error(exc) == (
        "Mastodon API returned error",
        422,
        "Unprocessable Entity",
        "Validation failed: Text character limit of 500 exceeded",
    )
    assert fake.statuses == []


def test_graphemes_not_code_points_are_counted(fake: FakeMastodon, api: Mastodon) -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 5 code points, 1 grapheme
    api.status_post(family * 500)
    with pytest.raises(MastodonAPIError):
        api.status_post(family * 501)


def test_a_remote_mention_counts_as_its_username(fake: FakeMastodon, api: Mastodon) -> None:
    mention = "@user@a.very.long.domain.example.social"  # counts as "@user", 5
    api.status_post(mention + " " + "x" * (500 - 6))
    with pytest.raises(MastodonAPIError):
        api.status_post(mention + " " + "x" * (500 - 5))


def test_spoiler_text_counts_towards_the_limit(fake: FakeMastodon, api: Mastodon) -> None:
    api.status_post("x" * 490, spoiler_text="y" * 10)
    with pytest.raises(MastodonAPIError):
        api.status_post("x" * 490, spoiler_text="y" * 11)


def test_the_limit_comes_from_the_constructor(clock: Clock) -> None:
    with (
        FakeMastodon(max_characters=20, clock=clock) as fake,
        pytest.raises(MastodonAPIError) as exc,
    ):
        fake.client().status_post("x" * 21)
    assert exc.value.args[3] == "Validation failed: Text character limit of 20 exceeded"


# -- what reads give back -------------------------------------------------------------------


def test_content_is_html_and_the_source_is_the_text(fake: FakeMastodon, api: Mastodon) -> None:
    text = "Fish & chips <3 #Food\nsee https://example.com/menu\n\n@campaign thanks"
    status = api.status_post(text)
    assert status["content"] == (
        "<p>Fish &amp; chips &lt;3 "
        f'<a href="{fake.base_url}/tags/food" class="mention hashtag" rel="tag">'
        "#<span>Food</span></a>"
        '<br />see <a href="https://example.com/menu" target="_blank" rel="nofollow noopener" '
        'translate="no"><span class="invisible">https://</span><span class="">example.com/menu'
        '</span><span class="invisible"></span></a></p>'
        f'<p><span class="h-card" translate="no"><a href="{fake.base_url}/@campaign" '
        'class="u-url mention">@<span>campaign</span></a></span> thanks</p>'
    )
    source = api.status_source(status["id"])
    assert (source["id"], source["text"], source["spoiler_text"]) == (status["id"], text, "")
    assert api.status(status["id"])["content"] == status["content"]
    assert fake.count(STATUS_SOURCE) == 1


def test_account_statuses_pages_newest_first_by_max_id(fake: FakeMastodon, api: Mastodon) -> None:
    for n in range(45):
        fake.add_existing(f"post {n}")
    me = api.me()
    pages = [api.account_statuses(me, limit=20)]
    while (page := api.fetch_next(pages[-1])) is not None:
        pages.append(page)
    assert [len(p) for p in pages] == [20, 20, 5]
    texts = [s["content"] for p in pages for s in p]
    assert texts == [f"<p>post {n}</p>" for n in reversed(range(45))]
    [first, second, _] = [r for r in fake.requests if r.endpoint == ACCOUNT_STATUSES]
    assert first.path == f"/api/v1/accounts/{fake.account_id}/statuses?limit=20"
    assert f"max_id={pages[0][-1]['id']}" in second.path
    assert 'rel="next"' in (first.response_headers["Link"])


def test_account_statuses_caps_the_limit_at_40(fake: FakeMastodon, api: Mastodon) -> None:
    for n in range(45):
        fake.add_existing(f"post {n}")
    assert len(api.account_statuses(fake.account_id, limit=80)) == 40


# -- media ----------------------------------------------------------------------------------


def test_media_post_answers_200_with_a_url_and_records_the_alt_text(
    fake: FakeMastodon, api: Mastodon
) -> None:
    media = api.media_post(png(), mime_type="image/png", description="a teal square")
    [stored] = fake.media
    assert media["id"] == stored.id and media["url"] is not None
    assert (stored.mime, stored.description, stored.processed) == (
        "image/png",
        "a teal square",
        True,
    )
    # No version told at construction: the first upload looks it up, then goes to v2.
    assert [r.endpoint for r in fake.requests] == [INSTANCE_V1, INSTANCE_V2, POST_MEDIA]
    status = api.status_post("with a picture", media_ids=[media])
    assert fake.statuses[0].media_ids == (media["id"],)
    assert status["media_attachments"][0]["description"] == "a teal square"


def test_media_202_becomes_processed_after_polls(clock: Clock) -> None:
    with FakeMastodon(media_processing_polls=2, clock=clock) as fake:
        api = fake.client()
        media = api.media_post(png(), mime_type="image/png")
        assert media["url"] is None
        with pytest.raises(MastodonAPIError) as exc:
            api.status_post("too soon", media_ids=[media])
        assert exc.value.args[1:] == (
            422,
            "Unprocessable Entity",
            "Cannot attach files that have not finished processing. Try again in a moment!",
        )
        assert api.media(media)["url"] is None  # 206
        assert api.media(media)["url"] is not None  # 200
        api.status_post("now", media_ids=[media])
        statuses = [r.status for r in fake.requests if r.endpoint in (POST_MEDIA, GET_MEDIA)]
    assert statuses == [202, 206, 200]


def test_synchronous_media_post_polls_until_processed(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    # Mastodon.py sleeps 5 s after every poll; only its own module's sleep is stubbed.
    monkeypatch.setattr(mastodon.media, "time", SimpleNamespace(sleep=lambda _s: None))
    with FakeMastodon(media_processing_polls=3, clock=clock) as fake:
        media = fake.client().media_post(png(), mime_type="image/png", synchronous=True)
        assert media["url"] is not None
        assert fake.count(GET_MEDIA) == 3
        assert fake.media[0].processed


def test_bytes_that_are_no_image_are_refused(fake: FakeMastodon, api: Mastodon) -> None:
    with pytest.raises(MastodonAPIError) as exc:
        api.media_post(b"not an image", mime_type="image/png")
    assert exc.value.args[1:] == (
        422,
        "Unprocessable Entity",
        "File type of uploaded media could not be verified",
    )
    assert fake.media == []


def test_unknown_media_ids_are_refused(fake: FakeMastodon, api: Mastodon) -> None:
    with pytest.raises(MastodonAPIError) as exc:
        api.status_post("ghost", media_ids=["42"])
    assert exc.value.args[3] == "Media 42 not found or already attached to another post"


def test_media_update_changes_the_alt_text(fake: FakeMastodon, api: Mastodon) -> None:
    media = api.media_post(png(), mime_type="image/png")
    api.media_update(media, description="later alt")
    assert fake.media[0].description == "later alt"


def test_a_failed_version_lookup_sends_uploads_to_v1(fake: FakeMastodon, api: Mastodon) -> None:
    fake.fail_next(endpoint=INSTANCE_V1)
    api.media_post(png(), mime_type="image/png")
    assert fake.count(POST_MEDIA_V1) == 1 and fake.count(POST_MEDIA) == 0


def test_a_version_given_without_version_checks_sends_uploads_to_v1(fake: FakeMastodon) -> None:
    # With version_check_mode="none" a given mastodon_version is never parsed: the SDK
    # believes 1.0.0 and skips the lookup, so the adapter must not pass one.
    api = fake.client(mastodon_version="4.3.0")
    api.media_post(png(), mime_type="image/png")
    assert [r.endpoint for r in fake.requests] == [POST_MEDIA_V1]


def test_synchronous_media_post_hides_a_poll_failure(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    monkeypatch.setattr(mastodon.media, "time", SimpleNamespace(sleep=lambda _s: None))
    with FakeMastodon(media_processing_polls=2, clock=clock) as fake:
        fake.fail_next(endpoint=GET_MEDIA)
        with pytest.raises(MastodonAPIError) as exc:
            fake.client().media_post(png(), mime_type="image/png", synchronous=True)
    assert exc.value.args == ("Attachment could not be processed",)
    assert isinstance(exc.value.__context__, MastodonServiceUnavailableError)


# -- faults ---------------------------------------------------------------------------------


def test_rate_limit_headers_on_every_answer(fake: FakeMastodon, api: Mastodon) -> None:
    api.account_verify_credentials()
    with pytest.raises(MastodonNotFoundError):
        api.status("1")
    for request in fake.requests:
        headers = request.response_headers
        assert headers["X-RateLimit-Limit"] == "300"
        assert headers["X-RateLimit-Reset"].endswith("Z") and "T" in headers["X-RateLimit-Reset"]
    assert [r.response_headers["X-RateLimit-Remaining"] for r in fake.requests] == ["299", "298"]
    assert api.ratelimit_remaining == 298


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, MastodonInternalServerError),
        (503, MastodonServiceUnavailableError),
        (507, MastodonServerError),
    ],
)
def test_5xx_raises_a_server_error_and_stores_nothing(
    fake: FakeMastodon, api: Mastodon, status: int, error: type[Exception]
) -> None:
    fake.fail_next(status=status)
    with pytest.raises(error) as exc:
        api.status_post("hello")
    assert type(exc.value) is error and exc.value.args[1] == status
    assert fake.statuses == []
    api.status_post("hello")
    assert len(fake.statuses) == 1


def test_fail_next_422_carries_its_text(fake: FakeMastodon, api: Mastodon) -> None:
    fake.fail_next(status=422)
    with pytest.raises(MastodonAPIError) as exc:
        api.status_post("hello")
    assert api_error(exc) == (
        "Mastodon API returned error",
        422,
        "Unprocessable Entity",
        "Unprocessable Entity",
    )


def test_429_raises_ratelimit_error_and_the_client_keeps_the_reset(
    fake: FakeMastodon, api: Mastodon, clock: Clock
) -> None:
    clock.advance(7200)  # the fake's clock runs ahead; its Date header lets the SDK correct
    fake.rate_limit_next(reset_in=120)
    with pytest.raises(MastodonRatelimitError) as exc:
        api.status_post("hello")
    assert exc.value.args == ("Hit rate limit.",)
    assert not isinstance(exc.value, MastodonAPIError)
    assert api.ratelimit_remaining == 0
    assert api.ratelimit_reset is not None
    assert 118 <= api.ratelimit_reset - time.time() <= 122
    [request] = fake.requests
    assert request.status == 429 and request.response_headers["X-RateLimit-Remaining"] == "0"
    assert fake.statuses == []


def test_faults_target_the_named_endpoint(fake: FakeMastodon, api: Mastodon) -> None:
    fake.fail_next(endpoint=ACCOUNT_STATUSES)
    api.status_post("unaffected")
    with pytest.raises(MastodonServiceUnavailableError):
        api.account_statuses(fake.account_id)
    assert len(api.account_statuses(fake.account_id)) == 1


def test_a_delayed_answer_times_out_after_the_status_was_stored(fake: FakeMastodon) -> None:
    api = fake.client(request_timeout=0.2)
    fake.delay_next(1.0)
    with pytest.raises(MastodonNetworkError) as exc:
        api.status_post("slow", idempotency_key="k")
    assert isinstance(exc.value.__context__, requests.exceptions.ReadTimeout)
    assert str(exc.value).startswith("Could not complete request: ")
    assert [s.text for s in fake.statuses] == ["slow"]
    # The retry with the same key is answered with the status already stored.
    assert api.status_post("slow", idempotency_key="k")["id"] == fake.statuses[0].id
    assert len(fake.statuses) == 1


def test_a_dropped_answer_raises_network_error_after_the_status_was_stored(
    fake: FakeMastodon, api: Mastodon
) -> None:
    fake.drop_after_store_next()
    with pytest.raises(MastodonNetworkError) as exc:
        api.status_post("lost answer", idempotency_key="k")
    assert isinstance(exc.value.__context__, requests.exceptions.ConnectionError)
    assert [s.text for s in fake.statuses] == ["lost answer"]
    assert fake.requests[-1].status is None
    assert api.status_post("lost answer", idempotency_key="k")["id"] == fake.statuses[0].id
    assert len(fake.statuses) == 1


def test_unauthorized_answers_401_with_doorkeepers_message(
    fake: FakeMastodon, api: Mastodon
) -> None:
    fake.unauthorized()
    with pytest.raises(MastodonUnauthorizedError) as exc:
        api.status_post("hello")
    assert api_error(exc) == (
        "Mastodon API returned error",
        401,
        "Unauthorized",
        "The access token is invalid",
    )
    fake.unauthorized(False)
    api.status_post("hello")


def test_a_wrong_token_is_refused(fake: FakeMastodon) -> None:
    with pytest.raises(MastodonUnauthorizedError):
        fake.client(access_token="wrong").account_verify_credentials()
