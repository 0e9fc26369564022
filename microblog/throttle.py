"""Slowing down password guessing: per username (after `consecutive` failures
in a row, a lock that starts short and doubles with each further failure) and
per client address (at most `per_minute` failures in any 60 seconds).

The owner is never locked out for long: a lock lasts seconds at first, and the
right password after it has passed clears the username's record. State lives
in the auth process's memory, bounded in size."""
import math
import threading
import time
from collections import OrderedDict, deque

WINDOW = 60.0


class LoginThrottle:
    def __init__(self, consecutive: int = 10, per_minute: int = 30,
                 first_lock: float = 5.0, longest_lock: float = 900.0, remember: int = 100_000):
        self.consecutive, self.per_minute = consecutive, per_minute
        self.first_lock, self.longest_lock = first_lock, longest_lock
        self.remember = remember
        self._users: OrderedDict[str, tuple[int, float]] = OrderedDict()  # failures in a row, locked until
        self._addresses: OrderedDict[str, deque] = OrderedDict()  # times of recent failures
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds to wait before this attempt may be checked at all; None to go ahead."""
        now = time.monotonic()
        with self._lock:
            _, locked_until = self._users.get(username.lower(), (0, 0.0))
            waits = [locked_until - now]
            failures = self._addresses.get(address)
            if failures is not None:
                while failures and failures[0] <= now - WINDOW:
                    failures.popleft()
                if len(failures) >= self.per_minute:
                    waits.append(failures[0] + WINDOW - now)
        wait = max(waits)
        return math.ceil(wait) if wait > 0 else None

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        key = username.lower()
        with self._lock:
            count, _ = self._users.pop(key, (0, 0.0))
            count += 1
            locked_until = 0.0
            if count >= self.consecutive:
                lock = self.first_lock * 2 ** (count - self.consecutive)
                locked_until = now + min(lock, self.longest_lock)
            self._users[key] = (count, locked_until)
            self._addresses.setdefault(address, deque()).append(now)
            self._addresses.move_to_end(address)
            for table in (self._users, self._addresses):
                while len(table) > self.remember:
                    table.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._users.pop(username.lower(), None)
