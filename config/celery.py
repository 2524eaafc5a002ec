import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cpx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work, defined here in code (run `celery -A config beat` once per deployment).
app.conf.beat_schedule = {
    # Delivers whatever the on-commit tasks did not: broker outages, crashed workers, retries once due.
    "notifications-sweep": {
        "task": "notifications.sweep",
        "schedule": 30.0,
        "options": {"expires": 60},
    },
    # Yesterday's letters into one PDF and a manifest, for the morning's printing.
    "notifications-print-batch": {
        "task": "notifications.print_batch",
        "schedule": crontab(hour=0, minute=30),
    },
}
