"""The direct-messages service (Procfile process `app`): messages, replies and
quick replies, stored in DynamoDB. Only a message's two participants see it."""
from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Flask, current_app

from microblog.body import read_body
from microblog.dynamo import client_for
from microblog.errors import APIError, error_response
from microblog.factory import create_service_app
from microblog.identity import check_actor, current_user, same_user
from microblog.paging import page_args, page_response
from microblog.stores.messages import MessageStore, render
from microblog.users import named_user, user_or_404

MAX_MESSAGE = 1000
MAX_QUICK_REPLIES, MAX_QUICK_REPLY = 10, 100

bp = Blueprint("messages", __name__)


def store() -> MessageStore:
    return current_app.extensions["messages"]


def visible_message(message_id: int, actor: str) -> dict:
    """The message, if the actor took part in it; 404 alike for missing and private."""
    message = store().get(message_id)
    if message is None or actor.lower() not in (message["sender"].lower(),
                                                message["recipient"].lower()):
        raise APIError(404, f"You have no message {message_id}.")
    return message


def quick_replies(body) -> list[str] | None:
    return body.text_list("quick-replies", MAX_QUICK_REPLIES, MAX_QUICK_REPLY)


@bp.post("/sendmsg")
def send_message():
    actor = current_user()
    body = read_body("to", "msg", "from", "quick-replies")
    check_actor(body, "from", actor)
    recipient = named_user(body, "to")
    text = body.text("msg", max_length=MAX_MESSAGE)
    message = store().add(actor, recipient, text, quick_replies=quick_replies(body))
    return render(message), 201


@bp.post("/replyto")
def reply():
    actor = current_user()
    body = read_body("reply-to-id", "msg", "quick-reply", "to", "from", "quick-replies")
    check_actor(body, "from", actor)
    if ("msg" in body) == ("quick-reply" in body):
        raise APIError(400, "Send either 'msg' or 'quick-reply' (an option's number).")
    original_id = body.integer("reply-to-id", required=False, minimum=1)
    named = named_user(body, "to", required=False)
    if original_id is not None:
        original = visible_message(original_id, actor)
        other = original["recipient"] if same_user(original["sender"], actor) else original["sender"]
        if named is not None and not same_user(named, other):
            raise APIError(400, f"A reply to message {original_id} goes to {other}.")
    elif named is not None and "quick-reply" in body:
        original = store().latest_with_quick_replies(named, actor)
        if original is None:
            raise APIError(404, f"No message from {named} to you offers quick replies.")
        other = named
    else:
        raise APIError(400, "'reply-to-id' is required (or 'to' with 'quick-reply').")

    if "quick-reply" in body:
        options = original.get("quick_replies", [])
        if not options:
            raise APIError(400, f"Message {original['id']} offers no quick replies.")
        if not same_user(original["recipient"], actor):
            raise APIError(400, "Only the recipient of a message picks one of its quick replies.")
        choice = body.integer("quick-reply", minimum=1, maximum=len(options))
        text = options[choice - 1]
    else:
        text = body.text("msg", max_length=MAX_MESSAGE)
    message = store().add(actor, other, text, reply_to=original["id"],
                          quick_replies=quick_replies(body))
    return render(message), 201


@bp.get("/listreplies/<int:message_id>")
def list_replies(message_id: int):
    visible_message(message_id, current_user())
    limit, after = page_args("after")
    rows = store().replies(message_id, after, limit + 1)
    return page_response("replies", rows, limit, "after", render, lambda m: m["id"])


@bp.get("/listmsg/<username>")
def list_messages(username: str):
    """The caller's inbox when naming the caller, else the conversation with that user."""
    actor = current_user()
    other = user_or_404(username)["username"]
    limit, before = page_args("before")
    if same_user(other, actor):
        rows = store().inbox(actor, before, limit + 1)
    else:
        rows = store().conversation(actor, other, before, limit + 1)
    return page_response("messages", rows, limit, "before", render, lambda m: m["id"])


def store_unavailable(_error: Exception):
    current_app.logger.warning("message store failed: %s", _error)
    return error_response(503, "The message store is unavailable; try again shortly.",
                          headers={"Retry-After": "5"})


def create_app(test_config: dict | None = None) -> Flask:
    app = create_service_app(__name__, test_config)
    app.extensions["messages"] = MessageStore(client_for(app.config),
                                              app.config["DYNAMODB_TABLE_PREFIX"])
    app.register_error_handler(BotoCoreError, store_unavailable)
    app.register_error_handler(ClientError, store_unavailable)
    app.register_blueprint(bp)
    return app
