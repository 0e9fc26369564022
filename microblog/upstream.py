"""Calls from the gateway and the auth service to the service instances:
round-robin over the healthy instances, failover, timeouts and health probes."""
import itertools
import logging
import threading
import time

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ProtocolError, ReadTimeoutError

from .errors import APIError
from .identity import SECRET_HEADER

log = logging.getLogger(__name__)

# Sending one of these again cannot create a second tweet or message.
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Instance:
    def __init__(self, url: str, max_in_flight: int):
        self.url = url
        self.up = True
        self.slots = threading.BoundedSemaphore(max_in_flight)

    def mark(self, up: bool) -> None:
        if up != self.up:
            log.warning("%s is %s", self.url, "back up" if up else "down")
        self.up = up


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
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.http = urllib3.PoolManager(maxsize=32, retries=False)

    def send(self, pool: str, method: str, path: str, headers: dict,
             body: bytes | None = None) -> urllib3.BaseHTTPResponse:
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
            if not instance.slots.acquire(blocking=False):
                if failure.status == 503:
                    failure = APIError(503, f"The {pool} service is busy; try again shortly.",
                                       headers={"Retry-After": "1"})
                continue
            try:
                return self.http.request(method, instance.url + path, body=body, headers=headers,
                                         timeout=self.timeout, redirect=False,
                                         preload_content=True, decode_content=False)
            except ConnectTimeoutError:  # includes refused: it never reached the instance
                instance.mark(False)
                failure = APIError(503, f"No instance of the {pool} service is available.")
                continue
            except ReadTimeoutError:
                instance.mark(False)
                failure = APIError(504, f"The {pool} service did not answer in time.")
            except (ProtocolError, HTTPError):
                instance.mark(False)
                failure = APIError(502, f"The {pool} service dropped the connection.")
            finally:
                instance.slots.release()
            if method not in RETRYABLE_METHODS:
                break
        raise failure

    def probe(self) -> None:
        """Ask every instance for /health once, and mark it up or down."""
        for pool in self.pools.values():
            for instance in pool.instances:
                try:
                    response = self.http.request("GET", instance.url + "/health",
                                                 headers={SECRET_HEADER: self.secret},
                                                 timeout=urllib3.Timeout(connect=0.5, read=1.5))
                    instance.mark(response.status == 200)
                except HTTPError:
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
