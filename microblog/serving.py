"""What every process changes in gunicorn: its access log line, and the
answers it gives itself to requests it cannot parse."""
import json

from gunicorn import util
from gunicorn.glogging import Logger

from .errors import CODES


class AccessLog(Logger):
    """One fixed line per request: address, request line, status, bytes sent,
    milliseconds and the request id.

    gunicorn's general formatter builds a dict of every header and environ key
    for each request: profiled on the gateway, that was 12% of its CPU."""

    def access(self, resp, req, environ: dict, request_time) -> None:
        if not self.access_log_enabled:
            return
        request_id = next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-")
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        milliseconds = request_time.seconds * 1000 + request_time.microseconds // 1000
        line = (f'{environ.get("REMOTE_ADDR", "-")} "{environ["REQUEST_METHOD"]} {environ["RAW_URI"]}'
                f' {environ["SERVER_PROTOCOL"]}" {status} {resp.sent or 0} {milliseconds}ms'
                f' id={request_id}')
        self.access_log.info(line)


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own answer to a request line over its limit, bad headers and
    such, in our JSON shape instead of its HTML page."""
    body = json.dumps({"error": CODES.get(status_int, "bad_request"),
                       "message": f"{reason}: {mesg}" if mesg else reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install_json_errors() -> None:
    util.write_error = write_json_error
