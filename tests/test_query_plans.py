"""Every list is read through an index: EXPLAIN QUERY PLAN of each statement the
stores run shows no full scan of tweets, follows or users."""

import pytest

from microblog import db as sql
from microblog.stores import tweets, users


@pytest.fixture
def plans(tmp_path):
    """Run a store function; the query plans of the statements it executed."""
    connection = sql.connect(str(tmp_path / "plans.sqlite"))
    sql.create_schema(connection)
    statements: list[str] = []

    def plans_of(function, *args) -> list[str]:
        statements.clear()
        connection.set_trace_callback(statements.append)
        function(connection, *args)
        connection.set_trace_callback(None)
        found = []
        for statement in statements:
            rows = connection.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
            found.append(" | ".join(row[3] for row in rows))
        return found
    yield plans_of
    connection.close()


@pytest.mark.parametrize("function, args", [
    (tweets.user_timeline, (1, None, 26)),
    (tweets.user_timeline, (1, 500, 26)),
    (tweets.home_timeline, (1, None, 26)),
    (tweets.home_timeline, (1, 500, 26)),
    (tweets.public_timeline, (None, 26)),
    (tweets.get_tweet, (5,)),
    (users.followers, (1, None, 26)),
    (users.following, (1, 500, 26)),
    (users.find_user, ("MJ",)),
    (users.counts, (1,)),
], ids=lambda value: getattr(value, "__name__", ""))
def test_lists_and_lookups_use_indexes(plans, function, args):
    found = plans(function, *args)
    assert found, "nothing was executed"
    for plan in found:
        assert "SCAN t " not in plan + " " and "SCAN tweets" not in plan, plan
        assert "SCAN f " not in plan + " " and "SCAN follows" not in plan, plan
        assert "SCAN u " not in plan + " " and "SCAN users" not in plan, plan
        assert "SEARCH" in plan or "INTEGER PRIMARY KEY" in plan, plan


def test_the_check_can_see_a_scan(plans):
    def unindexed(db):
        db.execute("SELECT * FROM tweets WHERE tweet = 'x'").fetchall()
    assert "SCAN tweets" in plans(unindexed)[0] or "SCAN t" in plans(unindexed)[0]


@pytest.fixture(scope="module")
def growing(tmp_path_factory):
    """A database that grows 100x (2,000 -> 200,000 tweets over the same 20
    users and follows); work(statement) counts SQLite VM steps at each size."""
    connection = sql.connect(str(tmp_path_factory.mktemp("growth") / "growth.sqlite"))
    sql.create_schema(connection)
    stamp = "2026-01-01T00:00:00Z"
    connection.executemany("INSERT INTO users (id, username, email, password_hash, created_at)"
                           " VALUES (?, ?, ?, 'x', ?)",
                           [(i, f"u{i}", f"u{i}@example.com", stamp) for i in range(1, 21)])
    connection.executemany("INSERT INTO follows (follower_id, followed_id, created_at) VALUES (?, ?, ?)",
                           [(i, j, stamp) for i in range(1, 21) for j in range(1, 21)
                            if i != j and (i + j) % 4 == 0])

    def add_tweets(count: int) -> None:
        with sql.transaction(connection):
            connection.executemany("INSERT INTO tweets (user_id, tweet, created_at) VALUES (?, 'hi', ?)",
                                   ((n % 20 + 1, stamp) for n in range(count)))

    def work(function, *args) -> int:
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0
        connection.set_progress_handler(step, 1)
        rows = function(connection, *args)
        connection.set_progress_handler(None, 1)
        assert rows
        return steps

    add_tweets(2_000)
    yield work, lambda: add_tweets(198_000)
    connection.close()


def test_a_page_costs_the_same_work_at_100x_the_tweets(growing):
    """EXPLAIN shows the index; this shows the walk stops at the page (home
    timeline's plan sorts, and SQLite still reads each followed user newest
    first only as far as the LIMIT needs)."""
    work, grow = growing
    pages = [(tweets.home_timeline, (1, None, 26)), (tweets.user_timeline, (2, None, 26)),
             (tweets.public_timeline, (None, 26)), (tweets.home_timeline, (3, 1500, 26))]
    small = [work(function, *args) for function, args in pages]
    everything = "SELECT count(*) FROM tweets WHERE tweet <> ''"
    everything_small = work(lambda db: db.execute(everything).fetchall())
    grow()
    large = [work(function, *args) for function, args in pages]
    assert all(l <= 1.2 * s for s, l in zip(small, large)), (small, large)
    # The measure can see growth: a statement that reads every row costs ~100x.
    everything_large = work(lambda db: db.execute(everything).fetchall())
    assert everything_large > 50 * everything_small
