"""`flask init`: schema, tables and seed data, idempotent; only --reset wipes."""
import sqlite3

from microblog.dynamo import client_for
from microblog.stores.messages import MessageStore


def counts(app) -> tuple:
    db = sqlite3.connect(app.config["DATABASE"])
    try:
        return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("users", "follows", "tweets"))
    finally:
        db.close()


def test_init_loads_the_seed_once_and_reset_wipes(app, client, runner, tmp_path):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert "Loaded the seed" in first.output
    seeded = counts(app)
    assert seeded[0] >= 4 and seeded[2] >= 5
    assert (tmp_path / "gateway.secret").stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o777 == 0o700  # hashes and messages: no other account reads them

    registered = client.post("/register", json={"username": "newcomer", "email": "n@example.com",
                                                "password": "pass1234"})
    assert registered.status_code == 201

    again = runner.invoke(args=["init"])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert counts(app) == (seeded[0] + 1, seeded[1], seeded[2])

    reset = runner.invoke(args=["init", "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "deleted every user" in reset.output
    assert counts(app) == seeded
    assert client.get("/users/newcomer", headers={"X-Microblog-User": "mj"}).status_code == 404


def test_init_loads_message_24_with_quick_replies_and_replies(app, runner):
    assert runner.invoke(args=["init"]).exit_code == 0
    from microblog.embedded import embedded_dynamodb
    with embedded_dynamodb(app.config["DYNAMODB_ENDPOINT"]):
        store = MessageStore(client_for(app.config), app.config["DYNAMODB_TABLE_PREFIX"])
        message = store.get(24)
        assert (message["sender"], message["recipient"]) == ("kobebryant", "mj")
        assert len(message["quick_replies"]) >= 2
        assert store.replies(24, None, 10)
        assert store.latest_with_quick_replies("kobebryant", "mj")["id"] == 24
        assert store.next_id() > 30


def test_service_refuses_calls_without_the_gateway_secret(app):
    answer = app.test_client().get("/health")
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden"


def test_seed_adds_scale_data_in_bulk(app, client, runner):
    assert runner.invoke(args=["init"]).exit_code == 0
    before = counts(app)
    done = runner.invoke(args=["seed", "--users", "60", "--tweets", "900", "--messages", "120",
                               "--logins", "2", "--password", "benchpass"])
    assert done.exit_code == 0, done.output
    users, follows, tweets = counts(app)
    assert (users - before[0], tweets - before[2]) == (60, 900)
    assert follows > before[1]
    db = sqlite3.connect(app.config["DATABASE"])
    stamps = [r[0] for r in db.execute(
        "SELECT created_at FROM tweets WHERE id > ? ORDER BY id", (before[2],))]
    assert stamps == sorted(stamps)  # ids follow time
    db.close()
    check = lambda name, password: client.post(  # noqa: E731
        "/internal/credentials", json={"username": name, "password": password}).status_code
    assert check("bench_1", "benchpass") == 200
    assert check("bench_2", "benchpass") == 401  # past --logins: exists, cannot log in
    from microblog.embedded import embedded_dynamodb
    with embedded_dynamodb(app.config["DYNAMODB_ENDPOINT"]):
        store = MessageStore(client_for(app.config), app.config["DYNAMODB_TABLE_PREFIX"])
        first = store.next_id() - 120
        assert store.get(first)["sender"].startswith("bench_")
        assert store.get(first + 119) is not None
    again = runner.invoke(args=["seed", "--users", "5", "--tweets", "5", "--messages", "0"])
    assert again.exit_code != 0 and "exist already" in again.output
