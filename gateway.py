"""The API gateway on :5000: routes each public path to its pool, asks the
auth service who the caller is, and passes the answer on in a header that no
client can set. Everything not in the public API is a 404 here."""
import re
import uuid
from urllib.parse import quote

from flask import Flask, Response, current_app, g, request, send_file

from microblog.authcache import AuthCache
from microblog.config import ROOT
from microblog.errors import APIError
from microblog.factory import create_base_app
from microblog.identity import SECRET_HEADER, USER_HEADER
from microblog.upstream import Upstreams

# (rule, methods, pool, public): the whole public API.
ROUTES = [
    ("/register", ["POST"], "users", True),
    ("/login", ["POST"], "auth", True),  # the auth service checks the credentials itself
    ("/users/<username>", ["GET"], "users", False),
    ("/follow", ["PUT", "POST"], "users", False),
    ("/unfollow", ["POST"], "users", False),
    ("/followers/<username>", ["GET"], "users", False),
    ("/following/<username>", ["GET"], "users", False),
    ("/postTweet", ["POST"], "timeline", False),
    ("/tweets/<int:tweet_id>", ["GET", "DELETE"], "timeline", False),
    ("/userTimeline/<username>", ["GET"], "timeline", False),
    ("/homeTimeline", ["GET"], "timeline", False),
    ("/publicTimeline", ["GET"], "timeline", False),
    ("/sendmsg", ["POST"], "messages", False),
    ("/replyto", ["POST"], "messages", False),
    ("/listreplies/<int:message_id>", ["GET"], "messages", False),
    ("/listmsg/<username>", ["GET"], "messages", False),
]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
              "expect"}  # the gateway has answered Expect: 100-continue itself
# Never taken from a client: the identity the gateway vouches for, and the proof it is the gateway.
PRIVATE = {USER_HEADER.lower(), SECRET_HEADER.lower()}
DRAIN_BYTES = 16 * 1024 * 1024  # past this, an oversized body's connection is just closed
REQUEST_ID = re.compile(r"[\w.:/+=-]{1,128}")


def upstreams() -> Upstreams:
    return current_app.extensions["upstreams"]


def hop_by_hop(connection: str | None) -> set[str]:
    """The hop-by-hop headers, including any the Connection header names."""
    named = {h.strip().lower() for h in (connection or "").split(",") if h.strip()}
    return HOP_BY_HOP | named


def assign_request_id() -> None:
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def return_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.request_id
    return response


def authenticate() -> str | Response:
    """The username the auth service vouches for (or did a moment ago), or its
    refusal to relay as it is."""
    authorization = request.headers.get("Authorization", "")
    cache: AuthCache = current_app.extensions["auth_cache"]
    username = cache.get(authorization)
    if username is not None:
        return username
    answer = upstreams().send("auth", "GET", "/verify", headers={
        "Authorization": authorization, "X-Request-ID": g.request_id,
        "X-Forwarded-For": forwarded_for()})
    if answer.status == 200:
        username = answer.header(USER_HEADER)
        cache.put(authorization, username)
        return username
    if answer.status in (401, 429):
        return relay(answer)
    raise APIError(503, "Authentication is unavailable right now.")


def forwarded_for() -> str:
    earlier = request.headers.get("X-Forwarded-For")
    return f"{earlier}, {request.remote_addr}" if earlier else (request.remote_addr or "")


def upstream_headers(pool: str, user: str | None) -> dict:
    dropped = hop_by_hop(request.headers.get("Connection")) | PRIVATE
    if pool != "auth":
        dropped.add("authorization")  # services learn the user from the gateway, not credentials
    headers = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
    headers["X-Request-ID"] = g.request_id
    headers["X-Forwarded-For"] = forwarded_for()
    if user is not None:
        headers[USER_HEADER] = user
    return headers


def relay(answer) -> Response:
    dropped = hop_by_hop(answer.header("Connection")) | {"x-request-id"}
    return Response(answer.data, status=answer.status,
                    headers=[(k, v) for k, v in answer.headers if k.lower() not in dropped])


def too_large(limit: int) -> None:
    """413, after reading (a bounded amount of) the rest of the body, so that the
    client sees the answer instead of a connection cut while it still sends."""
    stream, left = request.environ["wsgi.input"], DRAIN_BYTES
    while left > 0 and (chunk := stream.read(min(65536, left))):
        left -= len(chunk)
    raise APIError(413, f"A request body may be at most {limit} bytes.")


def proxy(pool: str, public: bool):
    def forward(**_path_args):
        limit = current_app.config["MAX_BODY_BYTES"]
        if request.content_length is not None and request.content_length > limit:
            too_large(limit)
        user = None if public else authenticate()
        if isinstance(user, Response):
            return user
        if request.content_length is None:  # chunked: read one byte past the limit to know
            body = request.environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                too_large(limit)
        else:
            body = request.get_data()
        path = quote(request.path, safe="/:@!$&'()*+,;=-._~")
        if request.query_string:
            path += "?" + request.query_string.decode("latin-1")
        answer = upstreams().send(pool, request.method, path,
                                  upstream_headers(pool, user), body or None)
        return relay(answer)
    forward.__name__ = f"forward_{pool}_{'public' if public else 'protected'}"
    return forward


def create_app(test_config: dict | None = None) -> Flask:
    app = create_base_app(__name__, test_config)
    config = app.config
    gateway = Upstreams(config["UPSTREAMS"], config["SECRET"], config["CONNECT_TIMEOUT"],
                        config["READ_TIMEOUT"], config["MAX_IN_FLIGHT"])
    gateway.start_probing()
    app.extensions["upstreams"] = gateway
    app.extensions["auth_cache"] = AuthCache(config["AUTH_CACHE_SECONDS"])
    app.before_request(assign_request_id)
    app.after_request(return_request_id)
    for rule, methods, pool, public in ROUTES:
        app.add_url_rule(rule, endpoint=rule, view_func=proxy(pool, public), methods=methods)

    @app.get("/openapi.json")
    def openapi():
        """The OpenAPI 3 document of the whole public API."""
        return send_file(ROOT / "openapi.json", mimetype="application/json", max_age=60)

    @app.get("/health")
    def health():
        pools = gateway.status()
        everything_up = all(i["up"] for instances in pools.values() for i in instances)
        return {"status": "ok" if everything_up else "degraded", "pools": pools}

    return app
