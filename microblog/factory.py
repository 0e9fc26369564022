"""The application factory every process builds its Flask app with."""
import logging

from flask import Flask

from . import cli, db
from .config import settings, shared_secret
from .errors import register_error_handlers
from .identity import require_gateway


def create_base_app(import_name: str, test_config: dict | None = None) -> Flask:
    """Settings, JSON errors and the `flask init` command: what every process has."""
    app = Flask(import_name)
    app.config.from_mapping(settings())
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("SECRET", shared_secret(app.config["DATA_DIR"]))
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    register_error_handlers(app)
    app.cli.add_command(cli.init_command)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return app


def create_service_app(import_name: str, test_config: dict | None = None) -> Flask:
    """A service behind the gateway: it answers only calls bearing the shared secret."""
    app = create_base_app(import_name, test_config)
    require_gateway(app)
    db.init_app(app)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    return app
