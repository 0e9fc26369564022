"""The gateway: routing, auth on every protected call, round-robin, failover,
health, and headers no client can forge."""
import json
import time
from contextlib import contextmanager
import uuid

import pytest
import requests

from microblog.identity import SECRET_HEADER, USER_HEADER
from tests.helpers import CannedServer
from tests.system import free_port


def wait_for(condition, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def instance_state(system, pool: str, index: int) -> bool:
    return requests.get(system.url + "/health", timeout=5).json()["pools"][pool][index]["up"]


@contextmanager
def down(system, kind: str, pool: str):
    """Its only instance killed and seen down by the gateway; started again after."""
    system.kill(kind)
    try:
        assert wait_for(lambda: not instance_state(system, pool, 0), timeout=5)
        yield
    finally:
        system.start(kind)


def test_round_robin_spreads_requests_over_every_instance(system, mj):
    tag = uuid.uuid4().hex[:12]
    for n in range(12):
        assert mj.get("/publicTimeline", headers={"X-Request-ID": f"{tag}-{n}"}).status_code == 200
    def served():
        return [system.instance_log("api_timeline", i).count(f"id={tag}-") for i in range(3)]
    assert wait_for(lambda: sum(served()) == 12, timeout=2), served()  # logs land a moment later
    served = served()
    assert all(count >= 2 for count in served), served


def test_killed_instance_is_skipped_reported_and_rejoins(system, mj):
    system.kill("api_timeline", 1)
    try:
        started = time.monotonic()
        for _ in range(9):
            assert mj.get("/publicTimeline").status_code == 200
        assert wait_for(lambda: not instance_state(system, "timeline", 1), timeout=5)
        assert time.monotonic() - started < 5
    finally:
        system.start("api_timeline", 1)
    assert wait_for(lambda: instance_state(system, "timeline", 1), timeout=5)
    tag = uuid.uuid4().hex[:12]

    def served_by_the_restarted_one() -> bool:
        # Every gateway worker probes on its own: within about a second all use it again.
        assert mj.get("/publicTimeline", headers={"X-Request-ID": f"{tag}-x"}).status_code == 200
        return f"id={tag}-" in system.instance_log("api_timeline", 1)
    assert wait_for(served_by_the_restarted_one, timeout=3, step=0.05)


def test_whole_pool_down_is_503_json_and_other_pools_keep_working(system, mj):
    with down(system, "app", "messages"):
        answer = mj.get("/listmsg/mj")
        assert answer.status_code == 503
        assert answer.json()["error"] == "service_unavailable"
        assert mj.get("/publicTimeline").status_code == 200
    assert wait_for(lambda: mj.get("/listmsg/mj").status_code == 200, timeout=5)


def test_auth_service_down_closes_protected_routes_only(system, new_user, anonymous):
    newcomer = new_user("authdown")  # credentials the gateway has never had verified
    with down(system, "auth", "auth"):
        answer = newcomer.get("/publicTimeline")
        assert answer.status_code == 503
        assert answer.json()["error"] == "service_unavailable"
        wrong = requests.get(system.url + "/publicTimeline", auth=(newcomer.username, "wrong"))
        assert wrong.status_code == 503  # never an open door
        assert anonymous.get("/health").status_code == 200
        assert anonymous.post("/register", json={"username": "x" * 31}).status_code == 400
    assert wait_for(lambda: newcomer.get("/publicTimeline").status_code == 200, timeout=5)


def test_auth_decisions_are_remembered_briefly_and_failures_never(system, new_user):
    """Within the cache's few seconds a verified caller needs no auth service;
    a wrong password is asked about every time."""
    user = new_user("cached")
    assert user.get("/homeTimeline").status_code == 200
    with down(system, "auth", "auth"):
        assert user.get("/homeTimeline").status_code == 200
        wrong = requests.get(system.url + "/homeTimeline", auth=(user.username, "not-it"))
        assert wrong.status_code == 503
    wrong = requests.get(system.url + "/homeTimeline", auth=(user.username, "not-it"))
    assert wrong.status_code == 401


def test_forged_identity_header_from_a_client_is_ignored(system, new_user):
    victim, attacker = new_user("victim"), new_user("attacker")
    answer = attacker.post("/postTweet", json={"tweet": "forged"},
                           headers={USER_HEADER: victim.username, SECRET_HEADER: "guess"})
    assert answer.status_code == 201
    assert answer.json()["username"] == attacker.username
    assert victim.get(f"/userTimeline/{victim.username}").json()["tweets"] == []
    # Without credentials the forged header gets nobody in.
    assert requests.post(system.url + "/postTweet", json={"tweet": "x"},
                         headers={USER_HEADER: victim.username}).status_code == 401


def test_a_service_called_directly_without_the_secret_refuses(system):
    port = system.ports["api_timeline"][0]
    answer = requests.post(f"http://127.0.0.1:{port}/postTweet", json={"tweet": "direct"},
                           headers={USER_HEADER: "mj"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    latest = requests.get(system.url + "/userTimeline/mj", auth=("mj", "bulls")).json()
    assert all(t["tweet"] != "direct" for t in latest["tweets"])


@pytest.mark.parametrize("path", ["/internal/credentials", "/verify", "/nowhere", "/tweets/abc"])
def test_internal_and_unknown_paths_are_404_json(mj, path):
    for method in ("GET", "POST"):
        answer = mj.request(method, path, json={"username": "mj", "password": "bulls"})
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"


def test_wrong_method_is_405_json_with_allow(mj):
    answer = mj.get("/sendmsg")
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert "POST" in answer.headers["Allow"]
    answer = mj.request("PATCH", "/tweets/1")
    assert answer.status_code == 405
    assert {"GET", "DELETE"} <= {m.strip() for m in answer.headers["Allow"].split(",")}


def test_missing_credentials_get_401_with_a_challenge(anonymous):
    for method, path in [("GET", "/publicTimeline"), ("POST", "/sendmsg"), ("POST", "/login")]:
        answer = anonymous.request(method, path)
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized"
        assert "Basic" in answer.headers["WWW-Authenticate"]


def test_request_id_is_kept_or_made_and_reaches_the_service(system, mj):
    answer = mj.get("/publicTimeline", headers={"X-Request-ID": "trace-me-123"})
    assert answer.headers["X-Request-ID"] == "trace-me-123"
    assert wait_for(lambda: any("id=trace-me-123" in system.instance_log("api_timeline", i)
                                for i in range(3)), timeout=2)
    made = mj.get("/publicTimeline").headers["X-Request-ID"]
    assert len(made) >= 16


def test_oversized_body_is_413_json_and_nothing_stored(mj):
    answer = mj.post("/postTweet", data=b'{"tweet": "' + b"x" * (1024 * 1024 + 10) + b'"}',
                     headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "payload_too_large"


def test_chunked_request_body_reaches_the_service_whole(new_user):
    author = new_user("chunky")

    def chunks():
        yield b'{"tweet": "'
        yield "chunked ✓".encode()
        yield b'"}'
    answer = author.post("/postTweet", data=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["tweet"] == "chunked ✓"


def test_health_lists_every_pool_and_instance(anonymous, system):
    pools = anonymous.get("/health").json()["pools"]
    assert {p: len(i) for p, i in pools.items()} == {"auth": 1, "users": 3, "timeline": 3, "messages": 1}


def test_past_its_in_flight_bound_an_instance_gets_no_queue_but_503_retry_after(system, new_user):
    """A second gateway allowing one call in flight per instance, hit by eight
    slow logins at once (a wrong password costs a full scrypt each time)."""
    import threading
    system.ports["gateway"].append(free_port())
    system.start("gateway", 1, MICROBLOG_MAX_IN_FLIGHT="1")
    user = new_user("busy")
    url = f"http://127.0.0.1:{system.ports['gateway'][1]}"
    barrier, answers = threading.Barrier(8), []

    def login(n):
        barrier.wait()
        answers.append(requests.post(url + "/login", auth=(user.username, f"wrong{n}"), timeout=30))
    try:
        threads = [threading.Thread(target=login, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        system.stop("gateway", 1)
        system.ports["gateway"].pop()
    busy = [a for a in answers if a.status_code == 503]
    assert busy and all(a.headers.get("Retry-After") == "1" for a in busy)
    assert all(a.json()["error"] == "service_unavailable" for a in busy)
    assert any(a.status_code == 401 for a in answers)


def test_requests_the_server_cannot_parse_still_get_json(mj):
    answer = mj.get("/users/" + "x" * 5000)
    assert answer.status_code == 414
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"] == "uri_too_long"
    answer = mj.get("/publicTimeline", headers={"X-Big": "y" * 9000})
    assert answer.status_code in (400, 431)
    assert answer.json()["message"]


def test_every_process_logs_the_request_id_it_served(system, mj):
    made = mj.get("/homeTimeline").headers["X-Request-ID"]  # generated by the gateway
    assert wait_for(lambda: f"id={made}" in system.instance_log("gateway"), timeout=2)
    assert wait_for(lambda: any(f"id={made}" in system.instance_log("api_timeline", i)
                                for i in range(3)), timeout=2)


def test_a_process_that_dies_under_honcho_comes_back_by_itself(system, mj):
    """The server dies (as in a crash: master and worker), not its keep-running
    wrapper: the others serve meanwhile and it is back in rotation within seconds."""
    import os
    import signal
    import subprocess

    def children(pid: int) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        return [int(p) for p in found.stdout.split()]
    wrapper = system.processes["api_timeline", 2].pid
    for master in children(wrapper):
        for pid in children(master) + [master]:
            os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not instance_state(system, "timeline", 2), timeout=5)
    for _ in range(6):
        assert mj.get("/publicTimeline").status_code == 200
    assert wait_for(lambda: instance_state(system, "timeline", 2), timeout=15)
    assert system.processes["api_timeline", 2].poll() is None  # the wrapper never stopped


def test_after_a_413_the_same_connection_keeps_working(mj):
    too_big = mj.post("/postTweet", data=b"x" * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    assert mj.get("/publicTimeline").status_code == 200  # same requests.Session


def test_expect_100_continue_is_answered_and_the_tweet_stored_once(system, mj):
    """curl sends Expect: 100-continue with larger bodies: the client gets 100,
    sends the body, and gets the service's own answer."""
    import base64
    import socket
    body = b"tweet=" + b"e" * 280
    credentials = base64.b64encode(f"{mj.username}:{mj.password}".encode()).decode()
    with socket.create_connection(("127.0.0.1", system.ports["gateway"][0]), timeout=10) as sock:
        sock.sendall((f"POST /postTweet HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {credentials}\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body)
        answer = b""
        while b"}" not in answer:
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert answer.count(b"HTTP/1.1") == 1  # the service's own 100 is not passed on
    tweet_id = int(answer.split(b'"id":')[1].split(b",")[0])
    assert mj.get(f"/tweets/{tweet_id}").json()["tweet"] == "e" * 280


def test_head_answers_the_headers_of_the_get_without_its_body(mj):
    get, head = mj.get("/publicTimeline?limit=3"), mj.request("HEAD", "/publicTimeline?limit=3")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == "application/json"
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_only_end_to_end_headers_cross_the_gateway_both_ways(system, mj):
    """A second gateway whose timeline pool is a server that records what it is
    sent and answers with hop-by-hop headers of its own."""
    answer_bytes = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                    b"Connection: X-Upstream-Hop\r\nX-Upstream-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                    b"X-Request-ID: not-this-one\r\nX-Kept: yes\r\n\r\n{}")
    upstream = CannedServer([answer_bytes])
    system.ports["gateway"].append(free_port())
    try:
        system.start("gateway", 1, UPSTREAMS_TIMELINE=upstream.url)
        url = f"http://127.0.0.1:{system.ports['gateway'][1]}"
        answer = requests.get(url + "/publicTimeline?limit=2", auth=(mj.username, mj.password), timeout=10,
                              headers={"Connection": "keep-alive, X-Client-Hop", "X-Client-Hop": "1",
                                       "Proxy-Authorization": "Basic eDp5", "TE": "trailers",
                                       USER_HEADER: "kobe", SECRET_HEADER: "guess",
                                       "X-Forwarded-For": "203.0.113.9", "X-Request-ID": "hop-test-1",
                                       "X-Custom": "passed"})
    finally:
        system.stop("gateway", 1)
        system.ports["gateway"].pop()
        upstream.close()
    assert answer.status_code == 200 and answer.json() == {}
    assert answer.headers["X-Kept"] == "yes" and answer.headers["X-Request-ID"] == "hop-test-1"
    assert "X-Upstream-Hop" not in answer.headers and "Keep-Alive" not in answer.headers
    head, _, _ = upstream.requests[0].partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "GET /publicTimeline?limit=2 HTTP/1.1"
    sent = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        assert name.lower() not in sent, f"{name} sent twice"
        sent[name.lower()] = value
    secret = (system.data_dir / "gateway.secret").read_text().strip()
    assert sent[USER_HEADER.lower()] == mj.username and sent[SECRET_HEADER.lower()] == secret
    assert sent["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert sent["x-request-id"] == "hop-test-1" and sent["x-custom"] == "passed"
    for gone in ("authorization", "proxy-authorization", "x-client-hop", "te", "connection"):
        assert gone not in sent, gone


def raw_exchange(system, head: str, body: bytes, close_sending: bool = True) -> bytes:
    """One request written by hand to the gateway; the answer's bytes."""
    import socket
    with socket.create_connection(("127.0.0.1", system.ports["gateway"][0]), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        if close_sending:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):  # a JSON body, whole
                break
    return answer


def basic(client) -> str:
    import base64
    return base64.b64encode(f"{client.username}:{client.password}".encode()).decode()


def test_a_body_shorter_than_its_content_length_is_400_and_not_stored(system, new_user):
    author = new_user("cutshort")
    answer = raw_exchange(system, "POST /postTweet HTTP/1.1\r\nHost: x\r\n"
                          f"Authorization: Basic {basic(author)}\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
                          b"tweet=truncated-body")
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b'"error":"bad_request"' in answer.replace(b" ", b"") and b"of the 100 bytes" in answer
    assert author.get(f"/userTimeline/{author.username}").json()["tweets"] == []


@pytest.mark.parametrize("framing", ["bad size", "no last chunk", "longer than its size"])
def test_a_malformed_chunked_body_is_400_json_and_not_stored(system, mj, framing):
    name = f"chunk_{uuid.uuid4().hex[:8]}"
    data = json.dumps({"username": name, "email": f"{name}@example.com", "password": "secret-pass"}).encode()
    body = {"bad size": b"zz\r\n" + data + b"\r\n0\r\n\r\n",
            "no last chunk": b"%x\r\n%s\r\n" % (len(data), data),
            "longer than its size": b"%x\r\n%sXY\r\n0\r\n\r\n" % (len(data), data)}[framing]
    answer = raw_exchange(system, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n", body)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"application/json" in answer and b"malformed or incomplete" in answer
    assert mj.get(f"/users/{name}").status_code == 404


def test_slow_clients_do_not_hold_the_gateway_up(system):
    """Forty connections that send half a request and then nothing (a slowloris)
    leave the gateway answering everyone else at once."""
    import socket
    port = system.ports["gateway"][0]
    stalled = []
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
            stalled.append(sock)
        for _ in range(5):
            assert requests.get(system.url + "/health", timeout=2).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
