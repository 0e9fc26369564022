"""Assertions several test modules share."""
import re
from datetime import datetime, timedelta, timezone

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")


def assert_error(answer, status: int) -> dict:
    """An error answer: the status, and a JSON {"error", "message"} body."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    body = answer.json()
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def assert_recent_utc(stamp: str) -> None:
    """UTC ISO 8601 with seconds, and about now."""
    assert TIMESTAMP.fullmatch(stamp), stamp
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - moment) < timedelta(minutes=5), stamp
