"""The periodic work defined in code (config/celery.py) names tasks that exist."""

from config.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    registered = set(app.tasks.keys())
    schedule = dict(app.conf.beat_schedule)
    missing = {name: entry["task"] for name, entry in schedule.items() if entry["task"] not in registered}
    assert not missing


def test_the_daily_safety_nets_are_scheduled():
    tasks = {entry["task"] for entry in dict(app.conf.beat_schedule).values()}
    assert {
        "lifecycle.revoke_inactive_holders",
        "ecps.revoke_inactive_holders",
        "lifecycle.renewal_reminders",
        "notifications.sweep",
        "lifecycle.print_pin_mailers",
    } <= tasks
