"""The one page of every API list: limit/offset, bounded and strictly read (a bad value is a 400).

Its own module, without drf-spectacular, because DRF imports it while its generic views load
(``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination


def bounded_int(name: str, raw: str, low: int, high: int) -> int:
    """``raw`` as an int from ``low`` to ``high``, else a 400 naming ``name``. Plain ASCII digits only:
    Python's ``int()`` would also take " 7", "1_000" or "٧", which no client means."""
    if not INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise exceptions.ValidationError(
            {name: [_("Expected an integer from %(low)d to %(high)d.") % {"low": low, "high": high}]}
        )
    return int(raw)


INTEGER = re.compile(r"[+-]?[0-9]{1,20}")


class Pagination(LimitOffsetPagination):
    """limit/offset, strictly validated: a bad value is a 400, not silently replaced. Every list of the
    API pages with it (``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``, ``ApiView.pagination_class``); a
    view that slices a list itself reads the same bounds through ``int_param``."""

    default_limit = 50
    max_limit = 500
    MAX_OFFSET = 10**9
    BOUNDS = {"limit": (1, max_limit), "offset": (0, MAX_OFFSET)}

    def _param(self, request: Any, name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        low, high = self.BOUNDS[name]
        return bounded_int(name, raw, low, high)

    def get_limit(self, request: Any) -> int:
        return self._param(request, "limit", self.default_limit)

    def get_offset(self, request: Any) -> int:
        return self._param(request, "offset", 0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = self.BOUNDS[parameter["name"]]
            parameter["schema"].update(minimum=low, maximum=high)
        return parameters
