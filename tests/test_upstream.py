"""The gateway's HTTP/1.1 client (microblog/upstream.py) against a real server
on loopback that answers each request with bytes the test chooses: the ways
of framing an answer our own services never use, and the broken ones."""
import socket

import pytest

from microblog.errors import APIError
from microblog.upstream import Connection, Upstreams
from tests.helpers import CannedServer


@pytest.fixture
def serve():
    servers = []

    def start(*answers: bytes, close_after: bool = False) -> tuple[CannedServer, Upstreams]:
        server = CannedServer(list(answers), close_after)
        servers.append(server)
        return server, Upstreams({"svc": [server.url]}, "the-secret", 1, 2)
    yield start
    for server in servers:
        server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_a_kept_alive_connection_is_reused_and_the_request_is_well_formed(serve):
    server, upstreams = serve(OK, OK)
    first = upstreams.send("svc", "POST", "/x?a=1", {"X-Request-ID": "r1"}, b'{"a": 1}')
    second = upstreams.send("svc", "GET", "/y", {})
    assert (first.status, first.data, second.data) == (200, b"{}", b"{}")
    assert first.header("content-type") == "application/json"
    assert server.connections == 1
    request = server.requests[0]
    assert request.startswith(b"POST /x?a=1 HTTP/1.1\r\n")
    assert f"Host: {server.url.removeprefix('http://')}".encode() in request
    assert b"X-Microblog-Secret: the-secret\r\n" in request
    assert b"Content-Length: 8\r\n" in request and request.endswith(b'{"a": 1}')


def test_an_empty_post_says_content_length_zero(serve):
    server, upstreams = serve(OK)
    upstreams.send("svc", "POST", "/login", {})
    assert b"Content-Length: 0\r\n" in server.requests[0]


def test_a_chunked_answer_is_put_together_with_extensions_and_trailers(serve):
    chunked = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
    server, upstreams = serve(chunked, OK)
    answer = upstreams.send("svc", "GET", "/", {})
    assert (answer.status, answer.data) == (201, b"hello, world")
    assert upstreams.send("svc", "GET", "/", {}).data == b"{}"
    assert server.connections == 1  # the chunked answer left the connection in step


def test_an_answer_without_length_ends_with_the_connection_which_is_not_reused(serve):
    server, upstreams = serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", close_after=True)
    assert upstreams.send("svc", "GET", "/", {}).data == b"all of it"
    server.answers.append(OK)
    assert upstreams.send("svc", "GET", "/", {}).data == b"{}"
    assert server.connections == 2


def test_an_http_1_0_answer_closes_the_connection(serve):
    server, upstreams = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", OK, close_after=True)
    assert upstreams.send("svc", "GET", "/", {}).data == b"ok"
    assert upstreams.send("svc", "GET", "/", {}).data == b"{}"
    assert server.connections == 2


def test_100_continue_comes_before_the_real_answer(serve):
    server, upstreams = serve(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    answer = upstreams.send("svc", "POST", "/", {}, b"body")
    assert (answer.status, answer.data) == (200, b"{}")


def test_an_idle_connection_the_instance_closed_is_not_used_again(serve):
    server, upstreams = serve(OK, close_after=True)  # closes without saying so
    upstreams.send("svc", "GET", "/", {})
    server.answers.append(OK)
    import time
    time.sleep(0.1)
    assert upstreams.send("svc", "POST", "/", {}, b"x").status == 200  # a POST: no retry would save it
    assert server.connections == 2


@pytest.mark.parametrize("answer", [
    b"SPAM SPAM SPAM\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",     # then closed
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000,           # headers that never end
])
def test_a_broken_answer_is_502_and_a_post_is_not_sent_twice(serve, answer):
    server, upstreams = serve(answer, OK, close_after=True)
    with pytest.raises(APIError) as raised:
        upstreams.send("svc", "POST", "/postTweet", {}, b"once")
    assert raised.value.status == 502
    assert len(server.requests) == 1


def test_a_line_break_in_a_header_value_is_never_sent():
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        connection = Connection("127.0.0.1", listener.getsockname()[1], 1)
        with pytest.raises(ValueError):
            connection.exchange("GET", "/", {"X-A": "1\r\nX-Microblog-User: mj"}, None, 1)
        connection.close()
    finally:
        listener.close()
