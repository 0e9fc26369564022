"""The SQLite database of users and timelines: one connection per request,
kept on g and closed on teardown, as in Flask's tutorial."""
import sqlite3
from contextlib import contextmanager
from typing import Iterator

from flask import Flask, current_app, g

from .config import ROOT


def connect(path: str) -> sqlite3.Connection:
    # Autocommit mode: writes open their own short BEGIN IMMEDIATE transaction,
    # so concurrent writers queue on the busy timeout instead of deadlocking.
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = FULL")  # a 2xx means the row survives a crash
    return db


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic write: everything inside commits together or not at all."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create_schema(db: sqlite3.Connection) -> None:
    """Create what schema.sql describes; existing tables and rows are kept."""
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript((ROOT / "schema.sql").read_text())


def drop_schema(db: sqlite3.Connection) -> None:
    for table in ("follows", "tweets", "users", "meta"):
        db.execute(f"DROP TABLE IF EXISTS {table}")


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
