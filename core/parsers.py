"""The API's one JSON parser: bounded in size and depth, and text that can be stored and echoed safely.

Python's JSON decoder recurses once per level: a body nested a few thousand levels deep used to end in a
``RecursionError`` (a 500) on every write endpoint. A body is now refused before any view reads it when

- it is larger than ``CPX_API_JSON_MAX_BYTES`` (413, ``request_too_large``; read no further than that, so a
  body without ``Content-Length`` is bounded too);
- it nests arrays and objects deeper than ``CPX_API_JSON_MAX_DEPTH`` (400, ``parse_error``);
- a string or a key holds a lone UTF-16 surrogate (``"\\ud800"``): UTF-8 cannot encode it, so echoing it
  back in a validation error used to fail with a ``UnicodeEncodeError``. That is a 400 naming the field
  (``invalid``, ``fields``). NUL, which PostgreSQL cannot store, is refused by every text field (DRF's
  own validator) and, in a query string, by ``core.api.refuse_unsafe_query``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers

# Text no field may hold: NUL (refused by PostgreSQL) and lone surrogates (not encodable in UTF-8).
UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")
# In a body, lone surrogates are refused wherever they are (no valid Unicode text holds one); NUL only where
# a field reads it, which DRF's text fields do (ProhibitNullCharactersValidator): an unknown member is
# ignored, and the schema lets a client send any.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = gettext_lazy("The request body is too large.")


def unsafe_text_message() -> str:
    return _("Text must not contain NUL characters or lone UTF-16 surrogates.")


def too_deep(max_depth: int) -> exceptions.ParseError:
    return exceptions.ParseError(
        _("JSON nested deeper than %(depth)d levels is not accepted.") % {"depth": max_depth}
    )


def safe_name(text: str) -> str:
    """A name that can be echoed: unsafe characters written as escapes (``\\ud800``, ``\\x00``)."""
    return UNSAFE_TEXT.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def unsafe_paths(data: Any, max_depth: int, path: str = "", depth: int = 0) -> dict[str, list[str]]:
    """The dotted paths (like ``core.api._flatten``'s) of the strings holding unsafe text; a
    ``ParseError`` if ``data`` nests deeper than ``max_depth``."""
    if isinstance(data, str):
        if not LONE_SURROGATE.search(data):
            return {}
        return {path.rstrip(".") or "non_field_errors": [unsafe_text_message()]}
    if not isinstance(data, dict | list):
        return {}
    if depth >= max_depth:
        raise too_deep(max_depth)
    items = data.items() if isinstance(data, dict) else enumerate(data)
    found: dict[str, list[str]] = {}
    for key, value in items:
        name = f"{path}{safe_name(str(key))}"
        if isinstance(key, str) and LONE_SURROGATE.search(key):
            found[name] = [unsafe_text_message()]
        found.update(unsafe_paths(value, max_depth, f"{name}.", depth + 1))
    return found


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the limits above (settings ``CPX_API_JSON_MAX_BYTES``, ``..._MAX_DEPTH``)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.CPX_API_JSON_MAX_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        max_depth = settings.CPX_API_JSON_MAX_DEPTH
        try:
            data = json.loads(raw.decode(encoding), parse_constant=self.refuse_constant)
        except RecursionError:  # deeper than Python's stack: far deeper than max_depth
            raise too_deep(max_depth) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(_("JSON parse error: %(error)s") % {"error": exc}) from None
        unsafe = unsafe_paths(data, max_depth)
        if unsafe:
            raise exceptions.ValidationError(unsafe)
        return data

    @staticmethod
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")
