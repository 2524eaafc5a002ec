"""Building extraction files for the import tests: the shared sample, and rows derived from it."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.extraction import NAMES
from registry.models import Activity, Exercise, Professional, Structure

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "PS_LibreAcces_Personne_activite_sample.txt"
CORRESPONDENCE = DATA / "Correspondance_ADELI_RPPS_sample.csv"
SAMPLE_LINES = SAMPLE.read_text(encoding="utf-8").splitlines()
HEADER = SAMPLE_LINES[0]

# The sample's people: a doctor with two activities (lines 2-3), a nurse (4), an ADELI optician (5).
DOCTOR, NURSE, OPTICIAN = "810657934674", "810762566684", "0137016648"


def sample_row(index: int = 0, **changes: str) -> list[str]:
    """Data row ``index`` of the sample (0 = the doctor's first), as 56 fields, with some columns changed."""
    fields = SAMPLE_LINES[index + 1].split("|")[:56]
    for name, value in changes.items():
        fields[NAMES.index(name)] = value
    return fields


def sample_rows() -> list[list[str]]:
    return [sample_row(index) for index in range(len(SAMPLE_LINES) - 1)]


def extraction_text(rows: list[list[str]], *, header: str = HEADER, trailing_pipe: bool = True) -> str:
    end = "|" if trailing_pipe else ""
    return "\n".join([header, *("|".join(row) + end for row in rows)]) + "\n"


@pytest.fixture
def write_extraction(tmp_path: Path) -> Callable[..., Path]:
    """Write rows as an extraction file; returns its path."""
    counter = iter(range(1000))

    def write(
        rows: list[list[str]] | None = None,
        *,
        encoding: str = "utf-8",
        newline: str = "\n",
        trailing_pipe: bool = True,
        header: str = HEADER,
    ) -> Path:
        text = extraction_text(
            sample_rows() if rows is None else rows, header=header, trailing_pipe=trailing_pipe
        )
        path = tmp_path / f"PS_LibreAcces_Personne_activite_{next(counter)}.txt"
        path.write_bytes(text.replace("\n", newline).encode(encoding))
        return path

    return write


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def registry_snapshot() -> dict[str, list[tuple]]:
    """Everything the import writes, to prove a refused file changed nothing."""
    return {
        "professionals": list(Professional.objects.order_by("id").values_list()),
        "exercises": list(Exercise.objects.order_by("id").values_list()),
        "activities": list(Activity.objects.order_by("id").values_list()),
        "structures": list(Structure.objects.order_by("id").values_list()),
    }


@pytest.fixture(autouse=True)
def _rules_in_english():
    """The reject report and refusals are written in the language of the import (French by default); these
    tests read the rules in their English msgids (tests/registry/test_import_rules_french.py reads them
    in French)."""
    from django.utils import translation

    with translation.override("en"):
        yield
