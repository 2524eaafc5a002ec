"""Celery tasks of the registry: thin, taking ids (config/celery.py discovers them here)."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, connection

from . import services
from .models import RegistryImport
from .progress import import_progress_published

# A lost database connection (a server restart) is retried this often, this far apart (about a minute).
RECONNECT_RETRIES = 12
RECONNECT_PAUSE = 5  # seconds


@shared_task(name="registry.import_upload", bind=True, acks_late=True, max_retries=RECONNECT_RETRIES)
def import_upload(self: Task, import_id: int, approval_id: int | None = None) -> str:
    """Import an upload of the API (``registry.services.registry_upload_import``; with ``approval_id``, a
    forced full import approved for the file). A lost database connection runs the whole import again once
    the database answers: its transaction was rolled back (the approval with it)."""
    try:
        # Read inside the try: after a database restart the first query is the one that fails.
        record = RegistryImport.objects.filter(pk=import_id).first()
        if record is None:
            return "nothing to do"
        with import_progress_published(record.pk):  # the rows read, for the back-office page
            return services.registry_upload_import(record=record, approval_id=approval_id)
    except (OperationalError, InterfaceError) as exc:
        connection.close()  # the broken connection: the retry opens a new one
        raise self.retry(exc=exc, countdown=RECONNECT_PAUSE) from exc
