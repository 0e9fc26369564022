from datetime import datetime, timezone


def utc_now() -> str:
    """Now, as UTC ISO 8601 with seconds and a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
