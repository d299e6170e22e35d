"""The X API fake answers the real tweepy SDK the way X does, over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import tweepy
from fakes.x_api import (
    CREATE_TWEET,
    DUPLICATE_DETAIL,
    GET_ME,
    TOO_LONG_DETAIL,
    USER_TWEETS,
    FakeX,
)


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def client(fake: FakeX) -> Any:
    client = fake.tweepy_client()
    yield client
    client.session.close()


def test_create_tweet_answers_201_with_the_stored_tweet(fake: FakeX, client: Any) -> None:
    response = client.create_tweet(text="first post", user_auth=True)

    (stored,) = fake.tweets
    assert response.data == {
        "id": stored.id,
        "text": "first post",
        "edit_history_tweet_ids": [stored.id],
    }
    assert stored.id.isdigit() and len(stored.id) >= 18  # snowflake-like
    assert (stored.text, stored.in_reply_to, stored.order) == ("first post", None, 1)
    assert fake.requests[-1].status == 201
    assert fake.post_attempts == 1


def test_replies_record_their_parent_and_ids_grow(fake: FakeX, client: Any) -> None:
    root = client.create_tweet(text="root", user_auth=True).data["id"]
    reply = client.create_tweet(text="reply", in_reply_to_tweet_id=root, user_auth=True)

    assert fake.tweets[1].in_reply_to == root
    assert int(reply.data["id"]) > int(root)


def test_get_me_returns_the_configured_account(fake: FakeX, client: Any) -> None:
    me = client.get_me(user_auth=True).data

    assert (str(me.id), me.username, me.name) == (fake.user_id, fake.username, fake.name)


def test_user_tweets_newest_first_paginated(fake: FakeX, client: Any) -> None:
    for i in range(7):
        client.create_tweet(text=f"post {i}", user_auth=True)

    first = client.get_users_tweets(fake.user_id, max_results=5, user_auth=True)
    assert [t.text for t in first.data] == [f"post {i}" for i in (6, 5, 4, 3, 2)]
    assert first.meta["result_count"] == 5
    assert first.meta["newest_id"] == str(first.data[0].id)
    assert first.meta["oldest_id"] == str(first.data[-1].id)

    second = client.get_users_tweets(
        fake.user_id, max_results=5, pagination_token=first.meta["next_token"], user_auth=True
    )
    assert [t.text for t in second.data] == ["post 1", "post 0"]
    assert "next_token" not in second.meta


def test_user_tweets_empty_timeline_has_only_meta(fake: FakeX, client: Any) -> None:
    response = client.get_users_tweets(fake.user_id, max_results=5, user_auth=True)

    assert response.data is None
    assert response.meta == {"result_count": 0}


def test_user_tweets_rejects_max_results_out_of_range(fake: FakeX, client: Any) -> None:
    with pytest.raises(tweepy.BadRequest) as raised:
        client.get_users_tweets(fake.user_id, max_results=4, user_auth=True)

    assert "between 5 and 100" in raised.value.api_messages[0]


def test_user_tweets_shows_text_as_x_renders_it(fake: FakeX, client: Any) -> None:
    root = client.create_tweet(text="root", user_auth=True).data["id"]
    client.create_tweet(
        text="read https://example.com/a?b=1 & <enjoy>.",
        in_reply_to_tweet_id=root,
        user_auth=True,
    )

    response = client.get_users_tweets(
        fake.user_id, max_results=5, tweet_fields=["referenced_tweets"], user_auth=True
    )
    newest = response.data[0]
    # URLs become t.co links and &, <, > arrive HTML-escaped, as from X.
    assert newest.text.startswith("read https://t.co/")
    assert newest.text.endswith(" &amp; &lt;enjoy&gt;.")
    assert "example.com" not in newest.text
    assert [(r.type, str(r.id)) for r in newest.referenced_tweets] == [("replied_to", root)]
    assert response.data[1].referenced_tweets is None


def test_timeline_forbidden_answers_403_like_the_free_tier(fake: FakeX, client: Any) -> None:
    fake.timeline_forbidden = True

    with pytest.raises(tweepy.Forbidden) as raised:
        client.get_users_tweets(fake.user_id, max_results=5, user_auth=True)

    assert raised.value.response.json()["reason"] == "client-not-enrolled"
    assert "attached to a Project" in raised.value.api_messages[0]


def test_duplicate_text_is_forbidden_with_xs_message(fake: FakeX, client: Any) -> None:
    client.create_tweet(text="same words", user_auth=True)

    with pytest.raises(tweepy.Forbidden) as raised:
        client.create_tweet(text="same words", user_auth=True)

    assert raised.value.api_messages == [DUPLICATE_DETAIL]
    assert raised.value.response.json() == {
        "detail": DUPLICATE_DETAIL,
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }
    assert len(fake.tweets) == 1
    assert fake.post_attempts == 2


def test_text_over_280_code_points_is_a_bad_request(fake: FakeX, client: Any) -> None:
    client.create_tweet(text="é" * 280, user_auth=True)

    with pytest.raises(tweepy.BadRequest) as raised:
        client.create_tweet(text="x" * 281, user_auth=True)

    assert raised.value.api_messages == [TOO_LONG_DETAIL]
    assert len(fake.tweets) == 1


def test_wrong_credentials_get_401(fake: FakeX) -> None:
    for client in (fake.tweepy_client(api_key="other-key"), fake.tweepy_client(access_token="x")):
        with pytest.raises(tweepy.Unauthorized) as raised:
            client.get_me(user_auth=True)
        assert raised.value.response.json() == {
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        }
        client.session.close()


def test_tweepy_reads_default_to_an_absent_bearer_token(fake: FakeX, client: Any) -> None:
    # get_users_tweets defaults to user_auth=False and sends "Bearer None".
    with pytest.raises(tweepy.Unauthorized):
        client.get_users_tweets(fake.user_id, max_results=5)


def test_unauthorized_switch(fake: FakeX, client: Any) -> None:
    fake.unauthorized(True)
    with pytest.raises(tweepy.Unauthorized):
        client.create_tweet(text="nope", user_auth=True)
    fake.unauthorized(False)

    client.create_tweet(text="yes", user_auth=True)
    assert [t.text for t in fake.tweets] == ["yes"]


def test_rate_limit_headers_on_every_response(fake: FakeX, client: Any) -> None:
    client.get_me(user_auth=True)
    client.create_tweet(text="counted", user_auth=True)
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="counted", user_auth=True)

    for recorded in fake.requests:
        headers = recorded.response_headers
        assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
            headers
        )
        assert int(headers["x-rate-limit-reset"]) > time.time()
    posts = [r for r in fake.requests if r.endpoint == CREATE_TWEET]
    remaining = [int(r.response_headers["x-rate-limit-remaining"]) for r in posts]
    assert remaining[1] == remaining[0] - 1


def test_429_raises_too_many_requests_with_the_reset_header(fake: FakeX, client: Any) -> None:
    fake.rate_limit_next(reset_in=3600)
    before = time.time()

    with pytest.raises(tweepy.TooManyRequests) as raised:
        client.create_tweet(text="later", user_auth=True)

    headers = raised.value.response.headers
    assert raised.value.reset_time == int(headers["x-rate-limit-reset"])
    assert before + 3599 <= raised.value.reset_time <= time.time() + 3600
    assert headers["x-rate-limit-remaining"] == "0"
    assert raised.value.api_messages == ["Too Many Requests"]
    assert fake.tweets == []
    # The fault is used up: the next request goes through.
    client.create_tweet(text="later", user_auth=True)
    assert len(fake.tweets) == 1


def test_daily_cap_429_keeps_window_headers_with_room(fake: FakeX, client: Any) -> None:
    fake.rate_limit_next(reset_in=900, daily_reset_in=20_000)

    with pytest.raises(tweepy.TooManyRequests) as raised:
        client.create_tweet(text="tomorrow", user_auth=True)

    headers = raised.value.response.headers
    assert int(headers["x-rate-limit-remaining"]) > 0
    assert headers["x-user-limit-24hour-remaining"] == "0"
    assert int(headers["x-user-limit-24hour-reset"]) >= time.time() + 19_990


def test_faults_target_the_named_endpoint(fake: FakeX, client: Any) -> None:
    fake.fail_next(status=500, endpoint=GET_ME)
    fake.rate_limit_next(endpoint=USER_TWEETS)

    client.create_tweet(text="unaffected", user_auth=True)
    with pytest.raises(tweepy.TwitterServerError):
        client.get_me(user_auth=True)
    with pytest.raises(tweepy.TooManyRequests):
        client.get_users_tweets(fake.user_id, max_results=5, user_auth=True)
    client.get_me(user_auth=True)
    assert fake.count(GET_ME) == 2
    assert fake.count(USER_TWEETS) == 1


def test_503_stores_nothing_and_the_next_request_succeeds(fake: FakeX, client: Any) -> None:
    fake.fail_next(n=2, status=503)

    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError) as raised:
            client.create_tweet(text="eventually", user_auth=True)
        assert raised.value.response.status_code == 503
        assert raised.value.api_messages == ["Service Unavailable"]
    client.create_tweet(text="eventually", user_auth=True)

    assert [t.text for t in fake.tweets] == ["eventually"]
    assert fake.post_attempts == 3


def test_delay_stores_then_answers_too_late(fake: FakeX) -> None:
    client = fake.tweepy_client(timeout=0.3)
    fake.delay_next(1.0)

    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_tweet(text="slow", user_auth=True)

    assert [t.text for t in fake.tweets] == ["slow"]
    client.create_tweet(text="fast", user_auth=True)  # a new connection, answered at once
    client.session.close()


def test_drop_after_store_closes_without_an_answer(fake: FakeX, client: Any) -> None:
    fake.drop_after_store_next()

    with pytest.raises(requests.exceptions.ConnectionError):
        client.create_tweet(text="lost answer", user_auth=True)

    assert [t.text for t in fake.tweets] == ["lost answer"]
    assert fake.requests[-1].status is None
    client.create_tweet(text="answered", user_auth=True)
    assert len(fake.tweets) == 2
