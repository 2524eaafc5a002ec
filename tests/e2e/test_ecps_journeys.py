"""The e-CPS in a real browser: Chromium with a virtual WebAuthn authenticator (Chrome DevTools Protocol)
against the live server. The test plays the phone (the authenticator), the holder's card middleware (it
signs the challenge on the SoftHSM2 card) and the relying party (it builds the authorize URL with PKCE,
exchanges the code at /o/token/ and verifies the ID token against the JWKS)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from jwcrypto import jwk, jwt
from playwright.sync_api import expect

from ecps import relying_parties
from ecps.models import ECps, SignInEvent
from ecps.sms import RecordingSmsSender
from pki import signing
from registry.models import Account
from tests.e2e.conftest import screenshot, sign_in
from tests.ecps.helpers import (
    DEMO_REDIRECT,
    authorize_url,
    codes_from,
    personalized_card,
    pkce,
    query_of,
    rpps_doctor,
    sign_on_card,
    station,
)
from tests.factories import AdeliProfessionalFactory, ExerciseFactory, persona

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.fixture(autouse=True)
def ecps_settings(settings: Any, live_server: Any) -> None:
    """WebAuthn accepts http on localhost: the live server's origin is the relying party's."""
    settings.CPX_WEBAUTHN_RP_ID = "localhost"
    settings.CPX_WEBAUTHN_ORIGIN = [live_server.url]
    settings.CPX_SMS_BACKEND = "ecps.sms.RecordingSmsSender"
    RecordingSmsSender.outbox.clear()


from tests.pki.conftest import ca_keys, pki_dir  # noqa: E402,F401 (the PKI's fixtures)


@pytest.fixture
def phone(page: Any) -> Iterator[Any]:
    """The page's browser holds a platform authenticator with user verification (the phone)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    yield page
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": added["authenticatorId"]})


@pytest.fixture
def hierarchy(settings: Any, pki_dir: Any) -> Any:  # noqa: F811 (the imported fixture)
    return signing.pki_init()


@pytest.fixture
def relying_party(live_server: Any) -> dict[str, str]:
    redirect_uri = f"{live_server.url}{DEMO_REDIRECT}"
    application, secret = relying_parties.relying_party_register(
        actor=persona(Account.Role.ANS_OPERATOR),
        name="Messagerie sécurisée de démonstration",
        redirect_uris=[redirect_uri],
        post_logout_redirect_uris=[redirect_uri],
    )
    return {"client_id": application.client_id, "secret": secret, "redirect_uri": redirect_uri}


def holder_signed_in(page: Any, exercise: Any) -> Any:
    user = persona(Account.Role.HOLDER, professional=exercise.professional)
    sign_in(page, user)
    page.locator("[data-link=ecps]").click()  # from the holder's cards
    expect(page).to_have_url(re.compile(r"/ecps/$"))
    return user


def enrol_on_this_device(page: Any, *, via: str = "button") -> ECps:
    """From the QR code page: "Use this device" (which posts the code), or the URL the QR code carries
    (the code in its fragment, never sent to the server); then create the passkey."""
    expect(page.locator("#activation-qr svg")).to_be_visible()
    code = page.locator("input[name=code]").get_attribute("value")
    assert code
    if via == "button":
        page.locator("#enrol-link").click()
    else:
        page.goto(page.url.split("/ecps/")[0] + f"/ecps/enrol/#code={code}")
    expect(page).to_have_url(re.compile(r"/ecps/enrol/$"))  # no code in the address bar
    expect(page.locator("#code")).to_have_value(code)
    page.locator("[data-action=enrol]").click()
    expect(page.locator("#ecps-ready")).to_be_visible()
    return ECps.objects.order_by("-pk").first()  # type: ignore[return-value]


def _post(url: str, data: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live server
        return json.loads(response.read())


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the live server
        return response.read()


def sign_in_to_service(page: Any, live_server: Any, rp: dict[str, str]) -> dict[str, Any]:
    """The relying party's side of the flow, and the holder's clicks: passkey, then consent."""
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    page.goto(authorize_url(rp["client_id"], rp["redirect_uri"], challenge, state=state, nonce=nonce))
    expect(page).to_have_url(re.compile(r"/ecps/signin/"))
    page.locator("[data-action=signin]").click()
    page.locator("[data-action=consent]").click()
    expect(page.locator("#demo-rp-result")).to_have_attribute("data-result", "code")
    params = query_of(page.url)
    assert params["state"] == state
    tokens = _post(
        f"{live_server.url}/o/token/",
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": rp["redirect_uri"],
            "client_id": rp["client_id"],
            "client_secret": rp["secret"],
            "code_verifier": verifier,
        },
    )
    discovery = json.loads(_get(f"{live_server.url}/.well-known/openid-configuration"))
    keys = jwk.JWKSet.from_json(_get(discovery["jwks_uri"]))
    checks = {"iss": discovery["issuer"], "aud": rp["client_id"], "exp": None, "nonce": nonce}
    claims = json.loads(jwt.JWT(jwt=tokens["id_token"], key=keys, check_claims=checks).claims)
    return {**tokens, "claims": claims}


def _introspect(live_server: Any, rp: dict[str, str], token: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{rp['client_id']}:{rp['secret']}".encode()).decode()
    return _post(f"{live_server.url}/o/introspect/", {"token": token}, {"Authorization": f"Basic {basic}"})


def test_a_holder_activates_with_the_card_then_signs_in_to_a_service(
    phone, live_server, hierarchy, tmp_path, settings, relying_party
):
    exercise = rpps_doctor(first_name="Claire", last_name="MARTIN")
    card, pin = personalized_card(exercise, station(tmp_path, settings))
    holder_signed_in(phone, exercise)
    screenshot(phone, "ecps_holder")
    phone.locator(f"#exercise-{exercise.pk} [data-action=activate-card]").click()

    challenge = phone.locator("#challenge").get_attribute("data-challenge")
    assert challenge
    phone.locator("#signature").fill(sign_on_card(card, pin, challenge))  # the card middleware's answer
    phone.locator("[data-action=verify-card]").click()
    screenshot(phone, "ecps_activation_qr")
    ecps = enrol_on_this_device(phone)
    assert ecps.activated_with_card_id == card.pk and ecps.state == ECps.State.ACTIVE

    result = sign_in_to_service(phone, live_server, relying_party)
    claims = result["claims"]
    assert claims["sub"] == exercise.professional.national_id
    assert claims["family_name"] == "MARTIN" and claims["given_name"] == "Claire"
    assert claims["profession"]["code"] == "10"
    assert sorted(s["mode"]["code"] for s in claims["situations"]) == ["L", "S"]
    assert _introspect(live_server, relying_party, result["access_token"])["active"] is True
    event = SignInEvent.objects.get()
    assert event.result == "success" and event.client_id == relying_party["client_id"]

    # Back to the service later: prompt=none gives a code without a page, the provider session holding.
    silent = authorize_url(
        relying_party["client_id"], relying_party["redirect_uri"], pkce()[1], state="again", nonce="n2"
    )
    phone.goto(silent + "&prompt=none")
    expect(phone.locator("#demo-rp-result")).to_have_attribute("data-result", "code")
    assert query_of(phone.url)["state"] == "again" and SignInEvent.objects.count() == 1
    # The service signs the holder out (RP-initiated logout), back to its registered URI with its state.
    logout = urllib.parse.urlencode(
        {
            "id_token_hint": result["id_token"],
            "post_logout_redirect_uri": relying_party["redirect_uri"],
            "state": "bye",
        }
    )
    phone.goto(f"{live_server.url}/o/logout/?{logout}")
    expect(phone).to_have_url(re.compile(r"/ecps/demo-rp/callback\?state=bye$"))
    assert _introspect(live_server, relying_party, result["access_token"]) == {"active": False}
    phone.goto(silent + "&prompt=none")  # no provider session now: login_required, still no page
    assert query_of(phone.url)["error"] == "login_required"


def test_a_holder_activates_by_email_and_sms_codes(phone):
    exercise = rpps_doctor()
    holder_signed_in(phone, exercise)
    phone.locator(f"#exercise-{exercise.pk} [data-action=activate-codes]").click()
    email_code, sms_code = codes_from(mail.outbox, RecordingSmsSender.outbox)
    assert mail.outbox[-1].to == [exercise.professional.email]
    assert RecordingSmsSender.outbox[-1][0] == exercise.professional.mobile
    phone.locator("#email_code").fill(email_code)
    phone.locator("#sms_code").fill(sms_code)
    phone.locator("[data-action=verify-codes]").click()
    ecps = enrol_on_this_device(phone, via="qr")
    assert ecps.activation_method == ECps.Method.CODES and ecps.holder_id == exercise.professional_id
    phone.goto("/ecps/")
    expect(phone.locator(f'[data-ecps="{ecps.pk}"]')).to_have_attribute("data-state", "active")
    screenshot(phone, "ecps_holder_active")


def test_sign_in_is_refused_after_the_phone_is_declared_lost(phone, live_server, relying_party):
    exercise = rpps_doctor()
    holder_signed_in(phone, exercise)
    phone.locator(f"#exercise-{exercise.pk} [data-action=activate-codes]").click()
    email_code, sms_code = codes_from(mail.outbox, RecordingSmsSender.outbox)
    phone.locator("#email_code").fill(email_code)
    phone.locator("#sms_code").fill(sms_code)
    phone.locator("[data-action=verify-codes]").click()
    ecps = enrol_on_this_device(phone)
    access = sign_in_to_service(phone, live_server, relying_party)["access_token"]

    phone.goto("/ecps/")
    phone.locator(f'[data-ecps="{ecps.pk}"] [data-action=oppose]').click()
    phone.locator("[data-action=confirm-opposition]").click()
    expect(phone.locator(f'[data-ecps="{ecps.pk}"]')).to_have_attribute("data-state", "revoked")
    assert _introspect(live_server, relying_party, access) == {"active": False}

    _verifier, challenge = pkce()
    phone.goto(
        authorize_url(
            relying_party["client_id"], relying_party["redirect_uri"], challenge, state="s", nonce="n"
        )
    )
    phone.locator("[data-action=signin]").click()
    expect(phone.locator("#ecps-error")).to_have_attribute("data-code", "ecps_revoked")
    assert "/ecps/signin/" in phone.url
    screenshot(phone, "ecps_signin_refused")
    assert SignInEvent.objects.filter(result="refused", reason="ecps_revoked").count() == 1


def test_an_adeli_holder_is_refused_the_email_path(phone):
    exercise = ExerciseFactory(
        professional=AdeliProfessionalFactory(mobile="+33600000000"), profession_id="28"
    )
    holder_signed_in(phone, exercise)
    phone.locator(f"#exercise-{exercise.pk} [data-action=activate-codes]").click()
    expect(phone.locator(".fr-alert--error")).to_contain_text("ADELI")
    assert not mail.outbox and not RecordingSmsSender.outbox
    screenshot(phone, "ecps_adeli_refused")
