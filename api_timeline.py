"""The timelines service: posting and deleting tweets; user, home and public timelines."""
from flask import Blueprint, Flask

from microblog.body import read_body
from microblog.db import get_db, transaction
from microblog.errors import APIError
from microblog.factory import create_service_app
from microblog.identity import check_actor, current_user
from microblog.paging import page_args, page_response
from microblog.stores import tweets
from microblog.timestamps import utc_now
from microblog.users import user_or_404

MAX_TWEET = 280

bp = Blueprint("timeline", __name__)


def render_tweet(row) -> dict:
    return {"id": row["id"], "username": row["username"], "tweet": row["tweet"],
            "created_at": row["created_at"], "reply_to": row["reply_to"]}


def tweet_or_404(tweet_id: int):
    row = tweets.get_tweet(get_db(), tweet_id)
    if row is None:
        raise APIError(404, f"There is no tweet {tweet_id}.")
    return row


def timeline(query, *args):
    limit, before = page_args("before")
    rows = query(get_db(), *args, before, limit + 1)
    return page_response("tweets", rows, limit, "before", render_tweet, lambda r: r["id"])


@bp.post("/postTweet")
def post_tweet():
    author = user_or_404(current_user())
    body = read_body("tweet", "reply_to", "username")
    check_actor(body, "username", author["username"])
    text = body.text("tweet", max_length=MAX_TWEET)
    reply_to = body.integer("reply_to", required=False, minimum=1)
    if reply_to is not None:
        tweet_or_404(reply_to)
    db = get_db()
    with transaction(db):
        if reply_to is not None:
            tweet_or_404(reply_to)  # again inside the transaction: it may just have been deleted
        row = tweets.create_tweet(db, author["id"], text, reply_to, utc_now())
    return render_tweet(row), 201, {"Location": f"/tweets/{row['id']}"}


@bp.get("/tweets/<int:tweet_id>")
def show_tweet(tweet_id: int):
    return render_tweet(tweet_or_404(tweet_id))


@bp.delete("/tweets/<int:tweet_id>")
def delete_tweet(tweet_id: int):
    actor = user_or_404(current_user())
    db = get_db()
    with transaction(db):
        row = tweet_or_404(tweet_id)
        if row["user_id"] != actor["id"]:
            raise APIError(403, "Only its author can delete a tweet.")
        tweets.delete_tweet(db, tweet_id)
    return "", 204


@bp.get("/userTimeline/<username>")
def user_timeline(username: str):
    return timeline(tweets.user_timeline, user_or_404(username)["id"])


@bp.get("/homeTimeline")
def home_timeline():
    return timeline(tweets.home_timeline, user_or_404(current_user())["id"])


@bp.get("/publicTimeline")
def public_timeline():
    return timeline(tweets.public_timeline)


def create_app(test_config: dict | None = None) -> Flask:
    app = create_service_app(__name__, test_config)
    app.register_blueprint(bp)
    return app
