"""Passwords exist only as salted slow hashes (werkzeug's scrypt).

A successful check is remembered for a minute after its last use, so that HTTP Basic callers
do not pay a full scrypt on every request. The memory holds only a keyed hash
of (stored hash, password) under a key that never leaves this process; a
changed password has a new stored hash and so misses at once. Failures are
never remembered."""
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

from werkzeug.security import check_password_hash, generate_password_hash

# Checked when the username is unknown, so that case costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")

REMEMBER_SECONDS = 60
REMEMBER_MAX = 10_000
_key = secrets.token_bytes(32)
_verified: OrderedDict[bytes, float] = OrderedDict()
_lock = threading.Lock()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    fingerprint = hmac.new(_key, f"{stored_hash}\x00{password}".encode(), hashlib.sha256).digest()
    now = time.monotonic()
    with _lock:
        expires = _verified.get(fingerprint)
        if expires is not None and expires > now:
            # Kept while in use: safe, since a new password means a new stored hash.
            _verified[fingerprint] = now + REMEMBER_SECONDS
            _verified.move_to_end(fingerprint)
            return True
    if not check_password_hash(stored_hash, password):
        return False
    with _lock:
        _verified[fingerprint] = now + REMEMBER_SECONDS
        _verified.move_to_end(fingerprint)
        while len(_verified) > REMEMBER_MAX:
            _verified.popitem(last=False)
    return True
