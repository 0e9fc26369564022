"""Every SQL statement about tweets and timelines. Each timeline is read
newest first through an index, from an exclusive `before` id downwards."""
import sqlite3

from . import can_exist, id_below

TWEET_COLUMNS = "t.id, u.username, t.tweet, t.created_at, t.reply_to, t.user_id"
FROM_TWEETS = "FROM tweets t JOIN users u ON u.id = t.user_id"


def create_tweet(db: sqlite3.Connection, user_id: int, text: str, reply_to: int | None,
                 created_at: str) -> sqlite3.Row:
    tweet_id = db.execute(
        "INSERT INTO tweets (user_id, tweet, created_at, reply_to) VALUES (?, ?, ?, ?) RETURNING id",
        (user_id, text, created_at, reply_to)).fetchone()["id"]
    return get_tweet(db, tweet_id)


def get_tweet(db: sqlite3.Connection, tweet_id: int) -> sqlite3.Row | None:
    if not can_exist(tweet_id):
        return None
    return db.execute(f"SELECT {TWEET_COLUMNS} {FROM_TWEETS} WHERE t.id = ?",
                      (tweet_id,)).fetchone()


def delete_tweet(db: sqlite3.Connection, tweet_id: int) -> None:
    db.execute("DELETE FROM tweets WHERE id = ?", (tweet_id,))


def user_timeline(db: sqlite3.Connection, user_id: int, before: int | None, limit: int) -> list:
    return db.execute(
        f"SELECT {TWEET_COLUMNS} {FROM_TWEETS} WHERE t.user_id = ? AND t.id < ?"
        " ORDER BY t.id DESC LIMIT ?", (user_id, id_below(before), limit)).fetchall()


def home_timeline(db: sqlite3.Connection, user_id: int, before: int | None, limit: int) -> list:
    """The user's own tweets and those of everyone the user follows."""
    return db.execute(
        f"SELECT {TWEET_COLUMNS} {FROM_TWEETS} WHERE t.id < ? AND t.user_id IN"
        " (SELECT ? UNION ALL SELECT followed_id FROM follows WHERE follower_id = ?)"
        " ORDER BY t.id DESC LIMIT ?", (id_below(before), user_id, user_id, limit)).fetchall()


def public_timeline(db: sqlite3.Connection, before: int | None, limit: int) -> list:
    return db.execute(
        f"SELECT {TWEET_COLUMNS} {FROM_TWEETS} WHERE t.id < ? ORDER BY t.id DESC LIMIT ?",
        (id_below(before), limit)).fetchall()
