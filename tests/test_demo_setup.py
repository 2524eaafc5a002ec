"""`manage.py demo_setup` (run by `make run`): a demo that shows the product, each promise checked on the test
database, and idempotent (make run twice)."""

from __future__ import annotations

import io
import time

import pytest
from django.conf import settings
from django.core.management import call_command

from cards.models import Card
from lifecycle.models import Opposition
from orders.models import Order
from registry.models import Account, Authority, Professional, StructureMember
from stations.models import PersonalizationJob
from tests.pki.conftest import ca_keys, pki_dir  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Every state an order rests in. `approved` and `paid` are passed through within one transaction (an
# approved order goes on to payment or production, a paid one to production), so no order rests there.
RESTING_STATES = set(Order.State.values) - {Order.State.APPROVED, Order.State.PAID}


@pytest.fixture
def demo(settings, tmp_path, pki_dir, monkeypatch):  # noqa: F811 (the fixture imported above)
    """The demo, once, as `make run` runs it (the station's SoftHSM2 stores in tmp_path; the production
    and notification tasks recorded instead of sent to a broker)."""
    import notifications.services
    import orders.services
    from stations import services as station_services

    settings.CPX_STATIONS_DIR = tmp_path / "stations"
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setattr(orders.services, "_schedule_production", lambda order_id: None)
    monkeypatch.setattr(notifications.services, "notification_enqueue", lambda *, notification_ids: None)
    monkeypatch.setattr(station_services, "send_task", lambda *args, **kwargs: None)
    out = io.StringIO()
    started = time.monotonic()
    call_command("demo_setup", rows=2000, holders=200, stdout=out)
    return out.getvalue(), time.monotonic() - started


def test_the_demo_keeps_every_promise(demo):
    output, seconds = demo
    # Holders: a few hundred, across every profession and authority, with e-mail and mobile on file.
    holders = Professional.objects.filter(account__role=Account.Role.HOLDER)
    assert holders.count() >= 150
    professions = set(holders.values_list("exercises__profession_id", flat=True))
    registry_professions = set(Professional.objects.values_list("exercises__profession_id", flat=True))
    assert professions == registry_professions
    assert not holders.filter(email="").exists() and not holders.filter(mobile="").exists()

    # Orders in every state they rest in, and work in every authority's queue.
    states = set(Order.objects.values_list("state", flat=True))
    assert states >= RESTING_STATES, RESTING_STATES - states
    for authority in Authority.objects.all():
        waiting = Order.objects.filter(authority=authority, state=Order.State.SUBMITTED)
        assert waiting.exists(), f"{authority.code}'s queue is empty"
        operators = Account.objects.filter(authority=authority, role__in=Account.Role.values)
        assert operators.exists(), authority.code
    # Built through the services: every order has its history from its creation.
    assert not Order.objects.exclude(events__transition="create").exists()

    # Structures with staff, and a CPE ordered by the manager.
    manager = Account.objects.get(user__username="manager")
    staff = StructureMember.objects.filter(structure=manager.structure, role=StructureMember.Role.STAFF)
    assert staff.count() >= 3
    assert Order.objects.filter(card_type="CPE", structure=manager.structure).exists()

    # Cards near expiry (reminders and renewals), cards to activate and to ship, oppositions, a failure.
    soon = Card.objects.filter(state=Card.State.ACTIVE, valid_until__lte=_days(90))
    assert soon.count() >= 2
    assert soon.filter(professional__account__user__username="holder").exists()
    assert Card.objects.filter(state=Card.State.SHIPPED, professional__account__user__username="holder.nurse")
    assert Card.objects.filter(state=Card.State.PERSONALIZED).exists()
    assert Opposition.objects.count() >= 2
    assert Order.objects.filter(
        kind=Order.Kind.REPLACEMENT,
        state=Order.State.AWAITING_PAYMENT,
        professional__account__user__username="holder.lost",
    ).exists()
    assert PersonalizationJob.objects.filter(step="failed").exists()
    assert Order.objects.filter(state=Order.State.FAILED, failure_count=settings.CPX_MAX_PRODUCTION_FAILURES)
    from lifecycle.models import RenewalReminder

    assert RenewalReminder.objects.exists()

    # The accounts are printed with what to try.
    for username in (
        "holder",
        "holder.nurse",
        "holder.lost",
        "manager",
        "ordre.cnom",
        "ordre.oni",
        "ans.operator",
    ):
        assert f"  {username} " in output, username
    assert "→" in output


def test_every_demo_account_lands_on_its_portal(demo, client):
    from django.contrib.auth import get_user_model

    for username in (
        "holder",
        "holder.nurse",
        "holder.lost",
        "manager",
        "ordre.cnom",
        "ans.operator",
        "auditor",
    ):
        client.force_login(get_user_model().objects.get(username=username))
        response = client.get("/", follow=True)
        assert response.status_code == 200, username
        assert response.redirect_chain or response.request["PATH_INFO"] == "/", username
        client.logout()


def test_the_demo_runs_twice_without_change(demo):
    counts = (
        Order.objects.count(),
        Card.objects.count(),
        Account.objects.count(),
        Opposition.objects.count(),
    )
    call_command("demo_setup", rows=2000, holders=200, stdout=io.StringIO())
    again = (Order.objects.count(), Card.objects.count(), Account.objects.count(), Opposition.objects.count())
    assert again == counts


def _days(days: int):
    import datetime as dt

    from django.utils import timezone

    return timezone.localdate() + dt.timedelta(days=days)
