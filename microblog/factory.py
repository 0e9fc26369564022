"""The application factory every process builds its Flask app with."""
import logging

from flask import Flask, Response, g, has_request_context, request

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
    app.after_request(no_media_type_without_body)
    app.cli.add_command(cli.init_command)
    app.cli.add_command(cli.seed_command)
    configure_logging()
    return app


def no_media_type_without_body(response: Response) -> Response:
    """Flask labels every answer text/html; an empty one (204, the automatic
    answer to OPTIONS) has no media type at all."""
    if response.calculate_content_length() == 0:  # None for a file sent as it is
        del response.headers["Content-Type"]
    return response


class RequestIdFilter(logging.Filter):
    """Stamp every log record with the request's X-Request-ID, to follow one call
    through every process."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = "-"
        if has_request_context():
            record.request_id = g.get("request_id") or request.headers.get("X-Request-ID", "-")
        return True


def configure_logging() -> None:
    root = logging.getLogger()
    if any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s id=%(request_id)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def create_service_app(import_name: str, test_config: dict | None = None) -> Flask:
    """A service behind the gateway: it answers only calls bearing the shared secret."""
    app = create_base_app(import_name, test_config)
    require_gateway(app)
    db.init_app(app)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.after_request
    def echo_request_id(response):
        # So every process's access log can name the request it answered.
        if "X-Request-ID" in request.headers:
            response.headers["X-Request-ID"] = request.headers["X-Request-ID"]
        return response

    return app
