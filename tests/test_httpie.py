"""The seed document's example calls, typed as its users type them: httpie."""
import json
import os
import subprocess
import sys
from pathlib import Path

HTTP = str(Path(sys.executable).parent / "http")


def http(system, *args: str) -> tuple[int, dict]:
    """Run httpie against the test gateway; (HTTP status, JSON body)."""
    port = system.url.rsplit(":", 1)[1]
    args = [a.replace("localhost:5000", f"localhost:{port}") for a in args]
    done = subprocess.run([HTTP, "--ignore-stdin", "--print=hb", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition("\n\n")
    return int(head.split()[1]), json.loads(body)


def test_the_seed_calls_answer_through_the_gateway(system):
    status, login = http(system, "-a", "mj:bulls", "POST", "localhost:5000/login",
                         "username=mj", "password=bulls")
    assert status == 200 and login["username"] == "mj" and login["token"]

    status, sent = http(system, "-a", "mj:bulls", "POST", "localhost:5000/sendmsg",
                        "to=kobebryant", "msg=testing")
    assert status == 201
    assert (sent["from"], sent["to"], sent["msg"]) == ("mj", "kobebryant", "testing")

    status, reply = http(system, "-a", "mj:bulls", "POST", "localhost:5000/replyto",
                         "msg=hello", "reply-to-id=24")
    assert status == 201
    assert (reply["to"], reply["reply_to"], reply["msg"]) == ("kobebryant", 24, "hello")

    status, quick = http(system, "-a", "mj:bulls", "POST", "localhost:5000/replyto",
                         "to=kobebryant", "from=mj", "quick-reply=2")
    assert status == 201
    assert quick["reply_to"] == 24 and quick["to"] == "kobebryant"
    status, original = http(system, "-a", "kobebryant:mamba", "GET", "localhost:5000/listmsg/kobebryant")
    assert status == 200
    offered = next(m for m in original["messages"] if m["id"] == quick["id"])
    assert offered["msg"] == quick["msg"]

    status, replies = http(system, "-a", "mj:bulls", "GET", "localhost:5000/listreplies/24")
    assert status == 200
    ids = [r["id"] for r in replies["replies"]]
    assert reply["id"] in ids and quick["id"] in ids and ids == sorted(ids)

    status, conversation = http(system, "-a", "mj:bulls", "GET", "localhost:5000/listmsg/kobebryant")
    assert status == 200
    assert conversation["messages"][0]["id"] == quick["id"]
    assert {m["from"] for m in conversation["messages"]} == {"mj", "kobebryant"}


def test_the_seed_impersonating_call_is_refused(system):
    status, body = http(system, "-a", "mj:bulls", "POST", "localhost:5000/sendmsg",
                        "to=kobe", "from=jordan", "msg=testing")
    assert status == 403
    assert body["error"] == "forbidden"
    status, inbox = http(system, "-a", "kobe:lakers", "GET", "localhost:5000/listmsg/kobe")
    assert status == 200
    assert all(m["msg"] != "testing" for m in inbox["messages"])
