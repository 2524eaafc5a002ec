"""Re-imports: the same file changes nothing; a newer file updates, adds, and (``--full``) deactivates."""

from io import StringIO

import pytest
from django.core.management import call_command

from registry.models import Activity, Exercise, Professional, Structure
from registry.services import registry_import
from tests.approvals.helpers import forced_import_approval

from .conftest import DOCTOR, NURSE, OPTICIAN, registry_snapshot, sample_row, sample_rows

pytestmark = pytest.mark.django_db


def counts(result):
    return (result.imported, result.updated, result.unchanged, result.rejected)


def test_a_second_import_of_the_same_file_changes_nothing_and_says_so(write_extraction):
    path = write_extraction()
    registry_import(path=path)
    before = registry_snapshot()
    out = StringIO()
    call_command("import_registry", str(path), stdout=out)
    assert out.getvalue().startswith("imported 0, updated 0, unchanged 4, rejected 0")
    assert registry_snapshot() == before  # not even updated_at moved


def test_a_changed_name_updates_every_row_of_that_person(write_extraction):
    registry_import(path=write_extraction())
    rows = sample_rows()
    rows[0][7] = rows[1][7] = "MARTIN-DURAND"
    result = registry_import(path=write_extraction(rows))
    assert counts(result) == (0, 2, 2, 0)
    assert Professional.objects.get(national_id=DOCTOR).last_name == "MARTIN-DURAND"


def test_a_changed_structure_updates_the_rows_that_use_it(write_extraction):
    registry_import(path=write_extraction())
    rows = sample_rows()
    rows[2][NAME] = "CABINET BERNARD ET ASSOCIES"
    assert counts(registry_import(path=write_extraction(rows))) == (0, 1, 3, 0)
    assert Structure.objects.get(technical_id="R37679740135072").name == "CABINET BERNARD ET ASSOCIES"


NAME = 24  # column 25, Raison sociale site


def test_a_new_activity_is_imported_and_the_others_unchanged(write_extraction):
    registry_import(path=write_extraction())
    new = sample_row(2, mode_code="S", mode_label="Salarié", technical_id="R10100000240453")
    result = registry_import(path=write_extraction([*sample_rows(), new]))
    assert counts(result) == (1, 0, 4, 0)
    assert Activity.objects.filter(exercise__professional__national_id=NURSE).count() == 2


def test_without_full_nobody_is_deactivated(write_extraction):
    registry_import(path=write_extraction())
    result = registry_import(path=write_extraction(sample_rows()[:2]))
    assert result.deactivated == 0
    assert Professional.objects.filter(is_active=False).count() == 0


def test_full_deactivates_who_is_gone_and_keeps_their_rows(write_extraction):
    registry_import(path=write_extraction())
    out = StringIO()
    path = write_extraction(sample_rows()[:3])  # the optician is gone
    approval = forced_import_approval(path)
    call_command("import_registry", str(path), full=True, force=True, approval=approval, stdout=out)
    assert "unchanged 3" in out.getvalue() and "deactivated 1" in out.getvalue()
    optician = Professional.objects.get(national_id=OPTICIAN)
    assert not optician.is_active and optician.deactivated_at is not None
    assert path.name in optician.deactivation_reason
    assert not Exercise.objects.get(professional=optician).is_active
    assert not Activity.objects.get(exercise__professional=optician).is_active
    assert Professional.objects.filter(is_active=True).count() == 2


def test_full_deactivates_an_activity_no_longer_listed(write_extraction):
    registry_import(path=write_extraction())
    registry_import(path=write_extraction([sample_row(0), *sample_rows()[2:]]), full=True)
    doctor_activities = Activity.objects.filter(exercise__professional__national_id=DOCTOR)
    assert sorted(doctor_activities.values_list("activity_key", "is_active")) == [
        ("L|R14987821009943", True),
        ("S|R42524718501181", False),
    ]
    assert Professional.objects.get(national_id=DOCTOR).is_active


def test_a_person_who_comes_back_is_reactivated(write_extraction):
    registry_import(path=write_extraction())
    path = write_extraction(sample_rows()[:3])
    registry_import(path=path, full=True, force=True, approval_id=forced_import_approval(path))
    result = registry_import(path=write_extraction(), full=True)
    assert counts(result) == (0, 1, 3, 0)
    optician = Professional.objects.get(national_id=OPTICIAN)
    assert optician.is_active and optician.deactivated_at is None and optician.deactivation_reason == ""
    assert Activity.objects.get(exercise__professional=optician).is_active


def test_full_keeps_a_person_whose_row_was_rejected(write_extraction):
    registry_import(path=write_extraction())
    rows = sample_rows()
    rows[3][9] = "99"  # the optician's only row is now bad: that says nothing about whether they left
    result = registry_import(path=write_extraction(rows), full=True)
    assert (result.rejected, result.deactivated) == (1, 0)
    assert Professional.objects.get(national_id=OPTICIAN).is_active


def index_definitions():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename IN "
            "('registry_professional', 'registry_exercise', 'registry_activity', 'registry_structure') "
            "ORDER BY indexdef"
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_first_load_rebuilds_every_index_it_set_aside(write_extraction):
    before = index_definitions()
    registry_import(path=write_extraction())  # empty registry: the bulk path
    assert index_definitions() == before
    assert counts(registry_import(path=write_extraction())) == (0, 0, 4, 0)
    assert index_definitions() == before
