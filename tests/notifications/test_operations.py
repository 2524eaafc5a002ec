"""What operators and the scheduler rely on: concurrent claims, the admin view of failures, the commands and
the periodic schedule."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from config.celery import app
from notifications import services
from notifications.events import EVENTS
from notifications.models import Notification

from .conftest import SAMPLE_CONTEXT, make_professional


def expired(recipient) -> dict[str, Notification]:
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS["card_expired"].fields}
    rows = services.notify(
        recipient=recipient, event="card_expired", context=context, dedup_key=f"x:{recipient.pk}"
    )
    return {n.channel: n for n in rows}


@pytest.mark.django_db(transaction=True)
def test_a_claim_waiting_on_another_one_loses_once_it_commits() -> None:
    """PostgreSQL re-checks the UPDATE's WHERE on the row the first claimer committed: no double claim."""
    email = expired(make_professional(email="a@example.fr"))["email"]
    results: dict[str, object] = {}
    first_holds_the_row = threading.Event()
    release = threading.Event()

    def first() -> None:
        with transaction.atomic():
            results["first"] = services.notification_claim(notification_id=email.pk)
            first_holds_the_row.set()
            release.wait(10)
        connection.close()

    def second() -> None:
        results["second"] = services.notification_claim(notification_id=email.pk)  # blocks on the row lock
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_holds_the_row.wait(10)
    threads[1].start()
    threads[1].join(0.5)
    assert threads[1].is_alive(), "the second claim waits for the first transaction"
    release.set()
    for thread in threads:
        thread.join(10)
    assert results["first"] is not None
    assert results["second"] is None


@pytest.mark.django_db
def test_operators_see_failed_messages_in_the_admin(admin_client, settings):
    settings.EMAIL_BACKEND = "tests.notifications.backends.RefusingBackend"
    settings.CPX_NOTIFY_MAX_ATTEMPTS = 1
    email = expired(make_professional(email="a@example.fr"))["email"]
    services.notification_deliver(notification_id=email.pk)
    response = admin_client.get("/admin/notifications/notification/", {"state__exact": "failed"})
    assert response.status_code == 200
    assert f">{email.pk}<" in response.content.decode()
    response = admin_client.post(
        "/admin/notifications/notification/", {"action": "retry", "_selected_action": [email.pk]}
    )
    assert response.status_code == 302
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("pending", 0)


@pytest.mark.django_db
def test_the_commands_send_and_print(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    expired(make_professional(last_name="Papier"))
    out = StringIO()
    call_command("send_notifications", stdout=out)
    assert out.getvalue().strip() == "sent 1"
    out = StringIO()
    call_command("print_letters", "--day", "2099-01-01", stdout=out)
    assert out.getvalue().startswith("2099-01-01: 1 letters")


def test_the_sweep_and_the_print_batch_are_scheduled():
    tasks = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert tasks["notifications.sweep"] <= 60
    assert "notifications.print_batch" in tasks
    app.loader.import_default_modules()
    assert {"notifications.deliver", "notifications.sweep", "notifications.print_batch"} <= set(app.tasks)
