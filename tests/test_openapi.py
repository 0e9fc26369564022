"""openapi.json, the OpenAPI 3.1 document of the whole public API: it is valid,
the gateway serves it, it documents exactly gateway.ROUTES (plus /health and
/openapi.json), and the live system keeps to it under schemathesis."""
import base64
import json
import re
import uuid
from datetime import timedelta

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance,
                                               unsupported_method)

import gateway
from microblog.config import ROOT

DOCUMENT_PATH = ROOT / "openapi.json"
DOCUMENT = json.loads(DOCUMENT_PATH.read_text())
GATEWAY_OWN = [("/health", ["GET"], True), ("/openapi.json", ["GET"], True)]
PUBLIC = {("/register", "post"), ("/health", "get"), ("/openapi.json", "get")}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# No 5xx, and every answer as documented: its status, content type, body and headers;
# an undocumented method on a documented path is 405 with Allow.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, unsupported_method]
EXAMPLES_PER_OPERATION = 25

CONFIG = schemathesis.Config.from_dict({
    "generation": {
        "mode": "all",  # valid and invalid input alike
        "max-examples": EXAMPLES_PER_OPERATION,
        "with-security-parameters": False,  # the test sends real credentials
        "database": "none",  # no .hypothesis folder in the work tree
        "deterministic": True,  # the same cases on every run, so CI cannot turn red by chance
    },
})
schema = schemathesis.openapi.from_path(DOCUMENT_PATH, config=CONFIG)


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: /tweets/<int:tweet_id> -> /tweets/{tweet_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# The document itself

def test_document_is_valid_openapi():
    assert DOCUMENT["openapi"].startswith("3.")
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises when invalid

    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for target in set(refs(DOCUMENT)):
        assert target.startswith("#/"), target
        node = DOCUMENT
        for part in target[2:].split("/"):
            assert part in node, f"unresolved {target}"
            node = node[part]


def test_gateway_serves_the_file(system):
    answer = requests.get(system.url + "/openapi.json", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content == DOCUMENT_PATH.read_bytes()
    assert answer.json() == DOCUMENT


def test_every_route_and_nothing_else_is_documented():
    routes = {(openapi_path(rule), method.lower())
              for rule, methods, *_ in gateway.ROUTES + GATEWAY_OWN for method in methods}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items()
                  for method in item if method in HTTP_METHODS}
    assert documented == routes


def test_every_operation_but_the_public_ones_needs_basic_or_bearer():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {**schemes["basicAuth"], "type": "http", "scheme": "basic"}
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            security = operation.get("security", DOCUMENT["security"])
            if (path, method) in PUBLIC:
                assert security == [], (path, method)
            else:
                assert security == [{"basicAuth": []}, {"bearerAuth": []}], (path, method)
                assert "401" in operation["responses"], (path, method)


# The live system against the document

@pytest.fixture(scope="module")
def fuzzer(system, mj):
    """A fresh user for schemathesis to act as, with a little of everything:
    it follows mj, has a tweet, and has a message from mj with quick replies
    and a reply to it. Being fresh, it cannot disturb the seed data that other
    tests rely on (mj's follows and tweets)."""
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    password = "fuzz-pass"
    anonymous = requests.Session()
    registered = anonymous.post(system.url + "/register", timeout=30,
                                json={"username": name, "email": f"{name}@example.com", "password": password})
    assert registered.status_code == 201, registered.text
    login = anonymous.post(system.url + "/login", auth=(name, password), timeout=30)
    assert login.status_code == 200, login.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {login.json()['token']}"
    assert session.put(system.url + "/follow", json={"usernameToFollow": "mj"}, timeout=30).status_code == 201
    tweet = session.post(system.url + "/postTweet", json={"tweet": "fuzzing soon"}, timeout=30)
    assert tweet.status_code == 201
    offer = mj.post("/sendmsg", json={"to": name, "msg": "Ready?", "quick-replies": ["Yes", "No"]})
    assert offer.status_code == 201
    reply = session.post(system.url + "/replyto", json={"reply-to-id": offer.json()["id"], "msg": "Soon"},
                         timeout=30)
    assert reply.status_code == 201
    return {"name": name, "session": session, "tweet": tweet.json()["id"],
            "message": offer.json()["id"], "headers": dict(session.headers)}


@pytest.mark.timeout(90)
@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=timedelta(seconds=15),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_live_system_keeps_to_the_document(case, system, fuzzer):
    case.call_and_validate(base_url=system.url, headers=fuzzer["headers"], checks=CHECKS, timeout=30)


def validate(system, path, method, auth_headers, **case):
    """One hand-made case through the gateway, checked like the generated ones."""
    made = schema[path][method].Case(**case)
    return made.call_and_validate(base_url=system.url, headers=auth_headers, checks=CHECKS, timeout=30)


def test_seed_calls_keep_to_the_document(system, mj):
    """Read-only calls on the seed that random input rarely reaches: message 24
    and its replies, a conversation, the inbox, paged lists with a next page."""
    basic = {"Authorization": "Basic " + base64.b64encode(b"mj:bulls").decode()}
    replies = validate(system, "/listreplies/{message_id}", "GET", basic,
                       path_parameters={"message_id": 24}, query={"limit": 1})
    assert replies.json()["next"] and replies.headers.get("link")
    validate(system, "/listreplies/{message_id}", "GET", basic, path_parameters={"message_id": 24})
    for username in ("kobebryant", "mj"):
        validate(system, "/listmsg/{username}", "GET", basic, path_parameters={"username": username},
                 query={"limit": 2})
    for path in ("/followers/{username}", "/following/{username}", "/userTimeline/{username}"):
        validate(system, path, "GET", basic, path_parameters={"username": "MJ"}, query={"limit": 1})
    validate(system, "/users/{username}", "GET", basic, path_parameters={"username": "mj"})
    validate(system, "/users/{username}", "GET", basic, path_parameters={"username": "kobebryant"})
    validate(system, "/homeTimeline", "GET", basic, query={"limit": 3})
    validate(system, "/publicTimeline", "GET", basic, query={"limit": 3, "before": 10})
    validate(system, "/tweets/{tweet_id}", "GET", basic, path_parameters={"tweet_id": 1})
    validate(system, "/login", "POST", basic, body={"username": "mj", "password": "bulls"},
             media_type="application/x-www-form-urlencoded")


def test_fuzzer_writes_keep_to_the_document(system, fuzzer):
    """Successful writes as the fuzzer, in both body types."""
    auth = fuzzer["headers"]
    form = "application/x-www-form-urlencoded"
    own = fuzzer["message"]
    validate(system, "/listreplies/{message_id}", "GET", auth, path_parameters={"message_id": own})
    validate(system, "/replyto", "POST", auth, body={"reply-to-id": str(own), "quick-reply": "2"},
             media_type=form)
    validate(system, "/replyto", "POST", auth, body={"to": "mj", "quick-reply": 1},
             media_type="application/json")
    validate(system, "/sendmsg", "POST", auth, body={"to": "MJ", "msg": "hi", "quick-replies": ["a", "b"]},
             media_type=form)
    tweet = validate(system, "/postTweet", "POST", auth, body={"tweet": "hello", "reply_to": fuzzer["tweet"]},
                     media_type="application/json").json()
    validate(system, "/tweets/{tweet_id}", "DELETE", auth, path_parameters={"tweet_id": tweet["id"]})
    validate(system, "/follow", "POST", auth, body={"usernameToFollow": "kobebryant"}, media_type=form)
    validate(system, "/follow", "PUT", auth, body={"usernameToFollow": "kobebryant"},
             media_type="application/json")
    validate(system, "/unfollow", "POST", auth, body={"usernameToRemove": "kobebryant"}, media_type=form)
    validate(system, "/listmsg/{username}", "GET", auth, path_parameters={"username": fuzzer["name"]})
    name = f"reg_{uuid.uuid4().hex[:10]}"
    validate(system, "/register", "POST", {},
             body={"username": name, "email": f"{name}@example.com", "password": "pass"}, media_type=form)


def test_protected_operations_without_credentials_keep_to_the_document(system):
    """No credentials: every protected operation is 401 with WWW-Authenticate, as documented."""
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.path, operation.method.lower()) in PUBLIC:
            continue
        path_parameters = {p.name: p.definition["example"] for p in operation.path_parameters}
        answer = validate(system, operation.path, operation.method.upper(), {},
                          path_parameters=path_parameters)
        assert answer.status_code == 401, operation.label
        assert answer.headers.get("www-authenticate"), operation.label


def test_requests_too_long_for_the_http_server_keep_to_the_document(system, fuzzer):
    """The HTTP server's own answers: a request line over 4094 bytes is 414, a
    header over 8190 bytes 431, both in the Error shape (schemathesis found the
    414 with long repeated query parameters, when it was still an HTML page)."""
    long_url = validate(system, "/users/{username}", "GET", fuzzer["headers"],
                        path_parameters={"username": "a" * 5000})
    assert long_url.status_code == 414
    big_header = validate(system, "/publicTimeline", "GET", {**fuzzer["headers"], "X-Padding": "b" * 9000})
    assert big_header.status_code == 431


# Bugs found while checking the system against the document. Each reproduces
# one request; the fix belongs in the code, not in the document.

def assert_json_error(answer: requests.Response, statuses: set[int]) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:200])
    assert answer.headers["Content-Type"] == "application/json", answer.headers["Content-Type"]
    assert set(answer.json()) == {"error", "message"}


@pytest.mark.parametrize("path", ["/register", "/postTweet"])
def test_deeply_nested_json_is_400(system, mj, path):
    nested = "[" * 50_000 + "]" * 50_000  # valid JSON, 100 kB, far under the body limit
    answer = mj.post(path, data=nested, headers={"Content-Type": "application/json"})
    assert_json_error(answer, {400})
