"""Two rows of the same person (national identifier) must say the same identity: a later row that names them
otherwise is rejected, not silently ignored (the first row is the one imported)."""

import pytest

from registry.models import Activity, Professional
from registry.services import registry_import

from .conftest import DOCTOR, read_report, sample_row, sample_rows

pytestmark = pytest.mark.django_db

RULE = "conflicting identity for the same national identifier"


def test_a_later_row_with_another_name_is_rejected(write_extraction, tmp_path):
    report = tmp_path / "rejects.csv"
    first = sample_row(0)
    rows = [first, sample_row(1, last_name="AUTRENOM"), *sample_rows()[2:]]
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert (result.imported, result.rejected) == (3, 1)
    [reject] = read_report(report)
    assert (reject["line"], reject["identifier"], reject["column"]) == ("3", DOCTOR, "8 Nom d'exercice")
    assert reject["rule"].startswith(RULE)
    assert f"line 2 has {first[7]} {first[8]}" in reject["rule"]
    assert reject["value"] == f"AUTRENOM {first[8]}"
    doctor = Professional.objects.get(national_id=DOCTOR)
    assert doctor.last_name == first[7]
    assert Activity.objects.filter(exercise__professional=doctor).count() == 1


@pytest.mark.parametrize(
    ("changes", "column"),
    [({"first_name": "AUTRE"}, "9 Prénom d'exercice"), ({"civility_code": "M"}, "6 Code civilité")],
)
def test_another_first_name_or_civility_conflicts_too(write_extraction, tmp_path, changes, column):
    report = tmp_path / "rejects.csv"
    rows = [sample_row(0), sample_row(1, **changes), *sample_rows()[2:]]
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert result.rejected == 1
    [reject] = read_report(report)
    assert (reject["line"], reject["column"]) == ("3", column) and reject["rule"].startswith(RULE)


def test_the_same_identity_written_with_extra_spaces_is_no_conflict(write_extraction):
    first = sample_row(0)
    rows = [first, sample_row(1, last_name=f" {first[7]}  "), *sample_rows()[2:]]
    assert registry_import(path=write_extraction(rows)).rejected == 0
