"""The gateway's forwarding: a WSGI layer in front of its Flask app that takes
each call of the public API, asks who the caller is, and relays it to an
instance of its pool and the answer back.

It works on the WSGI environ rather than in a Flask view because Flask's
request machinery (request context, Request and Response objects, header
views) cost 0.16 ms of CPU per forwarded call, more than the upstream call
itself, and the gateway's CPU per call is what its throughput comes down to
(BENCHMARKS.md). Whatever is not a plain forward goes on to the Flask app:
unknown paths, other methods, OPTIONS, the gateway's own routes, and every
error raised here, so each answer keeps the one shape errors.py gives it."""
import re
import uuid
from http import HTTPStatus
from typing import Callable, Iterable, NamedTuple
from urllib.parse import quote

from flask import Flask, Response, g, request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import HTTPException

from .authcache import AuthCache
from .errors import APIError
from .identity import SECRET_HEADER, USER_HEADER
from .upstream import Answer, Upstreams

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
              "expect"}  # the gateway's server has answered Expect: 100-continue itself
# Never taken from a client as sent: the identity the gateway vouches for, the
# proof it is the gateway, and the two it sets itself from what the client sent.
PRIVATE = {USER_HEADER.lower(), SECRET_HEADER.lower(), "x-request-id", "x-forwarded-for"}
DRAIN_BYTES = 16 * 1024 * 1024  # past this, an oversized body's connection is just closed
REQUEST_ID = re.compile(r"[\w.:/+=-]{1,128}")
PATH_SAFE = "/:@!$&'()*+,;=-._~"
REASONS = {s.value: s.phrase for s in HTTPStatus}
# Where the proxy leaves the request id and an error for the Flask app.
REQUEST_ID_KEY, ERROR_KEY = "microblog.request_id", "microblog.error"


class Route(NamedTuple):
    pool: str
    public: bool  # no credentials needed
    methods: frozenset[str]


def hop_by_hop(connection: str | None) -> set[str]:
    """The hop-by-hop headers, including any the Connection header names."""
    named = {h.strip().lower() for h in (connection or "").split(",") if h.strip()}
    return HOP_BY_HOP | named


def header_name(environ_key: str) -> str:
    return environ_key[5:].replace("_", "-").title()  # HTTP_X_REQUEST_ID -> X-Request-Id


class Proxy:
    def __init__(self, app: Flask, routes: dict[str, Route], upstreams: Upstreams,
                 auth_cache: AuthCache):
        self.flask_wsgi_app = app.wsgi_app
        self.routes, self.upstreams, self.auth_cache = routes, upstreams, auth_cache
        self.max_body = app.config["MAX_BODY_BYTES"]
        # Bound once: binding per request (to its host) cost more than matching.
        self.routing = app.url_map.bind("gateway")
        app.before_request(self._into_flask)
        app.after_request(self._request_id_out)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        sent_id = environ.get("HTTP_X_REQUEST_ID", "")
        environ[REQUEST_ID_KEY] = sent_id if REQUEST_ID.fullmatch(sent_id) else uuid.uuid4().hex
        route = self._route(environ)
        if route is None:
            return self.flask_wsgi_app(environ, start_response)
        try:
            answer = self._forward(environ, route)
        except Exception as error:  # APIError, or a bug: Flask answers either in JSON
            environ[ERROR_KEY] = error
            return self.flask_wsgi_app(environ, start_response)
        return self._relay(environ, answer, start_response)

    def _route(self, environ: dict) -> Route | None:
        """The route of a call the proxy forwards as it is, else None."""
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")  # as werkzeug reads it
        try:
            endpoint, _args = self.routing.match(path, method)
        except HTTPException:  # 404, 405, a redirect: Flask says so
            return None
        route = self.routes.get(endpoint)
        if route and (method in route.methods or (method == "HEAD" and "GET" in route.methods)):
            return route
        return None

    @staticmethod
    def _into_flask() -> None:
        """Flask's side: the proxy's request id, and its error raised where Flask handles it."""
        g.request_id = request.environ.get(REQUEST_ID_KEY) or uuid.uuid4().hex
        if (error := request.environ.get(ERROR_KEY)) is not None:
            raise error

    @staticmethod
    def _request_id_out(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.request_id
        return response

    def _forward(self, environ: dict, route: Route) -> Answer:
        length = int(environ.get("CONTENT_LENGTH") or -1)
        if length > self.max_body:
            self._too_large(environ)
        user = None
        if not route.public:
            user = self._authenticate(environ)
            if isinstance(user, Answer):
                return user  # the auth service's refusal, relayed as it is
        body = self._read_body(environ, length)
        path = quote(environ["PATH_INFO"].encode("latin-1"), safe=PATH_SAFE)
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        return self.upstreams.send(route.pool, environ["REQUEST_METHOD"], path,
                                   self._upstream_headers(environ, route.pool, user), body or None)

    def _read_body(self, environ: dict, length: int) -> bytes:
        """The whole body, or a 400/408/413 before anything is forwarded."""
        try:
            body = environ["wsgi.input"].read(length if length >= 0 else self.max_body + 1)
        except (NoMoreData, ParseException):  # gunicorn's reader: chunks cut short or malformed
            raise APIError(400, "The request body is malformed or incomplete.") from None
        except OSError:  # the client stopped sending for longer than the server waits
            raise APIError(408, "The request body did not arrive in time.") from None
        if len(body) < length:
            raise APIError(400, f"The request body ended after {len(body)} of the {length} bytes"
                                " its Content-Length announced.")
        if len(body) > self.max_body:  # chunked: one byte past the limit tells
            self._too_large(environ)
        return body

    def _authenticate(self, environ: dict) -> str | Answer:
        """The username the auth service vouches for (or did a moment ago), or its refusal."""
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        username = self.auth_cache.get(authorization)
        if username is not None:
            return username
        answer = self.upstreams.send("auth", "GET", "/verify", headers={
            "Authorization": authorization, "X-Request-ID": environ[REQUEST_ID_KEY],
            "X-Forwarded-For": forwarded_for(environ)})
        if answer.status == 200 and (username := answer.header(USER_HEADER)):
            self.auth_cache.put(authorization, username)
            return username
        if answer.status in (401, 429):
            return answer
        raise APIError(503, "Authentication is unavailable right now.")

    @staticmethod
    def _upstream_headers(environ: dict, pool: str, user: str | None) -> dict[str, str]:
        dropped = hop_by_hop(environ.get("HTTP_CONNECTION")) | PRIVATE
        if pool != "auth":
            dropped.add("authorization")  # services learn the user from the gateway, not credentials
        headers = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = header_name(key)
                if name.lower() not in dropped:
                    headers[name] = value
        if "CONTENT_TYPE" in environ:
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers["X-Request-ID"] = environ[REQUEST_ID_KEY]
        headers["X-Forwarded-For"] = forwarded_for(environ)
        if user is not None:
            headers[USER_HEADER] = user
        return headers

    @staticmethod
    def _relay(environ: dict, answer: Answer, start_response: Callable) -> list[bytes]:
        dropped = hop_by_hop(answer.header("Connection")) | {"x-request-id"}
        head_request = environ["REQUEST_METHOD"] == "HEAD"
        if head_request:
            dropped.discard("content-length")  # the length the GET would have
        headers = [(k, v) for k, v in answer.headers if k.lower() not in dropped]
        headers.append(("X-Request-ID", environ[REQUEST_ID_KEY]))
        if not head_request and answer.status not in (204, 304):
            headers.append(("Content-Length", str(len(answer.data))))
        start_response(f"{answer.status} {REASONS.get(answer.status, 'Unknown')}", headers)
        return [] if head_request else [answer.data]

    def _too_large(self, environ: dict) -> None:
        """413, after reading (a bounded amount of) the rest of the body, so that the
        client sees the answer instead of a connection cut while it still sends."""
        stream, left = environ["wsgi.input"], DRAIN_BYTES
        try:
            while left > 0 and (chunk := stream.read(min(65536, left))):
                left -= len(chunk)
        except (OSError, ParseException):  # gone, stalled or malformed: it gets the 413 anyway
            pass
        raise APIError(413, f"A request body may be at most {self.max_body} bytes.")


def forwarded_for(environ: dict) -> str:
    earlier, address = environ.get("HTTP_X_FORWARDED_FOR"), environ.get("REMOTE_ADDR") or ""
    return f"{earlier}, {address}" if earlier else address
