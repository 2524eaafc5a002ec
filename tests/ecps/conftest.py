from __future__ import annotations

from typing import Any

import pytest

from ecps import activation as activations
from ecps.sms import RecordingSmsSender
from pki import signing
from tests.factories import AdeliProfessionalFactory, ExerciseFactory, persona

from .authenticator import SoftAuthenticator
from .helpers import holder_of, rpps_doctor

ORIGIN = "http://localhost:8000"


@pytest.fixture(autouse=True)
def outside_world(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[tuple[str, str]]:
    """Stations, the broker and the SMS gateway are the outside world: recorded, never reached."""
    import notifications.services
    import orders.services

    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: None)
    monkeypatch.setattr(notifications.services, "notification_enqueue", lambda *, notification_ids: None)
    settings.CPX_SMS_BACKEND = "ecps.sms.RecordingSmsSender"
    settings.CPX_WEBAUTHN_RP_ID = "localhost"
    settings.CPX_WEBAUTHN_ORIGIN = [ORIGIN]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    RecordingSmsSender.outbox.clear()
    return RecordingSmsSender.outbox


@pytest.fixture(autouse=True)
def english() -> Any:
    """Domain messages checked in English (pages pick their language per request)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def sms(outside_world: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return outside_world


@pytest.fixture
def doctor(db: Any) -> Any:
    return rpps_doctor()


@pytest.fixture
def doctor_user(doctor: Any) -> Any:
    return holder_of(doctor.professional)


@pytest.fixture
def adeli_exercise(db: Any) -> Any:
    person = AdeliProfessionalFactory(mobile="+33698765432")
    return ExerciseFactory(professional=person, profession_id="28")  # opticien-lunetier: ADELI


@pytest.fixture
def adeli_user(adeli_exercise: Any) -> Any:
    return holder_of(adeli_exercise.professional)


@pytest.fixture
def ans(db: Any) -> Any:
    return persona("ans_operator")


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(origin=ORIGIN)


from tests.pki.conftest import ca_keys, pki_dir  # noqa: E402,F401 (the PKI's fixtures)


@pytest.fixture
def hierarchy(db: Any, pki_dir: Any) -> Any:  # noqa: F811 (the imported fixture)
    return signing.pki_init()


@pytest.fixture
def enrol(client: Any) -> Any:
    """Register a passkey for a proven activation through the HTTP endpoints (as the phone's page does)."""

    def enrol(code: str, authenticator: SoftAuthenticator, browser: Any = None) -> Any:
        browser = browser or client
        options = browser.post("/ecps/enrol/options/", {"code": code}, content_type="application/json")
        assert options.status_code == 200, options.json()
        credential = authenticator.create(options.json())
        return browser.post(
            "/ecps/enrol/verify/", {"credential": credential}, content_type="application/json"
        )

    return enrol


@pytest.fixture
def active_ecps(doctor: Any, doctor_user: Any, authenticator: SoftAuthenticator, enrol: Any, sms: Any) -> Any:
    """An e-CPS activated by codes and registered with the software authenticator."""
    from django.core import mail

    from .helpers import codes_from

    activation = activations.activation_start_with_codes(actor=doctor_user, exercise_id=doctor.pk)
    email_code, sms_code = codes_from(mail.outbox, sms)
    _, code = activations.activation_prove_with_codes(
        actor=doctor_user, activation_id=activation.pk, email_code=email_code, sms_code=sms_code
    )
    response = enrol(code, authenticator)
    assert response.status_code == 200, response.json()
    from ecps.models import ECps

    return ECps.objects.get(pk=response.json()["ecps"])
