"""The users service through the gateway: registration, profiles, follows and
the follower/following lists, as a client of the public API sees them."""
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Client
from tests.helpers import assert_error, assert_recent_utc, every_page

USER_KEYS = {"id", "username", "created_at", "followers", "following", "tweets"}


def fresh_name(prefix: str = "reg") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def register(anonymous: Client, username: str, email: str | None = None,
             password: str = "secret-pass", form: bool = False):
    fields = {"username": username,
              "email": f"{username}@example.com" if email is None else email,
              "password": password}
    return anonymous.post("/register", **({"data": fields} if form else {"json": fields}))


def assert_free(anonymous: Client, username: str) -> None:
    """Nothing was stored under this username: registering it now works."""
    answer = register(anonymous, username, f"{username}@free.example.com")
    assert answer.status_code == 201, answer.text




# POST /register


def test_register_answers_201_with_the_user_and_location(system, anonymous):
    name = fresh_name("MixedCase")
    password = "Very-secret-pass-42"
    answer = register(anonymous, name, password=password)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"/users/{name}"
    user = answer.json()
    assert set(user) == USER_KEYS | {"email"}
    assert user["username"] == name and user["email"] == f"{name}@example.com".lower()
    assert isinstance(user["id"], int)
    assert (user["followers"], user["following"], user["tweets"]) == (0, 0, 0)
    assert_recent_utc(user["created_at"])
    # Never the password or a hash of it, under any key.
    assert password not in answer.text
    assert not re.search(r"scrypt|pbkdf2|argon|bcrypt|\$", answer.text, re.I), answer.text
    assert "password" not in answer.text.lower()
    # The Location names the stored user, and the password works.
    me = Client(system.url, auth=(name, password))
    stored = me.get(answer.headers["Location"])
    assert stored.status_code == 200, stored.text
    assert stored.json() == user


def test_register_accepts_form_data(system, anonymous):
    name = fresh_name("form")
    answer = register(anonymous, name, password="form-pass", form=True)
    assert answer.status_code == 201, answer.text
    assert answer.json()["username"] == name
    assert answer.headers["Location"] == f"/users/{name}"
    assert Client(system.url, auth=(name, "form-pass")).get(f"/users/{name}").status_code == 200


def test_register_accepts_multipart_form_data(system, anonymous):
    name = fresh_name("multi")
    answer = anonymous.post("/register", files={
        "username": (None, name), "email": (None, f"{name}@example.com"),
        "password": (None, "multi-pass")})
    assert answer.status_code == 201, answer.text
    assert answer.json()["username"] == name
    assert Client(system.url, auth=(name, "multi-pass")).get(f"/users/{name}").status_code == 200


def test_register_boundaries_pass(anonymous):
    name = ("b" + uuid.uuid4().hex * 2)[:30]
    answer = register(anonymous, name, password="four")
    assert answer.status_code == 201, answer.text
    assert answer.json()["username"] == name


def test_register_taken_username_is_409_ignoring_case(anonymous):
    name = fresh_name("Taken")
    assert register(anonymous, name).status_code == 201
    other_email = f"other_{name}@example.com"
    for spelling in (name, name.upper(), name.lower()):
        answer = register(anonymous, spelling, other_email)
        assert_error(answer, 409)
    # The rejected attempts stored nothing: their email is still free.
    assert register(anonymous, fresh_name("owner"), other_email).status_code == 201


def test_register_taken_email_is_409_ignoring_case(anonymous):
    name = fresh_name("mail")
    assert register(anonymous, name, f"{name}@Example.com").status_code == 201
    second = fresh_name("second")
    answer = register(anonymous, second, f"{name.upper()}@EXAMPLE.COM")
    assert_error(answer, 409)
    assert_free(anonymous, second)


def test_register_taken_non_ascii_email_is_409_ignoring_case(anonymous):
    local = f"Ümlaut.Øre_{uuid.uuid4().hex[:8]}"
    first = register(anonymous, fresh_name("intl"), f"{local}@Bücher.example")
    assert first.status_code == 201, first.text
    assert first.json()["email"] == f"{local}@Bücher.example".lower()  # stored in lower case
    for spelling in (local.lower(), local.upper()):
        second = fresh_name("intl")
        assert_error(register(anonymous, second, f"{spelling}@bücher.EXAMPLE"), 409)
        assert_free(anonymous, second)


def test_concurrent_registrations_of_one_name_store_one_user(system):
    name = fresh_name("race")
    clients = [Client(system.url) for _ in range(4)]  # one connection each

    def attempt(i: int):
        return register(clients[i], name.upper() if i % 2 else name, f"{name}.{i}@example.com")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(attempt, range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409)
    # The other three emails were not stored.
    winner = next(a for a in answers if a.status_code == 201).json()["email"]
    losers = [f"{name}.{i}@example.com" for i in range(4) if f"{name}.{i}@example.com" != winner]
    assert len(losers) == 3
    assert register(clients[0], fresh_name("after"), losers[0]).status_code == 201


@pytest.mark.parametrize("username", [
    "has space", "has-dash", "dot.ted", "ünïcode", "emoji😀", "", "   ", "a" * 31, "x" * 300,
])
def test_register_rejects_invalid_usernames(anonymous, username):
    answer = register(anonymous, username, f"{uuid.uuid4().hex}@example.com")
    assert_error(answer, 400)


def test_register_rejects_non_string_username(anonymous):
    answer = anonymous.post("/register", json={"username": 12345, "email": "n@example.com",
                                               "password": "secret"})
    assert_error(answer, 400)


def test_register_length_31_stores_nothing(anonymous):
    name = ("l" + uuid.uuid4().hex * 2)[:31]
    assert_error(register(anonymous, name), 400)
    # Not silently truncated and stored under the first 30 characters either.
    assert_free(anonymous, name[:30])


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "two@@example.com", "sp ace@example.com",
                                   "", "@example.com"])
def test_register_rejects_invalid_emails_and_stores_nothing(anonymous, email):
    name = fresh_name("email")
    assert_error(register(anonymous, name, email), 400)
    assert_free(anonymous, name)


@pytest.mark.parametrize("password", ["abc", "", "é€x"])
def test_register_rejects_short_passwords_and_stores_nothing(anonymous, password):
    name = fresh_name("pw")
    assert_error(register(anonymous, name, password=password), 400)
    assert_free(anonymous, name)


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_register_requires_every_field(anonymous, missing):
    name = fresh_name("miss")
    fields = {"username": name, "email": f"{name}@example.com", "password": "secret"}
    del fields[missing]
    assert_error(anonymous.post("/register", json=fields), 400)
    if missing != "username":
        assert_free(anonymous, name)


def test_register_text_plain_is_415_and_stores_nothing(anonymous):
    name = fresh_name("plain")
    answer = anonymous.post("/register", data=(
        f'{{"username": "{name}", "email": "{name}@example.com", "password": "secret"}}'),
        headers={"Content-Type": "text/plain"})
    assert_error(answer, 415)
    assert_free(anonymous, name)


def test_register_malformed_json_is_400_and_stores_nothing(anonymous):
    name = fresh_name("bad")
    answer = anonymous.post("/register", data=f'{{"username": "{name}", "email": ',
                            headers={"Content-Type": "application/json"})
    assert_error(answer, 400)
    assert_free(anonymous, name)


@pytest.mark.parametrize("document", ['["a", "b", "c"]', "null", '"just a string"', "42",
                                      b"\xff\xfe{}"])
def test_register_json_that_is_not_an_object_is_400(anonymous, document):
    answer = anonymous.post("/register", data=document,
                            headers={"Content-Type": "application/json"})
    assert_error(answer, 400)


def test_register_wrong_method_is_405_json_with_allow(anonymous):
    answer = anonymous.get("/register")
    assert_error(answer, 405)
    assert "POST" in answer.headers["Allow"]


# GET /users/<username>


def test_profile_counts_followers_following_and_tweets(new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    for fan in (bob, carol):
        assert fan.put("/follow", json={"usernameToFollow": alice.username}).status_code == 201
    assert alice.put("/follow", json={"usernameToFollow": bob.username}).status_code == 201
    for text in ("one", "two", "three"):
        assert alice.post("/postTweet", json={"tweet": text}).status_code == 201

    seen_by_bob = bob.get(f"/users/{alice.username}")
    assert seen_by_bob.status_code == 200, seen_by_bob.text
    profile = seen_by_bob.json()
    assert set(profile) == USER_KEYS  # no email for anyone but the owner
    assert (profile["followers"], profile["following"], profile["tweets"]) == (2, 1, 3)
    assert profile["username"] == alice.username

    own = alice.get(f"/users/{alice.username}").json()
    assert own["email"] == f"{alice.username}@example.com"
    assert {k: v for k, v in own.items() if k != "email"} == profile

    assert bob.get(f"/users/{bob.username}").json()["following"] == 1
    assert carol.get(f"/users/{carol.username}").json()["followers"] == 0


def test_profile_path_ignores_case_and_answers_with_registered_spelling(new_user):
    viewer = new_user("Viewer")
    answer = viewer.get(f"/users/{viewer.username.upper()}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == viewer.username
    assert "email" in answer.json()  # still its owner, whatever the spelling


def test_profile_of_unknown_user_is_404(new_user):
    assert_error(new_user().get(f"/users/{fresh_name('nobody')}"), 404)


def test_profile_needs_credentials(anonymous):
    answer = anonymous.get("/users/mj")
    assert_error(answer, 401)
    assert "WWW-Authenticate" in answer.headers


# /follow and /unfollow


def following_names(client: Client, username: str) -> list[str]:
    return [e["username"] for page in every_page(client, f"/following/{username}", "following")
            for e in page]


def follower_names(client: Client, username: str) -> list[str]:
    return [e["username"] for page in every_page(client, f"/followers/{username}", "followers")
            for e in page]


@pytest.mark.parametrize("first, again", [("put", "put"), ("post", "post"), ("put", "post")])
def test_follow_is_201_new_then_200_again(new_user, first, again):
    fan, star = new_user("fan"), new_user("star")
    answer = getattr(fan, first)("/follow", json={"usernameToFollow": star.username})
    assert answer.status_code == 201, answer.text
    assert answer.json()["follower"] == fan.username
    assert answer.json()["following"] == star.username
    repeated = getattr(fan, again)("/follow", json={"usernameToFollow": star.username})
    assert repeated.status_code == 200, repeated.text
    assert following_names(fan, fan.username) == [star.username]
    assert follower_names(fan, star.username) == [fan.username]


def test_concurrent_follows_of_one_pair_store_one_follow(system, new_user):
    fan, star = new_user("fan"), new_user("star")
    token = fan.post("/login").json()["token"]
    clients = [Client(system.url, token=token) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(
            lambda c: c.put("/follow", json={"usernameToFollow": star.username}), clients))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text for a in answers]
    assert follower_names(fan, star.username) == [fan.username]
    assert fan.get(f"/users/{star.username}").json()["followers"] == 1


def test_follow_accepts_form_data_and_any_case(new_user):
    fan, star = new_user("fan"), new_user("Star")
    answer = fan.post("/follow", data={"usernameToFollow": star.username.swapcase()})
    assert answer.status_code == 201, answer.text
    assert answer.json()["following"] == star.username  # the registered spelling
    assert following_names(fan, fan.username) == [star.username]
    again = fan.put("/follow", data={"usernameToFollow": star.username.upper()})
    assert again.status_code == 200, again.text


def test_follow_unknown_user_is_404(new_user):
    fan = new_user("fan")
    for ghost in (fresh_name("ghost"), "g" * 31, "g" * 5000):  # longer than any username
        assert_error(fan.put("/follow", json={"usernameToFollow": ghost}), 404)
        assert_error(fan.post("/unfollow", json={"usernameToRemove": ghost}), 404)
    assert following_names(fan, fan.username) == []


def test_follow_naming_a_long_unknown_actor_is_403(new_user):
    fan, star = new_user("fan"), new_user("star")
    answer = fan.put("/follow", json={"username": "u" * 500, "usernameToFollow": star.username})
    assert_error(answer, 403)
    assert follower_names(fan, star.username) == []


def test_follow_yourself_is_400(new_user):
    fan = new_user("Self")
    for spelling in (fan.username, fan.username.lower()):
        assert_error(fan.post("/follow", json={"usernameToFollow": spelling}), 400)
    assert following_names(fan, fan.username) == []
    assert follower_names(fan, fan.username) == []


def test_follow_without_target_is_400(new_user):
    fan = new_user("fan")
    assert_error(fan.post("/follow", json={}), 400)
    assert_error(fan.post("/follow", json={"usernameToFollow": "   "}), 400)
    assert_error(fan.post("/follow", data="usernameToFollow=x",
                          headers={"Content-Type": "text/plain"}), 415)


def test_follow_naming_someone_else_is_403_and_stores_nothing(new_user):
    fan, other, star = new_user("fan"), new_user("other"), new_user("star")
    answer = fan.put("/follow", json={"username": other.username,
                                      "usernameToFollow": star.username})
    assert_error(answer, 403)
    answer = fan.post("/follow", data={"username": other.username,
                                       "usernameToFollow": star.username})
    assert_error(answer, 403)
    assert follower_names(fan, star.username) == []
    assert following_names(fan, other.username) == []
    assert following_names(fan, fan.username) == []
    # Naming yourself, in any case, is fine.
    answer = fan.put("/follow", json={"username": fan.username.upper(),
                                      "usernameToFollow": star.username})
    assert answer.status_code == 201, answer.text
    assert follower_names(fan, star.username) == [fan.username]


def test_unfollow_is_200_also_when_not_following(new_user):
    fan, star = new_user("fan"), new_user("star")
    assert fan.put("/follow", json={"usernameToFollow": star.username}).status_code == 201
    answer = fan.post("/unfollow", json={"usernameToRemove": star.username.upper()})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"follower": fan.username, "unfollowed": star.username,
                             "was_following": True}
    assert following_names(fan, fan.username) == []
    assert follower_names(fan, star.username) == []
    assert fan.get(f"/users/{star.username}").json()["followers"] == 0
    again = fan.post("/unfollow", data={"usernameToRemove": star.username})
    assert again.status_code == 200, again.text
    assert again.json()["was_following"] is False
    # Following again is new again.
    assert fan.put("/follow", json={"usernameToFollow": star.username}).status_code == 201


def test_unfollow_unknown_user_is_404(new_user):
    assert_error(new_user().post("/unfollow", json={"usernameToRemove": fresh_name("ghost")}),
                 404)


def test_unfollow_naming_someone_else_is_403_and_removes_nothing(new_user):
    fan, other, star = new_user("fan"), new_user("other"), new_user("star")
    assert other.put("/follow", json={"usernameToFollow": star.username}).status_code == 201
    answer = fan.post("/unfollow", json={"username": other.username,
                                         "usernameToRemove": star.username})
    assert_error(answer, 403)
    assert follower_names(fan, star.username) == [other.username]


def test_follow_wrong_method_is_405_json_with_allow(new_user):
    answer = new_user().delete("/follow")
    assert_error(answer, 405)
    assert {"PUT", "POST"} <= {m.strip() for m in answer.headers["Allow"].split(",")}


# GET /followers/<username> and /following/<username>


@pytest.fixture(scope="module")
def network(system, anonymous):
    """A hub followed by five users, and following those five, in a known order."""
    password = "network-pass"
    names = [fresh_name(f"n{i}") for i in range(6)]
    for name in names:
        assert register(anonymous, name, password=password).status_code == 201
    clients = []
    for name in names:
        login = Client(system.url, auth=(name, password)).post("/login")
        assert login.status_code == 200, login.text
        clients.append(Client(system.url, token=login.json()["token"]))
    hub, *others = clients
    hub.username = names[0]
    for name, client in zip(names[1:], others):
        client.username = name
        assert client.put("/follow", json={"usernameToFollow": names[0]}).status_code == 201
        assert hub.put("/follow", json={"usernameToFollow": name}).status_code == 201
    return hub, others


@pytest.mark.parametrize("which", ["followers", "following"])
def test_follow_lists_page_without_drops_or_repeats(network, which):
    hub, others = network
    newest_first = [c.username for c in reversed(others)]
    pages = every_page(hub, f"/{which}/{hub.username}?limit=2", which)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e["username"] for p in pages for e in p] == newest_first
    for entry in (e for p in pages for e in p):
        assert set(entry) == {"username", "since"}
        assert_recent_utc(entry["since"])
    # One page holding everything has no next page.
    whole = hub.get(f"/{which}/{hub.username}")
    assert whole.status_code == 200
    assert whole.json()["next"] is None and "Link" not in whole.headers
    assert [e["username"] for e in whole.json()[which]] == newest_first
    # Exactly `limit` items left: no next page either.
    exact = hub.get(f"/{which}/{hub.username}?limit=5")
    assert exact.json()["next"] is None and "Link" not in exact.headers
    assert len(exact.json()[which]) == 5


@pytest.mark.parametrize("which", ["followers", "following"])
def test_follow_lists_before_cursor_is_exclusive(network, which):
    hub, others = network
    first = hub.get(f"/{which}/{hub.username}?limit=2")
    next_url = first.json()["next"]
    assert next_url.startswith(f"/{which}/{hub.username}?")
    cursor = dict(p.split("=") for p in next_url.split("?", 1)[1].split("&"))["before"]
    second = hub.get(f"/{which}/{hub.username}?before={cursor}&limit=2")
    assert second.status_code == 200
    assert second.json() == hub.get(next_url).json()
    seen = {e["username"] for e in first.json()[which]}
    assert not seen & {e["username"] for e in second.json()[which]}
    # A cursor beyond any id is simply "from the newest".
    beyond = hub.get(f"/{which}/{hub.username}?before={2**64}")
    assert beyond.status_code == 200, beyond.text
    assert beyond.json() == hub.get(f"/{which}/{hub.username}").json()
    assert hub.get(f"/{which}/{hub.username}?before=0").json() == {which: [], "next": None}


@pytest.mark.parametrize("which", ["followers", "following"])
@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=",
                                   "before=abc", "before=-5"])
def test_follow_lists_reject_bad_paging(network, which, query):
    hub, _ = network
    assert_error(hub.get(f"/{which}/{hub.username}?{query}"), 400)


@pytest.mark.parametrize("which", ["followers", "following"])
def test_follow_lists_accept_limits_1_and_100(network, which):
    hub, _ = network
    one = hub.get(f"/{which}/{hub.username}?limit=1")
    assert one.status_code == 200 and len(one.json()[which]) == 1 and one.json()["next"]
    hundred = hub.get(f"/{which}/{hub.username}?limit=100")
    assert hundred.status_code == 200 and len(hundred.json()[which]) == 5


@pytest.mark.parametrize("which", ["followers", "following"])
def test_follow_lists_ignore_case_and_404_unknown(network, which):
    hub, _ = network
    upper = hub.get(f"/{which}/{hub.username.upper()}")
    assert upper.status_code == 200
    assert len(upper.json()[which]) == 5
    assert_error(hub.get(f"/{which}/{fresh_name('ghost')}"), 404)


def test_seed_follows_are_listed(mj):
    following = {e["username"] for page in every_page(mj, "/following/mj", "following") for e in page}
    assert {"kobebryant", "jordan", "lebron"} <= following
    followers = {e["username"] for page in every_page(mj, "/followers/MJ", "followers") for e in page}
    assert {"kobebryant", "jordan", "lebron", "magic"} <= followers
