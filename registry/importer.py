"""The import of an extraction file: stream it into a staging table with COPY, then merge it into the
registry with set-based SQL.

Memory stays flat: the file is read in 1 MB chunks, rows go to PostgreSQL in batches, rejects go to a
temporary file, and every merge step is one SQL statement. Everything happens in the caller's transaction,
so a file refused half-way leaves the registry exactly as it was.

Counting: every data row of the file is exactly one of imported (its activity is new), updated (its activity
existed and something about it, its exercise, its professional or its structure changed), unchanged, or
rejected. A second import of the same file therefore reports all rows unchanged.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.db import connection

from .extraction import NAMES, WIDTH, Problem, RowChecker, column_label, header_problem
from .textfile import TextStream, open_binary, read_lines

Progress = Callable[[str], None]
BATCH = 4000
PROGRESS_EVERY = 100_000

PERSON_FIELDS = [
    "exercise_civility_code",
    "exercise_civility",
    "civility_code",
    "civility",
    "last_name",
    "first_name",
]
STRUCTURE_FIELDS = [
    "siret",
    "siren",
    "finess_site",
    "finess_legal",
    "name",
    "trade_name",
    "address_recipient",
    "address_place",
    "street_number",
    "street_repetition",
    "street_type",
    "street_name",
    "distribution",
    "cedex",
    "postcode",
    "commune_code",
    "commune",
    "country_code",
    "country",
    "phone",
    "phone2",
    "fax",
    "email",
    "department_code",
    "department",
    "former_id",
]
# Exercise columns and the staging expression that fills each.
EXERCISE_FIELDS = {
    "category_id": "NULLIF(r.category_code, '')",
    "skill_id": "NULLIF(r.skill_code, '')",
    "pharmacist_section_code": "r.pharmacist_section_code",
    "pharmacist_section": "r.pharmacist_section",
}
ACTIVITY_FIELDS = [
    "structure_id",
    "mode_id",
    "registration_authority",
    "sector_code",
    "sector",
    "role_code",
    "role",
    "genre_code",
    "genre",
]
TEMP_TABLES = [
    "import_rows",
    "import_rejects",
    "import_changed_structures",
    "import_people",
    "import_changed_people",
    "import_person_ids",
    "import_changed_exercises",
    "import_activities",
    "import_protected",
]
REJECT_COLUMNS = "line, identifier, col, rule, value"


@dataclass
class ImportResult:
    """What one run did; ``imported + updated + unchanged + rejected == rows``."""

    path: Path
    kind: str = "extraction"
    encoding: str = ""
    sha256: str = ""
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deactivated: int = 0
    reject_report: Path | None = None
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        return (
            f"imported {self.imported}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
        )


def _cols(prefix: str, names: list[str]) -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


def _sets(names: list[str]) -> str:
    return ", ".join(f"{name} = EXCLUDED.{name}" for name in names)


class RejectSpool:
    """Rejected rows found while streaming, spooled to a temporary file in COPY text format."""

    def __init__(self) -> None:
        self.file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def add(self, line: int, identifier: str, column: str, rule: str, value: str = "") -> None:
        fields = (str(line), identifier, column, rule, value)
        self.file.write("\t".join(map(copy_escape, fields)) + "\n")
        self.count += 1

    def add_problem(self, line: int, fields: list[str], problem: Problem) -> None:
        column = column_label(problem.column) if problem.column is not None else ""
        self.add(line, fields[2] if len(fields) > 2 else "", column, problem.rule, problem.value)


def copy_escape(value: str) -> str:
    """A value for COPY's text format (tab-delimited)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def create_temp_tables(cursor: Any) -> None:
    drop_temp_tables(cursor)
    # The merge sorts and hashes the whole file a few times: give it room (this transaction only).
    cursor.execute("SET LOCAL work_mem = '128MB'")
    columns = ", ".join(f"{name} text" for name in NAMES)
    cursor.execute(f"CREATE TEMP TABLE import_rows (line integer, {columns})")
    cursor.execute(
        "CREATE TEMP TABLE import_rejects (line integer, identifier text, col text, rule text, value text)"
    )


def drop_temp_tables(cursor: Any) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")


def copy_spool(cursor: Any, spool: RejectSpool) -> None:
    spool.file.seek(0)
    with cursor.copy(f"COPY import_rejects ({REJECT_COLUMNS}) FROM STDIN") as copy:
        while data := spool.file.read(1 << 20):
            copy.write(data)
    spool.file.close()


# ---------------------------------------------------------------------------------------------------------
# Streaming into the staging table


def stage_extraction(
    *, cursor: Any, stream: TextStream, spool: RejectSpool, progress: Progress | None
) -> int:
    """COPY the good rows of the file into ``import_rows``; return the number of data rows read."""
    with open_binary(stream.path) as handle:
        lines = read_lines(stream, handle)
        _check_header(stream, lines)
        checker = RowChecker()
        with cursor.copy(f"COPY import_rows (line, {', '.join(NAMES)}) FROM STDIN (DELIMITER '|')") as copy:
            rows = _copy_rows(copy, _rows(lines), checker, stream, spool, progress)
    if rows == 0:
        raise stream.refuse("no data rows after the header (empty extraction)")
    return rows


def _check_header(stream: TextStream, lines: Iterator[tuple[int, str]]) -> None:
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise stream.refuse("the file is empty (no header line)")
    problem = header_problem(first[1])
    if problem:
        raise stream.refuse(f"{problem}: not a PS_LibreAcces_Personne_activite extraction")


def _rows(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    return ((number, line) for number, line in lines if line)


def _copy_rows(
    copy: Any,
    rows: Iterator[tuple[int, str]],
    checker: RowChecker,
    stream: TextStream,
    spool: RejectSpool,
    progress: Progress | None,
) -> int:
    batch: list[str] = []
    count = 0
    started = time.monotonic()
    for number, line in rows:
        count += 1
        staged = _staged_line(number, line, checker, stream, spool)
        if staged is not None:
            batch.append(staged)
            if len(batch) >= BATCH:
                copy.write("".join(batch))
                batch.clear()
        if progress and count % PROGRESS_EVERY == 0:
            progress(f"read {count:,} rows ({count / (time.monotonic() - started):,.0f} rows/s)")
    copy.write("".join(batch))
    return count


def _staged_line(
    number: int, line: str, checker: RowChecker, stream: TextStream, spool: RejectSpool
) -> str | None:
    """The row as a COPY line (its line number first), or None when it is rejected."""
    fields = line.split("|")
    if len(fields) != WIDTH:
        if len(fields) == WIDTH + 1 and not fields[-1]:
            fields.pop()
            line = line[:-1]
        else:
            _wrong_width(number, fields, stream, spool)
            return None
    problem = checker.problem(fields)
    if problem is not None:
        spool.add_problem(number, fields, problem)
        return None
    if "\\" in line or "\r" in line:
        line = line.replace("\\", "\\\\").replace("\r", "\\r")
    return f"{number}|{line}\n"


def _wrong_width(number: int, fields: list[str], stream: TextStream, spool: RejectSpool) -> None:
    if not stream.ends_with_newline:
        # Only the very last line can lack its line end: a short one is a file cut off mid-row.
        raise stream.refuse(
            f"line {number}: truncated in the middle of a row ({len(fields)} of {WIDTH} columns "
            "and no line end)"
        )
    rule = f"the row has {len(fields)} columns, expected {WIDTH}"
    spool.add(number, fields[2] if len(fields) > 2 else "", "", rule)


# ---------------------------------------------------------------------------------------------------------
# Merging the staging table into the registry


SKILL_TYPES_SQL = """
INSERT INTO registry_skilltype (code, label)
SELECT DISTINCT ON (skill_type_code) skill_type_code, COALESCE(NULLIF(skill_type_label, ''), skill_type_code)
FROM import_rows WHERE skill_type_code <> '' ORDER BY skill_type_code, line
ON CONFLICT (code) DO NOTHING
"""

SKILLS_SQL = """
INSERT INTO registry_skill (code, label, skill_type_id)
SELECT DISTINCT ON (skill_code) skill_code, COALESCE(NULLIF(skill_label, ''), skill_code),
       NULLIF(skill_type_code, '')
FROM import_rows WHERE skill_code <> '' ORDER BY skill_code, line
ON CONFLICT (code) DO NOTHING
"""

STRUCTURES_SQL = f"""
CREATE TEMP TABLE import_changed_structures AS
WITH changed AS (
    INSERT INTO registry_structure (technical_id, {_cols("", STRUCTURE_FIELDS)}, updated_at)
    SELECT DISTINCT ON (technical_id COLLATE "C") technical_id, {_cols("", STRUCTURE_FIELDS)}, now()
    FROM import_rows WHERE technical_id <> '' ORDER BY technical_id COLLATE "C", line
    ON CONFLICT (technical_id) DO UPDATE SET {_sets(STRUCTURE_FIELDS)}, updated_at = now()
    WHERE ({_cols("registry_structure.", STRUCTURE_FIELDS)})
        IS DISTINCT FROM ({_cols("EXCLUDED.", STRUCTURE_FIELDS)})
    RETURNING technical_id, (xmax = 0) AS inserted
)
SELECT technical_id FROM changed WHERE NOT inserted
"""

# Each professional, exercise and structure is read from its first row in the file. Sort keys are compared
# byte-wise (COLLATE "C"): they are codes and digits, and locale-aware comparison makes big sorts slow.

# A person already switched to RPPS (correspondence) may still appear by ADELI: match them by ADELI too.
PEOPLE_SQL = f"""
CREATE TEMP TABLE import_people AS
SELECT s.*, COALESCE(p.id, a.id) AS professional_id
FROM (
    SELECT DISTINCT ON (national_id COLLATE "C") national_id, id_type, identifier, {_cols("", PERSON_FIELDS)}
    FROM import_rows ORDER BY national_id COLLATE "C", line
) s
LEFT JOIN registry_professional p ON p.national_id = s.national_id
LEFT JOIN registry_professional a ON p.id IS NULL AND s.id_type = '0' AND a.adeli = s.identifier
"""

PEOPLE_UPDATE_SQL = f"""
CREATE TEMP TABLE import_changed_people AS
WITH changed AS (
    UPDATE registry_professional p
    SET {", ".join(f"{name} = s.{name}" for name in PERSON_FIELDS)},
        is_active = true, deactivated_at = NULL, deactivation_reason = '', updated_at = now()
    FROM import_people s
    WHERE p.id = s.professional_id
      AND ({_cols("p.", PERSON_FIELDS)}, p.is_active) IS DISTINCT FROM ({_cols("s.", PERSON_FIELDS)}, true)
    RETURNING p.id
)
SELECT id FROM changed
"""

PEOPLE_INSERT_SQL = f"""
CREATE TEMP TABLE import_person_ids AS
WITH created AS (
    INSERT INTO registry_professional (
        national_id, id_type, rpps, adeli, {_cols("", PERSON_FIELDS)}, email, mobile, is_active,
        first_seen, updated_at, deactivated_at, deactivation_reason
    )
    SELECT national_id, id_type, CASE WHEN id_type = '8' THEN identifier END,
           CASE WHEN id_type = '0' THEN identifier END, {_cols("", PERSON_FIELDS)}, '', '', true,
           now(), now(), NULL, ''
    FROM import_people WHERE professional_id IS NULL
    RETURNING national_id, id
)
SELECT national_id, professional_id FROM import_people WHERE professional_id IS NOT NULL
UNION ALL
SELECT national_id, id FROM created
"""

EXERCISES_SQL = f"""
CREATE TEMP TABLE import_changed_exercises AS
WITH changed AS (
    INSERT INTO registry_exercise (professional_id, profession_id, {", ".join(EXERCISE_FIELDS)}, is_active)
    SELECT DISTINCT ON (i.professional_id, r.profession_code COLLATE "C")
           i.professional_id, r.profession_code, {", ".join(EXERCISE_FIELDS.values())}, true
    FROM import_rows r JOIN import_person_ids i USING (national_id)
    ORDER BY i.professional_id, r.profession_code COLLATE "C", r.line
    ON CONFLICT (professional_id, profession_id)
    DO UPDATE SET {_sets(list(EXERCISE_FIELDS))}, is_active = true
    WHERE ({_cols("registry_exercise.", list(EXERCISE_FIELDS))}, registry_exercise.is_active)
        IS DISTINCT FROM ({_cols("EXCLUDED.", list(EXERCISE_FIELDS))}, true)
    RETURNING id, (xmax = 0) AS inserted
)
SELECT id FROM changed WHERE NOT inserted
"""

# One row per file row; ``first_line`` is the first row of the same activity (a later one is a duplicate).
ACTIVITIES_SQL = f"""
CREATE TEMP TABLE import_activities AS
SELECT r.line, r.national_id, e.id AS exercise_id, r.mode_code || '|' || r.technical_id AS activity_key,
       st.id AS structure_id, NULLIF(r.mode_code, '') AS mode_id, {_cols("r.", ACTIVITY_FIELDS[2:])},
       (cp.id IS NOT NULL OR ce.id IS NOT NULL OR cs.technical_id IS NOT NULL) AS upstream_changed,
       min(r.line) OVER (PARTITION BY e.id, r.mode_code COLLATE "C", r.technical_id COLLATE "C") AS first_line
FROM import_rows r
JOIN import_person_ids i USING (national_id)
JOIN registry_exercise e ON e.professional_id = i.professional_id AND e.profession_id = r.profession_code
LEFT JOIN registry_structure st ON r.technical_id <> '' AND st.technical_id = r.technical_id
LEFT JOIN import_changed_people cp ON cp.id = i.professional_id
LEFT JOIN import_changed_exercises ce ON ce.id = e.id
LEFT JOIN import_changed_structures cs ON cs.technical_id = r.technical_id
"""

DUPLICATES_SQL = f"""
INSERT INTO import_rejects ({REJECT_COLUMNS})
SELECT line, national_id, '{column_label(17)} + {column_label(23)}',
       'duplicate activity: same person, profession, mode and structure as line ' || first_line,
       activity_key
FROM import_activities WHERE line <> first_line
"""

# Upsert the activities and count, in one statement, the file rows imported and updated (an unchanged
# activity whose professional, exercise or structure changed counts as updated).
ACTIVITIES_UPSERT_SQL = f"""
WITH changed AS (
    INSERT INTO registry_activity (
        exercise_id, activity_key, {_cols("", ACTIVITY_FIELDS)}, is_active, updated_at
    )
    SELECT exercise_id, activity_key, {_cols("", ACTIVITY_FIELDS)}, true, now()
    FROM import_activities WHERE line = first_line
    ON CONFLICT (exercise_id, activity_key)
    DO UPDATE SET {_sets(ACTIVITY_FIELDS)}, is_active = true, updated_at = now()
    WHERE ({_cols("registry_activity.", ACTIVITY_FIELDS)}, registry_activity.is_active)
        IS DISTINCT FROM ({_cols("EXCLUDED.", ACTIVITY_FIELDS)}, true)
    RETURNING exercise_id, activity_key, (xmax = 0) AS inserted
)
SELECT
    (SELECT count(*) FROM import_activities WHERE line = first_line),
    (SELECT count(*) FILTER (WHERE inserted) FROM changed),
    (SELECT count(*) FILTER (WHERE NOT inserted) FROM changed)
    + (SELECT count(*) FROM import_activities a
       WHERE a.upstream_changed AND a.line = a.first_line AND NOT EXISTS (
           SELECT 1 FROM changed c WHERE c.exercise_id = a.exercise_id AND c.activity_key = a.activity_key
       ))
"""


ANALYZE_ROWS_SQL = "ANALYZE import_rows (national_id, id_type, profession_code, mode_code, technical_id)"

# Foreign keys are checked by per-row triggers (deferred to COMMIT by Django): a third of the import's time
# on a first load. Every value this merge writes into a foreign key comes from a join with its parent table
# in this same transaction (or from a code table checked row by row), the parents are never deleted, and
# imports take turns (advisory lock), so the checks cannot fail; they are skipped when the database role is
# allowed to, and only when no other trigger lives on the registry tables (replica mode would skip it too).
FAST_PATH_SQL = """
SELECT has_parameter_privilege('session_replication_role', 'SET')
   AND NOT EXISTS (
       SELECT 1 FROM pg_trigger
       WHERE NOT tgisinternal AND tgrelid IN (
           'registry_professional'::regclass, 'registry_exercise'::regclass,
           'registry_activity'::regclass, 'registry_structure'::regclass,
           'registry_skill'::regclass, 'registry_skilltype'::regclass
       )
   )
"""


REGISTRY_TABLES = ["registry_structure", "registry_professional", "registry_exercise", "registry_activity"]
SECONDARY_INDEXES_SQL = """
SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid)
FROM pg_index x
WHERE x.indrelid = ANY(%s::regclass[]) AND NOT x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY 1
"""


def drop_secondary_indexes(cursor: Any) -> list[str]:
    """On a first load (no professional yet), drop the registry's plain indexes and return the statements that
    rebuild them, as pg_restore does: building an index once is several times cheaper than growing it row by
    row. The drop takes the tables' exclusive lock until COMMIT, acceptable only while the registry is empty;
    unique and primary key indexes (constraints, and the targets of ON CONFLICT) always stay."""
    cursor.execute("SELECT EXISTS (SELECT 1 FROM registry_professional)")
    if cursor.fetchone()[0]:
        return []
    cursor.execute(SECONDARY_INDEXES_SQL, [REGISTRY_TABLES])
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes]


def rebuild_indexes(cursor: Any, definitions: list[str]) -> None:
    if definitions:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for definition in definitions:
        cursor.execute(definition)


def skip_foreign_key_triggers(cursor: Any) -> bool:
    """Turn the per-row foreign key triggers off for this transaction when it is safe (see above)."""
    cursor.execute(FAST_PATH_SQL)
    if not cursor.fetchone()[0]:
        return False
    cursor.execute("SET LOCAL session_replication_role = replica")
    return True


def merge_extraction(*, cursor: Any, progress: Progress | None) -> tuple[int, int, int]:
    """Merge ``import_rows`` into the registry; return (imported, updated, unchanged) in file rows."""
    # Temporary tables get no statistics from autovacuum, and the registry's are stale after a big insert:
    # without ANALYZE the planner guesses "few rows" and picks nested loops over a million rows.
    skip_foreign_key_triggers(cursor)
    rebuild = drop_secondary_indexes(cursor)
    steps = [
        ("code tables", [ANALYZE_ROWS_SQL, SKILL_TYPES_SQL, SKILLS_SQL]),
        ("structures", [STRUCTURES_SQL, "ANALYZE import_changed_structures"]),
        ("structures", ["ANALYZE registry_structure (id, technical_id)"]),
        ("professionals", [PEOPLE_SQL, "ANALYZE import_people (national_id, professional_id)"]),
        ("professionals", [PEOPLE_UPDATE_SQL, PEOPLE_INSERT_SQL]),
        ("exercises", ["ANALYZE import_person_ids, import_changed_people, registry_professional (id)"]),
        ("exercises", [EXERCISES_SQL, "ANALYZE import_changed_exercises"]),
        ("exercises", ["ANALYZE registry_exercise (id, professional_id, profession_id)"]),
        ("activities", [ACTIVITIES_SQL, "ANALYZE import_activities (line, first_line, exercise_id)"]),
        ("activities", [DUPLICATES_SQL]),
    ]
    for name, statements in steps:
        if progress:
            progress(f"merging {name}")
        for statement in statements:
            cursor.execute(statement)
    cursor.execute(ACTIVITIES_UPSERT_SQL)
    merged, imported, updated = cursor.fetchone()
    if progress and rebuild:
        progress(f"building {len(rebuild)} indexes")
    rebuild_indexes(cursor, rebuild)
    cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    return imported, updated, merged - imported - updated


# ---------------------------------------------------------------------------------------------------------
# --full: who is no longer in the extraction

# A person with a rejected row is kept as is: a bad row says nothing about whether they left.
PROTECTED_SQL = """
CREATE TEMP TABLE import_protected AS
SELECT DISTINCT p.id FROM import_rejects j JOIN registry_professional p ON p.national_id = j.identifier
"""

DEACTIVATE_ACTIVITIES_SQL = """
UPDATE registry_activity act SET is_active = false, updated_at = now()
FROM registry_exercise e, registry_professional p
WHERE act.exercise_id = e.id AND e.professional_id = p.id AND act.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (
      SELECT 1 FROM import_activities a
      WHERE a.exercise_id = act.exercise_id AND a.activity_key = act.activity_key
  )
  AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)
"""

DEACTIVATE_EXERCISES_SQL = """
UPDATE registry_exercise e SET is_active = false
FROM registry_professional p
WHERE e.professional_id = p.id AND e.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (SELECT 1 FROM import_activities a WHERE a.exercise_id = e.id)
  AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)
"""

DEACTIVATE_PEOPLE_SQL = """
UPDATE registry_professional p
SET is_active = false, deactivated_at = now(), deactivation_reason = %s, updated_at = now()
WHERE p.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (SELECT 1 FROM import_person_ids i WHERE i.professional_id = p.id)
  AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)
"""


def deactivate_absent(*, cursor: Any, reason: str) -> int:
    """Mark inactive (never delete) the professionals, exercises and activities the full extraction no
    longer lists; return how many professionals were deactivated."""
    cursor.execute(PROTECTED_SQL)
    cursor.execute(DEACTIVATE_ACTIVITIES_SQL)
    cursor.execute(DEACTIVATE_EXERCISES_SQL)
    cursor.execute(DEACTIVATE_PEOPLE_SQL, [reason[:200]])
    return int(cursor.rowcount)


# ---------------------------------------------------------------------------------------------------------
# The reject report


def count_rejects(cursor: Any) -> int:
    cursor.execute("SELECT count(*) FROM import_rejects")
    return int(cursor.fetchone()[0])


def write_reject_report(*, cursor: Any, path: Path) -> None:
    """The rejects as CSV (line, identifier, column, rule, value), in file order, streamed from PostgreSQL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    query = (
        'COPY (SELECT line, identifier, col AS "column", rule, value FROM import_rejects ORDER BY line) '
        "TO STDOUT (FORMAT csv, HEADER)"
    )
    with path.open("wb") as out, cursor.copy(query) as copy:
        for data in copy:
            out.write(data)


def extraction_load(
    *, path: Path, full: bool, reject_report: Path, progress: Progress | None = None
) -> ImportResult:
    """Stage, check and merge one extraction file, in the caller's transaction."""
    started = time.monotonic()
    stream = TextStream(path=path)
    spool = RejectSpool()
    with connection.cursor() as cursor:
        create_temp_tables(cursor)
        rows = stage_extraction(cursor=cursor, stream=stream, spool=spool, progress=progress)
        copy_spool(cursor, spool)
        imported, updated, unchanged = merge_extraction(cursor=cursor, progress=progress)
        deactivated = 0
        if full:
            reason = f"absent from the full extraction {path.name}"
            deactivated = deactivate_absent(cursor=cursor, reason=reason)
        rejected = count_rejects(cursor)
        write_reject_report(cursor=cursor, path=reject_report)
        drop_temp_tables(cursor)
    return ImportResult(
        path=path,
        encoding=stream.encoding,
        sha256=stream.sha256,
        rows=rows,
        imported=imported,
        updated=updated,
        unchanged=unchanged,
        rejected=rejected,
        deactivated=deactivated,
        reject_report=reject_report,
        seconds=time.monotonic() - started,
    )
