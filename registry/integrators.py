"""Integrator clients: the OAuth 2.0 clients (client credentials, RFC 6749 §4.4) through which programs act
as a platform account on the API (core.auth), and the scopes the token endpoint grants them.

The token endpoint is django-oauth-toolkit's ``/o/token/``. Only an integrator client's application allows
the client-credentials grant (the e-CPS provider's relying parties are authorization-code clients), and
``IntegratorScopes`` lets it ask only for the scopes of its account's role (``invalid_scope`` otherwise;
without ``scope``, it gets them all).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model
from oauth2_provider.scopes import SettingsScopes

from audit import log
from core.auth import SCOPES, default_scopes_for, scopes_for
from core.errors import InvalidInput

from .models import Account, IntegratorClient


def integrator_client_create(*, account: Account, name: str, actor: Any) -> tuple[IntegratorClient, str]:
    """A new integrator client for ``account``. Returns it and its client secret, in clear this once (the
    application stores it hashed)."""
    if not scopes_for(account.role):
        raise InvalidInput(_("This account's role cannot have integrator clients."))
    application_model = get_application_model()
    secret = generate_client_secret()
    with transaction.atomic():
        application = application_model.objects.create(
            name=(name.strip() or f"integrator {account.user.get_username()}")[:255],
            user=account.user,
            client_type=application_model.CLIENT_CONFIDENTIAL,
            authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
            redirect_uris="",
            client_secret=secret,
            skip_authorization=True,
        )
        client = IntegratorClient.objects.create(account=account, application=application)
        log.append(
            "integrator_client.created",
            actor=actor,
            object_type="integrator_client",
            object_id=client.pk,
            authority_id=account.authority_id,
            detail={"account_id": account.pk, "client_id": application.client_id, "name": application.name},
        )
    return client, secret


def integrator_client_revoke(*, client: IntegratorClient, actor: Any) -> None:
    """Delete the client and, with its application, every token it was given."""
    with transaction.atomic():
        log.append(
            "integrator_client.revoked",
            actor=actor,
            object_type="integrator_client",
            object_id=client.pk,
            authority_id=client.account.authority_id,
            detail={"account_id": client.account_id, "client_id": client.application.client_id},
        )
        client.application.delete()  # cascades to the client and the application's tokens


def _integrator_account(application: Any) -> Account | None:
    if application is None or getattr(application, "pk", None) is None:
        return None
    client = IntegratorClient.objects.select_related("account").filter(application=application).first()
    return client.account if client is not None else None


class IntegratorScopes(SettingsScopes):
    """django-oauth-toolkit's scopes backend: an integrator client may ask for its account's role's scopes
    (core.auth.ROLE_SCOPES) and nothing else; every other application keeps the provider's own scopes."""

    def get_all_scopes(self) -> dict[str, str]:
        return {**super().get_all_scopes(), **{name: str(text) for name, text in SCOPES.items()}}

    def get_available_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any):
        account = _integrator_account(application)
        if account is None:
            return super().get_available_scopes(application, request, *args, **kwargs)
        return list(scopes_for(account.role))

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any):
        account = _integrator_account(application)
        if account is None:
            return super().get_default_scopes(application, request, *args, **kwargs)
        return list(default_scopes_for(account.role))
