"""The periodic lifecycle tasks: scheduled in code, thin, safe to run twice."""

import datetime as dt

import pytest
from celery.schedules import crontab

from cards.models import Card
from lifecycle import tasks
from lifecycle.models import RenewalReminder
from registry.models import Professional
from tests.factories import ActivityFactory, CardFactory

pytestmark = pytest.mark.django_db

TASKS = {
    "lifecycle-renewal-reminders": "lifecycle.renewal_reminders",
    "lifecycle-expire-cards": "lifecycle.expire_cards",
    "lifecycle-release-pin-mailers": "lifecycle.release_pin_mailers",
    "lifecycle-revoke-inactive-holders": "lifecycle.revoke_inactive_holders",
}


def test_the_beat_schedule_runs_each_task_daily():
    from config.celery import app

    for entry, task in TASKS.items():
        scheduled = app.conf.beat_schedule[entry]
        assert scheduled["task"] == task and isinstance(scheduled["schedule"], crontab)
        assert task in app.tasks


def test_each_task_does_its_work_once(tariff):
    today = dt.date.today()
    due = CardFactory(exercise=ActivityFactory().exercise, valid_until=today + dt.timedelta(days=60))
    past = CardFactory(exercise=ActivityFactory().exercise, valid_until=today - dt.timedelta(days=1))
    struck = CardFactory(exercise=ActivityFactory().exercise, valid_until=today + dt.timedelta(days=400))
    Professional.objects.filter(pk=struck.professional_id).update(is_active=False)
    for _ in range(2):
        tasks.renewal_reminders.apply()
        tasks.expire_cards.apply()
        tasks.revoke_inactive_holders.apply()
        tasks.release_pin_mailers.apply()
    assert RenewalReminder.objects.filter(card=due).count() == 1
    assert Card.objects.get(pk=past.pk).state == Card.State.EXPIRED
    assert Card.objects.get(pk=struck.pk).state == Card.State.REVOKED
