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


def every_page(client, path: str, key: str, max_pages: int = 60) -> list[list[dict]]:
    """Follow `next` from path to the last page; each page's items. Checks on
    the way that the Link header and `next` agree, and that both are absent
    (or `next` null) on the last page only."""
    pages = []
    while path is not None:
        assert len(pages) < max_pages, "paging does not end"
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {key, "next"}, body
        pages.append(body[key])
        path = body["next"]
        if path is None:
            assert "Link" not in answer.headers, answer.headers
        else:
            assert path.startswith("/"), path
            assert answer.headers["Link"] == f'<{path}>; rel="next"'
    return pages
