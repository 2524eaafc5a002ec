"""Striking off through the import: a holder a --full extraction no longer lists loses their cards at once."""

import pytest

from cards.models import Card
from notifications.models import Notification
from pki.models import Certificate
from registry.models import Professional
from registry.services import registry_import
from tests.factories import CardFactory
from tests.lifecycle.conftest import card_key, certify, hierarchy, pki_dir  # noqa: F401 (fixtures)

from .conftest import DOCTOR, sample_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    import notifications.services

    monkeypatch.setattr(notifications.services, "notification_enqueue", lambda *, notification_ids: None)


def test_a_full_import_without_a_holder_revokes_their_cards_and_tells_them_why(write_extraction, request):
    issue_certificates = request.getfixturevalue("certify")
    registry_import(path=write_extraction())
    doctor = Professional.objects.get(national_id=DOCTOR)
    card = CardFactory(professional=doctor, exercise=doctor.exercises.get(), state=Card.State.ACTIVE)
    certificates = issue_certificates(card)
    others = [row for row in sample_rows() if row[2] != DOCTOR]

    result = registry_import(path=write_extraction(others), full=True, force=True)

    assert result.deactivated >= 1
    card.refresh_from_db()
    assert card.state == Card.State.REVOKED
    assert all(
        Certificate.objects.get(pk=certificate.pk).revoked_at is not None for certificate in certificates
    )
    assert Notification.objects.filter(recipient=doctor, event="card_revoked").exists()


def test_an_import_that_deactivates_nobody_revokes_nothing(write_extraction):
    registry_import(path=write_extraction())
    doctor = Professional.objects.get(national_id=DOCTOR)
    card = CardFactory(professional=doctor, exercise=doctor.exercises.get(), state=Card.State.ACTIVE)
    registry_import(path=write_extraction(), full=True)
    card.refresh_from_db()
    assert card.state == Card.State.ACTIVE
