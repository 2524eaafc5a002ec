"""Tasks sent by name: how a lower layer tells an upper one without importing it.

The task is asked for once the transaction commits (never for a change that rolls back). Under
``CELERY_TASK_ALWAYS_EAGER`` (development, some tests) it runs here and now, like any eager task.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings


def send_task(name: str, *args: Any, **options: Any) -> None:
    """Run the task registered as ``name`` with ``args``: sent to the broker, or run in place if eager."""
    app = current_app
    if app.conf.task_always_eager:
        if name not in app.tasks:  # outside a worker the apps' tasks modules are imported on first need
            app.loader.import_default_modules()
        app.tasks[name].apply_async(args=args, **options)  # eager: runs here, as apply_async would
        return
    app.send_task(name, args=args, **options)


def run_signing_task(name: str, *args: Any) -> Any:
    """Hand work to the signing service (its queue, settings.CPX_SIGNING_QUEUE): the only process given the
    CA token's PIN. With ``CPX_SIGNING_INLINE`` (tests, single-process tools; refused by ``check --deploy``)
    the task runs here and now and its result is returned; otherwise it is sent and None is returned."""
    app = current_app
    if settings.CPX_SIGNING_INLINE:
        if name not in app.tasks:
            app.loader.import_default_modules()
        # Inside a worker's task too: the inline task is run here, not waited for over the broker.
        return app.tasks[name].apply(args=args, throw=True).get(disable_sync_subtasks=False)
    app.send_task(name, args=args, queue=settings.CPX_SIGNING_QUEUE)
    return None
