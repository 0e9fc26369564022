"""Looking users up by name for any service: the 404 every route that names a user gives."""
import sqlite3

from .db import get_db
from .errors import APIError
from .stores.users import find_user


def user_or_404(username: str) -> sqlite3.Row:
    user = find_user(get_db(), username)
    if user is None:
        raise APIError(404, f"There is no user named '{username}'.")
    return user
