"""Counting columns: rows may end with a ``|`` terminator or not, whatever the header does; a row of 55 or 57
columns is rejected with its true count either way, and a row of 56 is imported."""

import pytest

from registry.services import registry_import

from .conftest import HEADER, read_report, sample_rows

pytestmark = pytest.mark.django_db

GENRE = {"genre_code": "GENR01", "genre": "Activité standard"}  # rows ending with a value: unambiguous


def good_rows() -> list[list[str]]:
    rows = sample_rows()
    for row in rows:
        row[-2:] = [GENRE["genre_code"], GENRE["genre"]]
    return rows


def with_width(width: int) -> list[str]:
    row = good_rows()[2]
    if width < 56:
        return row[: 30 - (56 - width)] + row[30:]  # columns lost in the middle
    return row[:30] + ["EXTRA"] * (width - 56) + row[30:]


def write(tmp_path, rows, *, header_pipe: bool, row_pipe: bool):
    header = HEADER if header_pipe else HEADER.rstrip("|")
    end = "|" if row_pipe else ""
    path = tmp_path / "PS_LibreAcces_Personne_activite_columns.txt"
    path.write_text("\n".join([header, *("|".join(row) + end for row in rows)]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header_pipe", [True, False], ids=["header|", "header"])
@pytest.mark.parametrize("row_pipe", [True, False], ids=["rows|", "rows"])
def test_55_56_and_57_columns_are_counted_right(tmp_path, header_pipe, row_pipe):
    rows = good_rows()
    rows = [rows[0], with_width(55), *rows[1:], with_width(57), with_width(54), with_width(58)]
    report = tmp_path / "rejects.csv"
    path = write(tmp_path, rows, header_pipe=header_pipe, row_pipe=row_pipe)
    result = registry_import(path=path, reject_report=report)
    assert (result.rows, result.imported, result.rejected) == (8, 4, 4)
    rules = {r["line"]: r["rule"] for r in read_report(report)}
    assert rules == {
        "3": "the row has 55 columns, expected 56",
        "7": "the row has 57 columns, expected 56",
        "8": "the row has 54 columns, expected 56",
        "9": "the row has 58 columns, expected 56",
    }


@pytest.mark.parametrize("header_pipe", [True, False], ids=["header|", "header"])
def test_rows_may_differ_from_each_other(tmp_path, header_pipe):
    """A terminated file where one row lost its terminator, and the other way round."""
    rows = good_rows()
    header = HEADER if header_pipe else HEADER.rstrip("|")
    lines = ["|".join(rows[0]) + "|", "|".join(rows[1]), "|".join(rows[2]) + "|", "|".join(rows[3])]
    path = tmp_path / "PS_LibreAcces_Personne_activite_mixed.txt"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    result = registry_import(path=path)
    assert (result.imported, result.rejected) == (4, 0)


@pytest.mark.parametrize("header_pipe", [True, False], ids=["header|", "header"])
def test_rows_ending_with_an_empty_column_follow_the_files_convention(tmp_path, header_pipe):
    """The sample's rows end with empty columns, so a final ``|`` is a terminator or an empty 56th column:
    what the file's other rows (or, until a row shows it, its header) do decides."""
    rows = sample_rows()  # their last columns are empty
    terminated = write(tmp_path, rows, header_pipe=header_pipe, row_pipe=True)
    assert registry_import(path=terminated).rejected == 0
    plain = write(tmp_path, [good_rows()[0], *rows], header_pipe=header_pipe, row_pipe=False)
    result = registry_import(path=plain)  # a first row ending with a value: rows are not terminated
    assert result.rejected == 1  # the doctor's first activity twice (a duplicate), no column count problem
