"""The API gateway on :5000: routes each public path to its pool, asks the
auth service who the caller is, and passes the answer on in a header that no
client can set (microblog/proxy.py does the forwarding). Everything not in the
public API is a 404 here."""
from flask import Flask, send_file

from microblog.authcache import AuthCache
from microblog.config import ROOT
from microblog.errors import APIError
from microblog.factory import create_base_app
from microblog.proxy import Proxy, Route
from microblog.upstream import Upstreams

# (rule, methods, pool, public): the whole public API.
ROUTES = [
    ("/register", ["POST"], "users", True),
    ("/login", ["POST"], "auth", True),  # the auth service checks the credentials itself
    ("/users/<username>", ["GET"], "users", False),
    ("/follow", ["PUT", "POST"], "users", False),
    ("/unfollow", ["POST"], "users", False),
    ("/followers/<username>", ["GET"], "users", False),
    ("/following/<username>", ["GET"], "users", False),
    ("/postTweet", ["POST"], "timeline", False),
    ("/tweets/<int:tweet_id>", ["GET", "DELETE"], "timeline", False),
    ("/userTimeline/<username>", ["GET"], "timeline", False),
    ("/homeTimeline", ["GET"], "timeline", False),
    ("/publicTimeline", ["GET"], "timeline", False),
    ("/sendmsg", ["POST"], "messages", False),
    ("/replyto", ["POST"], "messages", False),
    ("/listreplies/<int:message_id>", ["GET"], "messages", False),
    ("/listmsg/<username>", ["GET"], "messages", False),
]


def forwarded_by_the_proxy(**_path_args):
    """Never runs: the proxy forwards every call these rules take before Flask
    sees it. The rules are here so that Flask answers the rest of each path:
    405 with Allow, and OPTIONS."""
    raise APIError(500, "This call should have been forwarded.")


def create_app(test_config: dict | None = None) -> Flask:
    app = create_base_app(__name__, test_config)
    config = app.config
    upstreams = Upstreams(config["UPSTREAMS"], config["SECRET"], config["CONNECT_TIMEOUT"],
                          config["READ_TIMEOUT"], config["MAX_IN_FLIGHT"])
    upstreams.start_probing()
    app.extensions["upstreams"] = upstreams
    for rule, methods, _pool, _public in ROUTES:
        app.add_url_rule(rule, endpoint=rule, view_func=forwarded_by_the_proxy, methods=methods)
    routes = {rule: Route(pool, public, frozenset(methods)) for rule, methods, pool, public in ROUTES}
    app.wsgi_app = Proxy(app, routes, upstreams, AuthCache(config["AUTH_CACHE_SECONDS"]))

    @app.get("/openapi.json")
    def openapi():
        """The OpenAPI 3 document of the whole public API."""
        return send_file(ROOT / "openapi.json", mimetype="application/json", max_age=60)

    @app.get("/health")
    def health():
        pools = upstreams.status()
        everything_up = all(i["up"] for instances in pools.values() for i in instances)
        return {"status": "ok" if everything_up else "degraded", "pools": pools}

    return app
