"""The discovery document says exactly what the provider does: each advertised capability is exercised
here (and works), each one the provider refuses is absent from it (and is refused)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from oauth2_provider.models import get_application_model

from ecps.oidc import CLAIMS_SUPPORTED
from registry.integrators import integrator_client_create
from registry.models import Account
from tests.factories import persona

from .helpers import query_of
from .oidc_client import (
    REDIRECT,
    Authorization,
    authorize,
    exchange,
    id_token_claims,
    register,
    sign_in,
    tokens,
)

pytestmark = pytest.mark.django_db

ALL_RESPONSE_TYPES = [
    "code",
    "token",
    "id_token",
    "id_token token",
    "code token",
    "code id_token",
    "code id_token token",
    "none",
]


@pytest.fixture
def rp(ans):
    return register(ans)


@pytest.fixture
def discovery(client) -> dict[str, Any]:
    response = client.get("/o/.well-known/openid-configuration")
    assert response.status_code == 200
    return response.json()


def test_the_document_lists_the_endpoints_and_they_answer(client, discovery):
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ):
        assert discovery[name].startswith(discovery["issuer"]), name
    assert client.get(discovery["jwks_uri"]).status_code == 200
    assert client.get(discovery["userinfo_endpoint"]).status_code == 401  # no token
    assert client.post(discovery["introspection_endpoint"], {"token": "x"}).status_code == 401  # no client
    assert client.post(discovery["revocation_endpoint"], {"token": "x"}).status_code in (400, 401)
    assert client.get(discovery["end_session_endpoint"]).status_code in (200, 302)


def test_the_rfc8414_document_says_the_same(client, discovery):
    assert client.get("/o/.well-known/oauth-authorization-server").json() == discovery


def test_only_the_code_response_type_is_advertised_and_the_others_are_refused(
    client, rp, active_ecps, authenticator, discovery
):
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["response_modes_supported"] == ["query"]
    assert "code" in authorize(client, authenticator, Authorization(rp))
    for response_type in ALL_RESPONSE_TYPES:
        if response_type in discovery["response_types_supported"]:
            continue
        auth = Authorization(rp, extra={"response_type": response_type})
        url = auth.url()
        sign_in(client, authenticator, url)
        response = client.get(url)
        assert response.status_code in (302, 400), (response_type, response.status_code)
        if response.status_code == 302:
            location = response["Location"]
            assert "error=" in location and "code=" not in location and "#" not in location, location
            refusals = ("unsupported_response_type", "unauthorized_client", "invalid_request")
            assert query_of(location)["error"] in refusals


def test_id_tokens_are_signed_with_the_advertised_algorithm_only(
    client, rp, active_ecps, authenticator, discovery
):
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    header, _claims = id_token_claims(client, rp, tokens(client, authenticator, rp)["id_token"])
    assert header["alg"] in discovery["id_token_signing_alg_values_supported"]
    keys = client.get(discovery["jwks_uri"]).json()["keys"]
    assert {key["alg"] for key in keys} == {"RS256"} and {key["kty"] for key in keys} == {"RSA"}
    assert get_application_model().objects.get(client_id=rp.client_id).algorithm == "RS256"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_each_advertised_client_authentication_works(
    client, rp, active_ecps, authenticator, discovery, method
):
    assert method in discovery["token_endpoint_auth_methods_supported"]
    assert set(discovery["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    if method == "client_secret_post":
        response = exchange(client, auth, params["code"])
    else:
        basic = "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
        response = client.post(
            "/o/token/",
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": REDIRECT,
                "code_verifier": auth.verifier,
            },
            HTTP_AUTHORIZATION=basic,
        )
    assert response.status_code == 200, response.content


def test_a_client_without_its_secret_is_refused(client, rp, active_ecps, authenticator):
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    response = exchange(client, auth, params["code"], client_secret=None)  # "none" is not advertised
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_s256_is_the_only_code_challenge_method(client, rp, active_ecps, authenticator, discovery):
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert "code" in authorize(client, authenticator, Authorization(rp))
    auth = Authorization(rp, extra={"code_challenge_method": "plain"})
    url = auth.url()
    sign_in(client, authenticator, url)
    assert query_of(client.get(url)["Location"])["error"] == "invalid_request"


def test_each_advertised_grant_type_works(client, rp, active_ecps, authenticator, discovery, ans):
    assert set(discovery["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    refresh = tokens(client, authenticator, rp)["refresh_token"]  # authorization_code
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
        },
    )
    assert refreshed.status_code == 200, refreshed.content
    holder = persona(Account.Role.HOLDER)
    integrator, secret = integrator_client_create(account=holder.account, name="ERP", actor=ans)
    application = integrator.application
    basic = "Basic " + base64.b64encode(f"{application.client_id}:{secret}".encode()).decode()
    given = client.post("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic)
    assert given.status_code == 200, given.content


@pytest.mark.parametrize(
    "grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
)
def test_the_grant_types_not_advertised_are_refused(client, rp, discovery, grant_type):
    assert grant_type not in discovery["grant_types_supported"]
    response = client.post(
        "/o/token/",
        {"grant_type": grant_type, "username": "x", "password": "y", "device_code": "z"},
        HTTP_AUTHORIZATION=rp.basic,
    )
    assert response.status_code in (400, 401, 404) and "access_token" not in response.json()


def test_a_relying_party_cannot_use_client_credentials(client, rp):
    response = client.post("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=rp.basic)
    assert response.status_code in (400, 401) and "access_token" not in response.json()


def test_every_claim_emitted_is_listed_and_every_listed_claim_is_emitted(
    client, rp, active_ecps, authenticator, discovery
):
    assert sorted(discovery["claims_supported"]) == sorted(CLAIMS_SUPPORTED)
    result = tokens(client, authenticator, rp, max_age="300")
    _header, id_claims = id_token_claims(client, rp, result["id_token"])
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {result['access_token']}").json()
    emitted = set(id_claims) | set(userinfo)
    assert emitted <= set(discovery["claims_supported"]), emitted - set(discovery["claims_supported"])
    assert set(discovery["claims_supported"]) <= emitted, set(discovery["claims_supported"]) - emitted


def test_each_advertised_openid_scope_can_be_asked_for(client, rp, active_ecps, authenticator, discovery):
    assert {"openid", "profile"} <= set(discovery["scopes_supported"])
    result = tokens(client, authenticator, rp, scope="openid")
    _header, claims = id_token_claims(client, rp, result["id_token"])
    assert "profession" not in claims  # the profile scope was not asked for
    assert set(result["scope"].split()) == {"openid"}


def test_the_advertised_prompt_values_work(client, rp, active_ecps, authenticator, discovery):
    assert discovery["prompt_values_supported"] == ["none", "login", "consent"]
    silent = client.get(Authorization(rp, extra={"prompt": "none"}).url())
    assert query_of(silent["Location"])["error"] == "login_required"
    tokens(client, authenticator, rp, prompt="consent")  # the consent page is shown (tokens() posts it)
    url = Authorization(rp, extra={"prompt": "login"}).url()
    assert client.get(url)["Location"].startswith("/ecps/signin/")


def test_logout_capabilities_are_advertised(discovery):
    assert discovery["backchannel_logout_supported"] is True
    assert discovery["backchannel_logout_session_supported"] is True
    assert discovery["frontchannel_logout_supported"] is False
    assert "sid" in discovery["claims_supported"]


def test_what_is_not_supported_says_so(client, discovery):
    assert discovery["request_parameter_supported"] is False
    assert discovery["request_uri_parameter_supported"] is False
    assert discovery["claims_parameter_supported"] is False
    assert "HS256" not in discovery["id_token_signing_alg_values_supported"]
    assert discovery["authorization_response_iss_parameter_supported"] is True
