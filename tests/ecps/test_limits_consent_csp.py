"""The consent page's Content-Security-Policy (core.headers): its form, which ends in a redirect to the
relying party, may go to that relying party's registered address only, not to any site."""

from __future__ import annotations

from typing import Any

import pytest

from ecps import relying_parties

from .helpers import authorize_url, pkce

pytestmark = pytest.mark.django_db

REDIRECT = "https://messagerie.example/oidc/callback"


def form_action(response: Any) -> list[str]:
    for directive in response["Content-Security-Policy"].split(";"):
        name, _sep, value = directive.strip().partition(" ")
        if name == "form-action":
            return value.split()
    return []


def test_the_consent_form_may_post_back_to_its_relying_party_only(client, ans, active_ecps, authenticator):
    application, _secret = relying_parties.relying_party_register(
        actor=ans, name="Messagerie sécurisée", redirect_uris=[REDIRECT]
    )
    _verifier, challenge = pkce()
    url = authorize_url(application.client_id, REDIRECT, challenge, state="s", nonce="n")
    options = client.post("/ecps/signin/options/", content_type="application/json").json()
    signed_in = client.post(
        "/ecps/signin/verify/",
        {"credential": authenticator.get(options), "next": url},
        content_type="application/json",
    )
    assert signed_in.status_code == 200, signed_in.json()
    consent = client.get(url)
    assert consent.status_code == 200
    assert form_action(consent) == ["'self'", "https://messagerie.example"]
    # Any other page keeps form-action 'self' alone.
    assert form_action(client.get("/ecps/")) == ["'self'"]
    # A redirect URI the client did not register is refused by the view: no page, no widening.
    other = client.get(
        authorize_url(application.client_id, "https://evil.example/cb", challenge, state="s", nonce="n")
    )
    assert "https://evil.example" not in form_action(other)
