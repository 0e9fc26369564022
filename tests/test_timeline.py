"""The timelines service through the gateway: posting, reading and deleting
tweets; the user, home and public timelines and their cursor paging."""
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Client
from tests.helpers import assert_error, assert_recent_utc, every_page

TWEET_KEYS = {"id", "username", "tweet", "created_at", "reply_to"}
HUGE = 2**64  # more than any SQL integer holds


def token_user(system, new_user, prefix: str = "tl") -> Client:
    """A fresh user calling with a Bearer token (no password hash check per call)."""
    basic = new_user(prefix)
    answer = basic.post("/login")
    assert answer.status_code == 200, answer.text
    client = Client(system.url, token=answer.json()["token"])
    client.username = basic.username
    return client


def post(client: Client, text: str, **extra) -> dict:
    answer = client.post("/postTweet", json={"tweet": text, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()




def ids_of(pages) -> list[int]:
    return [t["id"] for page in pages for t in page]


def user_tweets(client: Client, username: str) -> list[dict]:
    return [t for page in every_page(client, f"/userTimeline/{username}?limit=100", "tweets") for t in page]


# POST /postTweet


def test_post_tweet_answers_201_with_the_tweet_and_location(new_user):
    author = new_user("poster")
    answer = author.post("/postTweet", json={"tweet": "Hello, world!"})
    assert answer.status_code == 201, answer.text
    tweet = answer.json()
    assert set(tweet) == TWEET_KEYS
    assert isinstance(tweet["id"], int)
    assert tweet["username"] == author.username
    assert tweet["tweet"] == "Hello, world!"
    assert tweet["reply_to"] is None
    assert_recent_utc(tweet["created_at"])
    assert answer.headers["Location"] == f"/tweets/{tweet['id']}"
    stored = author.get(answer.headers["Location"])
    assert stored.status_code == 200 and stored.json() == tweet
    assert author.get(f"/users/{author.username}").json()["tweets"] == 1


def test_post_tweet_accepts_form_data(new_user):
    author = new_user("former")
    answer = author.post("/postTweet", data={"tweet": "from a form, ünïcode ✓"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["tweet"] == "from a form, ünïcode ✓"
    assert user_tweets(author, author.username) == [answer.json()]


@pytest.mark.parametrize("body", [
    {"tweet": ""}, {"tweet": "   "}, {"tweet": "\n\t \r\n"}, {"tweet": "\u3000\u2003"},
    {"tweet": "x" * 281}, {"tweet": "😀" * 281}, {"tweet": "é" * 200 + "😀" * 81},
    {}, {"tweet": None}, {"tweet": 42}, {"tweet": ["a list"]}, {"tweet": "ok", "reply_to": "abc"},
    {"tweet": "ok", "reply_to": 0}, {"tweet": "ok", "reply_to": -3}, {"tweet": "ok", "reply_to": 1.5},
    {"tweet": "ok", "reply_to": True},
])
def test_post_tweet_rejects_invalid_bodies_and_stores_nothing(system, new_user, body):
    author = token_user(system, new_user, "invalid")
    assert_error(author.post("/postTweet", json=body), 400)
    assert user_tweets(author, author.username) == []


def test_post_tweet_rejects_bad_content_types(new_user):
    author = new_user("ctype")
    assert_error(author.post("/postTweet", data="hello", headers={"Content-Type": "text/plain"}),
                 415)
    assert_error(author.post("/postTweet", data='{"tweet": ',
                             headers={"Content-Type": "application/json"}), 400)
    assert_error(author.post("/postTweet", data='["hello"]',
                             headers={"Content-Type": "application/json"}), 400)
    assert_error(author.post("/postTweet", data={"tweet": ""}), 400)
    for raw in ('{"tweet": "\\ud800 lone surrogate"}', '{"tweet": "nul \\u0000"}',
                b'{"tweet": "\xff\xfe not UTF-8"}'):
        assert_error(author.post("/postTweet", data=raw,
                                 headers={"Content-Type": "application/json"}), 400)
    assert user_tweets(author, author.username) == []


def test_post_tweet_counts_code_points(new_user):
    author = new_user("points")
    for text in ("😀" * 280, "x" * 280, "👍🏽" * 140, "\u00e9" * 279 + "!"):
        tweet = post(author, text)
        assert tweet["tweet"] == text
        assert author.get(f"/tweets/{tweet['id']}").json()["tweet"] == text
    assert author.post("/postTweet", data={"tweet": "😀" * 280}).status_code == 201


def test_post_tweet_keeps_the_text_as_sent(new_user):
    author = new_user("assent")
    text = "  spaced out\nsecond line  "
    assert author.get(f"/tweets/{post(author, text)['id']}").json()["tweet"] == text


def test_reply_to_an_existing_tweet(new_user):
    author, replier = new_user("orig"), new_user("replier")
    original = post(author, "the original")
    reply = post(replier, "a reply", reply_to=original["id"])
    assert reply["reply_to"] == original["id"]
    assert replier.get(f"/tweets/{reply['id']}").json()["reply_to"] == original["id"]
    # A numeric string (httpie's key=value) works as well, in JSON and in forms.
    as_string = post(replier, "string reply", reply_to=str(original["id"]))
    assert as_string["reply_to"] == original["id"]
    form = replier.post("/postTweet", data={"tweet": "form reply", "reply_to": original["id"]})
    assert form.status_code == 201, form.text
    assert form.json()["reply_to"] == original["id"]
    assert isinstance(form.json()["reply_to"], int)


@pytest.mark.parametrize("reply_to", [10**9, str(10**9), HUGE, str(HUGE)])
def test_reply_to_an_unknown_tweet_is_404_and_stores_nothing(system, new_user, reply_to):
    author = token_user(system, new_user, "orphan")
    assert_error(author.post("/postTweet", json={"tweet": "reply to nothing",
                                                 "reply_to": reply_to}), 404)
    assert user_tweets(author, author.username) == []


def test_reply_to_an_absurdly_long_number_is_400(system, new_user):
    """Past 4300 digits Python's int() refuses a string: still a 400, never a 500."""
    author = token_user(system, new_user, "digits")
    digits = "1" * 5000
    assert_error(author.post("/postTweet", json={"tweet": "x", "reply_to": digits}), 400)
    assert_error(author.post("/postTweet", data={"tweet": "x", "reply_to": digits}), 400)
    assert_error(author.post("/postTweet", data=f'{{"tweet": "x", "reply_to": {digits}}}',
                             headers={"Content-Type": "application/json"}), 400)
    assert user_tweets(author, author.username) == []


def test_reply_to_a_deleted_tweet_is_404(new_user):
    author = new_user("gone")
    original = post(author, "soon gone")
    assert author.delete(f"/tweets/{original['id']}").status_code == 204
    assert_error(author.post("/postTweet", json={"tweet": "late", "reply_to": original["id"]}), 404)
    assert user_tweets(author, author.username) == []


def test_post_tweet_naming_someone_else_is_403_and_stores_nothing(new_user):
    author, other = new_user("author"), new_user("victim")
    assert_error(author.post("/postTweet", json={"tweet": "impostor", "username": other.username}),
                 403)
    assert_error(author.post("/postTweet", data={"tweet": "impostor", "username": "mj"}), 403)
    assert user_tweets(author, author.username) == []
    assert user_tweets(author, other.username) == []
    assert all(t["tweet"] != "impostor" for t in user_tweets(author, "mj"))
    # Naming yourself, in any case, is fine.
    tweet = post(author, "me, myself", username=author.username.upper())
    assert tweet["username"] == author.username


# GET and DELETE /tweets/<id>


def test_get_unknown_tweet_is_404(new_user):
    reader = new_user("reader")
    for tweet_id in (0, 10**9, HUGE):
        assert_error(reader.get(f"/tweets/{tweet_id}"), 404)
    assert_error(reader.get("/tweets/not-a-number"), 404)


def test_delete_tweet(new_user):
    author, other = new_user("deleter"), new_user("bystander")
    tweet = post(author, "to be deleted")
    kept = post(author, "to be kept")

    assert_error(other.delete(f"/tweets/{tweet['id']}"), 403)
    assert other.get(f"/tweets/{tweet['id']}").json() == tweet

    answer = author.delete(f"/tweets/{tweet['id']}")
    assert answer.status_code == 204, answer.text
    assert answer.content == b"" and "Content-Type" not in answer.headers
    assert_error(author.get(f"/tweets/{tweet['id']}"), 404)
    assert_error(other.get(f"/tweets/{tweet['id']}"), 404)
    assert_error(author.delete(f"/tweets/{tweet['id']}"), 404)
    assert_error(other.delete(f"/tweets/{tweet['id']}"), 404)
    assert [t["id"] for t in user_tweets(author, author.username)] == [kept["id"]]
    assert author.get(f"/users/{author.username}").json()["tweets"] == 1
    public = author.get("/publicTimeline?limit=100").json()["tweets"]
    assert tweet["id"] not in [t["id"] for t in public]


def test_delete_unknown_tweet_is_404(new_user):
    deleter = new_user("nothing")
    for tweet_id in (10**9, HUGE):
        assert_error(deleter.delete(f"/tweets/{tweet_id}"), 404)


def test_deleting_the_original_keeps_its_replies(new_user):
    author, replier = new_user("parent"), new_user("child")
    original = post(author, "parent")
    reply = post(replier, "child", reply_to=original["id"])
    assert author.delete(f"/tweets/{original['id']}").status_code == 204
    still = replier.get(f"/tweets/{reply['id']}")
    assert still.status_code == 200
    assert still.json()["reply_to"] is None


def test_tweets_wrong_method_is_405_json_with_allow(new_user):
    client = new_user("method")
    answer = client.get("/postTweet")
    assert_error(answer, 405)
    assert "POST" in answer.headers["Allow"]
    answer = client.request("PATCH", "/tweets/1", json={"tweet": "edited"})
    assert_error(answer, 405)
    assert {"GET", "DELETE"} <= {m.strip() for m in answer.headers["Allow"].split(",")}


# Timelines


@pytest.fixture(scope="module")
def prolific(system, anonymous):
    """A user with 27 tweets (more than one default page), posted as fast as
    possible so that many share the same created_at second."""
    name = f"prolific_{uuid.uuid4().hex[:8]}"
    answer = anonymous.post("/register", json={"username": name, "email": f"{name}@example.com",
                                               "password": "prolific"})
    assert answer.status_code == 201, answer.text
    token = Client(system.url, auth=(name, "prolific")).post("/login").json()["token"]
    client = Client(system.url, token=token)
    client.username = name
    posted = [post(client, f"tweet number {i}") for i in range(27)]
    return client, posted


def test_user_timeline_is_newest_first_with_25_per_page(prolific):
    client, posted = prolific
    newest_first = [t["id"] for t in reversed(posted)]
    first = client.get(f"/userTimeline/{client.username}")
    assert first.status_code == 200, first.text
    body = first.json()
    assert [t["id"] for t in body["tweets"]] == newest_first[:25]
    assert body["tweets"][0] == posted[-1]  # the same shape as /postTweet answered
    assert body["next"] and first.links["next"]["url"] == body["next"]
    second = client.get(body["next"])
    assert [t["id"] for t in second.json()["tweets"]] == newest_first[25:]
    assert second.json()["next"] is None and "Link" not in second.headers
    stamps = [t["created_at"] for t in body["tweets"]]
    assert stamps == sorted(stamps, reverse=True)
    for tweet in body["tweets"]:
        assert set(tweet) == TWEET_KEYS and tweet["username"] == client.username
        assert_recent_utc(tweet["created_at"])


@pytest.mark.parametrize("limit", [1, 2, 4, 5, 26, 27, 100])
def test_user_timeline_pages_never_drop_or_repeat(prolific, limit):
    client, posted = prolific
    pages = every_page(client, f"/userTimeline/{client.username}?limit={limit}", "tweets")
    assert ids_of(pages) == [t["id"] for t in reversed(posted)]
    assert all(len(page) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= limit


def test_user_timeline_before_is_an_exclusive_cursor(prolific):
    client, posted = prolific
    pivot = posted[10]["id"]
    answer = client.get(f"/userTimeline/{client.username}?before={pivot}&limit=3")
    assert [t["id"] for t in answer.json()["tweets"]] == [posted[9]["id"], posted[8]["id"],
                                                          posted[7]["id"]]
    query = parse_qs(urlsplit(answer.json()["next"]).query)
    assert query["before"] == [str(posted[7]["id"])] and query["limit"] == ["3"]
    assert urlsplit(answer.json()["next"]).path == f"/userTimeline/{client.username}"
    oldest = client.get(f"/userTimeline/{client.username}?before={posted[0]['id']}")
    assert oldest.json() == {"tweets": [], "next": None}
    everything = client.get(f"/userTimeline/{client.username}?before={HUGE}&limit=100")
    assert everything.status_code == 200, everything.text
    assert len(everything.json()["tweets"]) == 27


def test_user_timeline_ignores_case_and_404s_unknown_users(prolific):
    client, posted = prolific
    upper = client.get(f"/userTimeline/{client.username.upper()}?limit=1")
    assert upper.status_code == 200
    assert upper.json()["tweets"][0]["username"] == client.username
    assert_error(client.get(f"/userTimeline/nobody_{uuid.uuid4().hex[:8]}"), 404)


@pytest.mark.parametrize("path", ["/userTimeline/mj", "/homeTimeline", "/publicTimeline"])
@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=2.5",
                                   "limit=", "before=abc", "before=-1", "before=1e3"])
def test_timelines_reject_bad_paging(mj, path, query):
    assert_error(mj.get(f"{path}?{query}"), 400)


@pytest.mark.parametrize("path", ["/userTimeline/mj", "/homeTimeline", "/publicTimeline"])
def test_timelines_accept_limits_1_and_100(mj, path):
    one = mj.get(f"{path}?limit=1")
    assert one.status_code == 200 and len(one.json()["tweets"]) == 1
    hundred = mj.get(f"{path}?limit=100")
    assert hundred.status_code == 200 and 1 <= len(hundred.json()["tweets"]) <= 100


def test_home_timeline_is_own_and_followed_tweets_only(system, new_user):
    me, friend = token_user(system, new_user, "me"), token_user(system, new_user, "friend")
    stranger, former = token_user(system, new_user, "stranger"), token_user(system, new_user, "ex")
    for who in (friend, former):
        assert me.put("/follow", json={"usernameToFollow": who.username}).status_code == 201
    expected = []
    for round_ in range(3):
        expected.append(post(me, f"mine {round_}")["id"])
        expected.append(post(friend, f"friend's {round_}")["id"])
        post(stranger, f"stranger's {round_}")
        post(former, f"former friend's {round_}")
    assert me.post("/unfollow", json={"usernameToRemove": former.username}).status_code == 200
    # The friend follows me, but that does not put their follows in my timeline.
    assert friend.put("/follow", json={"usernameToFollow": stranger.username}).status_code == 201

    pages = every_page(me, "/homeTimeline?limit=2", "tweets")
    assert ids_of(pages) == list(reversed(expected))
    assert [len(p) for p in pages] == [2, 2, 2]
    whole = me.get("/homeTimeline").json()
    assert [t["id"] for t in whole["tweets"]] == list(reversed(expected))
    assert whole["next"] is None
    authors = {t["username"] for t in whole["tweets"]}
    assert authors == {me.username, friend.username}
    # The friend's own home timeline: their tweets and the stranger's, not mine.
    theirs = {t["username"] for t in friend.get("/homeTimeline").json()["tweets"]}
    assert theirs == {friend.username, stranger.username}


def test_home_timeline_of_a_newcomer_is_empty(system, new_user):
    newcomer = token_user(system, new_user, "newcomer")
    assert newcomer.get("/homeTimeline").json() == {"tweets": [], "next": None}


def test_public_timeline_is_everyone_newest_first(system, new_user):
    one, two = token_user(system, new_user, "pub"), token_user(system, new_user, "pub")
    mine = [post(one if i % 2 else two, f"public {i}")["id"] for i in range(6)]
    top = max(mine) + 1
    pages = every_page(one, f"/publicTimeline?before={top}&limit=5", "tweets", max_pages=1000)
    ids = ids_of(pages)
    assert len(ids) == len(set(ids)), "a tweet appeared twice"
    assert ids == sorted(ids, reverse=True)
    assert [i for i in ids if i in mine] == list(reversed(mine))
    assert {"mj", "kobebryant"} <= {t["username"] for page in pages for t in page}  # the seed
    default = one.get("/publicTimeline").json()
    assert len(default["tweets"]) == 25 and default["next"]
    ids = [t["id"] for t in default["tweets"]]
    assert ids == sorted(ids, reverse=True)
    stamps = [t["created_at"] for t in default["tweets"]]
    assert stamps == sorted(stamps, reverse=True)
    assert [i for i in ids if i in mine] == list(reversed(mine))


def test_timelines_need_credentials(anonymous):
    for path in ("/userTimeline/mj", "/homeTimeline", "/publicTimeline", "/tweets/1"):
        answer = anonymous.get(path)
        assert_error(answer, 401)
        assert "WWW-Authenticate" in answer.headers
