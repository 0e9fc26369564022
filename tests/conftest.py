import itertools
import uuid

import pytest
import requests

from tests.system import System

_names = itertools.count()


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    """The whole system, started once per test session and always stopped."""
    running = System(tmp_path_factory.mktemp("system"))
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


class Client:
    """HTTP through the gateway, as one user (or anonymously)."""

    def __init__(self, base_url: str, auth=None, token: str | None = None):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.username = auth[0] if auth else None
        self.password = auth[1] if auth else None

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session")
def anonymous(system) -> Client:
    return Client(system.url)


@pytest.fixture
def new_user(system, anonymous):
    """Register a fresh user; returns a Client authenticated with Basic credentials."""
    def make(prefix: str = "user", password: str = "secret-pass") -> Client:
        name = f"{prefix}{next(_names)}_{uuid.uuid4().hex[:6]}"[:30]
        answer = anonymous.post("/register", json={
            "username": name, "email": f"{name}@example.com", "password": password})
        assert answer.status_code == 201, answer.text
        return Client(system.url, auth=(name, password))
    return make


@pytest.fixture(scope="session")
def mj(system) -> Client:
    return Client(system.url, auth=("mj", "bulls"))


# In-process fixtures in the style of Flask's tutorial: one service app over
# a temporary data folder, its test client and its CLI runner.

TEST_SECRET = "test-secret"


@pytest.fixture
def app(tmp_path):
    from api_users import create_app
    from tests.system import free_port
    return create_app({
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "DATABASE": str(tmp_path / "microblog.sqlite"),
        "SECRET": TEST_SECRET,
        "DYNAMODB_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "DYNAMODB_TABLE_PREFIX": "test-",
    })


@pytest.fixture
def client(app):
    from microblog.identity import SECRET_HEADER
    test_client = app.test_client()
    test_client.environ_base["HTTP_" + SECRET_HEADER.upper().replace("-", "_")] = TEST_SECRET
    return test_client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
