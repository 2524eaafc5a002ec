"""Who the signed-in user is on the platform, and which pages their role opens.

Which *objects* a user may see is not decided here: that is ``registry.scoping`` (one place for the whole
platform). This module only routes a role to its pages; a page of another role answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from registry.models import Account
from registry.scoping import account_of, role_of

Role = Account.Role
OPERATOR_ROLES = (Role.AUTHORITY_OPERATOR, Role.ANS_OPERATOR, Role.AUDITOR)

__all__ = ["OPERATOR_ROLES", "Role", "account_of", "for_roles", "role_of"]


def for_roles(*roles: str) -> Callable:
    """Decorate a view: signed in, and holding one of ``roles``; the account is passed as ``account``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            account = account_of(request.user)
            if account is None or account.role not in roles:
                raise PermissionDenied
            return view(request, *args, account=account, **kwargs)

        return wrapped

    return decorator
