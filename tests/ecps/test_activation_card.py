"""Activation with the physical card: a challenge signed by the card's authentication key (a SoftHSM2
token personalized by issuance), checked against the card's certificate; then the QR code's single-use,
90-second activation code opens the passkey registration."""

from __future__ import annotations

import base64
import datetime as dt
import textwrap
from html import unescape

import pytest
from django.utils import timezone

from cards.models import Card
from ecps import activation as activations
from ecps import errors
from ecps.models import Activation, ECps
from pki import services as pki_services

from .helpers import personalized_card, run_as_shown, sign_on_card, station

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_and_pin(doctor, hierarchy, tmp_path, settings):
    return personalized_card(doctor, station(tmp_path, settings))


def _challenge(doctor, user):
    return activations.activation_start_with_card(actor=user, exercise_id=doctor.pk)


def test_the_card_signature_opens_an_activation_code(doctor, doctor_user, card_and_pin):
    card, pin = card_and_pin
    activation = _challenge(doctor, doctor_user)
    assert activation.card_id == card.pk
    signature = base64.b64decode(sign_on_card(card, pin, activation.challenge))
    proven, code = activations.activation_prove_with_card(
        actor=doctor_user, activation_id=activation.pk, signature=signature
    )
    assert proven.state == Activation.State.PROVEN and len(code) == 12


def test_it_registers_the_passkey_once_with_the_code(
    doctor, doctor_user, card_and_pin, authenticator, enrol, client
):
    card, pin = card_and_pin
    activation = _challenge(doctor, doctor_user)
    signature = base64.b64decode(sign_on_card(card, pin, activation.challenge))
    _, code = activations.activation_prove_with_card(
        actor=doctor_user, activation_id=activation.pk, signature=signature
    )
    response = enrol(activations.display_code(code), authenticator)  # typed with its dashes
    assert response.status_code == 200
    ecps = ECps.objects.get(pk=response.json()["ecps"])
    assert ecps.state == ECps.State.ACTIVE and ecps.activated_with_card_id == card.pk
    assert ecps.holder_id == doctor.professional_id and ecps.exercise_id == doctor.pk
    assert ecps.events.get().kind == "activated"
    again = client.post("/ecps/enrol/options/", {"code": code}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "activation_code_invalid"


def test_the_activation_code_lasts_90_seconds(doctor, doctor_user, card_and_pin, client):
    card, pin = card_and_pin
    activation = _challenge(doctor, doctor_user)
    signature = base64.b64decode(sign_on_card(card, pin, activation.challenge))
    _, code = activations.activation_prove_with_card(
        actor=doctor_user, activation_id=activation.pk, signature=signature
    )
    Activation.objects.filter(pk=activation.pk).update(
        code_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    late = client.post("/ecps/enrol/options/", {"code": code}, content_type="application/json")
    assert late.status_code == 409 and late.json()["code"] == "activation_code_invalid"


def test_it_refuses_a_signature_of_another_challenge(doctor, doctor_user, card_and_pin):
    card, pin = card_and_pin
    activation = _challenge(doctor, doctor_user)
    signature = base64.b64decode(sign_on_card(card, pin, "something else"))
    with pytest.raises(errors.ProofRejected):
        activations.activation_prove_with_card(
            actor=doctor_user, activation_id=activation.pk, signature=signature
        )
    assert Activation.objects.get(pk=activation.pk).attempts == 1


def test_it_refuses_a_card_whose_certificate_is_revoked(doctor, doctor_user, card_and_pin):
    card, pin = card_and_pin
    activation = _challenge(doctor, doctor_user)
    pki_services.certificate_revoke(card=card, reason="keyCompromise")
    signature = base64.b64decode(sign_on_card(card, pin, activation.challenge))
    with pytest.raises(errors.ActivationRefused) as refused:
        activations.activation_prove_with_card(
            actor=doctor_user, activation_id=activation.pk, signature=signature
        )
    assert refused.value.code == "card_not_usable"


def test_it_needs_an_active_card(doctor, doctor_user, card_and_pin):
    card, _pin = card_and_pin
    Card.objects.filter(pk=card.pk).update(state=Card.State.SHIPPED)
    with pytest.raises(errors.ActivationRefused) as refused:
        _challenge(doctor, doctor_user)
    assert refused.value.code == "no_active_card"


def test_the_card_page_shows_the_command_to_run_and_takes_its_output(
    client, doctor, doctor_user, card_and_pin
):
    card, pin = card_and_pin
    client.force_login(doctor_user)
    started = client.post(f"/ecps/exercises/{doctor.pk}/activate-with-card/")
    assert started.status_code == 302
    activation = Activation.objects.get()
    prefix, number, _nonce = activation.challenge.split("|")
    assert (prefix, number) == ("cpx-ecps-activation", card.number)  # bound to the card
    html = unescape(client.get(started["Location"]).content.decode())
    command = f"cpx-card sign --card {card.number} '{activation.challenge}'"
    assert command in html and "jamais sur une page web" in html
    assert 'name="pin"' not in html and "PIN :" not in html
    bad = client.post(started["Location"], {"signature": "not base64!"})
    assert "base64" in bad.content.decode()
    printed = run_as_shown(card, command, pin)
    pasted = "\r\n".join(textwrap.wrap(printed, 60)) + "  \n"  # as copied from a terminal
    page = client.post(started["Location"], {"signature": pasted})
    assert page.status_code == 200 and "<svg" in page.content.decode()
