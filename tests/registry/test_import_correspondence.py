"""The ADELI -> RPPS correspondence file: the person keeps their identity and history, gains their RPPS
number, and their orders move to their Ordre."""

from io import StringIO

import pytest
from django.core.management import call_command

from registry.identifiers import luhn_complete
from registry.models import Activity, Exercise, Professional, RegistryImport
from registry.routing import authority_for_exercise
from registry.services import registry_correspondence_import, registry_import

from .conftest import CORRESPONDENCE, DOCTOR, OPTICIAN, SAMPLE, read_report, sample_row, sample_rows

pytestmark = pytest.mark.django_db

ADELI_NURSE = luhn_complete("75600042")  # an infirmier still registered by ADELI
NEW_RPPS = luhn_complete("1000000555")


def nurse_by_adeli():
    return sample_row(3, identifier=ADELI_NURSE, national_id="0" + ADELI_NURSE, profession_code="60")


@pytest.fixture
def correspondence(tmp_path):
    def write(lines, header="N° ADELI;N° RPPS", encoding="utf-8"):
        path = tmp_path / "Correspondance_ADELI_RPPS.csv"
        path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode(encoding))
        return path

    return write


def test_the_shared_sample_moves_the_optician_to_rpps_keeping_the_same_person():
    registry_import(path=SAMPLE)
    before = Professional.objects.get(national_id=OPTICIAN)
    out = StringIO()
    call_command("import_registry", correspondence=str(CORRESPONDENCE), stdout=out)
    assert out.getvalue().startswith("imported 0, updated 1, unchanged 0, rejected 0")
    after = Professional.objects.get(pk=before.pk)
    assert (after.national_id, after.id_type, after.rpps, after.adeli) == (
        "810002718285",
        "8",
        "10002718285",
        "137016648",
    )
    assert Exercise.objects.filter(professional=after).count() == 1
    assert RegistryImport.objects.filter(kind="correspondence", status="done").count() == 1


def test_an_adeli_nurse_moves_from_ans_to_her_ordre(write_extraction, correspondence):
    registry_import(path=write_extraction([*sample_rows(), nurse_by_adeli()]))
    nurse = Professional.objects.get(national_id="0" + ADELI_NURSE)
    exercise = Exercise.objects.get(professional=nurse)
    assert authority_for_exercise(exercise, nurse).code == "ANS"
    result = registry_correspondence_import(
        path=correspondence([f"{ADELI_NURSE};{NEW_RPPS}"], encoding="cp1252")
    )
    assert (result.updated, result.rejected, result.encoding) == (1, 0, "iso-8859-1")
    nurse.refresh_from_db()
    assert nurse.national_id == "8" + NEW_RPPS
    assert authority_for_exercise(exercise, nurse).code == "ONI"


def test_applying_it_twice_changes_nothing(correspondence):
    registry_import(path=SAMPLE)
    path = correspondence(["137016648;10002718285"])
    registry_correspondence_import(path=path)
    result = registry_correspondence_import(path=path)
    assert (result.updated, result.unchanged) == (0, 1)


def test_a_later_adeli_extraction_still_finds_the_switched_person(write_extraction):
    registry_import(path=SAMPLE)
    registry_correspondence_import(path=CORRESPONDENCE)
    result = registry_import(path=write_extraction())  # the optician still listed by ADELI
    assert (result.imported, result.unchanged) == (0, 4)
    assert Professional.objects.count() == 3
    assert Activity.objects.filter(exercise__professional__rpps="10002718285").count() == 1


def test_bad_lines_are_rejected_into_the_report(write_extraction, correspondence, tmp_path):
    registry_import(path=write_extraction([*sample_rows(), nurse_by_adeli()]))
    unknown = luhn_complete("75600043")
    lines = [
        "137016640;10002718285",  # bad ADELI key
        "137016648;10002718280",  # bad RPPS key
        f"{unknown};{NEW_RPPS}",  # nobody has this ADELI
        "137016648;10002718285",  # the good line
        "137016648",  # one column
        "137016648;10002718285",  # the good line again
        f"{ADELI_NURSE};{DOCTOR[1:]}",  # the doctor's RPPS
    ]
    report = tmp_path / "rejects.csv"
    result = registry_correspondence_import(path=correspondence(lines), reject_report=report)
    assert (result.updated, result.unchanged, result.rejected) == (1, 0, 6)
    rejects = {r["line"]: (r["identifier"], r["column"], r["rule"]) for r in read_report(report)}
    assert rejects == {
        "2": ("137016640", "1 N° ADELI", "ADELI check digit (Luhn) is wrong"),
        "3": ("137016648", "2 N° RPPS", "RPPS check digit (Luhn) is wrong"),
        "4": (unknown, "1 N° ADELI", "unknown ADELI number: no professional in the registry has it"),
        "6": ("137016648", "", "the line has 1 columns, expected 2"),
        "7": ("137016648", "1 N° ADELI", "duplicate ADELI number: already on line 5"),
        "8": (ADELI_NURSE, "2 N° RPPS", f"RPPS number already belongs to professional {DOCTOR}"),
    }
    assert Professional.objects.get(adeli="137016648").rpps == "10002718285"
    assert Professional.objects.get(adeli=ADELI_NURSE).rpps is None


def test_it_refuses_a_file_that_is_not_a_correspondence(correspondence):
    from registry.textfile import FileRefused

    with pytest.raises(FileRefused, match="is not 'N° ADELI;N° RPPS'"):
        registry_correspondence_import(path=correspondence(["1;2"], header="ADELI|RPPS"))
    assert RegistryImport.objects.get().status == "refused"


def test_both_files_in_one_command_print_one_line(write_extraction):
    out = StringIO()
    call_command("import_registry", str(SAMPLE), correspondence=str(CORRESPONDENCE), stdout=out)
    assert out.getvalue().count("\n") == 1
    # The optician, new and listed by ADELI, is created at once under the RPPS number the correspondence
    # gives (one person, one professional): its line then finds nothing left to switch.
    assert out.getvalue().startswith("imported 4, updated 0, unchanged 1, rejected 0")
    optician = Professional.objects.get(adeli="137016648")
    assert (optician.national_id, optician.rpps) == ("810002718285", "10002718285")


def optician_by_rpps(**changes):
    return sample_row(3, id_type="8", identifier="10002718285", national_id="810002718285", **changes)


@pytest.mark.parametrize("full", [False, True])
def test_an_extraction_listing_a_person_under_their_new_rpps_with_the_correspondence_in_one_run(
    write_extraction, tmp_path, full
):
    registry_import(path=SAMPLE)  # the optician is registered by ADELI
    optician = Professional.objects.get(national_id=OPTICIAN)
    path = write_extraction([*sample_rows()[:3], optician_by_rpps(last_name="NOUVEAUNOM")])
    out = StringIO()
    report = tmp_path / "rejects.csv"
    call_command(
        "import_registry",
        str(path),
        correspondence=str(CORRESPONDENCE),
        full=full,
        reject_report=str(report),
        stdout=out,
    )
    assert out.getvalue().startswith("imported 0, updated 2, unchanged 3, rejected 0")
    assert "deactivated" not in out.getvalue()
    people = Professional.objects.filter(last_name__in=["NOUVEAUNOM", optician.last_name])
    assert list(people.values_list("pk", "national_id", "rpps", "adeli", "last_name", "is_active")) == [
        (optician.pk, "810002718285", "10002718285", "137016648", "NOUVEAUNOM", True)
    ]
    assert Professional.objects.count() == 3 and Professional.objects.filter(is_active=True).count() == 3
    assert Activity.objects.filter(exercise__professional=optician, is_active=True).count() == 1
    runs = RegistryImport.objects.filter(status="done").order_by("pk")
    assert [run.kind for run in runs] == ["extraction", "correspondence", "extraction"]


def test_one_run_is_all_or_nothing(write_extraction, correspondence):
    from registry.textfile import FileRefused

    registry_import(path=SAMPLE)
    path = write_extraction([*sample_rows()[:3], optician_by_rpps()], header="not|a|header")
    with pytest.raises(FileRefused):
        from registry.services import registry_import_with_correspondence

        registry_import_with_correspondence(path=path, correspondence=CORRESPONDENCE)
    optician = Professional.objects.get(national_id=OPTICIAN)
    assert optician.rpps is None  # the correspondence, applied first, was rolled back with the refusal
    runs = RegistryImport.objects.filter(status="refused").order_by("pk")
    assert [run.kind for run in runs] == ["correspondence", "extraction"]
    assert runs[0].error.startswith("not applied, the run was refused: ")
    assert "not a PS_LibreAcces" in runs[1].error and not runs[1].error.startswith("not applied")


def optician_by_adeli_and_rpps():
    """The same optician twice in one file: their ADELI line and their RPPS line (issue 16)."""
    by_adeli = [row for row in sample_rows() if row[1] == "137016648"]
    assert len(by_adeli) == 1
    return [by_adeli[0], optician_by_rpps()]


@pytest.mark.parametrize("known", [False, True])
def test_a_person_listed_under_adeli_and_rpps_in_one_extraction_stays_one_professional(
    write_extraction, known
):
    from registry.services import registry_import_with_correspondence

    if known:
        registry_import(path=SAMPLE)  # the optician is already registered by ADELI
    rows = [row for row in sample_rows() if row[1] != "137016648"]
    path = write_extraction([*rows, *optician_by_adeli_and_rpps()])
    registry_import_with_correspondence(path=path, correspondence=CORRESPONDENCE)
    people = Professional.objects.filter(adeli="137016648") | Professional.objects.filter(rpps="10002718285")
    assert list(people.values_list("national_id", "rpps", "adeli", "is_active")) == [
        ("810002718285", "10002718285", "137016648", True)
    ]
    assert Professional.objects.count() == 3
    optician = people.get()
    # One exercise (same profession under both numbers), its activity listed once.
    assert Exercise.objects.filter(professional=optician).count() == 1
    assert Activity.objects.filter(exercise__professional=optician, is_active=True).count() == 1
    # The next day's file lists them twice again: nothing changes, nobody is created.
    again = registry_import_with_correspondence(path=path, correspondence=CORRESPONDENCE)[1]
    assert again.imported == 0 and Professional.objects.count() == 3


def test_without_the_correspondence_the_two_numbers_are_two_registrations(write_extraction):
    rows = [row for row in sample_rows() if row[1] != "137016648"]
    registry_import(path=write_extraction([*rows, *optician_by_adeli_and_rpps()]))
    # Nothing in the file says the two numbers are one person: the registry keeps both as listed.
    assert Professional.objects.filter(national_id__in=[OPTICIAN, "810002718285"]).count() == 2


def test_a_switched_person_listed_under_both_numbers_later_stays_one_professional(write_extraction):
    registry_import(path=SAMPLE)
    registry_correspondence_import(path=CORRESPONDENCE)  # the optician gains their RPPS number
    rows = [row for row in sample_rows() if row[1] != "137016648"]
    path = write_extraction([*rows, *optician_by_adeli_and_rpps()])
    result = registry_import(path=path)  # no correspondence this time: the registry knows both numbers
    people = Professional.objects.filter(adeli="137016648") | Professional.objects.filter(rpps="10002718285")
    assert people.count() == 1 and Professional.objects.count() == 3
    assert Exercise.objects.filter(professional=people.get()).count() == 1
    assert result.rejected == 0
