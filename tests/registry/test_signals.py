"""What the registry tells the layers above once an extraction is merged (registry.signals): the temporary
tables a receiver reads, inside the import's transaction."""

from contextlib import contextmanager

import pytest

from registry.models import Exercise, Professional, Structure
from registry.services import registry_import
from registry.signals import extraction_merged

from .conftest import DOCTOR, OPTICIAN, SAMPLE, sample_row, sample_rows

pytestmark = pytest.mark.django_db

TABLES = {
    "new": "SELECT exercise_id, professional_id FROM import_new_exercises ORDER BY 1",
    "touched": "SELECT exercise_id FROM import_touched_exercises ORDER BY 1",
    "structures": "SELECT technical_id FROM import_changed_structures ORDER BY 1",
    "struck_off": "SELECT professional_id FROM import_struck_off ORDER BY 1",
    "people": "SELECT count(*) FROM import_person_ids",
}


@contextmanager
def listening():
    seen: list[dict] = []

    def receiver(sender, cursor, run_id, full, file_name, **kwargs):
        got = {"run_id": run_id, "full": full, "file_name": file_name}
        for name, sql in TABLES.items():
            cursor.execute(sql)
            got[name] = [row if len(row) > 1 else row[0] for row in cursor.fetchall()]
        seen.append(got)

    extraction_merged.connect(receiver, dispatch_uid="test-signals")
    try:
        yield seen
    finally:
        extraction_merged.disconnect(dispatch_uid="test-signals")


def test_a_first_import_lists_every_exercise_as_new():
    with listening() as seen:
        registry_import(path=SAMPLE)
    (got,) = seen
    exercises = Exercise.objects.order_by("pk")
    assert got["new"] == [(e.pk, e.professional_id) for e in exercises]
    assert got["file_name"] == SAMPLE.name and got["full"] is False and got["struck_off"] == []
    assert got["people"] == [Professional.objects.count()]


def test_an_unchanged_file_touches_nothing():
    registry_import(path=SAMPLE)
    with listening() as seen:
        registry_import(path=SAMPLE)
    assert (seen[0]["new"], seen[0]["touched"], seen[0]["structures"]) == ([], [], [])


def test_a_changed_structure_touches_the_exercises_working_there(write_extraction):
    registry_import(path=SAMPLE)
    rows = sample_rows()
    technical_id = rows[2][23]
    assert Structure.objects.filter(technical_id=technical_id).exists()
    rows[2] = sample_row(2, name="CLINIQUE RENOMMEE")
    with listening() as seen:
        registry_import(path=write_extraction(rows))
    exercise = Exercise.objects.get(professional__national_id=rows[2][2])
    assert exercise.pk in seen[0]["touched"] and seen[0]["new"] == []


def test_a_full_import_lists_who_it_struck_off(write_extraction, settings):
    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    registry_import(path=SAMPLE)
    rows = [row for row in sample_rows() if row[2] != OPTICIAN]
    with listening() as seen:
        registry_import(path=write_extraction(rows), full=True)
    optician = Professional.objects.get(national_id=OPTICIAN)
    assert seen[0]["struck_off"] == [optician.pk] and not optician.is_active
    doctor = Exercise.objects.get(professional__national_id=DOCTOR)
    assert doctor.pk not in seen[0]["touched"]
