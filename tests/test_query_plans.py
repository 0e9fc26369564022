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
