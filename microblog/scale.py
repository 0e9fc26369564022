"""Realistic scale data for benchmarks: `flask seed`.

Follows follow a power law (a few users are followed by many), so do tweets (a
few users post most); tweets are spread over the past year in time order, and
messages form conversations between users who follow each other, with replies
and quick replies. Everything is written in bulk: executemany in large
transactions for SQLite, BatchWriteItem for DynamoDB."""
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from typing import Callable, Iterator

from .db import transaction
from .passwords import hash_password
from .stores.messages import new_item

BATCH = 10_000
# Accounts past the first `logins` get no usable password: werkzeug rejects
# this hash for every password, so they exist, post and follow, but cannot log in.
LOCKED = "!locked"
QUICK_OPTIONS = [["Yes", "No"], ["Today", "Tomorrow", "Next week"], ["👍", "👎", "🤔"]]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def power_law_picker(count: int, rng: random.Random, exponent: float = 1.0) -> Callable[[], int]:
    """A function picking an index in range(count), index i with weight 1/(i+1)^exponent."""
    cumulative = list(accumulate(1 / (i + 1) ** exponent for i in range(count)))
    population = range(count)
    return lambda: rng.choices(population, cum_weights=cumulative)[0]


def seed_users(db: sqlite3.Connection, count: int, logins: int, password: str,
               prefix: str, tick: Callable[[int], None]) -> list[tuple[int, str]]:
    """Create the users; (id, username) of each. The first `logins` can log in."""
    created = stamp(datetime.now(timezone.utc) - timedelta(days=400))
    rows = []
    for i in range(count):
        name = f"{prefix}{i}"
        rows.append((name, f"{name}@example.com", hash_password(password) if i < logins else LOCKED, created))
        if i < logins:
            tick(1)
    with transaction(db):
        db.executemany("INSERT INTO users (username, email, password_hash, created_at)"
                       " VALUES (?, ?, ?, ?)", rows)
    tick(count - min(count, logins))
    return [(row["id"], row["username"]) for row in db.execute(
        "SELECT id, username FROM users WHERE username LIKE ? ORDER BY id", (prefix + "%",))]


def seed_follows(db: sqlite3.Connection, users: list[tuple[int, str]], rng: random.Random,
                 tick: Callable[[int], None]) -> dict[int, list[int]]:
    """Each user follows a power-law number of others, preferring popular ones."""
    pick = power_law_picker(len(users), rng, exponent=0.9)
    following: dict[int, list[int]] = {}
    created = stamp(datetime.now(timezone.utc) - timedelta(days=380))
    rows = []
    for user_id, _name in users:
        wanted = min(len(users) - 1, int(rng.paretovariate(1.2) * 5))
        targets = {users[pick()][0] for _ in range(wanted)} - {user_id}
        following[user_id] = sorted(targets)
        rows.extend((user_id, target, created) for target in following[user_id])
        tick(1)
    with transaction(db):
        db.executemany("INSERT INTO follows (follower_id, followed_id, created_at)"
                       " VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows)
    return following


def seed_tweets(db: sqlite3.Connection, users: list[tuple[int, str]], count: int,
                rng: random.Random, tick: Callable[[int], None]) -> None:
    """count tweets over the past year, oldest first so ids follow time."""
    pick = power_law_picker(len(users), rng)
    start = datetime.now(timezone.utc) - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)
    words = "the a game tonight practice win loss team court ball coach fans season city".split()
    for first in range(0, count, BATCH):
        rows = [(users[pick()][0], " ".join(rng.choices(words, k=rng.randint(3, 14))),
                 stamp(start + step * n), None) for n in range(first, min(count, first + BATCH))]
        with transaction(db):
            db.executemany("INSERT INTO tweets (user_id, tweet, created_at, reply_to)"
                           " VALUES (?, ?, ?, ?)", rows)
        tick(len(rows))


def message_items(users: list[tuple[int, str]], following: dict[int, list[int]], count: int,
                  first_id: int, rng: random.Random) -> Iterator[dict]:
    """Conversations between users and those they follow, oldest first."""
    names = dict(users)
    pairs = [(a, b) for a, targets in following.items() for b in targets[:5]] or \
            [(users[0][0], users[-1][0])]
    pick_pair = power_law_picker(len(pairs), rng, exponent=0.5)
    start = datetime.now(timezone.utc) - timedelta(days=90)
    step = timedelta(days=90) / max(count, 1)
    last_in_pair: dict[tuple[int, int], int] = {}
    for n in range(count):
        a, b = pairs[pick_pair()]
        if rng.random() < 0.5:
            a, b = b, a
        message_id, key = first_id + n, (min(a, b), max(a, b))
        replying = last_in_pair.get(key) if rng.random() < 0.4 else None
        options = rng.choice(QUICK_OPTIONS) if rng.random() < 0.1 else None
        last_in_pair[key] = message_id
        yield new_item(message_id, names[a], names[b], f"message {message_id} from {names[a]}",
                       stamp(start + step * n), replying, options)
