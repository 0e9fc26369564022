"""Assertions and a test server several test modules share."""
import re
import socket
import threading
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


HEALTHY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class CannedServer:
    """Answers the n-th request with answers[n] (then closes if asked); records what it got."""

    def __init__(self, answers: list[bytes], close_after: bool = False):
        self.answers, self.close_after = list(answers), close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while self.answers:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                if head.startswith(b"GET /health "):  # a gateway's probe: up, and not counted
                    conn.sendall(HEALTHY)
                    continue
                self.requests.append(head + b"\r\n\r\n" + body)
                conn.sendall(self.answers.pop(0))
                if self.close_after:
                    return

    def close(self) -> None:
        self.listener.close()
