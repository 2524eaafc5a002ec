import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cpx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work, defined here in code and only here (run `celery -A config beat` once per deployment): no app
# adds a schedule of its own.
app.conf.beat_schedule = {
    # Delivers whatever the on-commit tasks did not: broker outages, crashed workers, retries once due.
    "notifications-sweep": {
        "task": "notifications.sweep",
        "schedule": 30.0,
        "options": {"expires": 60},
    },
    # Webhook messages still pending (broker outage, receiver down, retry time due); delivery is also asked
    # for on commit, so this is the safety net.
    "notifications-webhooks-sweep": {
        "task": "notifications.webhooks_sweep",
        "schedule": 30.0,
        "options": {"expires": 60},
    },
    # Yesterday's letters into one PDF and a manifest, for the morning's printing.
    "notifications-print-batch": {
        "task": "notifications.print_batch",
        "schedule": crontab(hour=0, minute=30),
    },
}

# --- stations ---
app.conf.beat_schedule.update(
    {
        # Queued orders no station is working on (no blanks when queued, a lost message) go back to one.
        "stations-production-sweep": {
            "task": "stations.production_sweep",
            "schedule": 300.0,
            "options": {"expires": 300},
        },
    }
)

# --- lifecycle --- (times in CELERY_TIMEZONE, Europe/Paris)
app.conf.beat_schedule.update(
    {
        # Issue 16: the renewals the issuance policies order, placed before the reminder window; then the
        # capacity plan (each approved automatic order given its release day under the stations' measured
        # capacity, earliest deadline first) and the release of the orders whose day has come.
        "lifecycle-renewal-orders": {
            "task": "lifecycle.renewal_orders",
            "schedule": crontab(hour=4, minute=30),
        },
        "lifecycle-release-plan": {
            "task": "lifecycle.release_plan",
            "schedule": crontab(hour=5, minute=15),
        },
        "lifecycle-release-due": {
            "task": "lifecycle.release_due",
            "schedule": crontab(hour=5, minute=30),
        },
        # Renewal reminders at 90 and 30 days before expiry: once per card and threshold (idempotent).
        "lifecycle-renewal-reminders": {
            "task": "lifecycle.renewal_reminders",
            "schedule": crontab(hour=6, minute=0),
        },
        # Cards past their expiry date → expired (just after midnight, before the reminders).
        "lifecycle-expire-cards": {
            "task": "lifecycle.expire_cards",
            "schedule": crontab(hour=0, minute=10),
        },
        # PIN mailers whose day has come (the day after their card was shipped).
        "lifecycle-release-pin-mailers": {
            "task": "lifecycle.release_pin_mailers",
            "schedule": crontab(hour=7, minute=0),
        },
        # The secure print run of the PIN mailers released that morning (sealed content purged once printed).
        "lifecycle-print-pin-mailers": {
            "task": "lifecycle.print_pin_mailers",
            "schedule": crontab(hour=7, minute=30),
        },
        # The same safety net for the e-CPS of holders the registry made inactive (the registry import sends
        # this task on commit when it strikes holders off).
        "ecps-revoke-inactive-holders": {
            "task": "ecps.revoke_inactive_holders",
            "schedule": crontab(hour=5, minute=5),
        },
        # Help-desk responses left unseen purged; approved codes work the signing service missed sent again.
        "lifecycle-codes-sweep": {
            "task": "lifecycle.codes_sweep",
            "schedule": 300.0,
            "options": {"expires": 300},
        },
        # Safety net behind the registry import, which sends this task on commit when it strikes holders off:
        # live cards of holders now inactive → revoked.
        "lifecycle-revoke-inactive-holders": {
            "task": "lifecycle.revoke_inactive_holders",
            "schedule": crontab(hour=5, minute=0),
        },
    }
)

# --- pki --- (the signing service's queue: CELERY_TASK_ROUTES sends "pki.*" there; never the root's CRL,
# which only the operator's `manage.py pki_root crl` signs)
app.conf.beat_schedule.update(
    {
        # A base CRL per issuing CA (nextUpdate 7 days; expired certificates leave it), then a delta on it.
        "pki-publish-base-crls": {
            "task": "pki.publish_base_crls",
            "schedule": crontab(hour=1, minute=15),
        },
        # Fresh deltas (nextUpdate 1 hour) so that one never expires; revocations also publish one at once.
        "pki-refresh-deltas": {
            "task": "pki.refresh_deltas",
            "schedule": 1800.0,
            "options": {"expires": 1800},
        },
        # The audit log's checkpoint of the day (its head, signed by the audit key), served under /pki/audit/.
        "pki-audit-checkpoint": {
            "task": "pki.audit_checkpoint",
            "schedule": crontab(hour=23, minute=55),
        },
    }
)

# --- ecps ---
app.conf.beat_schedule.update(
    {
        # Back-channel logout tokens whose delivery failed, sent again (each logout is also sent at once).
        "ecps-backchannel-logout-sweep": {
            "task": "ecps.backchannel_logout_sweep",
            "schedule": 300.0,
            "options": {"expires": 300},
        },
    }
)

# --- approvals ---
app.conf.beat_schedule.update(
    {
        # Pending two-person approvals past their expiry → expired (deciding one also expires it at once).
        "approvals-expire-overdue": {
            "task": "approvals.expire_overdue",
            "schedule": 900.0,
            "options": {"expires": 900},
        },
    }
)
