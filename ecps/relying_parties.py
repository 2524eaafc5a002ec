"""Relying parties: the health services that sign holders in with their e-CPS, registered by ANS as OpenID
Connect clients of the provider (django-oauth-toolkit applications)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from core.errors import InvalidInput, NotPermitted
from core.roles import RELYING_PARTY_MANAGERS, RELYING_PARTY_READERS, role_of

from .models import RelyingPartyProfile

User = Any  # a django.contrib.auth user with a registry Account


def relying_parties_for(*, actor: User) -> QuerySet[Any]:
    if role_of(actor) not in RELYING_PARTY_READERS:
        raise NotPermitted(_("Relying parties are registered by ANS operators."))
    application_model = get_application_model()
    return (
        application_model.objects.filter(authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE)
        .select_related("ecps_profile")
        .order_by("name", "pk")
    )


def relying_party_register(
    *,
    actor: User,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str = "",
    resource_server: bool = False,
) -> tuple[Any, str]:
    """Register a health service as an OpenID Connect client (authorization code with PKCE, ID tokens
    signed RS256). Returns the application and its client secret, in clear this once (stored hashed).

    ``post_logout_redirect_uris`` are where RP-initiated logout may send the browser back (matched
    exactly); ``backchannel_logout_uri`` receives the logout tokens; a ``resource_server`` (an API that
    receives the relying parties' access tokens) may introspect any token, where every other client
    introspects only its own."""
    if role_of(actor) not in RELYING_PARTY_MANAGERS:
        raise NotPermitted(_("Relying parties are registered by ANS operators."))
    application_model = get_application_model()
    secret = generate_client_secret()
    application = application_model(
        name=name.strip()[:255],
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(uri.strip() for uri in redirect_uris if uri.strip()),
        post_logout_redirect_uris=" ".join(u.strip() for u in post_logout_redirect_uris or [] if u.strip()),
        algorithm=application_model.RS256_ALGORITHM,
        client_secret=secret,
        skip_authorization=False,
    )
    try:
        application.full_clean(exclude=["user", "client_secret"])
    except ValidationError as exc:
        raise InvalidInput("; ".join(exc.messages)) from None
    profile = RelyingPartyProfile(
        application=application,
        backchannel_logout_uri=backchannel_logout_uri.strip(),
        is_resource_server=resource_server,
    )
    try:
        profile.full_clean(exclude=["application"])
    except ValidationError as exc:
        raise InvalidInput("; ".join(exc.messages), field="backchannel_logout_uri") from None
    with transaction.atomic():
        application.save()
        profile.application = application
        profile.save()
    return application, secret
