"""The users service: registration, profiles, follows; and the password check
the auth service asks for, so that password hashes never leave this service."""
import re

from flask import Blueprint, Flask, jsonify

from microblog.body import Body, read_body
from microblog.db import get_db, transaction
from microblog.errors import APIError
from microblog.factory import create_service_app
from microblog.identity import check_actor, current_user, same_user
from microblog.paging import page_args, page_response
from microblog.passwords import check_password, hash_password
from microblog.stores import users
from microblog.timestamps import utc_now
from microblog.users import user_or_404

USERNAME = re.compile(r"[A-Za-z0-9_]{1,30}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")

bp = Blueprint("users", __name__)


def render_user(user, counts, with_email: bool) -> dict:
    shown = {"id": user["id"], "username": user["username"], "created_at": user["created_at"],
             "followers": counts["followers"], "following": counts["following"],
             "tweets": counts["tweets"]}
    if with_email:
        shown["email"] = user["email"]
    return shown


@bp.post("/register")
def register():
    body = read_body("username", "email", "password")
    username = body.text("username", max_length=30)
    if not USERNAME.fullmatch(username):
        raise APIError(400, "A username is 1 to 30 letters, digits or underscores.")
    email = body.text("email", max_length=254)
    if not EMAIL.fullmatch(email):
        raise APIError(400, "That is not an email address.")
    password = body.text("password", max_length=1024)
    if len(password) < 4:
        raise APIError(400, "A password has at least 4 characters.")
    password_hash = hash_password(password)  # slow: before the write transaction
    db = get_db()
    try:
        with transaction(db):
            user = users.create_user(db, username, email, password_hash, utc_now())
    except users.Taken as taken:
        raise APIError(409, f"That {taken.field} is taken.", f"{taken.field}_taken") from None
    response = jsonify(render_user(user, users.counts(db, user["id"]), with_email=True))
    response.status_code = 201
    response.headers["Location"] = f"/users/{user['username']}"
    return response


@bp.get("/users/<username>")
def profile(username: str):
    user = user_or_404(username)
    owner = same_user(user["username"], current_user())
    return render_user(user, users.counts(get_db(), user["id"]), with_email=owner)


@bp.route("/follow", methods=["PUT", "POST"])
def follow():
    actor = user_or_404(current_user())
    body = read_body("usernameToFollow", "username")
    check_actor(body, "username", actor["username"])
    target = user_or_404(body.text("usernameToFollow", max_length=Body.UNBOUNDED))
    if target["id"] == actor["id"]:
        raise APIError(400, "You cannot follow yourself.")
    db = get_db()
    with transaction(db):
        created = users.follow(db, actor["id"], target["id"], utc_now())
    return {"follower": actor["username"], "following": target["username"]}, 201 if created else 200


@bp.post("/unfollow")
def unfollow():
    actor = user_or_404(current_user())
    body = read_body("usernameToRemove", "username")
    check_actor(body, "username", actor["username"])
    target = user_or_404(body.text("usernameToRemove", max_length=Body.UNBOUNDED))
    db = get_db()
    with transaction(db):
        removed = users.unfollow(db, actor["id"], target["id"])
    return {"follower": actor["username"], "unfollowed": target["username"], "was_following": removed}


def _follow_list(username: str, key: str, query):
    user = user_or_404(username)
    limit, before = page_args("before")
    rows = query(get_db(), user["id"], before, limit + 1)
    return page_response(key, rows, limit, "before",
                         render=lambda r: {"username": r["username"], "since": r["since"]},
                         cursor_of=lambda r: r["cursor"])


@bp.get("/followers/<username>")
def followers(username: str):
    return _follow_list(username, "followers", users.followers)


@bp.get("/following/<username>")
def following(username: str):
    return _follow_list(username, "following", users.following)


@bp.post("/internal/credentials")
def check_credentials():
    """For the auth service only (the gateway never routes here)."""
    body = read_body("username", "password")
    username, password = body.text("username", 1024), body.text("password", 4096)
    user = users.find_user(get_db(), username)
    if not check_password(user["password_hash"] if user else None, password):
        raise APIError(401, "Wrong username or password.")
    return {"username": user["username"]}


def create_app(test_config: dict | None = None) -> Flask:
    app = create_service_app(__name__, test_config)
    app.register_blueprint(bp)
    return app
