"""Striking off through the import: a holder a --full extraction no longer lists loses their cards at once.

The revocations happen in the import's own transaction (issue 16: lifecycle.struck_off, ecps.struck_off); the
registry still sends the lifecycle and ecps tasks by name once the import commits, as a safety net: the tests
run the on-commit callbacks, with Celery eager, so the real tasks run too."""

import pytest

from cards.models import Card
from ecps.models import ECps
from notifications.models import Notification
from pki.models import Certificate
from registry.models import Professional
from registry.services import registry_import
from tests.approvals.helpers import forced_import_approval
from tests.factories import CardFactory
from tests.lifecycle.conftest import certify  # noqa: F401 (fixture)
from tests.pki.conftest import ca_keys, card_key, hierarchy, pki_dir  # noqa: F401 (fixtures)

from .conftest import DOCTOR, sample_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    import notifications.services

    monkeypatch.setattr(notifications.services, "notification_enqueue", lambda *, notification_ids: None)


@pytest.fixture
def eager(monkeypatch):
    """Tasks run in place, as a worker would run them."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_a_full_import_without_a_holder_revokes_their_cards_and_tells_them_why(
    write_extraction, request, eager, django_capture_on_commit_callbacks
):
    issue_certificates = request.getfixturevalue("certify")
    registry_import(path=write_extraction())
    doctor = Professional.objects.get(national_id=DOCTOR)
    card = CardFactory(professional=doctor, exercise=doctor.exercises.get(), state=Card.State.ACTIVE)
    certificates = issue_certificates(card)
    ecps = ECps.objects.create(
        holder=doctor,
        exercise=card.exercise,
        state=ECps.State.ACTIVE,
        activation_method=ECps.Method.CODES,
        credential_id="cred-struck-off",
        public_key=b"k",
        user_handle="h",
    )
    others = [row for row in sample_rows() if row[2] != DOCTOR]

    path = write_extraction(others)
    approval = forced_import_approval(path)
    with django_capture_on_commit_callbacks(execute=True):
        result = registry_import(path=path, full=True, force=True, approval_id=approval)

    assert result.deactivated >= 1
    card.refresh_from_db()
    assert card.state == Card.State.REVOKED
    assert all(
        Certificate.objects.get(pk=certificate.pk).revoked_at is not None for certificate in certificates
    )
    assert Notification.objects.filter(recipient=doctor, event="card_revoked").exists()
    ecps.refresh_from_db()
    assert ecps.state == ECps.State.REVOKED and ecps.revocation_reason == "holder_inactive"


def test_an_import_that_deactivates_nobody_revokes_nothing(
    write_extraction, eager, django_capture_on_commit_callbacks
):
    registry_import(path=write_extraction())
    doctor = Professional.objects.get(national_id=DOCTOR)
    card = CardFactory(professional=doctor, exercise=doctor.exercises.get(), state=Card.State.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        registry_import(path=write_extraction(), full=True)
    assert sent == []
    card.refresh_from_db()
    assert card.state == Card.State.ACTIVE


def test_the_revocation_commits_with_the_import_and_the_safety_net_still_runs(
    write_extraction, eager, django_capture_on_commit_callbacks
):
    registry_import(path=write_extraction())
    doctor = Professional.objects.get(national_id=DOCTOR)
    card = CardFactory(professional=doctor, exercise=doctor.exercises.get(), state=Card.State.ACTIVE)
    others = [row for row in sample_rows() if row[2] != DOCTOR]
    path = write_extraction(others)
    approval = forced_import_approval(path)
    with django_capture_on_commit_callbacks() as pending:
        registry_import(path=path, full=True, force=True, approval_id=approval)
        card.refresh_from_db()
        # Revoked in the import's own transaction (issue 16): no nightly batch, no task to wait for.
        assert card.state == Card.State.REVOKED
    names = [getattr(callback, "__qualname__", "") for callback in pending]
    assert names.count("_sender.<locals>.send") == 2  # the lifecycle and ecps safety nets, sent on commit
    for callback in pending:
        callback()  # the lifecycle and ecps safety nets find nothing left to do
    card.refresh_from_db()
    assert card.state == Card.State.REVOKED
