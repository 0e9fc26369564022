"""The gateway's memory of successful auth decisions, for a few seconds, so
that most calls need no round trip to the auth service.

Entries are keyed on a keyed hash of the Authorization header (no credential
is kept as such), hold only successes, expire after `ttl` seconds and are
bounded in number. A token that expires, or credentials that stop working,
are refused again at most `ttl` seconds later."""
import hashlib
import secrets
import threading
import time
from collections import OrderedDict


class AuthCache:
    def __init__(self, ttl: float = 5.0, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _fingerprint(self, authorization: str) -> bytes:
        return hashlib.blake2b(authorization.encode("utf-8", "surrogateescape"),
                               key=self._key, digest_size=32).digest()

    def get(self, authorization: str) -> str | None:
        if self.ttl <= 0 or not authorization:
            return None
        fingerprint = self._fingerprint(authorization)
        with self._lock:
            entry = self._entries.get(fingerprint)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self._entries[fingerprint]
                return None
            return entry[0]

    def put(self, authorization: str, username: str) -> None:
        if self.ttl <= 0 or not authorization:
            return
        fingerprint = self._fingerprint(authorization)
        with self._lock:
            self._entries[fingerprint] = (username, time.monotonic() + self.ttl)
            self._entries.move_to_end(fingerprint)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
