"""Cursor paging for every list: ?limit=1..100 and an exclusive id cursor, with
the next page's URL in the body (`next`) and in a Link header (rel="next")."""
from typing import Callable
from urllib.parse import urlencode

from flask import Response, jsonify, request

from .body import clean_integer
from .errors import APIError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def page_args(cursor: str) -> tuple[int, int | None]:
    """(limit, cursor value or None) from the query string; 400 when malformed."""
    limit = query_value("limit")
    limit = DEFAULT_LIMIT if limit is None else clean_integer("limit", limit, 1, MAX_LIMIT)
    position = query_value(cursor)
    position = None if position is None else clean_integer(cursor, position, 0)
    return limit, position


def query_value(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:  # as with body fields: which one was meant cannot be told
        raise APIError(400, f"'{name}' was sent more than once.")
    return values[0] if values else None


def page_response(key: str, rows: list, limit: int, cursor: str,
                  render: Callable[[object], dict], cursor_of: Callable[[object], int]) -> Response:
    """Answer one page; rows holds up to limit + 1 rows, the extra one meaning more exist."""
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        args = {k: v for k, v in request.args.items() if k not in (cursor, "limit")}
        args.update(limit=limit, **{cursor: cursor_of(rows[-1])})
        next_url = f"{request.path}?{urlencode(args)}"
    response = jsonify({key: [render(row) for row in rows], "next": next_url})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response
