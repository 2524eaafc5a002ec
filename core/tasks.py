"""Tasks sent by name: how a lower layer tells an upper one without importing it.

The task is asked for once the transaction commits (never for a change that rolls back). Under
``CELERY_TASK_ALWAYS_EAGER`` (development, some tests) it runs here and now, like any eager task.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def send_task(name: str, *args: Any, **options: Any) -> None:
    """Run the task registered as ``name`` with ``args``: sent to the broker, or run in place if eager."""
    app = current_app
    if app.conf.task_always_eager:
        if name not in app.tasks:  # outside a worker the apps' tasks modules are imported on first need
            app.loader.import_default_modules()
        app.tasks[name].apply_async(args=args, **options)  # eager: runs here, as apply_async would
        return
    app.send_task(name, args=args, **options)
