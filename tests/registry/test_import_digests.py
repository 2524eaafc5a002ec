"""The daily import's shortcut (registry.digests): people whose rows did not change are not read again, and
the result is the one the full read gives: same registry, same counts, same reject report."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from django.db import connection, transaction

from registry import digests, importer
from registry.extraction import NAMES
from registry.models import (
    Activity,
    ExtractionDigest,
    ExtractionDigestState,
    Professional,
    Structure,
)
from registry.sample import registry_sample_write
from registry.services import registry_import

from .conftest import HEADER, NURSE, sample_rows

pytestmark = pytest.mark.django_db

NATIONAL_ID, LAST_NAME, PROFESSION, TECHNICAL_ID, PHONE = 2, 7, 9, 23, 43


def semantic_snapshot() -> dict[str, list[tuple]]:
    """The registry by natural keys (ids differ between two runs rolled back one after the other)."""
    people = sorted(
        Professional.objects.values_list(
            "national_id", "id_type", "rpps", "adeli", "exercise_civility_code", "exercise_civility",
            "civility_code", "civility", "last_name", "first_name", "is_active", "deactivation_reason",
        )
    )  # fmt: skip
    activities = sorted(
        Activity.objects.values_list(
            "exercise__professional__national_id", "exercise__profession_id", "exercise__category_id",
            "exercise__is_active", "activity_key", "structure__technical_id", "mode_id",
            "registration_authority", "sector_code", "role_code", "genre_code", "is_active",
        )
    )  # fmt: skip
    structures = sorted(Structure.objects.values_list("technical_id", "name", "phone", "postcode", "commune"))
    return {"people": people, "activities": activities, "structures": structures}


def outcome(path: Path, tmp_path: Path, *, full: bool, shortcut: bool, monkeypatch) -> tuple:
    report = tmp_path / f"rejects_{shortcut}.csv"
    with monkeypatch.context() as patch:
        if not shortcut:
            patch.setattr(digests, "stage_changed", lambda **kwargs: None)
        result = registry_import(path=path, full=full, reject_report=report)
    counts = (
        result.rows,
        result.imported,
        result.updated,
        result.unchanged,
        result.rejected,
        result.deactivated,
    )
    return counts, report.read_text(encoding="utf-8"), semantic_snapshot()


def both_ways(path: Path, tmp_path: Path, monkeypatch, *, full: bool = False) -> tuple:
    """The import of ``path`` with the shortcut and read the full way, each from the same registry."""
    results = []
    for shortcut in (True, False):
        with transaction.atomic():
            results.append(outcome(path, tmp_path, full=full, shortcut=shortcut, monkeypatch=monkeypatch))
            transaction.set_rollback(True)
    return results[0], results[1]


def lines_of(path: Path) -> list[list[str]]:
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def write(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join([HEADER, *("|".join(row) for row in rows)]) + "\n", encoding="utf-8")
    return path


def daily_changes(rows: list[list[str]], seed: int) -> list[list[str]]:
    """A day's file: renamed people, a moved activity, a changed phone on one row, people gone, duplicated
    and broken lines, a conflicting identity, a newcomer, and the order of two people swapped."""
    rng = random.Random(seed)
    rows = [list(row) for row in rows]
    for row in rng.sample(rows, 5):
        row[LAST_NAME] = row[LAST_NAME] + "-NOUVEAU"
    rng.choice(rows)[TECHNICAL_ID] = rng.choice(rows)[TECHNICAL_ID]
    rng.choice(rows)[PHONE] = "0102030405"  # the file disagreeing with itself about a structure
    gone = {row[NATIONAL_ID] for row in rng.sample(rows, 4)}
    rows = [row for row in rows if row[NATIONAL_ID] not in gone]
    rows.append(list(rng.choice(rows)))  # a line twice
    broken = list(rng.choice(rows))
    rows.append(broken[:20])  # a row cut short
    conflicting = list(rng.choice(rows))
    conflicting[LAST_NAME] = "AUTRE"
    conflicting[PROFESSION] = "40" if conflicting[PROFESSION] != "40" else "10"
    rows.append(conflicting)
    newcomer = list(rows[0])
    newcomer[1] = "10009999999"
    newcomer[2] = "810009999999"
    rows.append(newcomer)
    rows[3], rows[10] = rows[10], rows[3]
    return rows


@pytest.mark.parametrize("full", [False, True])
def test_a_day_of_changes_gives_what_the_full_read_gives(tmp_path, monkeypatch, full):
    base = tmp_path / "base.txt"
    registry_sample_write(out=base, rows=600, bad_share=0.02, seed=11)
    first_fast, first_full = both_ways(base, tmp_path, monkeypatch)
    assert first_fast == first_full
    registry_import(path=base)  # the registry of yesterday, and its digests
    assert ExtractionDigest.objects.count() > 350  # one per person whose rows were all accepted
    path = base
    for day in range(3):
        path = write(tmp_path / f"day{day}.txt", daily_changes(lines_of(path), seed=day))
        fast, slow = both_ways(path, tmp_path, monkeypatch, full=full)
        assert fast == slow, f"day {day}"
        assert fast[0][4] > 0  # the broken, duplicated and conflicting lines are rejected both ways
        assert fast[0][3] > 500  # most rows unchanged
        registry_import(path=path, full=full)  # that day's registry and digests, for the next day


def test_an_unchanged_file_reads_no_row_again(write_extraction, monkeypatch):
    path = write_extraction()
    registry_import(path=path)
    staged: list[int] = []
    real = importer._copy_rows

    def counting(copy, rows, *args):
        count = real(copy, rows, *args)
        staged.append(count)
        return count

    monkeypatch.setattr(importer, "_copy_rows", counting)
    result = registry_import(path=path)
    assert (result.imported, result.updated, result.unchanged) == (0, 0, result.rows)
    assert staged == [0]


def test_a_changed_person_alone_is_read_again(write_extraction, monkeypatch):
    registry_import(path=write_extraction())
    rows = sample_rows()
    nurse = next(i for i, row in enumerate(rows) if row[NATIONAL_ID] == NURSE)
    rows[nurse][LAST_NAME] = "NOUVEAU"
    staged: list[int] = []
    real = importer._copy_rows
    monkeypatch.setattr(importer, "_copy_rows", lambda *a: staged.append(real(*a)) or staged[-1])
    result = registry_import(path=write_extraction(rows))
    assert staged == [1] and result.updated == 1 and result.unchanged == len(rows) - 1
    assert Professional.objects.get(national_id=NURSE).last_name == "NOUVEAU"


def test_a_rejected_row_is_rejected_again_the_next_day(write_extraction, tmp_path):
    rows = sample_rows()
    rows[1][NAMES.index("profession_code")] = "99"
    path = write_extraction(rows)
    first = tmp_path / "first.csv"
    second = tmp_path / "second.csv"
    registry_import(path=path, reject_report=first)
    registry_import(path=path, reject_report=second)
    assert first.read_text() == second.read_text() and "99" in second.read_text()


def test_a_change_made_outside_the_import_makes_the_next_one_read_everything(write_extraction):
    path = write_extraction()
    registry_import(path=path)
    assert digests_trusted()
    Professional.objects.filter(national_id=NURSE).update(last_name="EDITED BY HAND")
    assert not digests_trusted()
    result = registry_import(path=path)
    assert result.updated == 1  # the file's name is back, as a full read would do
    assert Professional.objects.get(national_id=NURSE).last_name != "EDITED BY HAND"
    assert digests_trusted()


def test_a_write_the_import_does_not_merge_leaves_the_digests_trusted(write_extraction):
    registry_import(path=write_extraction())
    Professional.objects.filter(national_id=NURSE).update(email="nurse@example.org", mobile="0600000000")
    assert digests_trusted()


def test_a_professional_deactivated_by_hand_is_read_again(write_extraction):
    path = write_extraction()
    registry_import(path=path)
    Professional.objects.filter(national_id=NURSE).update(is_active=False)
    registry_import(path=path)
    assert Professional.objects.get(national_id=NURSE).is_active


def test_a_file_the_raw_copy_cannot_carry_is_read_the_full_way(write_extraction):
    path = write_extraction()
    registry_import(path=path)
    latin = write_extraction(encoding="cp1252")
    result = registry_import(path=latin)
    assert result.unchanged == result.rows
    state = ExtractionDigestState.objects.get(pk=1)
    assert state.epoch is None  # read the full way: the digests are not trusted any more
    again = registry_import(path=path)
    assert again.unchanged == again.rows and digests_trusted()


def test_the_triggers_watch_every_column_the_merge_writes():
    from registry import merge

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'registry_digest_stale_now_update'"
        )
        watched = {
            table: set(re.findall(r"UPDATE OF (.*?) ON ", definition)[0].split(", "))
            for table, definition in cursor.fetchall()
        }
    merged = {
        "registry_professional": {*merge.PERSON_FIELDS, "is_active"},
        "registry_structure": {*merge.STRUCTURE_FIELDS, "technical_id"},
        "registry_exercise": {*merge.EXERCISE_FIELDS, "is_active", "professional_id", "profession_id"},
        "registry_activity": {*merge.ACTIVITY_FIELDS, "is_active", "activity_key", "exercise_id"},
    }
    for table, columns in merged.items():
        assert columns <= watched[table], (table, columns - watched[table])


def digests_trusted() -> bool:
    with connection.cursor() as cursor:
        return digests.digests_valid(cursor, digests.current_epoch(cursor))
