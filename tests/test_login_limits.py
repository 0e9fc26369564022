"""Password guessing is throttled per username and per client address, with
the real limits, on an auth service and gateway of the test's own."""
import time

import pytest
import requests

from tests.system import free_port


@pytest.fixture
def guarded(system):
    """A second auth service with the default limits, behind a second gateway."""
    system.ports["auth"].append(free_port())
    system.ports["gateway"].append(free_port())
    auth_url = f"http://127.0.0.1:{system.ports['auth'][-1]}"
    defaults = {"MICROBLOG_LOGIN_FAILURES_IN_A_ROW": "10", "MICROBLOG_LOGIN_FAILURES_PER_MINUTE": "30"}
    try:
        system.start("auth", 1, **defaults)
        system.start("gateway", 1, UPSTREAMS_AUTH=auth_url)
        yield f"http://127.0.0.1:{system.ports['gateway'][-1]}"
    finally:
        system.stop("gateway", 1)
        system.stop("auth", 1)
        system.ports["gateway"].pop()
        system.ports["auth"].pop()


def login(url: str, username: str, password: str) -> requests.Response:
    return requests.post(url + "/login", auth=(username, password), timeout=30)


def test_guessing_locks_a_username_briefly_then_an_address(guarded, new_user):
    owner = new_user("guessed")
    wrong = login(guarded, owner.username, "wrong-1")
    unknown = login(guarded, "nobody_by_this_name", "wrong-1")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()  # no telling an unknown name from a wrong password
    for n in range(2, 11):
        assert login(guarded, owner.username, f"wrong-{n}").status_code == 401

    # Ten failures in a row: even the right password waits, briefly.
    locked = login(guarded, owner.username, owner.password)
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_requests"
    wait = int(locked.headers["Retry-After"])
    assert 1 <= wait <= 10
    assert login(guarded, owner.username.upper(), owner.password).status_code == 429
    time.sleep(wait + 0.2)
    assert login(guarded, owner.username, owner.password).status_code == 200
    assert login(guarded, owner.username, "wrong-again").status_code == 401  # the count restarted

    # One address: 30 failures a minute, across any usernames (12 so far).
    for n in range(18):
        assert login(guarded, f"guess_{n}", "x1234").status_code == 401, n
    refused = login(guarded, "guess_last", "x1234")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_password_in_the_body_of_a_bearer_login_is_throttled_alike(guarded, new_user):
    """A stolen token must not become an unlimited password oracle."""
    owner = new_user("tokenguess")
    token = login(guarded, owner.username, owner.password).json()["token"]

    def guess(password: str) -> requests.Response:
        return requests.post(guarded + "/login", json={"password": password}, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
    for n in range(10):
        assert guess(f"wrong-{n}").status_code == 401
    assert guess(owner.password).status_code == 429
    assert login(guarded, owner.username, owner.password).status_code == 429  # the same lock
