"""Loading test-load.json: users, follows and tweets into SQL, direct messages
into DynamoDB. Each store records that it was seeded, so loading twice changes nothing."""
import json
import sqlite3
from pathlib import Path

from .db import transaction
from .passwords import hash_password
from .stores import tweets, users
from .stores.messages import MessageStore

SEED_MARK = "seed:test-load.json"


def read_seed(path: Path) -> dict:
    return json.loads(path.read_text())


def load_sql(db: sqlite3.Connection, seed: dict) -> bool:
    """Load users, follows and tweets unless done before; True when loaded now."""
    with transaction(db):
        done = db.execute("SELECT 1 FROM meta WHERE name = ?", (SEED_MARK,)).fetchone()
        if done:
            return False
        ids = {}
        for user in seed["users"]:
            try:
                row = users.create_user(db, user["username"], user["email"],
                                        hash_password(user["password"]), "2026-10-01T00:00:00Z")
            except users.Taken:
                row = users.find_user(db, user["username"])
            ids[user["username"].lower()] = row["id"]
        for follower, followed in seed["follows"]:
            users.follow(db, ids[follower.lower()], ids[followed.lower()], "2026-10-15T00:00:00Z")
        tweet_ids = {}
        for tweet in seed["tweets"]:
            row = tweets.create_tweet(db, ids[tweet["username"].lower()], tweet["tweet"],
                                      tweet_ids.get(tweet["reply_to"]), tweet["created_at"])
            tweet_ids[tweet["id"]] = row["id"]
        db.execute("INSERT INTO meta (name, value) VALUES (?, 'done')", (SEED_MARK,))
    return True


def load_messages(store: MessageStore, seed: dict) -> bool:
    """Load the messages under their own ids unless done before."""
    if store.marked(SEED_MARK):
        return False
    for message in seed["messages"]:
        if store.get(message["id"]) is None:
            store.add(message["from"], message["to"], message["msg"], message["reply_to"],
                      message["quick_replies"], message["id"], message["timestamp"])
    store.raise_counter(max(m["id"] for m in seed["messages"]))
    store.mark(SEED_MARK)
    return True
