"""The web pages' shared conventions: which role opens a page, and domain errors handled once.

``for_roles`` routes a role to its pages (a page of another role answers 403); which *objects* a user may
see is each app's scoping, not this.

A domain error in a page: the person is told why and sent back where they were.

A view calls its service and writes only what follows success; a ``DomainError`` it lets through becomes a
message on the page the person came from (303 See Other, so a reload never re-posts the form). The API
has its own handler (``core.api``); this middleware leaves its paths alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from .errors import DomainError
from .roles import account_of

API_PREFIXES = ("/api/", "/pki/", "/o/", "/.well-known/")


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError) or request.path.startswith(API_PREFIXES):
            return None
        messages.error(request, exception.message)
        response = HttpResponseRedirect(back_url(request))
        response.status_code = 303
        return response


def back_url(request: HttpRequest) -> str:
    """Where the person came from: the form's ``next``, else the referring page of this site, else, for a
    form that posts to its own page, that page. A page only loaded is never sent back to itself (that would
    loop): it goes to the home page, which sends each role to its own. A form whose action answers only
    POST says where to go back with a ``next`` field."""
    here = request.build_absolute_uri()
    for candidate in (request.POST.get("next", ""), request.headers.get("referer", "")):
        if (
            candidate
            and candidate != here
            and url_has_allowed_host_and_scheme(
                candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
        ):
            return candidate
    return request.get_full_path() if request.method == "POST" else "/"


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
