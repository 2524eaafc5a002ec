"""notify(): the outbox rows written in the caller's transaction, once per key and channel."""

import logging
import time

import pytest
from django.db import transaction

from notifications import services
from notifications.events import EVENTS
from notifications.models import Notification

from .conftest import SAMPLE_CONTEXT, broker, make_professional

pytestmark = pytest.mark.django_db


def approve(recipient, key="order_approved:order:42", **kwargs):
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS["order_approved"].fields}
    return services.notify(
        recipient=recipient, event="order_approved", context=context, dedup_key=key, **kwargs
    )


def test_it_writes_email_and_in_app_for_someone_with_an_address(holder):
    notifications = approve(holder)
    assert sorted(n.channel for n in notifications) == ["email", "in_app"]
    by_channel = {n.channel: n for n in notifications}
    assert by_channel["email"].state == "pending"
    assert by_channel["in_app"].state == "sent"  # in-app is delivered by being written
    assert by_channel["email"].language == "fr"


def test_it_writes_a_letter_when_there_is_no_email(paper_holder):
    assert sorted(n.channel for n in approve(paper_holder)) == ["in_app", "letter"]


def test_formal_notices_also_go_by_letter(holder):
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS["card_revoked"].fields}
    rows = services.notify(recipient=holder, event="card_revoked", context=context, dedup_key="revoked:1")
    assert sorted(n.channel for n in rows) == ["email", "in_app", "letter"]


def test_calling_twice_writes_one_row_per_channel(holder):
    first = approve(holder)
    second = approve(holder)
    assert Notification.objects.count() == 2
    assert sorted(n.pk for n in first) == sorted(n.pk for n in second)


def test_the_same_key_on_another_channel_is_another_message(holder):
    approve(holder, channels=["in_app"])
    approve(holder)
    assert sorted(Notification.objects.values_list("channel", flat=True)) == ["email", "in_app"]


def test_an_email_asked_for_someone_without_address_becomes_a_letter(paper_holder):
    rows = approve(paper_holder, channels=["email"])
    assert [n.channel for n in rows] == ["letter"]


def test_it_rejects_an_unknown_event(holder):
    with pytest.raises(ValueError, match="unknown"):
        services.notify(recipient=holder, event="card_exploded", context={}, dedup_key="x")


def test_it_rejects_a_context_missing_what_the_templates_need(holder):
    with pytest.raises(ValueError, match="reason"):
        services.notify(
            recipient=holder,
            event="order_rejected",
            context={"order_reference": "C1", "card_type": "CPS", "authority": "CNOM"},
            dedup_key="x",
        )
    assert not Notification.objects.exists()


@pytest.mark.parametrize("key", ["pin", "puk_code", "password", "card_secret"])
def test_it_refuses_secrets_in_the_context(holder, key):
    context = {**{k: SAMPLE_CONTEXT[k] for k in EVENTS["pin_mailer_sent"].fields}, key: "1234"}
    with pytest.raises(ValueError, match="secret"):
        services.notify(recipient=holder, event="pin_mailer_sent", context=context, dedup_key="x")


def test_delivery_is_scheduled_only_after_commit(holder, monkeypatch, django_capture_on_commit_callbacks):
    enqueued = []
    monkeypatch.setattr(
        services, "notification_enqueue", lambda *, notification_ids: enqueued.extend(notification_ids)
    )
    with django_capture_on_commit_callbacks(execute=True):
        rows = approve(holder)
        assert enqueued == []
    assert enqueued == [n.pk for n in rows if n.channel == "email"]


def test_a_rolled_back_event_leaves_no_message(holder):
    with pytest.raises(RuntimeError), transaction.atomic():
        approve(holder)
        raise RuntimeError("the use case failed after notify()")
    assert not Notification.objects.exists()


def test_a_broker_outage_leaves_the_rows_pending_for_the_sweep(holder, caplog):
    email = next(n for n in approve(holder) if n.channel == "email")
    with broker("redis://127.0.0.1:1/0"), caplog.at_level(logging.WARNING, logger="notifications.services"):
        # Nothing listens on port 1: the broker is down, and the hand-off must not raise.
        services.notification_enqueue(notification_ids=[email.pk])
        assert "left for the sweep" in caplog.text
        started = time.monotonic()
        # The next hand-off does not spend seconds retrying the broker again.
        services.notification_enqueue(notification_ids=[email.pk])
        assert time.monotonic() - started < 0.5
    email.refresh_from_db()
    assert email.state == "pending"


def test_a_second_holder_gets_their_own_rows(holder):
    other = make_professional(email="o@example.fr")
    approve(holder, key="a")
    approve(other, key="b")
    assert Notification.objects.filter(recipient=other).count() == 2


def test_it_refuses_a_key_already_used_for_someone_else(holder):
    approve(holder, key="shared")
    with pytest.raises(ValueError, match="another recipient"):
        approve(make_professional(email="o@example.fr"), key="shared")


def test_it_refuses_a_language_without_templates(holder):
    with pytest.raises(ValueError, match="'de'"):
        approve(holder, language="de")
