"""An import's progress is published on a connection of its own: visible while its transaction is open."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from registry import importer, progress, tasks
from registry.models import RegistryImport

pytestmark = pytest.mark.django_db(transaction=True)


def test_progress_written_inside_a_transaction_is_seen_outside_it():
    record = RegistryImport.objects.create(file_name="/x/PS.txt")
    publisher = progress.ImportProgress(record.pk, min_interval=0)
    with transaction.atomic():
        publisher(1234)
        # Another transaction's committed write: seen here only because it was not written in this one.
        assert RegistryImport.objects.get(pk=record.pk).rows_read == 1234
        transaction.set_rollback(True)
    publisher.close()
    assert RegistryImport.objects.get(pk=record.pk).rows_read == 1234


def test_the_rate_is_bounded():
    record = RegistryImport.objects.create(file_name="/x/PS.txt")
    publisher = progress.ImportProgress(record.pk, min_interval=60)
    for rows in range(0, 10_000, 500):
        publisher(rows)
    publisher.close()
    assert publisher.writes == 1


def test_the_task_publishes_the_rows_read_while_importing(tmp_path, settings, monkeypatch):
    settings.VAR_DIR = tmp_path / "var"
    settings.CPX_REJECT_DIR = tmp_path / "var" / "rejects"
    path = tmp_path / "PS_LibreAcces_Personne_activite_p.txt"
    call_command("make_registry_sample", rows=30, out=str(path), seed=5, bad_share=0, stdout=io.StringIO())
    record = RegistryImport.objects.create(file_name=str(path), file_sha256="x")
    seen: list[int] = []
    publish = progress.ImportProgress.publish

    def spy(self, rows):
        seen.append(rows)
        publish(self, rows)

    monkeypatch.setattr(importer, "ROWS_STEP", 10)
    monkeypatch.setattr(progress, "MIN_INTERVAL", 0)
    monkeypatch.setattr(progress.ImportProgress, "publish", spy)
    tasks.import_upload.apply(args=[record.pk]).get()
    assert seen[:3] == [10, 20, 30]
    record.refresh_from_db()
    assert record.status == RegistryImport.Status.DONE and record.rows_read >= 30
