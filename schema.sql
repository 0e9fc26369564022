-- Users and timelines. Plain SQL that SQLite and PostgreSQL share; every
-- list is read through one of these indexes, newest (highest id) first.

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
    username      TEXT NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
-- Usernames and emails are unique ignoring case.
CREATE UNIQUE INDEX IF NOT EXISTS users_username ON users (lower(username));
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (lower(email));

CREATE TABLE IF NOT EXISTS follows (
    id          INTEGER PRIMARY KEY,
    follower_id INTEGER NOT NULL REFERENCES users (id),
    followed_id INTEGER NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    UNIQUE (follower_id, followed_id),
    CHECK (follower_id <> followed_id)
);
CREATE INDEX IF NOT EXISTS follows_by_follower ON follows (follower_id, id);
CREATE INDEX IF NOT EXISTS follows_by_followed ON follows (followed_id, id);

CREATE TABLE IF NOT EXISTS tweets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    tweet      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reply_to   INTEGER REFERENCES tweets (id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS tweets_by_user ON tweets (user_id, id);
CREATE INDEX IF NOT EXISTS tweets_by_reply_to ON tweets (reply_to);

-- Facts about the database itself, such as whether the seed data was loaded.
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
