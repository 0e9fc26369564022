"""Direct messages through the gateway: POST /sendmsg, POST /replyto,
GET /listreplies/<id> and GET /listmsg/<username>, against the real processes
(gateway, auth, services, the embedded DynamoDB server)."""
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit


from microblog.config import ROOT
from tests.conftest import Client
from tests.helpers import TIMESTAMP, assert_error, every_page

MESSAGE_KEYS = {"id", "from", "to", "msg", "timestamp", "reply_to", "quick_replies"}
HUGE = "9" * 40  # beyond any id, and beyond the 38 digits a DynamoDB number holds


# Helpers


def fast(client: Client) -> Client:
    """The same user with a Bearer token from /login: far cheaper per request
    than Basic (a slow password hash each time), for tests that send a lot."""
    answer = client.post("/login")
    assert answer.status_code == 200, answer.text
    token_client = Client(client.base_url, token=answer.json()["token"])
    token_client.username = client.username
    return token_client


def clone(client: Client) -> Client:
    """Another session with the same Bearer token, for use from another thread."""
    twin = Client(client.base_url, token=client.session.headers["Authorization"].split()[1])
    twin.username = client.username
    return twin


def assert_message(message: dict, *, sender: str, to: str, msg: str, reply_to=None,
                   quick_replies=(), fresh: bool = True) -> dict:
    """The one shape of a message, with exactly these values."""
    assert set(message) == MESSAGE_KEYS, message
    assert type(message["id"]) is int and message["id"] > 0, message
    assert message["from"] == sender, message
    assert message["to"] == to, message
    assert message["msg"] == msg, message
    assert message["reply_to"] == reply_to, message
    assert message["quick_replies"] == list(quick_replies), message
    assert TIMESTAMP.fullmatch(message["timestamp"]), message
    if fresh:
        sent = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
        assert abs((datetime.now(timezone.utc) - sent).total_seconds()) < 120, message
    return message


def send(client: Client, to: str, msg: str, **fields) -> dict:
    answer = client.post("/sendmsg", json={"to": to, "msg": msg, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def reply(client: Client, **fields) -> dict:
    answer = client.post("/replyto", json=fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def listing(client: Client, path: str, key: str) -> list[dict]:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()[key]




def ids(messages: list[dict]) -> list[int]:
    return [m["id"] for m in messages]


def conversation(client: Client, other: str) -> list[dict]:
    return listing(client, f"/listmsg/{other}?limit=100", "messages")


def inbox(client: Client) -> list[dict]:
    return listing(client, f"/listmsg/{client.username}?limit=100", "messages")


def replies(client: Client, message_id: int) -> list[dict]:
    return listing(client, f"/listreplies/{message_id}?limit=100", "replies")


# POST /sendmsg


def test_sendmsg_json_answers_201_and_the_message_is_listed_for_both(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    sent = alice.post("/sendmsg", json={"to": bob.username, "msg": "Hello Bob"})
    assert sent.status_code == 201, sent.text
    message = assert_message(sent.json(), sender=alice.username, to=bob.username, msg="Hello Bob")
    with_from = send(alice, bob.username, "again", **{"from": alice.username})
    assert_message(with_from, sender=alice.username, to=bob.username, msg="again")
    assert with_from["id"] > message["id"]

    assert inbox(bob) == [with_from, message]
    assert conversation(bob, alice.username) == [with_from, message]
    assert conversation(alice, bob.username) == [with_from, message]
    assert inbox(alice) == []  # the inbox holds what one received, not what one sent


def test_sendmsg_form_body_and_quick_replies_as_list_or_repeated_field(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    form = alice.post("/sendmsg", data={"to": bob.username, "msg": "form body"})
    assert form.status_code == 201, form.text
    plain = assert_message(form.json(), sender=alice.username, to=bob.username, msg="form body")

    repeated = alice.post("/sendmsg", data={"to": bob.username, "msg": "pick one",
                                            "quick-replies": ["Yes", "No", "Maybe"]})
    assert repeated.status_code == 201, repeated.text
    repeated = assert_message(repeated.json(), sender=alice.username, to=bob.username,
                              msg="pick one", quick_replies=["Yes", "No", "Maybe"])

    single = alice.post("/sendmsg", data={"to": bob.username, "msg": "just one",
                                          "quick-replies": "OK"})
    assert single.status_code == 201, single.text
    single = assert_message(single.json(), sender=alice.username, to=bob.username,
                            msg="just one", quick_replies=["OK"])

    array = send(alice, bob.username, "json list", **{"quick-replies": ["Left", "Right"]})
    assert_message(array, sender=alice.username, to=bob.username, msg="json list",
                   quick_replies=["Left", "Right"])

    assert conversation(bob, alice.username) == [array, single, repeated, plain]


def test_sendmsg_boundaries_are_accepted_and_counted_in_code_points(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    longest = "\U0001F600" * 1000  # 1000 code points, 4000 bytes of UTF-8
    options = [f"{n}" + "\u00e9" * 99 for n in range(10)]  # 10 options of 100 code points
    first = send(alice, bob.username, longest, **{"quick-replies": options})
    assert_message(first, sender=alice.username, to=bob.username, msg=longest,
                   quick_replies=options)
    single_char = send(alice, bob.username, "x", **{"quick-replies": ["y"]})
    assert_message(single_char, sender=alice.username, to=bob.username, msg="x",
                   quick_replies=["y"])
    assert inbox(bob) == [single_char, first]


def test_sendmsg_rejections_have_the_right_status_and_store_nothing(new_user):
    alice, bob, carol = fast(new_user("alice")), fast(new_user("bob")), new_user("carol")
    to = bob.username
    too_long = "\U0001F600" * 1001
    rejected = [
        (400, {"json": {"to": to}}),
        (400, {"json": {"to": to, "msg": ""}}),
        (400, {"json": {"to": to, "msg": " \t\n\u3000 "}}),
        (400, {"data": {"to": to, "msg": "   "}}),
        (400, {"json": {"to": to, "msg": too_long}}),
        (400, {"data": {"to": to, "msg": too_long}}),
        (400, {"json": {"to": to, "msg": 42}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": []}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": [""]}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": ["ok", "  "]}}),
        (400, {"data": {"to": to, "msg": "q", "quick-replies": ["ok", ""]}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": [str(n) for n in range(11)]}}),
        (400, {"data": {"to": to, "msg": "q", "quick-replies": [str(n) for n in range(11)]}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": ["ok", "x" * 101]}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": ["\U0001F600" * 101]}}),
        (400, {"json": {"to": to, "msg": "q", "quick-replies": [1, 2]}}),
        (400, {"json": {"msg": "no recipient"}}),
        (400, {"json": {"to": "  ", "msg": "blank recipient"}}),
        (404, {"json": {"to": "nobody_at_all_here", "msg": "hi"}}),
        (404, {"data": {"to": "nobody_at_all_here", "msg": "hi"}}),
        (404, {"json": {"to": "n" * 101, "msg": "hi"}}),  # no such user either
        (403, {"json": {"to": to, "msg": "impersonating", "from": carol.username}}),
        (403, {"data": {"to": to, "msg": "impersonating", "from": carol.username}}),
        (403, {"json": {"to": to, "msg": "impersonating", "from": carol.username.upper()}}),
    ]
    for status, request in rejected:
        assert_error(alice.post("/sendmsg", **request), status)
    assert inbox(bob) == []
    assert conversation(alice, bob.username) == []
    assert conversation(carol, bob.username) == []
    assert inbox(alice) == []


def test_sendmsg_other_content_types_bad_json_wrong_method_and_no_credentials(new_user,
                                                                              anonymous):
    alice, bob = new_user("alice"), new_user("bob")
    assert_error(alice.post("/sendmsg", data=f"to={bob.username}&msg=plain",
                            headers={"Content-Type": "text/plain"}), 415)
    assert_error(alice.post("/sendmsg", data='{"to": "' + bob.username + '", "msg": ',
                            headers={"Content-Type": "application/json"}), 400)
    assert_error(alice.post("/sendmsg", json=[bob.username, "list"]), 400)
    for method, path in [("GET", "/sendmsg"), ("GET", "/replyto"),
                         ("POST", f"/listmsg/{bob.username}"), ("DELETE", "/listreplies/1")]:
        answer = alice.request(method, path)
        assert_error(answer, 405)
        assert answer.headers.get("Allow"), answer.headers
    for method, path in [("POST", "/sendmsg"), ("POST", "/replyto"),
                         ("GET", "/listreplies/1"), ("GET", f"/listmsg/{bob.username}")]:
        answer = anonymous.request(method, path, json={"to": bob.username, "msg": "anon",
                                                       "reply-to-id": 1})
        assert_error(answer, 401)
        assert answer.headers.get("WWW-Authenticate"), answer.headers
    assert inbox(bob) == []


def test_text_round_trips_exactly_in_json_and_form(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    texts = [
        "\U0001F44B\U0001F3FD hi \U0001F468\u200d\U0001F469\u200d\U0001F467 \u2764\ufe0f",
        "\u05e9\u05dc\u05d5\u05dd \u200f\u05e2\u05d5\u05dc\u05dd\u200e!",  # Hebrew with marks
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 123",  # Arabic
        "  leading and trailing spaces\n\tsecond line  ",
        "e\u0301 caf\u00e9 \u00c5ngstr\u00f6m <b>&amp;</b> \"quotes\" 'single' \\ /",
    ]
    sent = []
    for n, text in enumerate(texts):
        options = [text[:100], "\u05db\u05df"]
        if n % 2:
            answer = alice.post("/sendmsg", data={"to": bob.username, "msg": text,
                                                  "quick-replies": options})
            assert answer.status_code == 201, answer.text
            message = answer.json()
        else:
            message = send(alice, bob.username, text, **{"quick-replies": options})
        sent.append(assert_message(message, sender=alice.username, to=bob.username, msg=text,
                                   quick_replies=options))
    newest_first = list(reversed(sent))
    assert inbox(bob) == newest_first
    assert conversation(alice, bob.username) == newest_first
    answer = bob.get(f"/listmsg/{alice.username}")
    raw = json.loads(answer.content.decode("utf-8"))  # the bytes are UTF-8 JSON
    assert [m["msg"] for m in raw["messages"]] == list(reversed(texts))
    # A reply carries exotic text as exactly.
    answer = reply(bob, **{"reply-to-id": sent[0]["id"], "msg": texts[1]})
    assert answer["msg"] == texts[1]
    assert replies(alice, sent[0]["id"]) == [answer]


def test_usernames_ignore_case_and_answers_use_the_registered_spelling(new_user):
    alice, bob = new_user("AliceMixed"), new_user("BobMixed")
    assert alice.username != alice.username.lower()
    message = send(alice, bob.username.lower(), "case", **{"from": alice.username.upper(),
                                                            "quick-replies": ["A", "B"]})
    assert_message(message, sender=alice.username, to=bob.username, msg="case",
                   quick_replies=["A", "B"])
    form = alice.post("/sendmsg", data={"to": bob.username.upper(), "msg": "form case",
                                        "from": alice.username.swapcase()})
    assert form.status_code == 201, form.text
    assert_message(form.json(), sender=alice.username, to=bob.username, msg="form case")

    answer = bob.post("/replyto", json={"reply-to-id": message["id"], "quick-reply": 2,
                                        "to": alice.username.lower(),
                                        "from": bob.username.upper()})
    assert answer.status_code == 201, answer.text
    picked = assert_message(answer.json(), sender=bob.username, to=alice.username, msg="B",
                            reply_to=message["id"])
    answer = bob.post("/replyto", json={"to": alice.username.upper(), "quick-reply": "1"})
    assert answer.status_code == 201, answer.text
    by_to = assert_message(answer.json(), sender=bob.username, to=alice.username, msg="A",
                           reply_to=message["id"])

    # Basic credentials in another case: the answer still has the registered spelling.
    other_case = Client(alice.base_url, auth=(alice.username.lower(), alice.password))
    lower_login = send(other_case, bob.username, "lower-case login")
    assert_message(lower_login, sender=alice.username, to=bob.username, msg="lower-case login")

    expected = [lower_login, by_to, picked, form.json(), message]
    assert conversation(bob, alice.username.upper()) == expected
    assert conversation(alice, bob.username.lower()) == expected
    # Naming oneself in any case is the inbox.
    assert listing(alice, f"/listmsg/{alice.username.swapcase()}", "messages") == [by_to, picked]
    assert listing(bob, f"/listmsg/{bob.username.lower()}", "messages") == \
        [lower_login, form.json(), message]


# POST /replyto


def test_replyto_with_msg_goes_to_the_other_participant_and_is_listed(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    original = send(alice, bob.username, "Dinner?")
    answer = bob.post("/replyto", json={"reply-to-id": original["id"], "msg": "Sure"})
    assert answer.status_code == 201, answer.text
    from_bob = assert_message(answer.json(), sender=bob.username, to=alice.username, msg="Sure",
                              reply_to=original["id"])
    # The original's sender may reply too: it goes to the recipient.
    from_alice = reply(alice, **{"reply-to-id": str(original["id"]), "msg": "At 8",
                                 "to": bob.username})
    assert_message(from_alice, sender=alice.username, to=bob.username, msg="At 8",
                   reply_to=original["id"])
    form = bob.post("/replyto", data={"reply-to-id": str(original["id"]), "msg": "OK then",
                                      "from": bob.username})
    assert form.status_code == 201, form.text
    form = assert_message(form.json(), sender=bob.username, to=alice.username, msg="OK then",
                          reply_to=original["id"])
    assert original["id"] < from_bob["id"] < from_alice["id"] < form["id"]

    everything = [form, from_alice, from_bob, original]
    assert conversation(alice, bob.username) == everything
    assert conversation(bob, alice.username) == everything
    assert inbox(alice) == [form, from_bob]
    assert inbox(bob) == [from_alice, original]
    assert replies(alice, original["id"]) == [from_bob, from_alice, form]
    assert replies(bob, original["id"]) == [from_bob, from_alice, form]
    assert replies(alice, from_bob["id"]) == []


def test_replyto_quick_reply_sends_the_chosen_option(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    question = send(alice, bob.username, "When?", **{"quick-replies": ["Mon", "Tue", "Wed"]})
    first = reply(bob, **{"reply-to-id": question["id"], "quick-reply": 3})
    assert_message(first, sender=bob.username, to=alice.username, msg="Wed",
                   reply_to=question["id"])
    second = reply(bob, **{"reply-to-id": str(question["id"]), "quick-reply": "1",
                           "to": alice.username})
    assert_message(second, sender=bob.username, to=alice.username, msg="Mon",
                   reply_to=question["id"])
    form = bob.post("/replyto", data={"reply-to-id": str(question["id"]), "quick-reply": "2"})
    assert form.status_code == 201, form.text
    form = assert_message(form.json(), sender=bob.username, to=alice.username, msg="Tue",
                          reply_to=question["id"])
    # A reply may offer quick replies of its own, and those can be picked in turn.
    counter = reply(alice, **{"reply-to-id": form["id"], "msg": "Morning or evening?",
                              "quick-replies": ["Morning", "Evening"]})
    assert_message(counter, sender=alice.username, to=bob.username, msg="Morning or evening?",
                   reply_to=form["id"], quick_replies=["Morning", "Evening"])
    picked = reply(bob, **{"reply-to-id": counter["id"], "quick-reply": 2})
    assert_message(picked, sender=bob.username, to=alice.username, msg="Evening",
                   reply_to=counter["id"])
    assert replies(alice, question["id"]) == [first, second, form]
    assert replies(bob, counter["id"]) == [picked]
    assert inbox(alice) == [picked, form, second, first]


def test_replyto_rejections_have_the_right_status_and_store_nothing(new_user):
    alice, bob, carol = fast(new_user("alice")), fast(new_user("bob")), fast(new_user("carol"))
    question = send(alice, bob.username, "Pick", **{"quick-replies": ["One", "Two"]})
    plain = send(alice, bob.username, "No options here")
    q, p = question["id"], plain["id"]
    rejected = [
        (bob, 400, {"json": {"reply-to-id": q, "msg": "both", "quick-reply": 1}}),
        (bob, 400, {"data": {"reply-to-id": str(q), "msg": "both", "quick-reply": "1"}}),
        (bob, 400, {"json": {"reply-to-id": q}}),
        (bob, 400, {"json": {"reply-to-id": q, "msg": ""}}),
        (bob, 400, {"json": {"reply-to-id": q, "msg": "   "}}),
        (bob, 400, {"json": {"reply-to-id": q, "msg": "\U0001F600" * 1001}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": 0}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": 3}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": "3"}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": -1}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": "two"}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": HUGE}}),
        (bob, 400, {"json": {"reply-to-id": p, "quick-reply": 1}}),
        (bob, 400, {"json": {"reply-to-id": "abc", "msg": "bad id"}}),
        (bob, 400, {"json": {"msg": "no reply-to-id"}}),
        (bob, 400, {"json": {"reply-to-id": q, "msg": "wrong to", "to": carol.username}}),
        (bob, 400, {"json": {"reply-to-id": q, "msg": "wrong to", "to": bob.username}}),
        (bob, 400, {"json": {"reply-to-id": q, "quick-reply": 1, "to": carol.username}}),
        (bob, 404, {"json": {"reply-to-id": q, "msg": "unknown to", "to": "nobody_at_all"}}),
        (bob, 403, {"json": {"reply-to-id": q, "msg": "impersonating", "from": alice.username}}),
        (bob, 403, {"data": {"reply-to-id": str(q), "msg": "imp", "from": carol.username}}),
        (carol, 404, {"json": {"reply-to-id": q, "msg": "not mine"}}),
        (carol, 404, {"json": {"reply-to-id": q, "quick-reply": 1}}),
        (carol, 404, {"json": {"reply-to-id": q, "msg": "not mine", "to": alice.username}}),
        (bob, 404, {"json": {"reply-to-id": 10**12, "msg": "no such message"}}),
        (bob, 404, {"json": {"reply-to-id": HUGE, "msg": "no such message"}}),
        (bob, 404, {"json": {"reply-to-id": int(HUGE), "msg": "no such message"}}),
    ]
    for client, status, request in rejected:
        assert_error(client.post("/replyto", **request), status)
    assert replies(alice, q) == []
    assert replies(bob, p) == []
    assert conversation(alice, bob.username) == [plain, question]
    assert conversation(carol, alice.username) == []
    assert conversation(carol, bob.username) == []


def test_replyto_by_to_and_quick_reply_answers_the_latest_offer_from_them(new_user):
    alice, bob, carol, dave = (fast(new_user(n)) for n in ("alice", "bob", "carol", "dave"))
    older = send(alice, bob.username, "Old offer", **{"quick-replies": ["old 1", "old 2"]})
    latest = send(alice, bob.username, "New offer", **{"quick-replies": ["new 1", "new 2"]})
    send(alice, bob.username, "No offer, but newer")
    send(bob, alice.username, "Bob's own offer", **{"quick-replies": ["b1", "b2"]})
    send(carol, bob.username, "Carol's offer", **{"quick-replies": ["c1", "c2"]})
    send(dave, bob.username, "Dave never offers anything")

    picked = bob.post("/replyto", json={"to": alice.username, "quick-reply": 2,
                                        "from": bob.username})
    assert picked.status_code == 201, picked.text
    assert_message(picked.json(), sender=bob.username, to=alice.username, msg="new 2",
                   reply_to=latest["id"])
    form = bob.post("/replyto", data={"to": alice.username, "quick-reply": "1"})
    assert form.status_code == 201, form.text
    assert_message(form.json(), sender=bob.username, to=alice.username, msg="new 1",
                   reply_to=latest["id"])
    assert replies(bob, latest["id"]) == [picked.json(), form.json()]
    assert replies(bob, older["id"]) == []

    # None from that user to the caller: 404, and nothing is stored.
    assert_error(bob.post("/replyto", json={"to": dave.username, "quick-reply": 1}), 404)
    assert_error(carol.post("/replyto", json={"to": bob.username, "quick-reply": 1}), 404)
    assert_error(bob.post("/replyto", json={"to": carol.username, "quick-reply": 3}), 400)
    assert_error(bob.post("/replyto", json={"to": "nobody_at_all", "quick-reply": 1}), 404)
    assert_error(bob.post("/replyto", json={"to": alice.username, "msg": "no id"}), 400)
    assert len(conversation(bob, dave.username)) == 1
    assert len(conversation(bob, carol.username)) == 1


# GET /listreplies/<id>


def test_listreplies_is_oldest_first_and_pages_with_after(new_user):
    alice, bob = fast(new_user("alice")), fast(new_user("bob"))
    original = send(alice, bob.username, "Thread")
    other = send(alice, bob.username, "Another thread")
    sent = []
    for n in range(7):
        client = bob if n % 2 == 0 else alice
        sent.append(reply(client, **{"reply-to-id": original["id"], "msg": f"reply {n}"}))
        if n == 3:
            reply(bob, **{"reply-to-id": other["id"], "msg": "elsewhere"})
    assert ids(sent) == sorted(ids(sent))

    assert listing(alice, f"/listreplies/{original['id']}", "replies") == sent
    pages = every_page(alice, f"/listreplies/{original['id']}?limit=3", "replies")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [m for page in pages for m in page] == sent
    assert every_page(bob, f"/listreplies/{original['id']}?limit=7", "replies") == [sent]
    exact = bob.get(f"/listreplies/{original['id']}?limit=2")
    query = parse_qs(urlsplit(exact.json()["next"]).query)
    assert urlsplit(exact.json()["next"]).path == f"/listreplies/{original['id']}"
    assert query["after"] == [str(sent[1]["id"])] and query["limit"] == ["2"]
    # ?after is exclusive, and accepts any id.
    after = listing(bob, f"/listreplies/{original['id']}?after={sent[2]['id']}", "replies")
    assert after == sent[3:]
    assert listing(bob, f"/listreplies/{original['id']}?after=0", "replies") == sent
    assert listing(bob, f"/listreplies/{original['id']}?after={HUGE}", "replies") == []
    assert listing(bob, f"/listreplies/{original['id']}?after={sent[-1]['id']}", "replies") == []


def test_listreplies_of_the_seed_message_24(mj):
    answer = mj.get("/listreplies/24?limit=2")
    assert answer.status_code == 200, answer.text
    first_two = answer.json()["replies"]
    assert_message(first_two[0], sender="mj", to="kobebryant", msg="Let me check my schedule.",
                   reply_to=24, fresh=False)
    assert_message(first_two[1], sender="kobebryant", to="mj",
                   msg="No rush, tell me by Friday.", reply_to=24, fresh=False)
    assert ids(first_two) == [25, 26]


def test_listreplies_hides_conversations_of_others_like_missing_messages(new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    private = send(alice, bob.username, "Just between us")
    answered = reply(bob, **{"reply-to-id": private["id"], "msg": "Sure"})
    assert replies(alice, private["id"]) == [answered]

    hidden = assert_error(carol.get(f"/listreplies/{private['id']}"), 404)
    missing = assert_error(carol.get("/listreplies/999999999"), 404)
    assert hidden["error"] == missing["error"]
    assert hidden["message"].replace(str(private["id"]), "N") == \
        missing["message"].replace("999999999", "N")
    assert_error(carol.get(f"/listreplies/{answered['id']}"), 404)
    assert_error(carol.get(f"/listreplies/{private['id']}?limit=1"), 404)
    assert_error(carol.get(f"/listreplies/{HUGE}"), 404)
    assert_error(carol.get("/listreplies/0"), 404)
    assert_error(carol.get("/listreplies/abc"), 404)
    # Nor does the conversation listing reveal it: carol's view of alice is their own.
    assert conversation(carol, alice.username) == []
    assert conversation(carol, bob.username) == []
    assert inbox(carol) == []


# GET /listmsg/<username>


def test_listmsg_inbox_and_conversation_are_newest_first(new_user):
    alice, bob, carol = fast(new_user("alice")), fast(new_user("bob")), new_user("carol")
    a1 = send(bob, alice.username, "b to a 1")
    a2 = send(alice, bob.username, "a to b")
    a3 = send(carol, alice.username, "c to a")
    a4 = send(alice, carol.username, "a to c")
    a5 = send(bob, alice.username, "b to a 2")
    a6 = send(bob, carol.username, "b to c")

    assert inbox(alice) == [a5, a3, a1]
    assert conversation(alice, bob.username) == [a5, a2, a1]
    assert conversation(bob, alice.username) == [a5, a2, a1]
    assert conversation(alice, carol.username) == [a4, a3]
    assert conversation(carol, alice.username) == [a4, a3]
    assert inbox(carol) == [a6, a4]
    assert conversation(bob, carol.username) == [a6]
    assert inbox(bob) == [a2]
    assert_error(alice.get("/listmsg/nobody_at_all_here"), 404)
    assert_error(alice.get("/listmsg/" + "n" * 200), 404)


def test_listmsg_pages_with_before_without_drops_or_repeats(new_user):
    alice, bob = fast(new_user("alice")), fast(new_user("bob"))
    sent = []
    for n in range(8):
        sender, to = (alice, bob) if n % 3 else (bob, alice)
        sent.append(send(sender, to.username, f"message {n}"))
    newest_first = list(reversed(sent))

    for client, other in ((alice, bob), (bob, alice)):
        pages = every_page(client, f"/listmsg/{other.username}?limit=3", "messages")
        assert [len(page) for page in pages] == [3, 3, 2]
        assert [m for page in pages for m in page] == newest_first
        assert every_page(client, f"/listmsg/{other.username}?limit=8", "messages") == \
            [newest_first]
        assert every_page(client, f"/listmsg/{other.username}", "messages") == [newest_first]

    bob_inbox = [m for m in newest_first if m["to"] == bob.username]
    pages = every_page(bob, f"/listmsg/{bob.username}?limit=2", "messages")
    assert [m for page in pages for m in page] == bob_inbox
    assert all(len(page) == 2 for page in pages[:-1])

    first = alice.get(f"/listmsg/{bob.username}?limit=3")
    next_url = urlsplit(first.json()["next"])
    assert next_url.path == f"/listmsg/{bob.username}"
    assert parse_qs(next_url.query) == {"limit": ["3"], "before": [str(newest_first[2]["id"])]}
    # ?before is exclusive, and any bound works.
    cut = newest_first[3]["id"]
    assert listing(alice, f"/listmsg/{bob.username}?before={cut}", "messages") == \
        newest_first[4:]
    assert listing(alice, f"/listmsg/{bob.username}?before=1", "messages") == []
    assert listing(alice, f"/listmsg/{bob.username}?before={HUGE}", "messages") == newest_first
    assert listing(alice, f"/listmsg/{bob.username}?before={2**63}", "messages") == newest_first


def test_paging_parameters_are_checked(new_user):
    alice, bob = fast(new_user("alice")), new_user("bob")
    message = send(alice, bob.username, "to page")
    reply(bob, **{"reply-to-id": message["id"], "msg": "reply"})
    for path in (f"/listmsg/{bob.username}", f"/listmsg/{alice.username}",
                 f"/listreplies/{message['id']}"):
        cursor = "after" if "listreplies" in path else "before"
        for bad in ("limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "limit=2.5",
                    f"{cursor}=abc"):
            assert_error(alice.get(f"{path}?{bad}"), 400)
        for good in ("limit=1", "limit=100"):
            answer = alice.get(f"{path}?{good}")
            assert answer.status_code == 200, (path, good, answer.text)
    assert len(listing(alice, f"/listmsg/{bob.username}?limit=1", "messages")) == 1


def test_ids_are_increasing_integers_and_concurrent_sends_never_overwrite(new_user):
    alice, bob = fast(new_user("alice")), fast(new_user("bob"))
    sequential = [send(alice, bob.username, f"in order {n}")["id"] for n in range(3)]
    assert sequential == sorted(sequential) and len(set(sequential)) == 3
    assert all(type(i) is int for i in sequential)
    assert sequential[-1] < 100000  # from a counter, not a clock or random

    results, errors = [], []

    def worker(n: int, client: Client, to: str):
        try:
            answer = client.post("/sendmsg", json={"to": to, "msg": f"together {n}"})
            results.append((answer.status_code, answer.json()))
        except Exception as e:  # reported below, not swallowed
            errors.append(e)

    clients = [clone(alice) if n % 2 else clone(bob) for n in range(10)]
    threads = [threading.Thread(target=worker,
                                args=(n, c, bob.username if n % 2 else alice.username))
               for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(results) == 10
    assert all(status == 201 for status, _ in results), results
    concurrent = [body["id"] for _, body in results]
    assert len(set(concurrent)) == 10
    assert min(concurrent) > sequential[-1]
    stored = conversation(alice, bob.username)
    assert sorted(ids(stored), reverse=True) == ids(stored)
    assert sorted(m["msg"] for m in stored) == sorted(
        [f"in order {n}" for n in range(3)] + [f"together {n}" for n in range(10)])


# The message store's tables and the store restarted


def test_create_table_alone_changes_nothing_on_a_running_store(system, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    kept = send(alice, bob.username, "kept", **{"quick-replies": ["ok"]})
    run = subprocess.run([sys.executable, "create_table.py"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, **system.env})
    assert run.returncode == 0, run.stderr
    assert "all tables exist already" in run.stdout
    assert inbox(bob) == [kept]
    assert reply(bob, **{"to": alice.username, "quick-reply": 1})["reply_to"] == kept["id"]


def wait_for(condition, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def all_of(client: Client, path: str, key: str) -> list[dict]:
    separator = "&" if "?" in path else "?"
    return [m for page in every_page(client, f"{path}{separator}limit=100", key) for m in page]


def test_dynamodb_restart_keeps_every_message_and_503_while_down(system, new_user, mj):
    alice, bob = fast(new_user("alice")), fast(new_user("bob"))
    question = send(alice, bob.username, "Still there after a restart? \U0001F914",
                    **{"quick-replies": ["Yes", "No"]})
    answered = reply(bob, **{"reply-to-id": question["id"], "quick-reply": 1})
    send(bob, alice.username, "\u05e2\u05d5\u05d3 \u05d4\u05d5\u05d3\u05e2\u05d4")
    before = {
        "conversation": all_of(alice, f"/listmsg/{bob.username}", "messages"),
        "alice inbox": all_of(alice, f"/listmsg/{alice.username}", "messages"),
        "bob inbox": all_of(bob, f"/listmsg/{bob.username}", "messages"),
        "replies": all_of(alice, f"/listreplies/{question['id']}", "replies"),
        "mj inbox": all_of(mj, "/listmsg/mj", "messages"),
        "seed replies": all_of(mj, "/listreplies/24", "replies"),
    }
    assert len(before["conversation"]) == 3 and before["replies"] == [answered]
    assert len(before["mj inbox"]) >= 10
    highest = max(m["id"] for listed in before.values() for m in listed)

    try:
        system.kill("dynamodb")
        down = [
            ("POST", "/sendmsg", {"to": bob.username, "msg": "while down"}),
            ("POST", "/replyto", {"reply-to-id": question["id"], "msg": "while down"}),
            ("POST", "/replyto", {"to": alice.username, "quick-reply": 2}),
            ("GET", f"/listreplies/{question['id']}", None),
            ("GET", f"/listmsg/{bob.username}", None),
            ("GET", f"/listmsg/{alice.username}", None),
        ]
        for method, path, body in down:
            client = bob if "quick-reply" in (body or {}) else alice
            started = time.monotonic()
            answer = client.request(method, path, json=body, timeout=10)
            assert time.monotonic() - started < 10
            assert assert_error(answer, 503)["error"] == "service_unavailable", path
        assert mj.get("/publicTimeline", timeout=10).status_code == 200
    finally:
        if ("dynamodb", 0) not in system.processes:
            system.start("dynamodb")
        assert wait_for(lambda: alice.get(f"/listmsg/{bob.username}").status_code == 200,
                        timeout=20)

    after = {
        "conversation": all_of(alice, f"/listmsg/{bob.username}", "messages"),
        "alice inbox": all_of(alice, f"/listmsg/{alice.username}", "messages"),
        "bob inbox": all_of(bob, f"/listmsg/{bob.username}", "messages"),
        "replies": all_of(alice, f"/listreplies/{question['id']}", "replies"),
        "mj inbox": all_of(mj, "/listmsg/mj", "messages"),
        "seed replies": all_of(mj, "/listreplies/24", "replies"),
    }
    assert after == before  # nothing lost, and nothing sent while down was stored

    new = send(alice, bob.username, "after the restart")
    assert_message(new, sender=alice.username, to=bob.username, msg="after the restart")
    assert new["id"] > highest  # the counter survived too: no id is handed out twice
    again = reply(bob, **{"to": alice.username, "quick-reply": 2})
    assert_message(again, sender=bob.username, to=alice.username, msg="No",
                   reply_to=question["id"])
    assert conversation(bob, alice.username) == [again, new] + before["conversation"]
    assert replies(alice, question["id"]) == [answered, again]
