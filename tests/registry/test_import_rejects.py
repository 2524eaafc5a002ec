"""Bad rows never stop a good import and never enter the registry: each is in the reject report with its line,
identifier, column and the rule broken."""

import pytest

from registry.identifiers import luhn_complete
from registry.models import Activity, Professional
from registry.services import registry_import

from .conftest import DOCTOR, NURSE, read_report, sample_row, sample_rows

pytestmark = pytest.mark.django_db

RPPS = luhn_complete("1000000001")
ADELI = luhn_complete("75600012")


def person(rpps=RPPS, **changes):
    """A new RPPS nurse (the sample's nurse with another number), with some columns changed."""
    return sample_row(2, **{"identifier": rpps, "national_id": "8" + rpps, **changes})


def bad_key(number):
    return number[:-1] + str((int(number[-1]) + 1) % 10)


CASES = [
    # (id, row, column, words of the rule)
    ("bad RPPS key", person(bad_key(RPPS)), "2 Identifiant PP", "RPPS check digit (Luhn) is wrong"),
    (
        "bad ADELI key",
        sample_row(3, identifier=bad_key(ADELI), national_id="0" + bad_key(ADELI)),
        "2 Identifiant PP",
        "ADELI check digit (Luhn) is wrong",
    ),
    ("RPPS number said to be ADELI", person(id_type="0"), "2 Identifiant PP", "ADELI must have 9 digits"),
    (
        "unknown identifier type",
        person(id_type="5"),
        "1 Type d'identifiant PP",
        "must be 8 (RPPS) or 0 (ADELI)",
    ),
    (
        "national id of another type",
        person(national_id="0" + RPPS),
        "3 Identification nationale PP",
        "does not match the national identifier's type digit",
    ),
    (
        "national id of another number",
        person(national_id="8" + luhn_complete("1000000002")),
        "3 Identification nationale PP",
        "identifier does not match the national identifier",
    ),
    ("unknown profession", person(profession_code="99"), "10 Code profession", "unknown profession code"),
    ("unknown category", person(category_code="Z"), "12 Code catégorie professionnelle", "unknown"),
    ("unknown mode", person(mode_code="X"), "18 Code mode exercice", "unknown mode of exercise"),
    ("missing name", person(last_name=""), "8 Nom d'exercice", "the name is missing"),
    (
        "bad SIRET key",
        person(siret=bad_key("77220148900022"), siren="772201489"),
        "20 Numéro SIRET site",
        "SIRET check digit",
    ),
    ("bad SIREN key", person(siren=bad_key("772201489")), "21 Numéro SIREN site", "SIREN check digit"),
    (
        "SIREN of another SIRET",
        person(siret="77220148900022", siren="010780195"),
        "21 Numéro SIREN site",
        "first 9 digits of the SIRET",
    ),
    (
        "bad FINESS key",
        person(finess_site=bad_key("010780195")),
        "22 Numéro FINESS site",
        "FINESS check digit",
    ),
    (
        "bad legal FINESS",
        person(finess_legal="01078019"),
        "23 Numéro FINESS établissement juridique",
        "FINESS must have 9 digits",
    ),
    ("too long", person(postcode="750120000000"), "36 Code postal (coord. structure)", "longer than 10"),
]


@pytest.mark.parametrize(("row", "column", "rule"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_it_rejects_a_bad_row_and_imports_the_rest(write_extraction, tmp_path, row, column, rule):
    report = tmp_path / "rejects.csv"
    result = registry_import(path=write_extraction([*sample_rows(), row]), reject_report=report)
    assert (result.imported, result.rejected) == (4, 1)
    [reject] = read_report(report)
    assert (reject["line"], reject["identifier"], reject["column"]) == ("6", row[2], column)
    assert rule in reject["rule"]
    assert Professional.objects.count() == 3  # the bad row's person never entered


def test_it_rejects_a_row_with_the_wrong_number_of_columns(write_extraction, tmp_path):
    report = tmp_path / "rejects.csv"
    short = person()[:50]
    result = registry_import(path=write_extraction([short, *sample_rows()]), reject_report=report)
    assert (result.imported, result.rejected) == (4, 1)
    [reject] = read_report(report)
    assert (reject["line"], reject["identifier"], reject["column"]) == ("2", "8" + RPPS, "")
    assert reject["rule"] == "the row has 50 columns, expected 56"  # its terminating "|" is no column


def test_it_rejects_a_duplicate_activity_and_keeps_the_first(write_extraction, tmp_path):
    report = tmp_path / "rejects.csv"
    rows = sample_rows()
    rows.insert(3, sample_row(2, genre="AUTRE"))  # line 5: the nurse's activity again
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert (result.imported, result.rejected) == (4, 1)
    [reject] = read_report(report)
    assert (reject["line"], reject["identifier"]) == ("5", NURSE)
    assert reject["rule"] == "duplicate activity: same person, profession, mode and structure as line 4"
    assert Professional.objects.get(national_id=NURSE).last_name == "BERNARD"
    assert Activity.objects.get(exercise__professional__national_id=NURSE).genre == sample_row(2)[55]


def test_the_report_lists_every_reject_in_file_order(write_extraction, tmp_path):
    report = tmp_path / "rejects.csv"
    rows = [person(profession_code="99"), *sample_rows(), sample_row(0), person()[:10]]
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert (result.imported, result.updated, result.unchanged, result.rejected, result.rows) == (
        4,
        0,
        0,
        3,
        7,
    )
    assert [r["line"] for r in read_report(report)] == ["2", "7", "8"]
    assert Professional.objects.filter(national_id=DOCTOR).count() == 1


def test_a_report_is_written_to_the_reject_directory_by_default(write_extraction, settings, tmp_path):
    settings.CPX_REJECT_DIR = tmp_path / "rejects"
    result = registry_import(path=write_extraction([*sample_rows(), person(profession_code="99")]))
    assert result.reject_report is not None and result.reject_report.parent == tmp_path / "rejects"
    assert len(read_report(result.reject_report)) == 1


def test_an_overlong_value_is_rejected_with_its_column_and_a_shortened_value(write_extraction, tmp_path):
    report = tmp_path / "rejects.csv"
    rows = [*sample_rows(), person(name="X" * 250, email="y" * 300)]
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert (result.imported, result.rejected) == (4, 1)
    [reject] = read_report(report)
    assert (reject["line"], reject["column"], reject["rule"]) == (
        "6",
        "25 Raison sociale site",
        "longer than 200 characters",
    )
    assert reject["value"] == "X" * 60
