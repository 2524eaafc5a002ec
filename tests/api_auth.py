"""How a test authenticates to the API as a given user: one place, so the credential scheme can change.

``authorization(user)`` is the value of the ``Authorization`` header for ``user``: a Bearer token got as an
integrator does (docs/api_auth.md), through the client-credentials flow at ``/o/token/``, for an integrator
client bound to the user's account, created on first use. Kept per user while its token lives in the
database (a test's rollback forgets it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

TOKEN_URL = "/o/token/"
_tokens: dict[int, str] = {}


def basic(client_id: str, secret: str) -> str:
    """HTTP Basic credentials of an OAuth 2.0 client (RFC 6749 §2.3.1: each part form-urlencoded first)."""
    from urllib.parse import quote

    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def integrator_credentials(user: Any, name: str = "tests") -> tuple[str, str]:
    """(client id, client secret) of a new integrator client of ``user``'s account."""
    from registry.integrators import integrator_client_create

    client, secret = integrator_client_create(account=user.account, name=name, actor="tests")
    return client.application.client_id, secret


def client_credentials_token(client_id: str, secret: str, **fields: str) -> dict[str, Any]:
    """The token endpoint's JSON answer. The view of /o/token/ is called in process on a built request,
    not through Django's test client: the client reconnects the request signals that close database
    connections, which callers driving the WSGI application on the test's connection (the fuzzer) turn
    off."""
    from django.test import RequestFactory
    from django.urls import resolve

    request = RequestFactory().post(
        TOKEN_URL, {"grant_type": "client_credentials", **fields}, HTTP_AUTHORIZATION=basic(client_id, secret)
    )
    match = resolve(TOKEN_URL)
    response = match.func(request, *match.args, **match.kwargs)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def authorization(user: Any) -> str:
    from oauth2_provider.models import get_access_token_model

    token = _tokens.get(user.pk)
    if token is not None:
        checksum = hashlib.sha256(token.encode()).hexdigest()
        if (
            get_access_token_model()
            .objects.filter(token_checksum=checksum, application__integrator__account__user=user)
            .exists()
        ):
            return f"Bearer {token}"
    token = client_credentials_token(*integrator_credentials(user))["access_token"]
    _tokens[user.pk] = token
    return f"Bearer {token}"
