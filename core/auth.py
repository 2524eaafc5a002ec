"""How programs authenticate to the platform API: OAuth 2.0 client credentials (RFC 6749 §4.4).

An integrator client (``registry.models.IntegratorClient``) is an OAuth 2.0 client of django-oauth-toolkit
bound to one platform account: it gets a short-lived access token at ``/o/token/`` and sends it as
``Authorization: Bearer <token>`` (RFC 6750). The API then acts as that account, with its role and
authority, so every scoping rule applies unchanged. Tokens are stored hashed (RFC 9700 token storage): the
lookup is by the SHA-256 of the presented value.

Only the tokens of integrator clients are accepted here: the access tokens the e-CPS provider gives the
relying parties (OpenID Connect) are for the userinfo endpoint, never for the platform API.

Scopes say what a token may do, within what the account's role allows: ``api:read`` for reading
(GET, HEAD, OPTIONS), ``api:write`` for every other method. The auditor reads only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oauth2_provider.models import get_access_token_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from .roles import Role

READ_SCOPE = "api:read"
WRITE_SCOPE = "api:write"
# Relying parties reading the status of cards (lifecycle.api_status), nothing else: asked for explicitly.
CARD_STATUS_SCOPE = "card-status"
SCOPES = {
    READ_SCOPE: gettext_lazy("Read the platform API, within the account's scope"),
    WRITE_SCOPE: gettext_lazy("Act through the platform API (create, change), within the account's scope"),
    CARD_STATUS_SCOPE: gettext_lazy("Read the status of smart cards, as the national directory publishes it"),
}
# What an integrator client of each role may ask for. The platform's own account (system) has none.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    Role.HOLDER: (READ_SCOPE, WRITE_SCOPE),
    Role.STRUCTURE_MANAGER: (READ_SCOPE, WRITE_SCOPE),
    Role.AUTHORITY_OPERATOR: (READ_SCOPE, WRITE_SCOPE),
    Role.ANS_OPERATOR: (READ_SCOPE, WRITE_SCOPE),
    Role.AUDITOR: (READ_SCOPE,),
}
# Scopes a client of these roles may ask for but is not given unless it asks (not in the default grant).
OPT_IN_SCOPES: dict[str, tuple[str, ...]] = {
    Role.STRUCTURE_MANAGER: (CARD_STATUS_SCOPE,),
    Role.AUTHORITY_OPERATOR: (CARD_STATUS_SCOPE,),
    Role.ANS_OPERATOR: (CARD_STATUS_SCOPE,),
    Role.AUDITOR: (CARD_STATUS_SCOPE,),
}
TOKEN_URL = "/o/token/"  # noqa: S105 - a URL


def scopes_for(role: str | None) -> tuple[str, ...]:
    """Every scope a client of ``role`` may be granted."""
    return ROLE_SCOPES.get(role or "", ()) + OPT_IN_SCOPES.get(role or "", ())


def default_scopes_for(role: str | None) -> tuple[str, ...]:
    """What a client of ``role`` gets when it names no scope."""
    return ROLE_SCOPES.get(role or "", ())


def needed_scope(method: str, view: Any = None) -> str:
    """The scope a request needs: the view's own ``required_scope`` if it names one, else read or write."""
    return getattr(view, "required_scope", None) or (READ_SCOPE if method in SAFE_METHODS else WRITE_SCOPE)


# What authentication reads: the token's expiry and scope, the account (the request's user's, read by every
# scoping rule: all its columns) and the whole user; of the client only the links. Not the client's secret,
# redirect URIs and the like, nor the token's own value and timestamps: half the columns of the first query
# of every API request, and their share of its cost (``.only``: a relation named alone comes whole).
_ACCOUNT = "application__integrator__account"
TOKEN_COLUMNS = (
    "expires",
    "scope",
    *(f"{_ACCOUNT}__{field}" for field in ("role", "professional", "structure", "authority")),
    f"{_ACCOUNT}__user",
)


def integrator_token(value: str) -> Any:
    """The stored access token of an integrator client whose value is ``value``, or None. The reverse
    relation ``integrator`` is ``registry.models.IntegratorClient.application``'s (named, not imported:
    core is below registry)."""
    checksum = hashlib.sha256(value.encode("utf-8")).hexdigest()
    tokens = get_access_token_model().objects.select_related("application__integrator__account__user")
    try:
        # The checksum is unique: ``get``, not ``first`` and its ORDER BY (compiled and planned for nothing).
        return tokens.only(*TOKEN_COLUMNS).get(token_checksum=checksum, application__integrator__isnull=False)
    except ObjectDoesNotExist:
        return None


class IntegratorTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access token>`` of an integrator client: the request acts as the client's
    account. A missing, unknown or expired token answers 401 (``WWW-Authenticate: Bearer``); a token
    without the scope the method needs answers 403 (RFC 6750 §3.1 ``insufficient_scope``)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header: Bearer <token>."))
        try:
            value = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid or expired access token.")) from None
        token = integrator_token(value)
        if token is None or token.is_expired():
            raise exceptions.AuthenticationFailed(_("Invalid or expired access token."))
        account = token.application.integrator.account
        if not account.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or expired access token."))
        granted = set(token.scope.split()) & set(scopes_for(account.role))
        needed = needed_scope(request.method or "GET", (request.parser_context or {}).get("view"))
        if needed not in granted:
            raise exceptions.PermissionDenied(
                _("This access token lacks the scope %(scope)s.") % {"scope": needed}
            )
        return account.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
