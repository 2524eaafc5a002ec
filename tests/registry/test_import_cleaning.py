"""Values are cleaned at staging: NFC-normalised, trimmed, whitespace-like characters (tab, form feed, lone
CR, NEL, U+2028, no-break space...) turned into one space; another control character rejects a row when it is
in a name (printed on the card) and is removed elsewhere."""

import pytest

from registry.models import Professional, Structure
from registry.services import registry_import

from .conftest import DOCTOR, NURSE, read_report, sample_row, sample_rows

pytestmark = pytest.mark.django_db


def test_names_and_texts_are_normalised_trimmed_and_collapsed(write_extraction):
    rows = sample_rows()
    rows[0] = sample_row(
        0,
        last_name="  ESPACE\t",
        first_name="ME\u0301LANIE \u2028 \x85JEANNE\r",
        name="CABINET\x0c  MEDICAL ",
    )
    rows[1] = sample_row(1, last_name="  ESPACE\t", first_name="ME\u0301LANIE \u2028 \x85JEANNE\r")
    rows[2] = sample_row(2, commune="PARIS\x07 15E", trade_name="\xa0LA\u00a0PHARMACIE\u3000")
    result = registry_import(path=write_extraction(rows))
    assert (result.imported, result.rejected) == (4, 0)
    doctor = Professional.objects.get(national_id=DOCTOR)
    assert (doctor.last_name, doctor.first_name) == ("ESPACE", "MÉLANIE JEANNE")
    assert doctor.first_name == "M\u00c9LANIE JEANNE"  # composed (NFC)
    assert Structure.objects.filter(name="CABINET MEDICAL").exists()
    nurse_structure = Structure.objects.get(technical_id=rows[2][23])
    assert (nurse_structure.commune, nurse_structure.trade_name) == ("PARIS 15E", "LA PHARMACIE")


def test_the_same_name_written_two_ways_is_one_name(write_extraction):
    registry_import(path=write_extraction([sample_row(2, first_name="M\u00c9LANIE")]))
    result = registry_import(path=write_extraction([sample_row(2, first_name=" ME\u0301LANIE ")]))
    assert (result.updated, result.unchanged) == (0, 1)


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("last_name", "DUP\x07ONT", "0007"),
        ("first_name", "JE\u200bAN", "200B"),
        ("name", "CABINET\x1bX", "001B"),
        ("trade_name", "\ufeffENSEIGNE", "FEFF"),
    ],
)
def test_a_control_character_in_a_name_rejects_the_row(write_extraction, tmp_path, column, value, code):
    report = tmp_path / "rejects.csv"
    rows = sample_rows()
    rows[2] = sample_row(2, **{column: value})
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert (result.imported, result.rejected) == (3, 1)
    [reject] = read_report(report)
    labels = {"last_name": "8 Nom d'exercice", "first_name": "9 Prénom d'exercice"}
    labels |= {"name": "25 Raison sociale site", "trade_name": "26 Enseigne commerciale site"}
    assert (reject["line"], reject["identifier"], reject["column"]) == ("4", NURSE, labels[column])
    assert reject["rule"] == f"control character U+{code} in a name (not allowed)"
    assert f"<U+{code}>" in reject["value"]
    assert not Professional.objects.filter(national_id=NURSE).exists()
