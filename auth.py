"""The auth service: the gateway asks it about every protected request (like
nginx's auth_request), and /login issues bearer tokens. Basic credentials are
checked by the users service, which alone holds the password hashes."""
import hmac
import json

from flask import Blueprint, Flask, current_app, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from microblog.body import Body, read_body
from microblog.errors import APIError, error_response
from microblog.factory import create_service_app
from microblog.identity import USER_HEADER, same_user
from microblog.throttle import LoginThrottle
from microblog.tokens import issue_token, read_token
from microblog.upstream import Upstreams


class AnyCaseScheme:
    """Match the scheme ignoring case, as RFC 7235 says (flask_httpauth's
    MultiAuth compares it exactly, so `bearer <token>` fell through to Basic)."""

    def is_compatible_auth(self, headers) -> bool:
        scheme = headers.get("Authorization", "").split(None, 1)[:1]
        return bool(scheme) and scheme[0].lower() == self.scheme.lower()


class BasicAuth(AnyCaseScheme, HTTPBasicAuth):
    pass


class TokenAuth(AnyCaseScheme, HTTPTokenAuth):
    pass


basic_auth = BasicAuth(realm="microblog")
token_auth = TokenAuth(scheme="Bearer", realm="microblog")
auth = MultiAuth(basic_auth, token_auth)
CHALLENGE = 'Basic realm="microblog", Bearer realm="microblog"'

bp = Blueprint("auth", __name__)


def users_service_says(username: str, password: str) -> str | None:
    """The registered spelling of username if the password is right, else None."""
    answer = current_app.extensions["upstreams"].send(
        "users", "POST", "/internal/credentials",
        headers={"Content-Type": "application/json",
                 "X-Request-ID": request.headers.get("X-Request-ID", "")},
        body=json.dumps({"username": username, "password": password}).encode())
    if answer.status == 200:
        return json.loads(answer.data)["username"]
    if answer.status in (400, 401):
        return None
    raise APIError(503, "Credentials cannot be checked right now.")


def client_address() -> str:
    """The caller's address as the gateway saw it: the last X-Forwarded-For
    entry, the one the gateway itself appended."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.rsplit(",", 1)[-1].strip() or request.remote_addr or "-"


@basic_auth.verify_password
def verify_password(username: str, password: str) -> str | None:
    if not username or not password:
        return None
    return throttled_check(username, password)


def throttled_check(username: str, password: str) -> str | None:
    """The users service's answer, unless this username or address has failed
    too often lately (429); every failure counts towards that."""
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    address = client_address()
    wait = throttle.retry_after(username, address)
    if wait is not None:
        raise APIError(429, f"Too many failed logins; try again in {wait} seconds.",
                       headers={"Retry-After": str(wait)})
    user = users_service_says(username, password)
    if user is None:
        throttle.failed(username, address)
    else:
        throttle.succeeded(username)
    return user


@token_auth.verify_token
def verify_token(token: str) -> str | None:
    return read_token(current_app.config["SECRET"], token, current_app.config["TOKEN_TTL"])


@basic_auth.error_handler
@token_auth.error_handler
def unauthorized(status: int):
    return error_response(status, "Valid credentials are required: HTTP Basic, or a Bearer token from /login.",
                          headers={"WWW-Authenticate": CHALLENGE})


@bp.get("/verify")
@auth.login_required
def verify():
    """The gateway's question: who is this? 200 with the username (in the body,
    and in a header for gateways such as nginx's auth_request), or 401."""
    username = auth.current_user()
    return {"username": username}, 200, {USER_HEADER: username}


@bp.post("/login")
@auth.login_required
def login():
    username = auth.current_user()
    body = read_body("username", "password")
    named = body.text("username", max_length=Body.UNBOUNDED, required=False)
    if named is not None and not same_user(named, username):
        raise APIError(403, f"'username' must be the authenticated user, {username}.")
    password = body.text("password", max_length=4096, required=False)
    if password is not None:
        credentials = request.authorization
        if credentials and credentials.type == "basic":
            matches = hmac.compare_digest(password.encode(), (credentials.password or "").encode())
        else:
            matches = throttled_check(username, password) is not None
        if not matches:
            raise APIError(401, "The password in the body does not match the credentials.",
                           headers={"WWW-Authenticate": CHALLENGE})
    ttl = current_app.config["TOKEN_TTL"]
    return {"username": username, "token": issue_token(current_app.config["SECRET"], username),
            "expires_in": ttl}


def create_app(test_config: dict | None = None) -> Flask:
    app = create_service_app(__name__, test_config)
    upstreams = Upstreams({"users": app.config["UPSTREAMS"]["users"]}, app.config["SECRET"],
                          app.config["CONNECT_TIMEOUT"], app.config["READ_TIMEOUT"])
    upstreams.start_probing()
    app.extensions["upstreams"] = upstreams
    app.extensions["login_throttle"] = LoginThrottle(app.config["LOGIN_FAILURES_IN_A_ROW"],
                                                     app.config["LOGIN_FAILURES_PER_MINUTE"])
    app.register_blueprint(bp)
    return app
