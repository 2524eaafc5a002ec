"""The reject report and the refusals speak French: an import runs in the platform's language (LANGUAGE_CODE,
French), the line and the column of each reject still named. The other import tests read the English msgids
(tests/registry/conftest.py); this one reads what ANS's operators read."""

import pytest
from django.utils import translation

from registry.identifiers import luhn_complete
from registry.services import registry_import
from registry.textfile import FileRefused

from .conftest import read_report, sample_row, sample_rows

pytestmark = pytest.mark.django_db

RPPS = luhn_complete("1000000001")


@pytest.fixture(autouse=True)
def _in_french(_rules_in_english):
    with translation.override("fr"):
        yield


def person(**changes):
    return sample_row(2, **{"identifier": RPPS, "national_id": "8" + RPPS, **changes})


def test_the_rules_of_the_reject_report_are_in_french(write_extraction, tmp_path):
    report = tmp_path / "rejets.csv"
    bad_key = RPPS[:-1] + str((int(RPPS[-1]) + 1) % 10)
    rows = [
        *sample_rows(),  # lines 2-5
        person(identifier=bad_key, national_id="8" + bad_key),  # 6
        person(profession_code="99"),  # 7
        person()[:50],  # 8
        person(postcode="750120000000"),  # 9
        sample_row(2, genre="AUTRE"),  # 10: the nurse's activity of line 4 again
    ]
    result = registry_import(path=write_extraction(rows), reject_report=report)
    assert result.rejected == 5
    rejects = {r["line"]: (r["column"], r["rule"]) for r in read_report(report)}
    assert rejects == {
        "6": ("2 Identifiant PP", "clé de contrôle (Luhn) du RPPS fausse (type d'identifiant 8)"),
        "7": ("10 Code profession", "code profession inconnu (TRE_G15)"),
        "8": ("", "la ligne a 50 colonnes au lieu de 56"),
        "9": ("36 Code postal (coord. structure)", "plus de 10 caractères"),
        "10": (
            "18 Code mode exercice + 24 Identifiant technique de la structure",
            "activité en double : même personne, même profession, même mode et même structure "
            "qu'à la ligne 4",
        ),
    }


def test_a_refused_file_says_why_in_french(write_extraction, tmp_path):
    empty = tmp_path / "vide.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(FileRefused, match="le fichier est vide"):
        registry_import(path=empty, reject_report=tmp_path / "rejets.csv")
