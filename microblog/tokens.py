"""Signed, expiring bearer tokens (itsdangerous, which Flask already uses)."""
from itsdangerous import BadSignature, URLSafeTimedSerializer


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="microblog-bearer-token")


def issue_token(secret: str, username: str) -> str:
    return _serializer(secret).dumps({"u": username})


def read_token(secret: str, token: str, max_age: int) -> str | None:
    """The username a valid, unexpired token was issued to; None otherwise."""
    try:
        data = _serializer(secret).loads(token, max_age=max_age)
    except BadSignature:  # also covers SignatureExpired
        return None
    return data.get("u") if isinstance(data, dict) else None
