"""The shared sample files import as the README describes them, through the command and the service."""

from io import StringIO

import pytest
from django.core.management import call_command

from registry.models import Activity, Exercise, Professional, RegistryImport, Structure
from registry.services import registry_import

from .conftest import DOCTOR, NURSE, OPTICIAN, SAMPLE

pytestmark = pytest.mark.django_db


def test_it_imports_the_shared_sample_with_the_command(tmp_path):
    out = StringIO()
    call_command("import_registry", str(SAMPLE), reject_report=str(tmp_path / "r.csv"), stdout=out)
    assert out.getvalue().startswith("imported 4, updated 0, unchanged 0, rejected 0; reject report: ")
    assert Professional.objects.count() == 3
    assert Activity.objects.count() == 4
    assert Structure.objects.count() == 4


def test_it_fills_the_professional_exercise_activity_and_structure():
    registry_import(path=SAMPLE)
    doctor = Professional.objects.get(national_id=DOCTOR)
    assert (doctor.id_type, doctor.rpps, doctor.adeli) == ("8", "10657934674", None)
    assert (doctor.last_name, doctor.first_name, doctor.civility, doctor.exercise_civility) == (
        "MARTIN",
        "Claire",
        "Madame",
        "Docteur",
    )
    exercise = Exercise.objects.get(professional=doctor)
    assert (exercise.profession_id, exercise.category_id, exercise.skill_id) == ("10", "C", "SM26")
    activities = Activity.objects.filter(exercise=exercise).order_by("mode_id")
    assert [a.activity_key for a in activities] == ["L|R14987821009943", "S|R42524718501181"]
    salaried = activities[1].structure
    assert (salaried.siret, salaried.siren, salaried.finess_site) == (
        "76674654136465",
        "766746541",
        "694365800",
    )
    assert (salaried.postcode, salaried.commune, salaried.street_name) == ("69003", "LYON", "de la Paix")
    assert activities[0].registration_authority == "CNOM/CNOM/CNOM"


def test_it_reads_the_adeli_optician_and_the_nurse():
    registry_import(path=SAMPLE)
    optician = Professional.objects.get(national_id=OPTICIAN)
    assert (optician.id_type, optician.adeli, optician.rpps, optician.first_name) == (
        "0",
        "137016648",
        None,
        "Amélie",
    )
    assert Exercise.objects.get(professional=optician).profession_id == "28"
    assert Exercise.objects.get(professional__national_id=NURSE).profession_id == "60"


def test_it_records_the_run():
    result = registry_import(path=SAMPLE)
    run = RegistryImport.objects.get()
    assert run.status == RegistryImport.Status.DONE
    assert (run.rows_read, run.imported, run.rejected, run.encoding) == (4, 4, 0, "utf-8")
    assert run.file_sha256 == result.sha256 and len(run.file_sha256) == 64
    assert run.finished_at is not None
    assert result.reject_report is None and run.reject_report == ""


def test_it_writes_the_report_where_asked_even_when_empty(tmp_path):
    report = tmp_path / "sub" / "rejects.csv"
    result = registry_import(path=SAMPLE, reject_report=report)
    assert result.reject_report == report
    assert report.read_text().splitlines() == ["line,identifier,column,rule,value"]
