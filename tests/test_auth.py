"""Authentication through the gateway: /login and its tokens, Basic
credentials (UTF-8, split at the first colon), and every way to be refused."""
import base64
import time
import uuid

import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.conftest import Client
from tests.helpers import assert_error

SALT = "microblog-bearer-token"  # microblog/tokens.py: used only to forge tokens here


def assert_unauthorized(answer) -> None:
    assert_error(answer, 401)
    challenge = answer.headers.get("WWW-Authenticate", "")
    assert "Basic" in challenge and "Bearer" in challenge, answer.headers


def basic_header(username: str, password: str) -> dict:
    """HTTP Basic in UTF-8 (requests' auth tuple would encode latin-1)."""
    raw = f"{username}:{password}".encode("utf-8")
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(client: Client, **kwargs):
    answer = client.post("/login", **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def register(anonymous: Client, username: str, password: str) -> None:
    answer = anonymous.post("/register", json={
        "username": username, "email": f"{username}@example.com", "password": password})
    assert answer.status_code == 201, answer.text


def whoami(system, headers: dict) -> str:
    """Who the gateway says the caller is: the author of a tweet they post."""
    answer = requests.post(system.url + "/postTweet", json={"tweet": f"who am I {uuid.uuid4()}"},
                           headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()["username"]


# POST /login


def test_login_with_basic_returns_a_token(new_user):
    user = new_user("login")
    answer = user.post("/login")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"username", "token", "expires_in"}
    assert body["username"] == user.username
    assert isinstance(body["token"], str) and len(body["token"]) > 20
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert user.password not in body["token"]


def test_the_token_works_as_bearer_on_other_routes(system, new_user):
    user = new_user("bearer")
    token = login(user)["token"]
    as_bearer = Client(system.url, token=token)
    profile = as_bearer.get(f"/users/{user.username}")
    assert profile.status_code == 200, profile.text
    assert "email" in profile.json()  # the token made the caller its owner
    posted = as_bearer.post("/postTweet", json={"tweet": "posted with a token"})
    assert posted.status_code == 201, posted.text
    assert posted.json()["username"] == user.username
    home = as_bearer.get("/homeTimeline")
    assert home.status_code == 200
    assert home.json()["tweets"][0]["id"] == posted.json()["id"]
    assert as_bearer.put("/follow", json={"usernameToFollow": "mj"}).status_code == 201
    # A token also logs in again, for a fresh token of the same user.
    again = as_bearer.post("/login")
    assert again.status_code == 200, again.text
    assert again.json()["username"] == user.username


def test_login_seed_example(mj):
    body = login(mj, data={"username": "mj", "password": "bulls"})
    assert body["username"] == "mj"
    body = login(mj, json={"username": "mj", "password": "bulls"})
    assert body["username"] == "mj"


def test_login_body_that_matches_the_credentials_is_fine(system, new_user):
    user = new_user("Match")
    assert login(user, json={"username": user.username})["username"] == user.username
    assert login(user, json={"password": user.password})["username"] == user.username
    body = login(user, data={"username": user.username.upper(), "password": user.password})
    assert body["username"] == user.username
    # With a token, the body password is checked against the stored one.
    token = login(user)["token"]
    with_token = Client(system.url, token=token)
    assert login(with_token, json={"username": user.username,
                                   "password": user.password})["username"] == user.username
    assert_unauthorized(with_token.post("/login", json={"password": "not-the-password"}))


def test_login_body_naming_someone_else_is_403(new_user):
    user, other = new_user("me"), new_user("other")
    assert_error(user.post("/login", json={"username": other.username}), 403)
    assert_error(user.post("/login", data={"username": "mj", "password": user.password}), 403)
    assert_error(user.post("/login", json={"username": "u" * 2000}), 403)  # no such name at all


def test_login_body_with_a_wrong_password_is_401(new_user):
    user = new_user("wrongbody")
    assert_unauthorized(user.post("/login", json={"username": user.username,
                                                  "password": user.password + "x"}))
    assert_unauthorized(user.post("/login", data={"password": "nope"}))


def test_login_body_alone_is_not_credentials(anonymous, new_user):
    user = new_user("bodyonly")
    assert_unauthorized(anonymous.post("/login", json={"username": user.username,
                                                       "password": user.password}))
    assert_unauthorized(anonymous.post("/login", data={"username": user.username,
                                                       "password": user.password}))


def test_login_rejects_a_bad_body_after_good_credentials(new_user):
    user = new_user("badbody")
    assert_error(user.post("/login", data="{}", headers={"Content-Type": "text/plain"}), 415)
    assert_error(user.post("/login", data="{nope", headers={"Content-Type": "application/json"}),
                 400)


@pytest.mark.parametrize("path, method", [
    ("/login", "POST"), ("/users/mj", "GET"), ("/homeTimeline", "GET"),
    ("/followers/mj", "GET"), ("/publicTimeline", "GET"),
])
def test_wrong_or_missing_credentials_are_401_with_challenge(system, new_user, path, method):
    user = new_user("wrong")
    url = system.url + path
    attempts = [
        {},  # no credentials at all
        {"auth": (user.username, user.password + "x")},
        {"auth": (user.username, "")},
        {"auth": ("", user.password)},
        {"auth": (f"ghost_{uuid.uuid4().hex[:8]}", user.password)},
        {"headers": {"Authorization": "Basic"}},
        {"headers": {"Authorization": "Basic !!!not-base64!!!"}},
        {"headers": {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}},
        {"headers": {"Authorization": "Bearer"}},
        {"headers": {"Authorization": "Bearer not-a-token"}},
        {"headers": {"Authorization": "Digest username=\"mj\""}},
    ]
    for attempt in attempts:
        assert_unauthorized(requests.request(method, url, timeout=30, **attempt))
    assert requests.request(method, url, auth=(user.username, user.password),
                            timeout=30).status_code == 200


def test_a_refused_post_stores_nothing(system, new_user):
    user = new_user("refused")
    text = f"should not be stored {uuid.uuid4()}"
    answer = requests.post(system.url + "/postTweet", json={"tweet": text},
                           auth=(user.username, "wrong-password"), timeout=30)
    assert_unauthorized(answer)
    timeline = user.get(f"/userTimeline/{user.username}")
    assert timeline.status_code == 200 and timeline.json()["tweets"] == []


def test_tampered_tokens_are_401(system, new_user):
    user = new_user("tamper")
    token = login(user)["token"]
    payload, timestamp, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = [
        f"{payload}.{timestamp}.{signature[:middle]}{flipped}{signature[middle + 1:]}",
        f"{'x' + payload[1:] if payload[0] != 'x' else 'y' + payload[1:]}.{timestamp}.{signature}",
        f"{payload}.{timestamp}",
        token[:-4],
        URLSafeTimedSerializer("another secret", salt=SALT).dumps({"u": user.username}),
        URLSafeTimedSerializer("another secret", salt=SALT).dumps({"u": "mj"}),
    ]
    for bad in tampered:
        assert bad != token
        assert_unauthorized(requests.get(f"{system.url}/users/{user.username}",
                                         headers=bearer(bad), timeout=30))
    # The untouched token still works: the 401s above come from the tampering.
    assert requests.get(f"{system.url}/users/{user.username}", headers=bearer(token),
                        timeout=30).status_code == 200


def test_tokens_expire(system, new_user):
    """Signed with the system's own secret: only the age differs."""
    user = new_user("expire")
    secret = (system.data_dir / "gateway.secret").read_text().strip()
    ttl = login(user)["expires_in"]

    class Backdated(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - ttl - 60

    fresh = URLSafeTimedSerializer(secret, salt=SALT).dumps({"u": user.username})
    assert whoami(system, bearer(fresh)) == user.username
    expired = URLSafeTimedSerializer(secret, salt=SALT, signer=Backdated).dumps(
        {"u": user.username})
    assert expired.split(".")[1] != fresh.split(".")[1]  # really backdated
    assert_unauthorized(requests.get(f"{system.url}/users/{user.username}",
                                     headers=bearer(expired), timeout=30))
    assert_unauthorized(requests.post(f"{system.url}/login", headers=bearer(expired), timeout=30))


def test_username_in_credentials_ignores_case(system, new_user):
    user = new_user("CaseUser")
    for spelling in (user.username.upper(), user.username.lower(), user.username.swapcase()):
        answer = requests.post(system.url + "/login", auth=(spelling, user.password), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["username"] == user.username
        assert whoami(system, bearer(answer.json()["token"])) == user.username
        assert whoami(system, basic_header(spelling, user.password)) == user.username
    # The password, however, is compared exactly.
    assert_unauthorized(requests.post(system.url + "/login",
                                      auth=(user.username, user.password.upper()), timeout=30))


@pytest.mark.parametrize("password", ["pa:ss:wörd", "ÄÖÜ:密码🔑:end", ":leading", "日本語です",
                                      "  spaced pass  "])
def test_passwords_with_colons_and_non_ascii(system, anonymous, password):
    name = f"utf8_{uuid.uuid4().hex[:10]}"
    register(anonymous, name, password)
    answer = requests.post(system.url + "/login", headers=basic_header(name, password),
                           timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == name
    # The body may repeat the same password.
    again = requests.post(system.url + "/login", headers=basic_header(name, password),
                          json={"username": name, "password": password}, timeout=30)
    assert again.status_code == 200, again.text
    assert whoami(system, basic_header(name, password)) == name
    # Only the whole password after the first colon works.
    head, _, tail = password.partition(":")
    for wrong in {head, tail, password[:-1], password + ":"} - {password}:
        assert_unauthorized(requests.post(system.url + "/login",
                                          headers=basic_header(name, wrong), timeout=30))


def test_a_client_cannot_forge_the_gateway_headers(system, new_user):
    user = new_user("forger")
    for forged in ({"X-Microblog-User": "mj", "X-Microblog-Secret": "guess"},
                   {"x-microblog-user": "mj"}, {"X-MICROBLOG-USER": "mj"}):
        assert_unauthorized(requests.get(system.url + "/homeTimeline", headers=forged,
                                         timeout=30))
        headers = {**forged, **basic_header(user.username, user.password)}
        assert whoami(system, headers) == user.username
        profile = requests.get(system.url + "/users/mj", headers=headers, timeout=30)
        assert profile.status_code == 200 and "email" not in profile.json()


def test_login_wrong_method_is_405_json_with_allow(mj):
    answer = mj.get("/login")
    assert_error(answer, 405)
    assert "POST" in answer.headers["Allow"]


def test_auth_schemes_ignore_case(system, new_user):
    """RFC 7235: the scheme name is case-insensitive."""
    user = new_user("scheme")
    token = login(user)["token"]
    encoded = basic_header(user.username, user.password)["Authorization"].split(" ", 1)[1]
    for header in (f"bearer {token}", f"BEARER {token}", f"basic {encoded}", f"BASIC {encoded}"):
        assert whoami(system, {"Authorization": header}) == user.username, header
    assert_unauthorized(requests.get(system.url + "/homeTimeline",
                                     headers={"Authorization": f"bearer {token[:-5]}"}, timeout=30))
