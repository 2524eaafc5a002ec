"""An OpenID Connect conformance-style list of our own (after the OpenID Foundation's Basic OP plan): state,
nonce, PKCE, redirect URI exact match, code replay and lifetime, token lifetimes, the ID token's claims
and signature, prompt=none/login and max_age, tokens in the Authorization header only, introspection
for a token's own client and resource servers only."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time

import pytest
from django.conf import settings
from oauth2_provider.models import get_grant_model

from ecps.models import SignInEvent

from .helpers import query_of
from .oidc_client import (
    REDIRECT,
    Authorization,
    authorize,
    consent,
    exchange,
    id_token_claims,
    introspect,
    register,
    sign_in,
    tokens,
)

pytestmark = pytest.mark.django_db
PROVIDER = settings.OAUTH2_PROVIDER


@pytest.fixture
def rp(ans):
    return register(ans)


# --- state, nonce -----------------------------------------------------------------------------------------


def test_state_comes_back_unchanged(client, rp, active_ecps, authenticator):
    auth = Authorization(rp, state="a b&c=d/é+%20~")
    params = authorize(client, authenticator, auth)
    assert params["state"] == "a b&c=d/é+%20~"
    assert params["iss"] == client.get("/o/.well-known/openid-configuration").json()["issuer"]


def test_the_nonce_is_in_the_id_token(client, rp, active_ecps, authenticator):
    result = tokens(client, authenticator, rp)
    _header, claims = id_token_claims(client, rp, result["id_token"])
    assert claims["nonce"] == result["nonce"]


# --- PKCE -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"code_challenge": None, "code_challenge_method": None},  # no PKCE at all
        {"code_challenge_method": "plain"},  # plain refused (S256 only)
    ],
    ids=["missing", "plain"],
)
def test_pkce_is_required_with_s256(client, rp, active_ecps, authenticator, extra):
    auth = Authorization(rp, extra=extra)
    url = auth.url()
    sign_in(client, authenticator, url)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(REDIRECT)
    params = query_of(response["Location"])
    assert params["error"] == "invalid_request" and "code" not in params


def test_a_wrong_verifier_is_refused(client, rp, active_ecps, authenticator):
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    response = exchange(client, auth, params["code"], code_verifier="x" * 64)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_the_verifier_of_the_challenge_as_plain_text_is_refused(client, rp, active_ecps, authenticator):
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(auth.verifier.encode()).digest()).rstrip(b"=")
    response = exchange(client, auth, params["code"], code_verifier=challenge.decode())
    assert response.status_code == 400


# --- redirect URI: exact match ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT + "/",  # trailing slash
        REDIRECT + "x",  # suffix
        REDIRECT + "/../../evil",  # path tricks
        REDIRECT + "?next=https://evil.example",  # extra query
        REDIRECT.replace("callback", "Callback"),  # case of the path
        REDIRECT.replace("http://testserver", "http://testserver.evil.example"),  # host suffix
        REDIRECT.replace("http://", "https://"),  # scheme
        REDIRECT.replace("testserver", "testserver:8080"),  # port
        REDIRECT[:-3],  # prefix
        "http://evil.example/ecps/demo-rp/callback",
    ],
)
def test_the_redirect_uri_must_match_exactly(client, rp, active_ecps, authenticator, redirect_uri):
    auth = Authorization(rp, redirect_uri=redirect_uri)
    url = auth.url()
    sign_in(client, authenticator, url)
    response = client.get(url)
    assert response.status_code == 400  # an error page: never a redirect to an unregistered URI
    assert "Location" not in response


def test_the_token_request_must_repeat_the_same_redirect_uri(client, rp, active_ecps, authenticator):
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    response = exchange(client, auth, params["code"], redirect_uri=REDIRECT + "/")
    assert response.status_code == 400  # oauthlib says invalid_request (RFC 6749 §5.2: invalid_grant)
    assert response.json()["error"] in ("invalid_grant", "invalid_request")
    assert exchange(client, auth, params["code"]).status_code == 200  # the code was not spent


# --- the code: single use, short-lived --------------------------------------------------------------------


def test_a_replayed_code_is_refused_and_revokes_what_it_gave(client, rp, active_ecps, authenticator):
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    first = exchange(client, auth, params["code"])
    assert first.status_code == 200
    access, refresh = first.json()["access_token"], first.json()["refresh_token"]
    assert introspect(client, rp, access)["active"] is True
    replay = exchange(client, auth, params["code"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert introspect(client, rp, access) == {"active": False}
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
        },
    )
    assert refreshed.status_code == 400


def test_a_code_lives_as_configured_then_is_refused(client, rp, active_ecps, authenticator):
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    grant = get_grant_model().objects.get()
    lifetime = (grant.expires - grant.created).total_seconds()
    assert abs(lifetime - PROVIDER["AUTHORIZATION_CODE_EXPIRE_SECONDS"]) < 2
    assert PROVIDER["AUTHORIZATION_CODE_EXPIRE_SECONDS"] <= 60
    get_grant_model().objects.update(expires=grant.created - dt.timedelta(seconds=1))
    response = exchange(client, auth, params["code"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(client, rp, active_ecps, authenticator, ans):
    other = register(ans, name="Autre service")
    auth = Authorization(rp)
    params = authorize(client, authenticator, auth)
    response = exchange(client, auth, params["code"], client_id=other.client_id, client_secret=other.secret)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# --- tokens and the ID token ----------------------------------------------------------------------------


def test_token_lifetimes_are_as_configured(client, rp, active_ecps, authenticator):
    result = tokens(client, authenticator, rp)
    assert result["expires_in"] == PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert result["token_type"] == "Bearer"
    _header, claims = id_token_claims(client, rp, result["id_token"])
    assert claims["exp"] - claims["iat"] in range(
        PROVIDER["ID_TOKEN_EXPIRE_SECONDS"] - 2, PROVIDER["ID_TOKEN_EXPIRE_SECONDS"] + 3
    )


def test_the_id_token_names_issuer_audience_and_party(client, rp, active_ecps, authenticator):
    before = int(time.time())
    result = tokens(client, authenticator, rp)
    header, claims = id_token_claims(client, rp, result["id_token"])
    issuer = client.get("/o/.well-known/openid-configuration").json()["issuer"]
    assert claims["iss"] == issuer
    assert claims["aud"] == rp.client_id and claims["azp"] == rp.client_id
    assert before - 1 <= claims["iat"] <= int(time.time()) + 1
    assert claims["exp"] > claims["iat"]
    assert header["alg"] == "RS256"
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    assert header["kid"] in {key["kid"] for key in keys}


def test_auth_time_is_the_passkey_sign_in_when_max_age_is_asked(client, rp, active_ecps, authenticator):
    before = int(time.time())
    result = tokens(client, authenticator, rp, max_age="600")
    _header, claims = id_token_claims(client, rp, result["id_token"])
    assert before - 1 <= claims["auth_time"] <= int(time.time()) + 1


def test_a_forged_id_token_signature_is_detected(client, rp, active_ecps, authenticator):
    from jwcrypto.common import JWException

    result = tokens(client, authenticator, rp)
    head, body, signature = result["id_token"].split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    with pytest.raises(JWException):
        id_token_claims(client, rp, forged)


# --- prompt=none, prompt=login, max_age (OpenID Connect Core §3.1.2.1, §3.1.2.6) -----------------------


def test_prompt_none_without_a_session_answers_login_required(client, rp, active_ecps):
    auth = Authorization(rp, extra={"prompt": "none"})
    response = client.get(auth.url())
    assert response.status_code == 302 and response["Location"].startswith(REDIRECT)
    params = query_of(response["Location"])
    assert params["error"] == "login_required" and params["state"] == auth.state and "code" not in params
    assert params["iss"] == client.get("/o/.well-known/openid-configuration").json()["issuer"]


def test_prompt_none_with_a_password_session_only_answers_login_required(
    client, rp, active_ecps, doctor_user
):
    client.force_login(doctor_user)
    response = client.get(Authorization(rp, extra={"prompt": "none"}).url())
    assert query_of(response["Location"])["error"] == "login_required"


def test_prompt_none_without_consent_answers_consent_required(client, rp, active_ecps, authenticator, ans):
    tokens(client, authenticator, rp)  # a provider session, and consent for rp only
    other = register(ans, name="Autre service")
    response = client.get(Authorization(other, extra={"prompt": "none"}).url())
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "consent_required"


def test_prompt_none_with_a_session_and_consent_gives_a_code(client, rp, active_ecps, authenticator):
    first = tokens(client, authenticator, rp)
    _h, first_claims = id_token_claims(client, rp, first["id_token"])
    auth = Authorization(rp, extra={"prompt": "none"})
    response = client.get(auth.url())
    assert response.status_code == 302, response.content
    params = query_of(response["Location"])
    assert "error" not in params and params["state"] == auth.state
    exchanged = exchange(client, auth, params["code"])
    assert exchanged.status_code == 200, exchanged.content
    _h, claims = id_token_claims(client, rp, exchanged.json()["id_token"])
    assert claims["nonce"] == auth.nonce and claims["sid"] == first_claims["sid"]
    assert claims["auth_time"] == first_claims["auth_time"]  # no new sign-in
    assert SignInEvent.objects.count() == 1  # one passkey ceremony


def test_prompt_none_past_max_age_answers_login_required(client, rp, active_ecps, authenticator):
    tokens(client, authenticator, rp)
    session = client.session
    marker = session["ecps_signin"]
    session["ecps_signin"] = {**marker, "at": marker["at"] - 120}
    session.save()
    assert "error" not in query_of(client.get(Authorization(rp, extra={"prompt": "none"}).url())["Location"])
    response = client.get(Authorization(rp, extra={"prompt": "none", "max_age": "60"}).url())
    assert query_of(response["Location"])["error"] == "login_required"


def test_prompt_none_with_another_value_is_invalid(client, rp, active_ecps, authenticator):
    tokens(client, authenticator, rp)
    response = client.get(Authorization(rp, extra={"prompt": "none login"}).url())
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_prompt_none_never_redirects_to_an_unregistered_uri(client, rp, active_ecps):
    response = client.get(Authorization(rp, redirect_uri=REDIRECT + "/", extra={"prompt": "none"}).url())
    assert response.status_code == 400 and "Location" not in response


def test_prompt_none_after_the_ecps_is_revoked_answers_login_required(
    client, rp, active_ecps, authenticator, doctor_user
):
    from ecps import services

    tokens(client, authenticator, rp)
    services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user)
    response = client.get(Authorization(rp, extra={"prompt": "none"}).url())
    assert query_of(response["Location"])["error"] == "login_required"


def test_prompt_login_signs_in_again_then_shows_consent(client, rp, active_ecps, authenticator):
    tokens(client, authenticator, rp)
    auth = Authorization(rp, extra={"prompt": "login"})
    url = auth.url()
    to_signin = client.get(url)
    assert to_signin.status_code == 302 and to_signin["Location"].startswith("/ecps/signin/")
    assert sign_in(client, authenticator, url).status_code == 200
    back = consent(client, url)
    assert back.status_code == 302 and "code" in query_of(back["Location"])
    assert SignInEvent.objects.count() == 2


# --- tokens in the Authorization header only (RFC 6750 §2.1; §2.2 and §2.3 refused) ----------------------


def test_userinfo_takes_the_token_in_the_header(client, rp, active_ecps, authenticator):
    access = tokens(client, authenticator, rp)["access_token"]
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200 and response.json()["sub"] == active_ecps.holder.national_id


def test_userinfo_refuses_a_token_in_the_url(client, rp, active_ecps, authenticator):
    access = tokens(client, authenticator, rp)["access_token"]
    response = client.get(f"/o/userinfo/?access_token={access}")
    assert response.status_code == 401 and response.json()["error"] == "invalid_request"
    assert response["WWW-Authenticate"].startswith("Bearer ")
    both = client.get(f"/o/userinfo/?access_token={access}", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert both.status_code == 401


def test_userinfo_refuses_a_token_in_the_form_body(client, rp, active_ecps, authenticator):
    access = tokens(client, authenticator, rp)["access_token"]
    response = client.post("/o/userinfo/", {"access_token": access})
    assert response.status_code == 401 and response.json()["error"] == "invalid_request"


def test_userinfo_without_a_token_is_unauthorized(client):
    response = client.get("/o/userinfo/")
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


# --- introspection (RFC 7662) ---------------------------------------------------------------------------


def test_a_client_introspects_its_own_tokens(client, rp, active_ecps, authenticator):
    access = tokens(client, authenticator, rp)["access_token"]
    answer = introspect(client, rp, access)
    assert answer["active"] is True and answer["client_id"] == rp.client_id


def test_another_client_learns_nothing(client, rp, active_ecps, authenticator, ans):
    access = tokens(client, authenticator, rp)["access_token"]
    other = register(ans, name="Curieux")
    assert introspect(client, other, access) == {"active": False}
    assert introspect(client, other, "no-such-token") == {"active": False}


def test_a_registered_resource_server_introspects_any_token(client, rp, active_ecps, authenticator, ans):
    access = tokens(client, authenticator, rp)["access_token"]
    api = register(ans, name="API DMP", resource_server=True)
    answer = introspect(client, api, access)
    assert answer["active"] is True and answer["client_id"] == rp.client_id


def test_introspection_needs_client_credentials_and_a_post(client, rp, active_ecps, authenticator):
    access = tokens(client, authenticator, rp)["access_token"]
    assert client.post("/o/introspect/", {"token": access}).status_code == 401
    wrong = "Basic " + base64.b64encode(f"{rp.client_id}:wrong".encode()).decode()
    assert client.post("/o/introspect/", {"token": access}, HTTP_AUTHORIZATION=wrong).status_code == 401
    bearer = client.post("/o/introspect/", {"token": access}, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert bearer.status_code == 401  # an access token is no client credential here
    assert client.get(f"/o/introspect/?token={access}", HTTP_AUTHORIZATION=rp.basic).status_code == 405


# --- revocation (RFC 7009) ------------------------------------------------------------------------------


def test_a_client_revokes_its_token_and_no_other_client_can(client, rp, active_ecps, authenticator, ans):
    access = tokens(client, authenticator, rp)["access_token"]
    other = register(ans, name="Autre service")
    client.post("/o/revoke_token/", {"token": access}, HTTP_AUTHORIZATION=other.basic)
    assert introspect(client, rp, access)["active"] is True
    response = client.post("/o/revoke_token/", {"token": access}, HTTP_AUTHORIZATION=rp.basic)
    assert response.status_code == 200
    assert introspect(client, rp, access) == {"active": False}
