"""Hostile and odd input: every bad value is a 400 JSON that stores nothing,
and every good one, however strange, comes back byte for byte."""
import json

import pytest

from tests.helpers import assert_error

LONE_SURROGATE = '"bad \\ud800 text"'  # valid JSON syntax, not valid Unicode

BAD_TWEETS = {
    "number": 42, "list": ["a"], "object": {"a": 1}, "true": True, "null-is-missing": None,
    "empty": "", "spaces": "   \n\t", "nul": "a\x00b", "too long": "x" * 281,
}


def raw_post(client, path: str, body: str):
    return client.post(path, data=body.encode(), headers={"Content-Type": "application/json"})


def assert_400(answer):
    return assert_error(answer, 400)


@pytest.mark.parametrize("value", BAD_TWEETS.values(), ids=BAD_TWEETS.keys())
def test_bad_tweets_are_400_and_store_nothing(new_user, value):
    author = new_user("hostile")
    assert_400(author.post("/postTweet", json={"tweet": value}))
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []


def test_lone_surrogates_are_400_everywhere(new_user, anonymous):
    author, friend = new_user("surrogate"), new_user("surrogate")
    assert_400(raw_post(author, "/postTweet", '{"tweet": %s}' % LONE_SURROGATE))
    assert_400(raw_post(author, "/sendmsg", '{"to": "%s", "msg": %s}' % (friend.username, LONE_SURROGATE)))
    assert_400(raw_post(anonymous, "/register",
                        '{"username": "surr", "email": "s@example.com", "password": %s}' % LONE_SURROGATE))
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []
    assert friend.get(f"/listmsg/{friend.username}").json()["messages"] == []


@pytest.mark.parametrize("body", [
    {"to": 7, "msg": "hi"}, {"to": ["x"], "msg": "hi"}, {"msg": "no recipient"},
    {"to": "{friend}", "msg": 3}, {"to": "{friend}", "msg": "x" * 1001},
    {"to": "{friend}", "msg": "hi", "quick-replies": "yes"},
    {"to": "{friend}", "msg": "hi", "quick-replies": [1, 2]},
    {"to": "{friend}", "msg": "hi", "quick-replies": {"a": "b"}},
])
def test_bad_messages_are_400_and_store_nothing(new_user, body):
    sender, friend = new_user("badmsg"), new_user("badmsg")
    body = {k: (v.format(friend=friend.username) if isinstance(v, str) else v) for k, v in body.items()}
    assert_400(sender.post("/sendmsg", json=body))
    assert friend.get(f"/listmsg/{friend.username}").json()["messages"] == []


@pytest.mark.parametrize("value", ["abc", "1.5", True, [24], -3, 0])
def test_bad_numbers_are_400(mj, value):
    assert_400(mj.post("/replyto", json={"reply-to-id": value, "msg": "hello"}))


@pytest.mark.parametrize("body", ["{", "[1, 2]", '"just a string"', "null", "\xff\xfe"])
def test_malformed_or_non_object_json_is_400(mj, body):
    answer = mj.post("/postTweet", data=body.encode("latin-1"), headers={"Content-Type": "application/json"})
    assert_400(answer)


def test_other_content_types_are_415(mj):
    answer = mj.post("/postTweet", data=b"tweet=hi", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"


STRANGE = [
    "👩🏽‍💻 codes; 👍🏿 thumbs; 🇯🇵 flag",
    "שלום עולם — مرحبا بالعالم",
    "quotes: \" ' ` « » “ ” and a \\ backslash",
    "'; DROP TABLE tweets; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "line one\nline two\ttabbed",
]


@pytest.mark.parametrize("text", STRANGE)
def test_strange_text_round_trips_exactly(new_user, text):
    author, friend = new_user("strange"), new_user("strange")
    posted = author.post("/postTweet", json={"tweet": text})
    assert posted.status_code == 201
    assert author.get(f"/tweets/{posted.json()['id']}").json()["tweet"] == text
    sent = author.post("/sendmsg", json={"to": friend.username, "msg": text, "quick-replies": [text[:100]]})
    assert sent.status_code == 201
    stored = friend.get(f"/listmsg/{friend.username}").json()["messages"][0]
    assert stored["msg"] == text and stored["quick_replies"] == [text[:100]]
    # The raw bytes on the wire decode to the same code points.
    assert json.loads(author.get(f"/tweets/{posted.json()['id']}").content)["tweet"] == text


def test_sql_looking_username_is_just_invalid(anonymous):
    assert_400(anonymous.post("/register", json={
        "username": "x' OR '1'='1", "email": "sql@example.com", "password": "pass1234"}))
    assert anonymous.get("/health").status_code == 200


def test_chunked_body_over_the_limit_is_413_and_not_stored_cut(new_user):
    author = new_user("bigchunk")

    def chunks():
        yield b'{"tweet": "x"}'
        for _ in range(24):
            yield b" " * 65536  # 1.5 MiB of trailing whitespace: valid JSON if cut anywhere
    answer = author.post("/postTweet", data=chunks(), headers={"Content-Type": "application/json"})
    assert_error(answer, 413)
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []


def test_form_data_that_is_not_utf8_is_400(new_user):
    author = new_user("latin")
    answer = author.post("/postTweet", data=b"tweet=%FF%FE",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_400(answer)
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []
    ok = author.post("/postTweet", data={"tweet": "café ☕"})
    assert ok.status_code == 201 and ok.json()["tweet"] == "café ☕"


@pytest.mark.parametrize("limit", ["+5x", " 5", "%D9%A3", "5 "])
def test_numbers_are_ascii_digits_only(mj, limit):
    assert_400(mj.get(f"/publicTimeline?limit={limit}"))


@pytest.mark.parametrize("path, body", [
    ("/sendmsg", {"to": "mj", "msg": "hi", "quick_replies": ["a", "b"]}),
    ("/postTweet", {"tweet": "hi", "replyTo": 1}),
    ("/register", {"username": "typo_user", "email": "t@example.com", "password": "pass1234", "pasword": "x"}),
])
def test_unknown_fields_are_400_not_ignored(new_user, path, body):
    author = new_user("typo")
    answer = author.post(path, json=body)
    assert "Unknown field" in assert_400(answer)["message"]
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []


@pytest.mark.parametrize("body, content_type", [
    ('{"tweet": "first", "tweet": "second"}', "application/json"),
    ("tweet=first&tweet=second", "application/x-www-form-urlencoded"),
])
def test_a_field_sent_twice_is_400_and_nothing_stored(new_user, body, content_type):
    author = new_user("twice")
    answer = author.post("/postTweet", data=body.encode(), headers={"Content-Type": content_type})
    assert "more than once" in assert_400(answer)["message"]
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []


def test_quick_replies_may_repeat_in_a_form_as_the_list_they_are(new_user):
    sender, recipient = new_user("qr_from"), new_user("qr_to")
    answer = sender.post("/sendmsg", data=f"to={recipient.username}&msg=pick&quick-replies=yes&quick-replies=no",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["quick_replies"] == ["yes", "no"]


def test_answers_without_a_body_have_no_media_type(mj):
    answer = mj.request("OPTIONS", "/publicTimeline")
    assert answer.status_code == 200 and answer.content == b""
    assert "GET" in answer.headers["Allow"] and "Content-Type" not in answer.headers


def test_a_query_parameter_sent_twice_is_400(mj):
    assert "more than once" in assert_400(mj.get("/publicTimeline?limit=1&limit=2"))["message"]
    assert "more than once" in assert_400(mj.get("/publicTimeline?before=9&before=5"))["message"]
