"""Calls from the gateway and the auth service to the service instances:
round-robin over the healthy instances, failover, timeouts, health probes,
and a pool of kept-alive connections to each instance.

The HTTP/1.1 exchange is written here over a plain socket, and the answer's
status line and headers are parsed by gunicorn_h1c (picohttpparser, in C, the
parser gunicorn itself reads requests with). The gateway's CPU per request is
what its throughput comes down to, and on this path urllib3 cost 0.32 ms a
call and http.client 0.17 ms, most of it in parsing headers with the email
package; this costs a fraction of that (BENCHMARKS.md has the profiles)."""
import itertools
import logging
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gunicorn_h1c import IncompleteError, ParseError, parse_response

from .errors import APIError
from .identity import SECRET_HEADER

log = logging.getLogger(__name__)

# Sending one of these again cannot create a second tweet or message.
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
IDLE_PER_INSTANCE = 32  # kept-alive connections held open to one instance
MAX_HEAD_BYTES = 64 * 1024  # an answer's status line and headers
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # these say Content-Length: 0 when empty


class NotDelivered(Exception):
    """The connection could not be made: the instance never saw the request."""


class BadAnswer(Exception):
    """The instance closed the connection mid-answer or sent something that is not HTTP."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # as sent, in order
    data: bytes
    _by_name: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Looked up several times per call on the gateway's hot path: index once.
        self._by_name = {k.lower(): v for k, v in reversed(self.headers)}  # the first one wins

    def header(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)


class Connection:
    """One kept-alive HTTP/1.1 connection to an instance."""

    def __init__(self, host: str, port: int, connect_timeout: float):
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as e:  # refused, unreachable, connect timeout
            raise NotDelivered(str(e)) from e
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = f"{host}:{port}"
        self.reusable = True

    def exchange(self, method: str, path: str, headers: dict, body: bytes | None,
                 read_timeout: float) -> Answer:
        self.sock.settimeout(read_timeout)
        lines = [f"{method} {path} HTTP/1.1",
                 *(f"{name}: {value}" for name, value in headers.items())]
        if not any(name.lower() == "host" for name in headers):  # the gateway passes the client's on
            lines.insert(1, f"Host: {self.host}")
        if body is not None or method in BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        if head.count("\n") != len(lines) + 1:  # a line break inside a value would smuggle a header
            raise ValueError("a header holds a line break")
        self.sock.sendall(head.encode("latin-1") + body if body else head.encode("latin-1"))
        buffer = bytearray()
        while True:
            status, fields, consumed, http_1_0 = self._read_head(buffer)
            del buffer[:consumed]
            if status >= 200:
                break  # 1xx answers (100 Continue) come before the real one
        answer = Answer(status, fields, b"")
        connection = (answer.header("Connection") or "").lower()
        self.reusable = not http_1_0 and "close" not in connection
        try:
            if method == "HEAD" or status in (204, 304):
                pass
            elif "chunked" in (answer.header("Transfer-Encoding") or "").lower():
                answer.data = self._read_chunked(buffer)
            elif (length := answer.header("Content-Length")) is not None:
                answer.data = self._read_exactly(buffer, int(length))
            else:  # the body ends where the connection does
                self.reusable = False
                while self._fill(buffer, at_end_ok=True):
                    pass
                answer.data = bytes(buffer)
        except ValueError as e:
            raise BadAnswer(f"malformed body framing: {e}") from e
        return answer

    def _read_head(self, buffer: bytearray) -> tuple[int, list[tuple[str, str]], int, bool]:
        while True:
            if buffer:
                try:
                    head = parse_response(bytes(buffer))
                    fields = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head["headers"]]
                    return head["status"], fields, head["consumed"], head["minor_version"] == 0
                except IncompleteError:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise BadAnswer("the answer's headers are too long") from None
                except ParseError as e:
                    raise BadAnswer(f"not an HTTP answer: {e}") from e
            self._fill(buffer)

    def _fill(self, buffer: bytearray, at_end_ok: bool = False) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk and not at_end_ok:
            raise BadAnswer("the instance closed the connection before it answered in full")
        buffer += chunk
        return bool(chunk)

    def _read_exactly(self, buffer: bytearray, length: int) -> bytes:
        if length < 0:
            raise ValueError("negative Content-Length")
        while len(buffer) < length:
            self._fill(buffer)
        data = bytes(buffer[:length])
        del buffer[:length]
        return data

    def _read_line(self, buffer: bytearray) -> bytes:
        while (end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise ValueError("chunk line too long")
            self._fill(buffer)
        line = bytes(buffer[:end])
        del buffer[:end + 2]
        return line

    def _read_chunked(self, buffer: bytearray) -> bytes:
        body = bytearray()
        while size := int(self._read_line(buffer).split(b";")[0], 16):
            body += self._read_exactly(buffer, size)
            if self._read_line(buffer):
                raise ValueError("chunk longer than its size")
        while self._read_line(buffer):  # trailers, up to the empty line
            pass
        return bytes(body)

    def idle_but_closed(self) -> bool:
        """Readable while idle means the peer closed it (or sent garbage)."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def close(self) -> None:
        self.sock.close()


class Slots:
    """At most `limit` calls open at once, and never a wait for one: a full
    instance is passed over. (A counter under a lock: threading's semaphores
    notify waiters on every release, which cost 7% of the gateway's CPU.)"""

    def __init__(self, limit: int):
        self.free, self._lock = limit, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.free <= 0:
                return False
            self.free -= 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.free += 1


class Instance:
    def __init__(self, url: str, max_in_flight: int):
        self.url = url
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.up = True
        self.slots = Slots(max_in_flight)
        self._idle: deque[Connection] = deque()

    def mark(self, up: bool) -> None:
        if up != self.up:
            log.warning("%s is %s", self.url, "back up" if up else "down")
        self.up = up

    def call(self, method: str, path: str, headers: dict, body: bytes | None,
             connect_timeout: float, read_timeout: float) -> Answer:
        connection = self._reuse() or Connection(self.host, self.port, connect_timeout)
        try:
            answer = connection.exchange(method, path, headers, body, read_timeout)
        except BaseException:
            connection.close()
            raise
        if not connection.reusable or len(self._idle) >= IDLE_PER_INSTANCE:
            connection.close()
        else:
            self._idle.append(connection)
        return answer

    def _reuse(self) -> Connection | None:
        """An idle connection the instance has not closed meanwhile."""
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return None
            if not connection.idle_but_closed():
                return connection
            connection.close()

    def close_idle(self) -> None:
        while self._idle:
            self._idle.pop().close()


class Pool:
    def __init__(self, name: str, urls: list[str], max_in_flight: int):
        self.name = name
        self.instances = [Instance(url, max_in_flight) for url in urls]
        self._turn = itertools.count()

    def candidates(self) -> list[Instance]:
        """All instances, the next in rotation first, those marked down last:
        a restarted instance is used again as soon as it answers."""
        if not self.instances:
            return []
        start = next(self._turn) % len(self.instances)
        ring = self.instances[start:] + self.instances[:start]
        return [i for i in ring if i.up] + [i for i in ring if not i.up]


class Upstreams:
    def __init__(self, table: dict[str, list[str]], secret: str,
                 connect_timeout: float = 2, read_timeout: float = 30, max_in_flight: int = 64):
        self.pools = {name: Pool(name, urls, max_in_flight) for name, urls in table.items()}
        self.secret = secret
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout

    def send(self, pool: str, method: str, path: str, headers: dict,
             body: bytes | None = None) -> Answer:
        """The first answer from an instance of the pool; APIError 503/504/502
        when none answers. A request that may have been delivered is sent again
        only when its method is safe to repeat: to the next instance, or to the
        same one over a new connection when it is the only one. An instance
        with max_in_flight calls open is passed over; when all are, 503 at once
        with Retry-After rather than an ever longer queue."""
        headers = {**headers, SECRET_HEADER: self.secret}
        candidates = self.pools[pool].candidates()
        if method in RETRYABLE_METHODS:
            candidates += candidates[:1]
        failure = APIError(503, f"No instance of the {pool} service is available.")
        for instance in candidates:
            if not instance.slots.take():
                if failure.status == 503:
                    failure = APIError(503, f"The {pool} service is busy; try again shortly.",
                                       headers={"Retry-After": "1"})
                continue
            try:
                return instance.call(method, path, headers, body,
                                     self.connect_timeout, self.read_timeout)
            except NotDelivered:
                instance.mark(False)
                failure = APIError(503, f"No instance of the {pool} service is available.")
                continue
            except socket.timeout:
                instance.mark(False)
                failure = APIError(504, f"The {pool} service did not answer in time.")
            except (OSError, BadAnswer):  # reset, closed mid-answer
                instance.mark(False)
                instance.close_idle()
                failure = APIError(502, f"The {pool} service dropped the connection.")
            finally:
                instance.slots.give_back()
            if method not in RETRYABLE_METHODS:
                break
        raise failure

    def probe(self) -> None:
        """Ask every instance for /health once, and mark it up or down."""
        for pool in self.pools.values():
            for instance in pool.instances:
                try:
                    answer = instance.call("GET", "/health", {SECRET_HEADER: self.secret},
                                           None, connect_timeout=0.5, read_timeout=1.5)
                    instance.mark(answer.status == 200)
                except (NotDelivered, OSError, BadAnswer):
                    instance.mark(False)

    def start_probing(self, interval: float = 1.0) -> None:
        def loop():
            while True:
                self.probe()
                time.sleep(interval)
        threading.Thread(target=loop, name="health-probe", daemon=True).start()

    def status(self) -> dict:
        return {name: [{"url": i.url, "up": i.up} for i in pool.instances]
                for name, pool in self.pools.items()}
