"""Activation by codes sent to the e-mail address and the mobile number the registry knows (RPPS only)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.errors import NotFound
from ecps import activation as activations
from ecps import errors
from ecps.models import Activation

from .helpers import codes_from

pytestmark = pytest.mark.django_db


def _start(doctor, user):
    return activations.activation_start_with_codes(actor=user, exercise_id=doctor.pk)


def test_it_sends_one_code_by_email_and_another_by_sms(doctor, doctor_user, sms):
    _start(doctor, doctor_user)
    person = doctor.professional
    assert mail.outbox[-1].to == [person.email]
    assert sms[-1][0] == person.mobile
    email_code, sms_code = codes_from(mail.outbox, sms)
    assert email_code != sms_code or len(email_code) == 6


def test_it_keeps_codes_only_as_keyed_hashes(doctor, doctor_user, sms):
    activation = _start(doctor, doctor_user)
    email_code, sms_code = codes_from(mail.outbox, sms)
    row = Activation.objects.filter(pk=activation.pk).values()[0]
    stored = " ".join(str(value) for value in row.values())
    assert email_code not in stored and sms_code not in stored
    assert len(row["email_code_hash"]) == 64 and len(row["sms_code_hash"]) == 64


def test_it_issues_a_90_second_activation_code_for_both_right_codes(doctor, doctor_user, sms):
    activation = _start(doctor, doctor_user)
    email_code, sms_code = codes_from(mail.outbox, sms)
    proven, code = activations.activation_prove_with_codes(
        actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code=sms_code
    )
    assert proven.state == Activation.State.PROVEN and len(code) == 12
    assert (proven.code_expires_at - proven.proven_at) == dt.timedelta(seconds=90)
    assert code not in str(Activation.objects.filter(pk=activation.pk).values()[0])


def test_it_refuses_a_wrong_code_and_closes_after_the_attempts(doctor, doctor_user, sms, settings):
    settings.CPX_ECPS_OTP_ATTEMPTS = 3
    activation = _start(doctor, doctor_user)
    email_code, _sms = codes_from(mail.outbox, sms)
    for left in (2, 1):
        with pytest.raises(errors.ProofRejected, match=f"{left} attempt"):
            activations.activation_prove_with_codes(
                actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code="000000"
            )
    with pytest.raises(errors.ActivationRefused) as refused:
        activations.activation_prove_with_codes(
            actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code="000000"
        )
    assert refused.value.code == "too_many_attempts"
    activation.refresh_from_db()
    assert activation.state == Activation.State.FAILED and activation.attempts == 3
    # Even the right codes no longer open it.
    email_code, sms_code = codes_from(mail.outbox, sms)
    with pytest.raises(errors.InvalidState):
        activations.activation_prove_with_codes(
            actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code=sms_code
        )


def test_it_refuses_expired_codes(doctor, doctor_user, sms):
    activation = _start(doctor, doctor_user)
    email_code, sms_code = codes_from(mail.outbox, sms)
    Activation.objects.filter(pk=activation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(errors.InvalidState) as expired:
        activations.activation_prove_with_codes(
            actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code=sms_code
        )
    assert expired.value.code == "activation_expired"
    assert Activation.objects.get(pk=activation.pk).state == Activation.State.FAILED


def test_it_limits_the_sendings_per_day(doctor, doctor_user, sms, settings):
    settings.CPX_ECPS_OTP_SENDS_PER_DAY = 2
    _start(doctor, doctor_user)
    _start(doctor, doctor_user)
    with pytest.raises(errors.ActivationRefused) as refused:
        _start(doctor, doctor_user)
    assert refused.value.code == "too_many_requests"
    assert len(sms) == 2


def test_a_new_request_closes_the_previous_one(doctor, doctor_user, sms):
    first = _start(doctor, doctor_user)
    _start(doctor, doctor_user)
    first.refresh_from_db()
    assert first.state == Activation.State.FAILED and first.failure == "superseded"


def test_it_refuses_the_codes_path_to_an_adeli_holder(adeli_exercise, adeli_user, sms):
    with pytest.raises(errors.ActivationRefused) as refused:
        activations.activation_start_with_codes(actor=adeli_user, exercise_id=adeli_exercise.pk)
    assert refused.value.code == "card_only"
    assert "ADELI" in refused.value.message and "physical card" in refused.value.message
    assert not mail.outbox and not sms and not Activation.objects.exists()


def test_the_portal_tells_an_adeli_holder_why(client, adeli_exercise, adeli_user):
    client.force_login(adeli_user)
    form = {"next": "/ecps/"}  # the page's form names where to come back
    response = client.post(f"/ecps/exercises/{adeli_exercise.pk}/activate-with-codes/", form, follow=True)
    assert response.redirect_chain == [("/ecps/", 303)]
    assert "ADELI" in response.content.decode()


def test_it_refuses_when_the_registry_has_no_mobile_number(doctor, doctor_user):
    doctor.professional.mobile = ""
    doctor.professional.save()
    with pytest.raises(errors.ActivationRefused) as refused:
        _start(doctor, doctor_user)
    assert refused.value.code == "no_contact"


def test_it_refuses_when_no_sms_gateway_is_configured(doctor, doctor_user, settings):
    settings.CPX_SMS_BACKEND = "ecps.sms.DisabledSmsSender"
    with pytest.raises(errors.ActivationRefused) as refused:
        _start(doctor, doctor_user)
    assert refused.value.code == "sms_unavailable"
    assert not mail.outbox  # no e-mail code without its SMS twin


def test_only_the_holder_may_use_their_activation(doctor, doctor_user, sms, adeli_user):
    activation = _start(doctor, doctor_user)
    email_code, sms_code = codes_from(mail.outbox, sms)
    with pytest.raises(NotFound):
        activations.activation_prove_with_codes(
            actor=adeli_user, activation_id=activation.pk, email_code=email_code, sms_code=sms_code
        )


def test_the_codes_pages_lead_to_the_qr_code(client, doctor, doctor_user, sms):
    client.force_login(doctor_user)
    response = client.post(f"/ecps/exercises/{doctor.pk}/activate-with-codes/")
    assert response.status_code == 302
    email_code, sms_code = codes_from(mail.outbox, sms)
    page = client.post(response["Location"], {"email_code": email_code, "sms_code": sms_code})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    body = page.content.decode()
    assert "<svg" in body and 'action="/ecps/enrol/"' in body  # "Use this device" posts the code
    assert "?code=" not in body
