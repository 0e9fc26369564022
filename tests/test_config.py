"""The gateway's table of instances, the default DynamoDB endpoint and the
Procfile agree on honcho's port scheme for the seed formation."""
from urllib.parse import urlsplit

from honcho.environ import expand_processes

from microblog.config import settings, upstreams
from microblog.embedded import procfile_commands

FORMATION = {"gateway": 1, "auth": 1, "api_users": 3, "api_timeline": 3, "app": 1}
POOL_OF = {"auth": "auth", "api_users": "users", "api_timeline": "timeline", "app": "messages"}


def honcho_ports() -> dict[str, list[int]]:
    ports: dict[str, list[int]] = {}
    for process in expand_processes(procfile_commands(), concurrency=FORMATION, port=5000):
        ports.setdefault(process.name.split(".")[0], []).append(int(process.env["PORT"]))
    return ports


def test_upstreams_json_matches_the_procfile_under_honcho(monkeypatch):
    for pool in ("AUTH", "USERS", "TIMELINE", "MESSAGES"):
        monkeypatch.delenv(f"UPSTREAMS_{pool}", raising=False)
    ports, table = honcho_ports(), upstreams()
    assert ports["gateway"] == [5000]
    for process, pool in POOL_OF.items():
        assert [urlsplit(url).port for url in table[pool]] == ports[process], pool
    assert ports["dynamodb"] == [5500]


def test_default_dynamodb_endpoint_is_the_procfile_dynalite(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    assert settings()["DYNAMODB_ENDPOINT"] == f"http://127.0.0.1:{honcho_ports()['dynamodb'][0]}"


def test_a_pool_can_be_overridden_by_environment(monkeypatch):
    monkeypatch.setenv("UPSTREAMS_USERS", "http://127.0.0.1:7001, http://127.0.0.1:7002/")
    assert upstreams()["users"] == ["http://127.0.0.1:7001", "http://127.0.0.1:7002"]
