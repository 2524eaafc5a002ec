"""The e-CPS's life follows the card rules: one per exercise, opposition for a lost phone revokes it at
once, striking off revokes it; and who sees which e-CPS (others answer 404)."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import NotFound, NotPermitted
from ecps import activation as activations
from ecps import errors, services
from ecps.models import ECps, ECpsEvent
from registry.models import Exercise, Professional
from tests.factories import persona

from .authenticator import SoftAuthenticator
from .helpers import ecps_row, holder_of, rpps_doctor

pytestmark = pytest.mark.django_db


# --- one at a time ---------------------------------------------------------------------------------------


def test_the_database_keeps_one_live_ecps_per_exercise(doctor):
    ecps_row(doctor)
    with pytest.raises(IntegrityError), transaction.atomic():
        ecps_row(doctor, n=1)


def test_a_revoked_ecps_makes_room_for_a_new_one(doctor):
    ecps_row(doctor, state=ECps.State.REVOKED)
    ecps_row(doctor, state=ECps.State.REVOKED, n=1)
    assert ecps_row(doctor, n=2).state == ECps.State.ACTIVE


def test_activation_is_refused_while_an_ecps_is_live(doctor, doctor_user):
    ecps_row(doctor, state=ECps.State.SUSPENDED)
    with pytest.raises(errors.ActivationRefused) as refused:
        activations.activation_start_with_codes(actor=doctor_user, exercise_id=doctor.pk)
    assert refused.value.code == "already_has_ecps"


def test_two_registrations_racing_for_one_exercise_make_oneecps_row(doctor, doctor_user, enrol, client, sms):
    from django.core import mail
    from django.test import Client

    from .helpers import codes_from

    codes = []
    for _ in range(2):
        activation = activations.activation_start_with_codes(actor=doctor_user, exercise_id=doctor.pk)
        email_code, sms_code = codes_from(mail.outbox, sms)
        codes.append(
            activations.activation_prove_with_codes(
                actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code=sms_code
            )[1]
        )
    phones = [Client(), Client()]
    authenticators = [SoftAuthenticator(origin="http://localhost:8000") for _ in phones]
    options = [
        phone.post("/ecps/enrol/options/", {"code": code}, content_type="application/json")
        for phone, code in zip(phones, codes, strict=True)
    ]
    assert [o.status_code for o in options] == [200, 200]  # both codes redeemed before either finishes
    finished = [
        phone.post("/ecps/enrol/verify/", {"credential": a.create(o.json())}, content_type="application/json")
        for phone, a, o in zip(phones, authenticators, options, strict=True)
    ]
    assert [f.status_code for f in finished] == [200, 409]
    assert finished[1].json()["code"] == "already_has_ecps"
    assert ECps.objects.filter(exercise=doctor).count() == 1


def test_the_same_phone_may_hold_an_ecps_per_exercise(db):
    doctor = rpps_doctor()
    second = Exercise.objects.create(professional=doctor.professional, profession_id="21")
    assert ecps_row(doctor).exercise_id != ecps_row(second).exercise_id


# --- opposition ------------------------------------------------------------------------------------------


def test_opposition_revokes_at_once_and_for_good(active_ecps, doctor_user):
    ecps = services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user, reason="lost")
    assert ecps.state == ECps.State.REVOKED and ecps.revocation_reason == "lost" and ecps.revoked_at
    assert list(ecps.events.values_list("kind", flat=True)) == ["activated", "revoked"]
    assert not services.ecps_usable(ecps.pk)
    with pytest.raises(errors.AlreadyRevoked) as again:
        services.ecps_declare_opposition(ecps=ecps, actor=doctor_user)
    assert again.value.code == "already_revoked" and again.value.status == 409


def test_a_stranger_cannot_declare_someone_elsesecps_row(doctor):
    ecps = ecps_row(doctor)
    stranger = holder_of(rpps_doctor().professional)
    with pytest.raises(NotFound):
        services.ecps_declare_opposition(ecps=ecps, actor=stranger)
    with pytest.raises(NotPermitted):
        services.ecps_declare_opposition(ecps=ecps, actor=persona("auditor"))
    assert ECps.objects.get(pk=ecps.pk).state == ECps.State.ACTIVE


def test_the_ordre_operator_records_a_phoned_opposition(doctor):
    ecps = ecps_row(doctor)
    services.ecps_declare_opposition(ecps=ecps, actor=persona("authority_operator", authority="CNOM"))
    assert ECps.objects.get(pk=ecps.pk).state == ECps.State.REVOKED


def test_the_portal_button_revokes_theecps_row(client, active_ecps, doctor_user):
    client.force_login(doctor_user)
    page = client.get("/ecps/")
    assert f'data-ecps="{active_ecps.pk}"' in page.content.decode()
    confirm = client.get(f"/ecps/{active_ecps.pk}/opposition/")
    assert confirm.status_code == 200
    done = client.post(
        f"/ecps/{active_ecps.pk}/opposition/", {"reason": "stolen", "confirm": "1"}, follow=True
    )
    assert done.status_code == 200
    assert ECps.objects.get(pk=active_ecps.pk).revocation_reason == "stolen"


def test_suspension_stops_sign_in_until_reinstated(doctor, doctor_user):
    ecps = ecps_row(doctor)
    services.ecps_suspend(ecps=ecps, actor=doctor_user)
    assert not services.ecps_usable(ecps.pk)
    services.ecps_reinstate(ecps=ecps, actor=doctor_user)
    assert services.ecps_usable(ecps.pk)


# --- striking off ----------------------------------------------------------------------------------------


def test_striking_off_revokes_every_live_ecps_of_inactive_holders(db):
    struck = [rpps_doctor() for _ in range(3)]
    kept = rpps_doctor()
    closed = rpps_doctor()
    for n, exercise in enumerate([*struck, kept, closed]):
        ecps_row(exercise, n=n)
    ecps_row(struck[0], state=ECps.State.REVOKED, n=9)
    Professional.objects.filter(pk__in=[e.professional_id for e in struck]).update(
        is_active=False, deactivation_reason="radié"
    )
    Exercise.objects.filter(pk=closed.pk).update(is_active=False)
    with CaptureQueriesContext(connection) as queries:
        assert services.ecps_revoke_for_inactive_holders(chunk=2) == 4
    # Chunks of set-based statements, not a query per row; but each holder is told (two statements of the
    # outbox per e-CPS revoked), and the relying parties (one webhook statement per chunk: three here).
    assert len(queries) < 25 + 2 * 4 + 3
    revoked_now = ECps.objects.filter(state="revoked").exclude(revocation_reason="")  # not the ready-made
    reasons = dict(revoked_now.values_list("exercise_id", "revocation_reason"))
    assert {reasons[e.pk] for e in struck} == {"holder_inactive"} and reasons[
        closed.pk
    ] == "exercise_inactive"
    assert ECps.objects.get(exercise=kept).state == ECps.State.ACTIVE
    assert ECpsEvent.objects.filter(kind="revoked").count() == 4
    assert services.ecps_revoke_for_inactive_holders() == 0  # idempotent


# --- the API ---------------------------------------------------------------------------------------------


def test_the_api_lists_the_holders_ownecps_row(client, doctor, doctor_user):
    mine = ecps_row(doctor)
    ecps_row(rpps_doctor())
    client.force_login(doctor_user)
    body = client.get("/api/v1/ecps/").json()
    assert body["count"] == 1 and body["results"][0]["id"] == mine.pk
    assert body["results"][0]["state"] == "active" and body["results"][0]["profession"] == "10"


def test_the_api_answers_404_for_someone_elsesecps_row(client, doctor_user):
    other = ecps_row(rpps_doctor())
    client.force_login(doctor_user)
    assert client.get(f"/api/v1/ecps/{other.pk}/").status_code == 404
    response = client.post(f"/api/v1/ecps/{other.pk}/opposition/", {}, content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert ECps.objects.get(pk=other.pk).state == ECps.State.ACTIVE


def test_the_api_declares_opposition(client, doctor, doctor_user):
    ecps = ecps_row(doctor)
    client.force_login(doctor_user)
    response = client.post(
        f"/api/v1/ecps/{ecps.pk}/opposition/", {"reason": "lost"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    again = client.post(f"/api/v1/ecps/{ecps.pk}/opposition/", {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_revoked"
    bad = client.post(
        f"/api/v1/ecps/{ecps.pk}/opposition/", {"reason": "bored"}, content_type="application/json"
    )
    assert bad.status_code == 400 and "reason" in bad.json()["fields"]


def test_operators_see_the_ecps_of_their_professions_only(client, doctor, adeli_exercise):
    doctor_ecps, adeli_ecps = ecps_row(doctor), ecps_row(adeli_exercise)
    client.force_login(persona("authority_operator", authority="CNOM"))
    assert [r["id"] for r in client.get("/api/v1/ecps/").json()["results"]] == [doctor_ecps.pk]
    client.force_login(persona("ans_operator"))
    assert [r["id"] for r in client.get("/api/v1/ecps/").json()["results"]] == [adeli_ecps.pk]


def test_anonymous_api_calls_are_told_to_authenticate(client):
    assert client.get("/api/v1/ecps/").status_code == 401


def test_only_ans_operators_register_relying_parties(client, doctor_user, ans):
    body = {"name": "DMP", "redirect_uris": ["https://dmp.example/callback"]}
    client.force_login(doctor_user)
    refused = client.post("/api/v1/ecps/relying-parties/", body, content_type="application/json")
    assert refused.status_code == 403
    client.force_login(ans)
    created = client.post("/api/v1/ecps/relying-parties/", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["client_secret"]
    listed = client.get("/api/v1/ecps/relying-parties/").json()
    assert listed["count"] == 1 and "client_secret" not in listed["results"][0]
    page = client.post(
        "/ecps/relying-parties/", {"name": "MSSanté", "redirect_uris": "https://ms.example/cb"}
    )
    assert page.status_code == 200 and "rp-client-secret" in page.content.decode()


def test_the_sign_in_audit_is_scoped(client, active_ecps, authenticator, doctor_user):
    options = client.post("/ecps/signin/options/", content_type="application/json").json()
    client.post(
        "/ecps/signin/verify/", {"credential": authenticator.get(options)}, content_type="application/json"
    )
    assert client.get("/api/v1/ecps/sign-ins/").json()["count"] == 1  # signed in as the holder now
    client.force_login(holder_of(rpps_doctor().professional))
    assert client.get("/api/v1/ecps/sign-ins/").json()["count"] == 0


def test_the_holder_suspends_and_reinstates_through_the_api_and_the_portal(client, doctor, doctor_user):
    ecps = ecps_row(doctor)
    client.force_login(doctor_user)
    suspended = client.post(f"/api/v1/ecps/{ecps.pk}/suspension/")
    assert suspended.status_code == 200 and suspended.json()["state"] == "suspended"
    assert client.post(f"/api/v1/ecps/{ecps.pk}/suspension/").status_code == 409
    assert client.delete(f"/api/v1/ecps/{ecps.pk}/suspension/").json()["state"] == "active"
    client.post(f"/ecps/{ecps.pk}/suspension/")
    assert ECps.objects.get(pk=ecps.pk).state == ECps.State.SUSPENDED
    client.post(f"/ecps/{ecps.pk}/suspension/", {"action": "reinstate"})
    assert ECps.objects.get(pk=ecps.pk).state == ECps.State.ACTIVE
    assert list(ecps.events.values_list("kind", flat=True)) == ["suspended", "active", "suspended", "active"]


def test_a_refused_change_is_told_on_the_page_the_holder_came_from(client, doctor, doctor_user):
    ecps = ecps_row(doctor, state=ECps.State.REVOKED)
    client.force_login(doctor_user)
    form = {"action": "reinstate", "next": "/ecps/"}  # as the holder page's form posts it
    response = client.post(f"/ecps/{ecps.pk}/suspension/", form, follow=True)
    assert response.redirect_chain == [("/ecps/", 303)]
    told = re.findall(r'fr-alert--error">\s*<p>([^<]*)', response.content.decode())  # base.html's messages
    assert len(told) == 1 and "reinstate" in told[0]  # the transition refused, in the page's language
    assert ECps.objects.get(pk=ecps.pk).state == ECps.State.REVOKED


def test_the_portal_pages_answer_404_for_someone_elses_ecps(client, doctor_user):
    other = ecps_row(rpps_doctor())
    client.force_login(doctor_user)
    assert client.get(f"/ecps/{other.pk}/opposition/").status_code == 404
    assert client.post(f"/ecps/{other.pk}/suspension/").status_code == 404
    assert ECps.objects.get(pk=other.pk).state == ECps.State.ACTIVE


def test_the_passkey_ceremony_answers_its_errors_in_json(client):
    response = client.post("/ecps/enrol/options/", "[1]", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = client.post("/ecps/signin/verify/", {"credential": "x"}, content_type="application/json")
    assert response.status_code == 400 and "credential" in response.json()["fields"]
