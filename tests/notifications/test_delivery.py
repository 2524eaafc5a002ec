"""Delivering the outbox: each message once, retried with back-off, failed for good after the last attempt."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from notifications import services
from notifications.events import EVENTS
from notifications.models import Notification

from .conftest import SAMPLE_CONTEXT, make_professional

pytestmark = pytest.mark.django_db

REFUSING = "tests.notifications.backends.RefusingBackend"


def shipped(recipient, key="card_shipped:card:7", **kwargs) -> dict[str, Notification]:
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS["card_shipped"].fields}
    rows = services.notify(
        recipient=recipient, event="card_shipped", context=context, dedup_key=key, **kwargs
    )
    return {n.channel: n for n in rows}


def test_it_sends_the_email_once(holder):
    email = shipped(holder)["email"]
    assert services.notification_deliver(notification_id=email.pk) is True
    assert services.notification_deliver(notification_id=email.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["claire.martin@example.fr"]
    assert message.subject == "Votre carte CPS n° 8025000001/0000123456 a été expédiée"
    assert "6A12345678901" in message.body
    assert message.extra_headers["X-CPx-Notification"] == str(email.pk)
    email.refresh_from_db()
    assert (email.state, email.attempts, email.claim_token) == ("sent", 1, None)
    assert email.sent_at is not None


def test_it_sends_in_english_when_asked(holder):
    email = shipped(holder, language="en")["email"]
    services.notification_deliver(notification_id=email.pk)
    assert mail.outbox[0].subject == "Your CPS card 8025000001/0000123456 has been shipped"


def test_two_claims_one_wins(holder):
    email = shipped(holder)["email"]
    first = services.notification_claim(notification_id=email.pk)
    second = services.notification_claim(notification_id=email.pk)
    assert first is not None
    assert second is None


def test_a_claim_whose_lease_ran_out_can_be_taken_over(holder, settings):
    email = shipped(holder)["email"]
    assert services.notification_claim(notification_id=email.pk)
    with freeze_time(timezone.now() + timedelta(seconds=settings.CPX_NOTIFY_LEASE_SECONDS + 1)):
        assert services.notification_deliver(notification_id=email.pk) is True
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("sent", 2)


def test_it_backs_off_exponentially_while_smtp_is_down(holder, settings):
    settings.EMAIL_BACKEND = REFUSING
    settings.CPX_NOTIFY_BACKOFF_SECONDS = 60
    email = shipped(holder)["email"]
    now = timezone.now()
    delays = []
    for _ in range(3):
        with freeze_time(now):
            assert services.notification_deliver(notification_id=email.pk) is False
        email.refresh_from_db()
        delays.append((email.next_attempt_at - now).total_seconds())
        now = email.next_attempt_at
    assert delays == [60, 120, 240]
    assert email.state == "pending"
    assert email.attempts == 3
    assert "SMTPServerDisconnected" in email.last_error


def test_it_does_not_retry_before_the_backoff(holder, settings):
    settings.EMAIL_BACKEND = REFUSING
    email = shipped(holder)["email"]
    services.notification_deliver(notification_id=email.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.notifications_sweep() == 0
    with freeze_time(timezone.now() + timedelta(seconds=settings.CPX_NOTIFY_BACKOFF_SECONDS + 1)):
        assert services.notifications_sweep() == 1
    assert len(mail.outbox) == 1


def test_it_fails_for_good_after_the_last_attempt(holder, settings):
    settings.EMAIL_BACKEND = REFUSING
    settings.CPX_NOTIFY_MAX_ATTEMPTS = 3
    email = shipped(holder)["email"]
    now = timezone.now()
    for _ in range(5):
        with freeze_time(now):
            services.notifications_sweep()
        now += timedelta(days=1)
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("failed", 3)
    assert "SMTPServerDisconnected" in email.last_error


def test_an_operator_can_send_a_failed_message_again(holder, settings):
    settings.EMAIL_BACKEND = REFUSING
    settings.CPX_NOTIFY_MAX_ATTEMPTS = 1
    email = shipped(holder)["email"]
    services.notification_deliver(notification_id=email.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.notification_retry(notification_id=email.pk) is True
    assert services.notifications_sweep() == 1
    assert len(mail.outbox) == 1


def test_a_letter_is_ready_for_printing_with_the_address_of_the_first_active_activity(paper_holder):
    letter = shipped(paper_holder)["letter"]
    assert services.notification_deliver(notification_id=letter.pk) is True
    letter.refresh_from_db()
    assert letter.state == "sent"
    assert letter.postal_address.splitlines() == ["Dr Luc Bernard", "12 rue des Lilas", "69003 Lyon"]
    assert letter.print_batch is None


def test_a_letter_without_any_address_fails_at_once(db):
    nowhere = make_professional(address=False)
    letter = shipped(nowhere)["letter"]
    services.notification_deliver(notification_id=letter.pk)
    letter.refresh_from_db()
    assert (letter.state, letter.attempts) == ("failed", 1)
    assert "no postal address" in letter.last_error


def test_in_app_messages_need_no_delivery(holder):
    message = shipped(holder)["in_app"]
    assert message.state == "sent"
    assert services.notification_deliver(notification_id=message.pk) is False


def test_the_sweep_delivers_everything_due_once(holder, paper_holder):
    shipped(holder, key="a")
    shipped(paper_holder, key="b")
    assert services.notifications_sweep() == 2
    assert services.notifications_sweep() == 0
    assert len(mail.outbox) == 1
    assert not Notification.objects.filter(state="pending").exists()
