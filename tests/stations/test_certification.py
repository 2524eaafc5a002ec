"""The signing service certifies card keys only for an authenticated station's own job, for the order's
holder: every forged request is refused, audited, and certifies nothing."""

import datetime as dt
import os
import stat
import time
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.utils import timezone

from pki.models import AuditEvent, Certificate
from stations import certification, personalization, signing_request
from stations.models import PersonalizationJob, ReaderStation
from tests.factories import ActivityFactory, OrderFactory

from .conftest import SOFTHSM

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def card_keys():
    return {
        usage: rsa.generate_private_key(public_exponent=65537, key_size=2048) for usage in ("auth", "sign")
    }


@pytest.fixture
def job(station, queued_order):
    """A job of the station at the step where its card's keys await certification."""
    job = personalization._claim(queued_order.pk, station, start=True)
    job.step = PersonalizationJob.Step.KEYS
    job.save(update_fields=["step"])
    return job


def make_request(the_job, card_keys, *, station=None, proof_keys=None, **overrides):
    """A request as a station builds it (stations.personalization._certify), with software card keys."""
    station_name = station or the_job.station.name
    request_id = overrides.pop("id", str(uuid.uuid4()))
    card_number = overrides.get("card_number", the_job.blank.number)
    spkis = {u: signing_request.spki_der(k.public_key()) for u, k in card_keys.items()}
    proofs = {}
    for usage, spki in spkis.items():
        message = signing_request.proof_message(
            request_id=request_id,
            station=station_name,
            job=overrides.get("job", the_job.pk),
            card_number=card_number,
            usage=usage,
            spki=spki,
        )
        signer = (proof_keys or card_keys)[usage]
        proofs[usage] = signing_request.b64(signer.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    request = {
        "v": 1,
        "id": request_id,
        "station": station_name,
        "job": the_job.pk,
        "order": the_job.order_id,
        "card_number": card_number,
        "keys": {u: signing_request.b64(s) for u, s in spkis.items()},
        "proofs": proofs,
        "issued_at": timezone.now().isoformat(),
    }
    request.update(overrides)
    return request


def station_key(station):
    return signing_request.station_key(station.name, station.key_file)


def send(request, key):
    return certification.certify_card(signing_request.seal(request, key))


def assert_refused(result, request, reason, job=None):
    assert result["refused"] == reason, result
    event = AuditEvent.objects.get(request_id=request["id"], operation="refuse")
    assert event.detail["reason"] == reason
    assert event.actor == f"station:{request['station']} job {request['job']}"
    assert not AuditEvent.objects.filter(request_id=request["id"], operation="issue").exists()
    if job is not None:
        assert not Certificate.objects.filter(card_number=job.blank.number).exists()


# --- the good path ------------------------------------------------------------------------------------


def test_a_station_gets_its_job_certified_for_the_orders_holder(job, card_keys):
    order = job.order
    order.professional.email = "claire.martin@example.org"
    order.professional.save(update_fields=["email"])
    request = make_request(job, card_keys)
    result = send(request, station_key(job.station))
    assert set(result["serials"]) == {"auth", "sign"}
    for usage, serial in result["serials"].items():
        row = Certificate.objects.get(serial=serial)
        assert row.card_number == job.blank.number and row.usage == usage
        cert = x509.load_der_x509_certificate(bytes(row.der))
        assert (
            cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            == order.professional.national_id
        )
        assert cert.subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == order.professional.last_name
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.RFC822Name) == ["claire.martin@example.org"]
        assert signing_request.spki_der(cert.public_key()) == signing_request.spki_der(
            card_keys[usage].public_key()
        )
    issued = AuditEvent.objects.filter(request_id=request["id"], operation="issue")
    assert issued.count() == 2
    assert {e.actor for e in issued} == {f"station:{job.station.name} job {job.pk}"}


def test_personalization_goes_through_the_signing_service(station, queued_order):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert card is not None and card.certificates.count() == 2
    events = AuditEvent.objects.filter(operation="issue", detail__card_number=card.number)
    assert events.count() == 2 and len({e.request_id for e in events}) == 1
    assert all(e.actor.startswith(f"station:{station.name} job ") for e in events)


# --- forged requests ------------------------------------------------------------------------------------


def test_an_unknown_station_is_refused(job, card_keys):
    request = make_request(job, card_keys, station="nowhere")
    assert_refused(send(request, ed25519.Ed25519PrivateKey.generate()), request, "unknown_station", job)


def test_a_station_without_a_registered_key_is_refused(job, card_keys):
    key = station_key(job.station)
    ReaderStation.objects.filter(pk=job.station.pk).update(public_key=b"")
    request = make_request(job, card_keys)
    assert_refused(send(request, key), request, "unknown_station", job)


def test_a_request_not_signed_by_the_station_key_is_refused(job, card_keys):
    request = make_request(job, card_keys)
    assert_refused(send(request, ed25519.Ed25519PrivateKey.generate()), request, "bad_signature", job)


def test_a_request_changed_after_signing_is_refused(job, card_keys, queued_order):
    request = make_request(job, card_keys)
    envelope = signing_request.seal(request, station_key(job.station))
    envelope["request"] = envelope["request"].replace(f'"order":{job.order_id}', '"order":999999')
    result = certification.certify_card(envelope)
    assert_refused(result, request, "bad_signature", job)


def test_a_station_cannot_have_another_stations_job_certified(job, card_keys, settings):
    call_command("station_register", "intruder", "--readers", "1", "--module", SOFTHSM)
    intruder = ReaderStation.objects.get(name="intruder")
    request = make_request(job, card_keys, station="intruder")
    assert_refused(send(request, station_key(intruder)), request, "other_station", job)


def test_a_request_for_another_order_is_refused(job, card_keys):
    other = OrderFactory(exercise=ActivityFactory().exercise, state="in_production")
    request = make_request(job, card_keys, order=other.pk)
    assert_refused(send(request, station_key(job.station)), request, "other_order", job)


def test_a_request_naming_the_holder_is_refused(job, card_keys):
    """The holder is the service's to say, from the order: a request carrying one is not a request."""
    request = make_request(job, card_keys, holder={"national_id": "899999999999", "surname": "OTHER"})
    assert_refused(send(request, station_key(job.station)), request, "malformed", job)


def test_a_card_number_other_than_the_jobs_blank_is_refused(job, card_keys):
    request = make_request(job, card_keys, card_number="80250000019999999999")
    assert_refused(send(request, station_key(job.station)), request, "card_mismatch", job)
    assert not Certificate.objects.filter(card_number="80250000019999999999").exists()


def test_a_job_is_certified_once(job, card_keys):
    key = station_key(job.station)
    first = send(make_request(job, card_keys), key)
    assert set(first["serials"]) == {"auth", "sign"}
    again = make_request(job, card_keys)
    assert_refused(send(again, key), again, "already_certified")
    assert Certificate.objects.filter(card_number=job.blank.number).count() == 2


def test_a_replayed_request_is_refused(job, card_keys):
    request = make_request(job, card_keys)
    envelope = signing_request.seal(request, station_key(job.station))
    assert "serials" in certification.certify_card(envelope)
    replay = certification.certify_card(envelope)
    assert replay["refused"] == "replayed"
    assert AuditEvent.objects.filter(request_id=request["id"], operation="refuse").count() == 1
    assert Certificate.objects.filter(card_number=job.blank.number).count() == 2


def test_a_refused_request_id_cannot_be_reused(job, card_keys):
    key = station_key(job.station)
    request = make_request(job, card_keys, card_number="80250000019999999998")
    assert send(request, key)["refused"] == "card_mismatch"
    retry = make_request(job, card_keys, id=request["id"])
    assert send(retry, key)["refused"] == "replayed"


def test_a_proof_by_another_key_is_refused(job, card_keys):
    others = {u: rsa.generate_private_key(public_exponent=65537, key_size=2048) for u in card_keys}
    request = make_request(job, card_keys, proof_keys={"auth": card_keys["auth"], "sign": others["sign"]})
    assert_refused(send(request, station_key(job.station)), request, "bad_proof", job)


def test_a_proof_made_for_another_usage_is_refused(job, card_keys):
    request = make_request(job, card_keys)
    request["proofs"] = {"auth": request["proofs"]["sign"], "sign": request["proofs"]["auth"]}
    assert_refused(send(request, station_key(job.station)), request, "bad_proof", job)


def test_an_rsa_key_too_small_is_refused(job, card_keys):
    weak = {**card_keys, "sign": rsa.generate_private_key(public_exponent=65537, key_size=1024)}  # noqa: S505
    request = make_request(job, weak)
    assert_refused(send(request, station_key(job.station)), request, "key_policy", job)


def test_unknown_usages_are_refused(job, card_keys):
    request = make_request(job, {**card_keys, "encrypt": card_keys["auth"]})
    assert_refused(send(request, station_key(job.station)), request, "bad_usages", job)


def test_a_finished_job_or_an_order_out_of_production_is_refused(job, card_keys):
    key = station_key(job.station)
    type(job.order).objects.filter(pk=job.order_id).update(state="queued")
    request = make_request(job, card_keys)
    assert_refused(send(request, key), request, "order_state", job)
    PersonalizationJob.objects.filter(pk=job.pk).update(step="failed")
    request = make_request(job, card_keys)
    assert_refused(send(request, key), request, "job_state", job)


def test_an_unknown_job_is_refused(job, card_keys):
    request = make_request(job, card_keys, job=job.pk + 1000)
    assert_refused(send(request, station_key(job.station)), request, "unknown_job", job)


def test_an_old_request_is_refused(job, card_keys):
    old = (timezone.now() - dt.timedelta(hours=2)).isoformat()
    request = make_request(job, card_keys, issued_at=old)
    assert_refused(send(request, station_key(job.station)), request, "stale", job)


def test_garbage_is_refused_and_audited():
    for envelope in (None, "x", {"request": "{", "signature": "AA=="}, {"request": "{}", "signature": "!"}):
        assert certification.certify_card(envelope)["refused"] == "malformed"
    assert AuditEvent.objects.filter(operation="refuse", detail__reason="malformed").count() == 4


def test_the_task_is_routed_to_the_signing_queue(settings):
    from config.celery import app

    route = app.amqp.router.route({}, "signing.certify_card")
    assert route["queue"].name == settings.CPX_SIGNING_QUEUE


# --- the station side -------------------------------------------------------------------------------------


def test_a_refused_request_fails_the_job(station, queued_order):
    """A station whose registered key is not the one it signs with gets nothing: the job fails."""
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    ReaderStation.objects.filter(pk=station.pk).update(public_key=signing_request.spki_der(other))
    station.refresh_from_db()
    assert personalization.personalize_order(order_id=queued_order.pk, station=station) is None
    job = PersonalizationJob.objects.get(order_id=queued_order.pk)
    assert job.step == "failed" and "bad_signature" in job.error
    assert not Certificate.objects.filter(card_number=job.blank.number).exists()
    assert AuditEvent.objects.filter(operation="refuse", detail__reason="bad_signature").count() == 1


def test_a_station_without_a_key_cannot_get_certificates(station, queued_order):
    ReaderStation.objects.filter(pk=station.pk).update(public_key=b"")
    station.refresh_from_db()
    assert personalization.personalize_order(order_id=queued_order.pk, station=station) is None
    job = PersonalizationJob.objects.get(order_id=queued_order.pk)
    assert job.step == "failed" and "NoStationCredential" in job.error


def test_station_register_makes_a_private_key_file_and_keeps_it(station, settings, tmp_path):
    path = signing_request.default_key_path(station.name)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert bytes(station.public_key) == signing_request.spki_der(key.public_key())
    before = path.read_bytes()
    call_command("station_register", station.name, "--readers", "2", "--module", SOFTHSM)
    station.refresh_from_db()
    assert path.read_bytes() == before
    assert bytes(station.public_key) == signing_request.spki_der(key.public_key())


def test_station_register_key_file_option(db, settings, tmp_path):
    settings.CPX_STATIONS_DIR = tmp_path / "stations"
    elsewhere = tmp_path / "secrets" / "site.pem"
    call_command(
        "station_register", "site9", "--readers", "1", "--module", SOFTHSM, "--key-file", str(elsewhere)
    )
    station = ReaderStation.objects.get(name="site9")
    assert station.key_file == str(elsewhere.resolve()) and stat.S_IMODE(os.stat(elsewhere).st_mode) == 0o600
    assert not signing_request.default_key_path("site9").exists()
    key = signing_request.station_key(station.name, station.key_file)
    assert bytes(station.public_key) == signing_request.spki_der(key.public_key())
    call_command("station_register", "site9", "--readers", "1", "--module", SOFTHSM)
    station.refresh_from_db()
    assert station.key_file == str(elsewhere.resolve())


# --- the station waiting for the signing service (not inline: its audit rows tell the outcome) -----------


def test_the_station_reads_the_answer_from_the_audit_rows(station, queued_order, monkeypatch, settings):
    settings.CPX_SIGNING_INLINE = False
    sent = []

    def service(name, envelope):  # the signing service, answering before the station starts polling
        sent.append(name)
        certification.certify_card(envelope)

    monkeypatch.setattr(personalization, "run_signing_task", service)
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert sent == ["signing.certify_card"] and card is not None and card.certificates.count() == 2


def test_a_refusal_read_from_the_audit_rows_fails_the_job(station, queued_order, monkeypatch, settings):
    settings.CPX_SIGNING_INLINE = False

    def service(name, envelope):
        forged = {**envelope, "signature": signing_request.b64(b"\0" * 64)}
        certification.certify_card(forged)

    monkeypatch.setattr(personalization, "run_signing_task", service)
    assert personalization.personalize_order(order_id=queued_order.pk, station=station) is None
    job = PersonalizationJob.objects.get(order_id=queued_order.pk)
    assert job.step == "failed" and "bad_signature" in job.error


def test_without_an_answer_the_job_fails_and_a_late_answer_is_refused(
    station, queued_order, monkeypatch, settings
):
    settings.CPX_SIGNING_INLINE = False
    settings.CPX_SIGNING_TIMEOUT_SECONDS = 0.3
    held = []
    monkeypatch.setattr(personalization, "run_signing_task", lambda name, envelope: held.append(envelope))
    started = time.monotonic()
    assert personalization.personalize_order(order_id=queued_order.pk, station=station) is None
    assert time.monotonic() - started < 10
    job = PersonalizationJob.objects.get(order_id=queued_order.pk)
    assert job.step == "failed" and "no answer from the signing service" in job.error
    assert certification.certify_card(held[0])["refused"] == "job_state"
    assert not Certificate.objects.filter(card_number=job.blank.number).exists()
