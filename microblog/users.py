"""Looking users up by name for any service: the 404 every route that names a user gives."""
import sqlite3

from .body import Body
from .db import get_db
from .errors import APIError
from .stores.users import find_user

LONGEST_NAME = 30  # no username is longer: a longer name is simply unknown


def user_or_404(username: str) -> sqlite3.Row:
    user = find_user(get_db(), username) if len(username) <= LONGEST_NAME else None
    if user is None:
        shown = username if len(username) <= 100 else username[:100] + "..."
        raise APIError(404, f"There is no user named '{shown}'.")
    return user


def named_user(body: Body, field: str, required: bool = True) -> str | None:
    """The registered spelling of the user a body field names; 404 when there is
    no such user, whatever the length of the name."""
    name = body.text(field, max_length=Body.UNBOUNDED, required=required)
    return None if name is None else user_or_404(name)["username"]
