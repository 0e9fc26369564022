"""Settings for every process, read from the environment with working defaults.

The defaults match the Procfile started by honcho with its base port 5000:
each process type gets the next hundred (gateway 5000, auth 5100, ...).
"""
import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POOLS = ("auth", "users", "timeline", "messages")
SECRET_FILE = "gateway.secret"


def settings() -> dict:
    """The configuration mapping every Flask app starts from."""
    data_dir = Path(os.environ.get("MICROBLOG_DATA", ROOT / "instance"))
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE": os.environ.get("MICROBLOG_DATABASE", str(data_dir / "microblog.sqlite")),
        # boto3's own standard setting; the default is the Procfile's dynalite.
        "DYNAMODB_ENDPOINT": os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5500"),
        "DYNAMODB_REGION": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        "DYNAMODB_TABLE_PREFIX": os.environ.get("MICROBLOG_TABLE_PREFIX", "microblog-"),
        "TOKEN_TTL": int(os.environ.get("MICROBLOG_TOKEN_TTL", "3600")),
        "UPSTREAMS": upstreams(),
        "CONNECT_TIMEOUT": float(os.environ.get("MICROBLOG_CONNECT_TIMEOUT", "2")),
        "READ_TIMEOUT": float(os.environ.get("MICROBLOG_READ_TIMEOUT", "30")),
        "MAX_BODY_BYTES": 1024 * 1024,
        # Calls the gateway keeps open to one instance before it answers 503 busy.
        "MAX_IN_FLIGHT": int(os.environ.get("MICROBLOG_MAX_IN_FLIGHT", "64")),
        # How long the gateway trusts a successful auth decision without asking again.
        "AUTH_CACHE_SECONDS": float(os.environ.get("MICROBLOG_AUTH_CACHE_SECONDS", "5")),
        # Password guessing: a username is locked (briefly) after this many
        # failures in a row; a client address may fail this often a minute.
        "LOGIN_FAILURES_IN_A_ROW": int(os.environ.get("MICROBLOG_LOGIN_FAILURES_IN_A_ROW", "10")),
        "LOGIN_FAILURES_PER_MINUTE": int(os.environ.get("MICROBLOG_LOGIN_FAILURES_PER_MINUTE", "30")),
    }


def upstreams() -> dict[str, list[str]]:
    """Instances of each pool: upstreams.json, each pool overridable by
    UPSTREAMS_<POOL>, a comma-separated list of base URLs."""
    table = json.loads((ROOT / "upstreams.json").read_text())
    for pool in POOLS:
        override = os.environ.get(f"UPSTREAMS_{pool.upper()}")
        if override:
            table[pool] = [url.strip().rstrip("/") for url in override.split(",") if url.strip()]
    return {pool: table[pool] for pool in POOLS}


def shared_secret(data_dir: str) -> str:
    """The secret the gateway and auth service show every service.

    Created on first use (normally by `flask init`) with mode 0600; several
    processes starting at once agree on one secret because the file appears
    atomically through link(), which never overwrites."""
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
