"""Passwords exist only as salted slow hashes (werkzeug's scrypt)."""
from werkzeug.security import check_password_hash, generate_password_hash

# Checked when the username is unknown, so that case costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    ok = check_password_hash(stored_hash or _DUMMY_HASH, password)
    return ok and stored_hash is not None
