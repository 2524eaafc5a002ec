"""Sign-in for health services: the OpenID Connect provider, played end to end through the Django client
(the relying party's part is the test's): authorization code with PKCE, a passkey sign-in, consent, the
code exchange, the ID token verified against the JWKS, introspection and userinfo."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from jwcrypto import jwk, jwt

from ecps import relying_parties, services
from ecps.models import ECps, SignInEvent
from registry.models import Professional

from .helpers import DEMO_REDIRECT, authorize_url, pkce, query_of

pytestmark = pytest.mark.django_db

REDIRECT = f"http://testserver{DEMO_REDIRECT}"


@dataclass
class RelyingParty:
    client_id: str
    secret: str

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()


@pytest.fixture
def rp(ans) -> RelyingParty:
    application, secret = relying_parties.relying_party_register(
        actor=ans, name="Messagerie sécurisée", redirect_uris=[REDIRECT]
    )
    return RelyingParty(application.client_id, secret)


def _sign_in(client, authenticator, next_url: str) -> Any:
    options = client.post("/ecps/signin/options/", content_type="application/json").json()
    credential = authenticator.get(options)
    return client.post(
        "/ecps/signin/verify/", {"credential": credential, "next": next_url}, content_type="application/json"
    )


def _consent(client, url: str) -> Any:
    page = client.get(url)
    assert page.status_code == 200, page.content
    form = page.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    return client.post(url, {**data, "allow": "Authorize"})


def _flow(client, rp: RelyingParty, authenticator) -> dict[str, Any]:
    """The whole flow; returns the token response and what the RP keeps."""
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    url = authorize_url(rp.client_id, REDIRECT, challenge, state=state, nonce=nonce)
    to_signin = client.get(url)
    assert to_signin.status_code == 302 and to_signin["Location"].startswith("/ecps/signin/")
    signed_in = _sign_in(client, authenticator, url)
    assert signed_in.status_code == 200, signed_in.json()
    assert signed_in.json()["redirect"] == url
    back = _consent(client, url)
    assert back.status_code == 302 and back["Location"].startswith(REDIRECT)
    params = query_of(back["Location"])
    assert params["state"] == state
    tokens = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.content
    return {**tokens.json(), "nonce": nonce}


def _claims(client, rp: RelyingParty, id_token: str) -> dict[str, Any]:
    discovery = client.get("/o/.well-known/openid-configuration").json()
    keys = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    token = jwt.JWT(
        jwt=id_token, key=keys, check_claims={"iss": discovery["issuer"], "aud": rp.client_id, "exp": None}
    )
    assert json.loads(token.header)["alg"] == "RS256"
    return json.loads(token.claims)


def _introspect(client, rp: RelyingParty, token: str) -> dict[str, Any]:
    response = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=rp.basic)
    assert response.status_code == 200
    return response.json()


def test_the_id_token_carries_the_holder_and_is_signed(client, rp, active_ecps, authenticator, doctor):
    result = _flow(client, rp, authenticator)
    claims = _claims(client, rp, result["id_token"])
    person = doctor.professional
    assert claims["sub"] == person.national_id and claims["nonce"] == result["nonce"]
    assert claims["family_name"] == person.last_name and claims["given_name"] == person.first_name
    assert claims["profession"] == {"code": "10", "label": doctor.profession.label, "category": "C"}
    modes = sorted(s["mode"]["code"] for s in claims["situations"])
    assert modes == ["L", "S"]
    assert all(s["structure"]["id"] and s["structure"]["name"] for s in claims["situations"])
    assert result["expires_in"] <= 300


def test_every_sign_in_is_audited(client, rp, active_ecps, authenticator):
    _flow(client, rp, authenticator)
    event = SignInEvent.objects.get()
    assert event.result == "success" and event.ecps == active_ecps
    assert event.client_id == rp.client_id and event.application.name == "Messagerie sécurisée"


def test_introspection_turns_inactive_after_opposition(client, rp, active_ecps, authenticator, doctor_user):
    access = _flow(client, rp, authenticator)["access_token"]
    introspected = _introspect(client, rp, access)
    assert introspected["active"] is True
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == active_ecps.holder.national_id
    services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user, reason="stolen")
    assert _introspect(client, rp, access) == {"active": False}
    assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code in (401, 403)


def test_introspection_turns_inactive_when_the_registry_drops_the_holder(
    client, rp, active_ecps, authenticator
):
    access = _flow(client, rp, authenticator)["access_token"]
    Professional.objects.filter(pk=active_ecps.holder_id).update(is_active=False)
    assert _introspect(client, rp, access) == {"active": False}  # before any revocation has run


def test_refresh_is_refused_once_the_ecps_is_revoked(client, rp, active_ecps, authenticator, doctor_user):
    refresh = _flow(client, rp, authenticator)["refresh_token"]
    services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user)
    response = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
        },
    )
    assert response.status_code == 400


def test_a_code_is_not_exchanged_once_the_ecps_is_revoked(
    client, rp, active_ecps, authenticator, doctor_user
):
    verifier, challenge = pkce()
    url = authorize_url(rp.client_id, REDIRECT, challenge, state="s", nonce="n")
    _sign_in(client, authenticator, url)
    code = query_of(_consent(client, url)["Location"])["code"]
    services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user)
    response = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_sign_in_is_refused_after_opposition_and_audited(client, active_ecps, authenticator, doctor_user):
    services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user)
    response = _sign_in(client, authenticator, "")
    assert response.status_code == 403 and response.json()["code"] == "ecps_revoked"
    event = SignInEvent.objects.get()
    assert event.result == "refused" and event.reason == "ecps_revoked"
    assert "_auth_user_id" not in client.session


def test_sign_in_is_refused_at_once_for_an_inactive_holder(client, active_ecps, authenticator):
    Professional.objects.filter(pk=active_ecps.holder_id).update(is_active=False)
    response = _sign_in(client, authenticator, "")
    assert response.status_code == 403 and response.json()["code"] == "holder_inactive"
    assert ECps.objects.get(pk=active_ecps.pk).state == ECps.State.ACTIVE  # refused before any revocation


def test_a_forged_assertion_is_refused(client, active_ecps, authenticator):
    from .authenticator import SoftAuthenticator

    impostor = SoftAuthenticator(origin=authenticator.origin, credential_id=authenticator.credential_id)
    response = _sign_in(client, impostor, "")
    assert response.status_code == 403 and response.json()["code"] == "verification_failed"


def test_a_password_session_is_not_enough_to_authorize(client, rp, active_ecps, doctor_user):
    client.force_login(doctor_user)
    _verifier, challenge = pkce()
    response = client.get(authorize_url(rp.client_id, REDIRECT, challenge, state="s", nonce="n"))
    assert response.status_code == 302 and response["Location"].startswith("/ecps/signin/")


def test_pkce_is_required(client, rp, active_ecps, authenticator):
    url = authorize_url(rp.client_id, REDIRECT, "x", state="s", nonce="n").replace(
        "&code_challenge=x&code_challenge_method=S256", ""
    )
    _sign_in(client, authenticator, url)
    response = client.get(url)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "error=invalid_request" in response["Location"]


def test_refusing_consent_is_audited(client, rp, active_ecps, authenticator):
    _verifier, challenge = pkce()
    url = authorize_url(rp.client_id, REDIRECT, challenge, state="s", nonce="n")
    _sign_in(client, authenticator, url)
    form = client.get(url).context["form"]
    response = client.post(url, {k: v for k, v in form.initial.items() if v is not None})
    assert "error=access_denied" in response["Location"]
    assert list(SignInEvent.objects.values_list("result", "reason")) == [
        ("refused", "consent_denied"),
        ("success", ""),
    ]


def test_discovery_is_served_at_the_root_too(client):
    root = client.get("/.well-known/openid-configuration")
    assert root.status_code == 200
    document = root.json()
    assert document == client.get("/o/.well-known/openid-configuration").json()
    assert "S256" in document["code_challenge_methods_supported"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert client.get("/.well-known/oauth-authorization-server").json() == document


def test_self_service_client_pages_are_closed(client, doctor_user):
    client.force_login(doctor_user)
    assert client.get("/o/applications/").status_code == 404
    assert client.get("/o/applications/register/").status_code == 404
