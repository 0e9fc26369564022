"""Every SQL statement about users and follows."""
import sqlite3

from . import id_below


class Taken(Exception):
    """The username or the email ('field') belongs to another user already."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


USER_COLUMNS = "id, username, email, password_hash, created_at"


def find_user(db: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    """The user with this name, ignoring case."""
    return db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower(?)",
                      (username,)).fetchone()


def create_user(db: sqlite3.Connection, username: str, email: str, password_hash: str,
                created_at: str) -> sqlite3.Row:
    # Emails compare ignoring case. SQLite's lower() folds only ASCII, so the
    # email is stored lower-cased by Python: then lower(email) in the unique
    # index and below is exact for all of Unicode, in SQLite and PostgreSQL.
    email = email.lower()
    taken = db.execute(
        "SELECT lower(username) = lower(?) AS same_name FROM users"
        " WHERE lower(username) = lower(?) OR lower(email) = lower(?)",
        (username, username, email)).fetchone()
    if taken:
        raise Taken("username" if taken["same_name"] else "email")
    try:
        return db.execute(
            f"INSERT INTO users (username, email, password_hash, created_at)"
            f" VALUES (?, ?, ?, ?) RETURNING {USER_COLUMNS}",
            (username, email, password_hash, created_at)).fetchone()
    except sqlite3.IntegrityError:  # lost a race with another instance
        raise Taken("username" if find_user(db, username) else "email") from None


def counts(db: sqlite3.Connection, user_id: int) -> sqlite3.Row:
    return db.execute(
        "SELECT (SELECT count(*) FROM follows WHERE followed_id = ?) AS followers,"
        " (SELECT count(*) FROM follows WHERE follower_id = ?) AS following,"
        " (SELECT count(*) FROM tweets WHERE user_id = ?) AS tweets",
        (user_id, user_id, user_id)).fetchone()


def follow(db: sqlite3.Connection, follower_id: int, followed_id: int, created_at: str) -> bool:
    """True when this creates the follow, False when it existed."""
    row = db.execute(
        "INSERT INTO follows (follower_id, followed_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (follower_id, followed_id) DO NOTHING RETURNING id",
        (follower_id, followed_id, created_at)).fetchone()
    return row is not None


def unfollow(db: sqlite3.Connection, follower_id: int, followed_id: int) -> bool:
    cursor = db.execute("DELETE FROM follows WHERE follower_id = ? AND followed_id = ?",
                        (follower_id, followed_id))
    return cursor.rowcount > 0


def followers(db: sqlite3.Connection, user_id: int, before: int | None, limit: int) -> list:
    """Who follows user_id, most recent follow first; `cursor` is the follow's id."""
    return db.execute(
        "SELECT f.id AS cursor, u.username, f.created_at AS since FROM follows f"
        " JOIN users u ON u.id = f.follower_id"
        " WHERE f.followed_id = ? AND f.id < ? ORDER BY f.id DESC LIMIT ?",
        (user_id, id_below(before), limit)).fetchall()


def following(db: sqlite3.Connection, user_id: int, before: int | None, limit: int) -> list:
    """Whom user_id follows, most recent follow first."""
    return db.execute(
        "SELECT f.id AS cursor, u.username, f.created_at AS since FROM follows f"
        " JOIN users u ON u.id = f.followed_id"
        " WHERE f.follower_id = ? AND f.id < ? ORDER BY f.id DESC LIMIT ?",
        (user_id, id_below(before), limit)).fetchall()
