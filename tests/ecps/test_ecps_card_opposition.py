"""The rule (docs/ecps.md): a card of the exercise going to ``opposed`` (lost, stolen, never received)
revokes the exercise's live e-CPS, however it was activated, with every token it obtained; the holder
is told. A damaged or defective card (revoked, superseded) and another exercise's card leave it alone."""

from __future__ import annotations

import pytest

from ecps.models import ECps, ECpsEvent
from lifecycle.opposition import card_declare_opposition
from notifications.models import Notification
from tests.factories import CardFactory, ExerciseFactory

from .oidc_client import introspect, register, sign_in, tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def rp(ans):
    return register(ans)


def test_opposing_the_card_revokes_an_ecps_activated_by_codes(
    client, rp, active_ecps, doctor, doctor_user, authenticator, hierarchy
):
    assert active_ecps.activation_method == ECps.Method.CODES
    card = CardFactory(exercise=doctor)
    result = tokens(client, authenticator, rp)
    assert introspect(client, rp, result["access_token"])["active"] is True

    card_declare_opposition(card=card, reason="lost", actor=doctor_user, channel="online")

    active_ecps.refresh_from_db()
    assert active_ecps.state == ECps.State.REVOKED
    assert active_ecps.revocation_reason == ECps.Reason.CARD_OPPOSED
    event = ECpsEvent.objects.filter(ecps=active_ecps, kind="revoked").get()
    assert event.detail == {"reason": "card_opposed", "card": card.pk}
    assert introspect(client, rp, result["access_token"]) == {"active": False}
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {result['access_token']}")
    assert userinfo.status_code in (401, 403)
    refreshed = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": result["refresh_token"],
            "client_id": rp.client_id,
            "client_secret": rp.secret,
        },
    )
    assert refreshed.status_code == 400
    refused = sign_in(client, authenticator, "")
    assert refused.status_code == 403 and refused.json()["code"] == "ecps_revoked"
    told = Notification.objects.filter(recipient=doctor.professional, event="ecps_revoked")
    assert told.exists()
    # The reason in the platform's language (LANGUAGE_CODE fr), as the holder's message shows it.
    assert told.first().context["reason"] == "Carte de l'exercice mise en opposition"


@pytest.mark.parametrize("reason", ["damaged", "defective"])
def test_a_damaged_or_defective_card_leaves_the_ecps(active_ecps, doctor, doctor_user, hierarchy, reason):
    card = CardFactory(exercise=doctor)
    card_declare_opposition(card=card, reason=reason, actor=doctor_user, channel="online")
    active_ecps.refresh_from_db()
    assert active_ecps.state == ECps.State.ACTIVE
    assert not Notification.objects.filter(event="ecps_revoked").exists()


def test_another_exercise_s_card_leaves_the_ecps(active_ecps, doctor, doctor_user, hierarchy):
    other_exercise = ExerciseFactory(professional=doctor.professional, profession_id="21")
    card = CardFactory(exercise=other_exercise)
    card_declare_opposition(card=card, reason="stolen", actor=doctor_user, channel="online")
    active_ecps.refresh_from_db()
    assert active_ecps.state == ECps.State.ACTIVE


def test_an_opposition_that_fails_revokes_nothing(active_ecps, doctor, doctor_user, hierarchy):
    from cards.models import Card
    from lifecycle import errors

    card = CardFactory(exercise=doctor, state=Card.State.OPPOSED)
    with pytest.raises(errors.AlreadyOpposed):
        card_declare_opposition(card=card, reason="lost", actor=doctor_user, channel="online")
    active_ecps.refresh_from_db()
    assert active_ecps.state == ECps.State.ACTIVE
