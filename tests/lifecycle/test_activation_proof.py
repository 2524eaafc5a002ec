"""Activation by proof of possession: a one-time challenge bound to the card, signed with the card's
authentication key (what ``cpx-card sign`` prints), checked with the card's certificate; and confirmation of
receipt only where the card's authority allows it.

Station-made cards (SoftHSM2 tokens, keys made on the token) sign in a process of their own, as the holder's
agent does on the holder's computer. The rules of the challenge are also run with a key made here (a card
certified by the test CA), which is faster and lets a test sign anything."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import shlex
import subprocess
import textwrap
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards.models import ActivationChallenge, Card, CardEvent
from lifecycle import activation
from orders.models import Order
from pki import services as pki_services
from pki.models import Certificate
from registry.models import Account
from stations import personalization
from tests.factories import ActivityFactory, OrderFactory, persona
from tests.stations.conftest import (  # noqa: F401 (fixtures)
    SOFTHSM,
    card_sign,
    pin_and_puk,
    queued_order,
    scheduled,
    station,
)

from .conftest import card_of_an_order
from .test_api import assert_error, client_for

pytestmark = pytest.mark.django_db


def holder_of(card: Card):
    return persona(Account.Role.HOLDER, professional=card.professional)


def challenge_url(card: Card) -> str:
    return f"/api/v1/cards/{card.pk}/activation/challenge/"


def activation_url(card: Card) -> str:
    return f"/api/v1/cards/{card.pk}/activation/"


def allow_receipt_confirmation(card: Card) -> None:
    authority = activation.card_authority(card)
    authority.allow_receipt_confirmation = True
    authority.save(update_fields=["allow_receipt_confirmation"])


def audited(card: Card) -> list[dict[str, Any]]:
    from audit.models import AuditRecord

    rows = AuditRecord.objects.filter(action="card.activated", object_id=card.number)
    return [dict(row) for row in rows.values("object_type", "authority_id", "detail")]


# --- a card certified here (its key in this process) -------------------------------------------------


@pytest.fixture
def shipped(tariff, certified):
    card = card_of_an_order(state=Card.State.SHIPPED)
    certified(card)
    return card


@pytest.fixture
def sign(card_key):
    """The card's signature of a text, as the agent prints it (its key is the test's own here)."""

    def sign(text: str) -> str:
        signature = card_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    return sign


def challenge_of(client, card: Card) -> str:
    response = client.post(challenge_url(card))
    assert response.status_code == 201, response.content
    return response.json()["challenge"]


def prove(client, card: Card, challenge: str, signature: str):
    return client.post(activation_url(card), {"challenge": challenge, "signature": signature}, format="json")


def test_the_signed_challenge_activates_the_card_and_it_is_recorded(shipped, sign):
    client = client_for(holder_of(shipped))
    challenge = challenge_of(client, shipped)
    response = prove(client, shipped, challenge, sign(challenge))
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "active"
    row = ActivationChallenge.objects.get(card=shipped)
    assert (row.closed_because, row.bad_signatures) == ("used", 0)
    event = CardEvent.objects.get(card=shipped, kind="active")
    auth = Certificate.objects.get(card=shipped, usage="auth")
    assert event.detail["method"] == "proof_of_possession"
    assert (event.detail["challenge"], event.detail["certificate"]) == (row.pk, auth.serial)
    [record] = audited(shipped)
    assert record["object_type"] == "card"
    assert record["authority_id"] == activation.card_authority(shipped).pk
    assert record["detail"]["method"] == "proof_of_possession"


def test_the_challenge_lives_the_configured_time(shipped, settings):
    settings.CPX_ACTIVATION_CHALLENGE_SECONDS = 120
    before = timezone.now()
    challenge = activation.activation_challenge(card=shipped, actor=holder_of(shipped))
    assert challenge.expires_at - before >= dt.timedelta(seconds=119)
    assert challenge.expires_at - timezone.now() <= dt.timedelta(seconds=120)


def test_a_wrong_signature_counts_and_the_third_closes_the_challenge(shipped, sign):
    client = client_for(holder_of(shipped))
    challenge = challenge_of(client, shipped)
    for left, wrong in ((2, sign(challenge + "x")), (1, "not base64!")):
        body = assert_error(prove(client, shipped, challenge, wrong), 400, "bad_signature")
        assert body["attempts_left"] == left
    assert ActivationChallenge.objects.get(card=shipped).bad_signatures == 2
    assert CardEvent.objects.filter(card=shipped, kind="activation_proof_rejected").count() == 2
    body = assert_error(prove(client, shipped, challenge, sign("something else")), 400, "bad_signature")
    assert body["attempts_left"] == 0
    # Closed: even the right signature is refused now, and a new challenge is needed.
    assert_error(prove(client, shipped, challenge, sign(challenge)), 409, "challenge_used")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED
    fresh = challenge_of(client, shipped)
    assert prove(client, shipped, fresh, sign(fresh)).status_code == 200


def test_an_expired_challenge_is_refused(shipped, sign):
    client = client_for(holder_of(shipped))
    challenge = challenge_of(client, shipped)
    ActivationChallenge.objects.filter(card=shipped).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert_error(prove(client, shipped, challenge, sign(challenge)), 409, "challenge_expired")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_a_challenge_serves_once(shipped, sign):
    client = client_for(holder_of(shipped))
    challenge = challenge_of(client, shipped)
    assert prove(client, shipped, challenge, sign(challenge)).status_code == 200
    # Replayed on the active card: nothing to activate.
    assert_error(prove(client, shipped, challenge, sign(challenge)), 409, "invalid_state")
    # Replayed even if the card were back to shipped: the challenge is spent.
    Card.objects.filter(pk=shipped.pk).update(state=Card.State.SHIPPED)
    assert_error(prove(client, shipped, challenge, sign(challenge)), 409, "challenge_used")
    assert CardEvent.objects.filter(card=shipped, kind="active").count() == 1


def test_a_new_challenge_closes_the_earlier_one(shipped, sign):
    client = client_for(holder_of(shipped))
    first = challenge_of(client, shipped)
    second = challenge_of(client, shipped)
    assert first != second
    assert_error(prove(client, shipped, first, sign(first)), 409, "challenge_used")
    assert prove(client, shipped, second, sign(second)).status_code == 200


@pytest.mark.parametrize(
    "text",
    [
        "cpx-card-activation",
        "cpx-card-activation|{number}|",
        "cpx-card-activation|{number}|made-up-nonce",
        "cpx-ecps-activation|{number}|{nonce}",
        "cpx-card-activation|80250000019999999999|{nonce}",
    ],
)
def test_a_text_that_is_not_this_cards_challenge_is_refused(shipped, sign, text):
    client = client_for(holder_of(shipped))
    nonce = challenge_of(client, shipped).rsplit("|", 1)[1]
    forged = text.format(number=shipped.number, nonce=nonce)
    assert_error(prove(client, shipped, forged, sign(forged)), 400, "challenge_invalid")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_a_revoked_certificate_proves_nothing(shipped, sign):
    client = client_for(holder_of(shipped))
    challenge = challenge_of(client, shipped)
    pki_services.certificate_revoke(card=shipped, reason="keyCompromise")
    assert_error(prove(client, shipped, challenge, sign(challenge)), 409, "certificate_not_usable")
    assert_error(client.post(challenge_url(shipped)), 409, "certificate_not_usable")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_an_expired_certificate_proves_nothing(shipped, sign):
    client = client_for(holder_of(shipped))
    challenge = challenge_of(client, shipped)
    Certificate.objects.filter(card=shipped).update(not_after=timezone.now() - dt.timedelta(seconds=1))
    assert_error(prove(client, shipped, challenge, sign(challenge)), 409, "certificate_not_usable")


def test_nobody_else_proves_for_the_holder(shipped, sign, cnom):
    challenge = challenge_of(client_for(holder_of(shipped)), shipped)
    stranger = client_for(persona(Account.Role.HOLDER))
    assert_error(prove(stranger, shipped, challenge, sign(challenge)), 404, "not_found")
    assert_error(prove(client_for(cnom), shipped, challenge, sign(challenge)), 403, "not_permitted")
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


# --- confirmation of receipt, by the authority's policy ------------------------------------------------


def test_confirming_receipt_is_refused_without_the_policy_and_recorded_with_it(shipped):
    client = client_for(holder_of(shipped))
    confirm = {"confirm_receipt": True}
    assert activation.card_authority(shipped).code == "CNOM"
    assert_error(
        client.post(activation_url(shipped), confirm, format="json"), 403, "receipt_confirmation_not_allowed"
    )
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED
    allow_receipt_confirmation(shipped)
    assert client.post(activation_url(shipped), confirm, format="json").status_code == 200
    event = CardEvent.objects.get(card=shipped, kind="active")
    assert (event.detail["method"], event.detail["authority"]) == ("receipt_confirmation", "CNOM")
    assert [r["detail"]["method"] for r in audited(shipped)] == ["receipt_confirmation"]


def test_the_policy_is_the_authority_of_the_card(tariff):
    """An RPPS médecin's card is CNOM's; an ADELI professional's is ANS's: ANS's policy applies to it."""
    from registry.models import Authority

    adeli = card_of_an_order(state=Card.State.SHIPPED)
    adeli.professional.rpps = None
    adeli.professional.adeli = "751234567"
    adeli.professional.save()
    assert activation.card_authority(adeli).code == "ANS"
    Authority.objects.filter(code="CNOM").update(allow_receipt_confirmation=True)
    assert not activation.receipt_confirmation_allowed(adeli)
    Authority.objects.filter(code="ANS").update(allow_receipt_confirmation=True)
    assert activation.card_confirm_receipt(card=adeli, actor=holder_of(adeli)).state == Card.State.ACTIVE


# --- station-made cards, signed on the card -------------------------------------------------------------


AGENT = Path(__file__).resolve().parents[2] / "bin" / "cpx-card"


def run_as_shown(made_by, command: str, pin: str) -> str:
    """Run the command the platform shows, as the holder would (``cpx-card`` is the repository's agent, the
    PIN typed into it), and return what it printed."""
    program, *args = shlex.split(command)
    assert program == "cpx-card"
    env = {**os.environ, "SOFTHSM2_CONF": made_by.softhsm_conf, "CPX_CARD_MODULE": SOFTHSM}
    result = subprocess.run(
        [str(AGENT), *args], input=pin + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def station_card(made_by, order: Order) -> tuple[Card, str]:
    """A card personalized on a SoftHSM2 token, shipped; with its PIN (from its codes letter)."""
    card = personalization.personalize_order(order_id=order.pk, station=made_by)
    assert card is not None
    Card.objects.filter(pk=card.pk).update(state=Card.State.SHIPPED)
    card.refresh_from_db()
    pin, _puk = pin_and_puk(card)
    return card, pin


def test_a_station_made_card_activates_through_the_api(station, queued_order):  # noqa: F811
    card, pin = station_card(station, queued_order)
    client = client_for(holder_of(card))
    response = client.post(challenge_url(card))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["command"] == f"cpx-card sign --card {card.number} '{body['challenge']}'"
    wrong = card_sign(station, card, pin, body["challenge"] + " ")
    assert_error(prove(client, card, body["challenge"], wrong), 400, "bad_signature")
    printed = run_as_shown(station, body["command"], pin)
    assert re.fullmatch(r"[A-Za-z0-9+/]{342}==\n", printed)  # one line of base64: RSA-2048
    response = prove(client, card, body["challenge"], printed)
    assert response.status_code == 200, response.content
    event = CardEvent.objects.get(card=card, kind="active")
    assert event.detail["method"] == "proof_of_possession"
    assert event.detail["certificate"] == Certificate.objects.get(card=card, usage="auth").serial


def test_another_cards_signature_does_not_activate_this_one(station, queued_order):  # noqa: F811
    card, _pin = station_card(station, queued_order)
    other_order = OrderFactory(exercise=ActivityFactory().exercise, state=Order.State.QUEUED)
    other, other_pin = station_card(station, other_order)
    client = client_for(holder_of(card))
    challenge = challenge_of(client, card)
    # The other card signs this card's challenge: its key is not this card's.
    signed_by_other = card_sign(station, other, other_pin, challenge)
    assert_error(prove(client, card, challenge, signed_by_other), 400, "bad_signature")
    # The other card's own challenge, rightly signed, names the other card.
    other_client = client_for(holder_of(other))
    other_challenge = challenge_of(other_client, other)
    own = card_sign(station, other, other_pin, other_challenge)
    assert_error(prove(client, card, other_challenge, own), 400, "challenge_invalid")
    assert Card.objects.get(pk=card.pk).state == Card.State.SHIPPED
    assert prove(other_client, other, other_challenge, own).status_code == 200


def test_a_station_made_card_activates_through_the_portal_page(station, queued_order):  # noqa: F811
    card, pin = station_card(station, queued_order)
    browser = Client()
    browser.force_login(holder_of(card))
    page_url = reverse("portal:card-activate", args=[card.pk])
    card_page = browser.get(reverse("portal:card", args=[card.pk])).content.decode()
    assert page_url in card_page
    first = unescape(browser.get(page_url).content.decode())
    assert 'value="challenge"' in first and "cpx-card sign" not in first
    assert "J'ai reçu cette carte" not in first  # CNOM does not allow confirming receipt
    started = browser.post(page_url, {"action": "challenge", "next": page_url})
    assert (started.status_code, started["Location"]) == (302, page_url)
    html = unescape(browser.get(page_url).content.decode())
    challenge = ActivationChallenge.objects.get(card=card).text
    command = f"cpx-card sign --card {card.number} '{challenge}'"
    assert command in html and f'data-command="{command}"' in html
    assert f'name="challenge" value="{challenge}"' in html
    assert "Insérez votre carte" in html and "jamais sur une page web" in html
    # What the terminal showed, copied with line breaks and indentation.
    pasted = "\n  ".join(textwrap.wrap(run_as_shown(station, command, pin), 64)) + "\r\n"
    done = browser.post(
        page_url, {"action": "prove", "challenge": challenge, "signature": pasted, "next": page_url}
    )
    assert (done.status_code, done["Location"]) == (302, reverse("portal:card", args=[card.pk]))
    assert Card.objects.get(pk=card.pk).state == Card.State.ACTIVE
    assert "La carte est active." in browser.get(done["Location"]).content.decode()


def test_the_portal_page_sends_a_wrong_signature_back_with_the_reason(shipped, sign):
    browser = Client()
    browser.force_login(holder_of(shipped))
    page_url = reverse("portal:card-activate", args=[shipped.pk])
    browser.post(page_url, {"action": "challenge", "next": page_url})
    challenge = ActivationChallenge.objects.get(card=shipped).text
    wrong = browser.post(
        page_url, {"action": "prove", "challenge": challenge, "signature": sign("other"), "next": page_url}
    )
    assert (wrong.status_code, wrong["Location"]) == (303, page_url)
    html = unescape(browser.get(page_url).content.decode())
    assert "Ce n'est pas la signature du défi par la carte" in html and challenge in html
    assert Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED


def test_the_portal_offers_receipt_confirmation_only_where_allowed(shipped):
    browser = Client()
    browser.force_login(holder_of(shipped))
    page_url = reverse("portal:card-activate", args=[shipped.pk])
    assert 'value="confirm_receipt"' not in browser.get(page_url).content.decode()
    refused = browser.post(page_url, {"action": "confirm_receipt", "next": page_url})
    assert refused.status_code == 303 and Card.objects.get(pk=shipped.pk).state == Card.State.SHIPPED
    allow_receipt_confirmation(shipped)
    assert 'value="confirm_receipt"' in browser.get(page_url).content.decode()
    browser.post(page_url, {"action": "confirm_receipt", "next": page_url})
    assert Card.objects.get(pk=shipped.pk).state == Card.State.ACTIVE
    assert CardEvent.objects.get(card=shipped, kind="active").detail["method"] == "receipt_confirmation"
