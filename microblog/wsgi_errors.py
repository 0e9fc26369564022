"""gunicorn answers requests it cannot parse (a request line over its limit, bad
headers) itself, with an HTML page; this makes those answers our JSON shape too."""
import json

from gunicorn import util

from .errors import CODES


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"error": CODES.get(status_int, "bad_request"),
                       "message": f"{reason}: {mesg}" if mesg else reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    util.write_error = write_json_error
