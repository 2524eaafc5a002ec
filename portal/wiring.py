"""Find a service of another app by name, for the few actions whose service may not have shipped yet.

The portal never reimplements a business rule: an action whose service is missing says so to the user
and does nothing, rather than fall back on code of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def service(dotted: str) -> Callable[..., Any] | None:
    module_name, name = dotted.rsplit(".", 1)
    try:
        return getattr(import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
