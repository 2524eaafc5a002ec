"""The relying party's side of the OpenID Connect tests, through the Django client: register, send the
browser to the authorization endpoint, sign in with the passkey, consent, exchange the code, verify the
ID token against the JWKS."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jwcrypto import jwk, jwt

from ecps import relying_parties

from .helpers import DEMO_REDIRECT, pkce, query_of

REDIRECT = f"http://testserver{DEMO_REDIRECT}"
LOGGED_OUT = "http://testserver/ecps/demo-rp/logged-out"


@dataclass
class RelyingParty:
    client_id: str
    secret: str
    pk: int

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()


def register(ans: Any, name: str = "Messagerie sécurisée", **options: Any) -> RelyingParty:
    application, secret = relying_parties.relying_party_register(
        actor=ans, name=name, redirect_uris=[REDIRECT], **options
    )
    return RelyingParty(application.client_id, secret, application.pk)


@dataclass
class Authorization:
    """One authorization request, as the relying party keeps it."""

    rp: RelyingParty
    verifier: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    extra: dict[str, str] = field(default_factory=dict)
    redirect_uri: str = REDIRECT

    def url(self) -> str:
        self.verifier, challenge = pkce()
        query = {
            "response_type": "code",
            "client_id": self.rp.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **self.extra,
        }
        return "/o/authorize/?" + urlencode({k: v for k, v in query.items() if v is not None})


def sign_in(client: Any, authenticator: Any, next_url: str) -> Any:
    options = client.post("/ecps/signin/options/", content_type="application/json").json()
    credential = authenticator.get(options)
    return client.post(
        "/ecps/signin/verify/", {"credential": credential, "next": next_url}, content_type="application/json"
    )


def consent(client: Any, url: str, allow: bool = True) -> Any:
    page = client.get(url)
    assert page.status_code == 200, page.content
    form = page.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    return client.post(url, {**data, "allow": "Authorize"} if allow else data)


def authorize(client: Any, authenticator: Any, auth: Authorization) -> dict[str, str]:
    """Sign in and consent; returns the parameters the relying party receives."""
    url = auth.url()
    signed_in = sign_in(client, authenticator, url)
    assert signed_in.status_code == 200, signed_in.json()
    back = consent(client, url)
    assert back.status_code == 302 and back["Location"].startswith(auth.redirect_uri), back
    return query_of(back["Location"])


def exchange(client: Any, auth: Authorization, code: str, **overrides: Any) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": auth.redirect_uri,
        "client_id": auth.rp.client_id,
        "client_secret": auth.rp.secret,
        "code_verifier": auth.verifier,
        **overrides,
    }
    return client.post("/o/token/", {k: v for k, v in data.items() if v is not None})


def tokens(client: Any, authenticator: Any, rp: RelyingParty, **extra: str) -> dict[str, Any]:
    auth = Authorization(rp, extra=extra)
    params = authorize(client, authenticator, auth)
    assert params["state"] == auth.state
    response = exchange(client, auth, params["code"])
    assert response.status_code == 200, response.content
    return {**response.json(), "nonce": auth.nonce}


def id_token_claims(client: Any, rp: RelyingParty, id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ID token's header and claims, its signature checked with the JWKS."""
    discovery = client.get("/o/.well-known/openid-configuration").json()
    keys = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    token = jwt.JWT(
        jwt=id_token, key=keys, check_claims={"iss": discovery["issuer"], "aud": rp.client_id, "exp": None}
    )
    return json.loads(token.header), json.loads(token.claims)


def introspect(client: Any, caller: RelyingParty, token: str) -> dict[str, Any]:
    response = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=caller.basic)
    assert response.status_code == 200, response.content
    return response.json()
