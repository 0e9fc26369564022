"""One shape for every error: {"error": "<code>", "message": "<sentence>"}."""
import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "request_header_fields_too_large",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


ROUTING_MESSAGES = {
    404: "Nothing is at {path}.",
    405: "{path} does not answer {method}; the Allow header lists what it answers.",
}


def error_response(status: int, message: str, code: str | None = None,
                   headers: dict | None = None) -> Response:
    response = jsonify(error=code or CODES.get(status, "error"), message=message)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class APIError(Exception):
    """Raised anywhere in a request to answer with an error response."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers

    def response(self) -> Response:
        return error_response(self.status, self.message, self.code, self.headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(APIError)
    def api_error(e: APIError):
        return e.response()

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Keep headers such as Allow on 405, drop werkzeug's HTML content type.
        headers = {k: v for k, v in e.get_headers() if k.lower() != "content-type"}
        message = ROUTING_MESSAGES.get(e.code, e.description or "").format(
            method=request.method, path=request.path)
        return error_response(e.code or 500, message, headers=headers)

    @app.errorhandler(Exception)
    def unexpected_error(e: Exception):
        log.exception("unhandled error")
        return error_response(500, "An unexpected error occurred; it has been logged.")
