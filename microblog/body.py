"""Request bodies, as JSON (httpie's default) or form data (`http -f`), read
into typed, bounded fields. Any violation is a 400 before anything is stored."""
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from flask import request
from werkzeug.datastructures import MultiDict

from .errors import APIError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() takes any script's


def read_body(*fields: str) -> "Body":
    """The request's body as a Body; 415 for other content types, 400 for bad
    JSON, and 400 for a field not among `fields` (a misspelt one is not ignored)."""
    body = _parse_body()
    unknown = [name for name in body.names() if name not in fields]
    if unknown:
        raise APIError(400, f"Unknown field '{unknown[0][:100]}'; this call takes: {', '.join(fields)}.")
    return body


def _parse_body() -> "Body":
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        try:  # werkzeug would keep undecodable bytes; they are a 400 like in JSON
            fields = parse_qsl(request.get_data(cache=True).decode("ascii"),
                               keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise APIError(400, "The form data is not valid UTF-8.") from None
        return Body(MultiDict(fields))
    if mimetype in FORM_TYPES:
        return Body(request.form)
    raw = request.get_data(cache=True)
    if not raw:
        return Body({})
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise APIError(415, "Send the body as JSON or as form data.")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_object_without_repeats)
    except RepeatedField as e:
        raise APIError(400, f"'{str(e)[:100]}' was sent more than once.") from None
    except (UnicodeDecodeError, ValueError, RecursionError):  # nesting deeper than Python parses
        raise APIError(400, "The body is not valid JSON.", "malformed_json") from None
    if not isinstance(data, dict):
        raise APIError(400, "The JSON body must be an object.")
    return Body(data)


class RepeatedField(Exception):
    """A field sent twice: which one was meant cannot be told, so neither is taken."""


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict:
    data = dict(pairs)
    if len(data) < len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise RepeatedField(key)
            seen.add(key)
    return data


def clean_text(name: str, value: Any, max_length: int) -> str:
    """A non-empty string of at most max_length code points, as sent."""
    if not isinstance(value, str):
        raise APIError(400, f"'{name}' must be a string.")
    if "\x00" in value:
        raise APIError(400, f"'{name}' must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise APIError(400, f"'{name}' is not valid Unicode text.") from None
    if not value.strip():
        raise APIError(400, f"'{name}' must not be empty.")
    if len(value) > max_length:
        raise APIError(400, f"'{name}' must be at most {max_length} characters.")
    return value


def clean_integer(name: str, value: Any, minimum: int | None = None,
                  maximum: int | None = None) -> int:
    """An integer sent as a JSON number or a numeric string."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and INTEGER.fullmatch(value):
        try:
            number = int(value)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise APIError(400, f"'{name}' is far too large.") from None
    else:
        raise APIError(400, f"'{name}' must be an integer.")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise APIError(400, f"'{name}' must be {bounds}.")
    return number


class Body:
    """Typed access to the fields of one request body."""

    UNBOUNDED = 1 << 20  # the gateway's body limit bounds such fields

    def __init__(self, data: dict | MultiDict):
        self._data = data
        self._is_form = isinstance(data, MultiDict)

    def names(self) -> list[str]:
        return list(self._data.keys())

    def __contains__(self, name: str) -> bool:
        """Whether the field was sent; JSON null counts as not sent."""
        return self._data.get(name) is not None

    def _single(self, name: str, required: bool) -> Any:
        if name not in self:
            if required:
                raise APIError(400, f"'{name}' is required.")
            return None
        if self._is_form and len(self._data.getlist(name)) > 1:
            raise APIError(400, f"'{name}' was sent more than once.")
        return self._data.get(name)

    def text(self, name: str, max_length: int, required: bool = True) -> str | None:
        value = self._single(name, required)
        return None if value is None else clean_text(name, value, max_length)

    def integer(self, name: str, required: bool = True, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self._single(name, required)
        return None if value is None else clean_integer(name, value, minimum, maximum)

    def text_list(self, name: str, max_items: int, max_length: int) -> list[str] | None:
        """A JSON array of strings, or the form field repeated; None when absent."""
        if name not in self:
            return None
        values = self._data.getlist(name) if self._is_form else self._data[name]
        if not isinstance(values, list):
            raise APIError(400, f"'{name}' must be a list of strings.")
        if not 1 <= len(values) <= max_items:
            raise APIError(400, f"'{name}' must hold from 1 to {max_items} items.")
        return [clean_text(name, value, max_length) for value in values]
