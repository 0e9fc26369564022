"""Who is calling: the gateway vouches for the user in a header, and proves it
is the gateway with the shared secret, which a direct caller does not have."""
import hmac

from flask import Flask, current_app, request

from .body import Body
from .errors import APIError

USER_HEADER = "X-Microblog-User"
SECRET_HEADER = "X-Microblog-Secret"


def require_gateway(app: Flask) -> None:
    """Refuse every request that does not carry the shared secret."""

    @app.before_request
    def check_secret():
        sent = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(sent.encode(), current_app.config["SECRET"].encode()):
            raise APIError(403, "This service only answers the gateway.")


def current_user() -> str:
    """The authenticated username (registered spelling) of this request."""
    username = request.headers.get(USER_HEADER)
    if not username:
        raise APIError(401, "Authentication is required.")
    return username


def same_user(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def check_actor(body: Body, field: str, actor: str) -> None:
    """A body field naming the actor may be left out, but must not name anyone else."""
    named = body.text(field, max_length=Body.UNBOUNDED, required=False)
    if named is not None and not same_user(named, actor):
        raise APIError(403, f"'{field}' must be the authenticated user, {actor}.")
