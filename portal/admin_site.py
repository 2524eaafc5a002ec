"""The Django admin is a superuser's tool only.

Operators are ``is_staff`` in some deployments (to reach tools that test for it); the admin must not open
to them: it bypasses the services, so a staff account could move an order's state without its event row.
"""

from django.contrib import admin
from django.http import HttpRequest


def superuser_only(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


def restrict_admin_to_superusers() -> None:
    admin.site.has_permission = superuser_only  # type: ignore[method-assign]
