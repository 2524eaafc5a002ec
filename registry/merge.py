"""Merging the staging table ``import_rows`` into the registry with set-based SQL, one statement per step,
and (``--full``) marking inactive what the extraction no longer lists.

Counting: every data row of the file is exactly one of imported (its activity is new), updated (its activity
existed and something about it, its exercise, its professional or its structure changed), unchanged, or
rejected. A second import of the same file therefore reports all rows unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext

from .extraction import column_label

Progress = Callable[[str], None]
REJECT_COLUMNS = "line, identifier, col, rule, value"

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


def _cols(prefix: str, names: list[str]) -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


def _sets(names: list[str]) -> str:
    return ", ".join(f"{name} = EXCLUDED.{name}" for name in names)


# Who a person is, as the file says it on each of their rows: a later row of the same national identifier
# that says otherwise is rejected (its first row is the one merged), not silently ignored.
IDENTITY_FIELDS = [("last_name", 7), ("first_name", 8), ("civility_code", 5), ("exercise_civility_code", 3)]
IDENTITY_NAMES = [name for name, _ in IDENTITY_FIELDS]


def _label(index: int) -> str:
    return "'" + column_label(index).replace("'", "''") + "'"


# One hashed pass finds the people whose rows disagree (byte-wise min <> max of a field); only their rows are
# then read again.
CONFLICTS_SQL = f"""
WITH conflicted AS (
    SELECT national_id, min(line) AS first_line FROM import_rows GROUP BY national_id
    HAVING count(*) > 1 AND ({
    " OR ".join(f'min({n} COLLATE "C") <> max({n} COLLATE "C")' for n in IDENTITY_NAMES)
})
)
INSERT INTO import_rejects ({REJECT_COLUMNS})
SELECT r.line, r.national_id,
       CASE {" ".join(f"WHEN r.{n} IS DISTINCT FROM f.{n} THEN {_label(i)}" for n, i in IDENTITY_FIELDS)} END,
       format(%s, f.line, f.last_name || ' ' || f.first_name),
       left(r.last_name || ' ' || r.first_name, 60)
FROM conflicted c
JOIN import_rows f ON f.line = c.first_line
JOIN import_rows r ON r.national_id = c.national_id AND r.line > c.first_line
WHERE ({_cols("r.", IDENTITY_NAMES)}) IS DISTINCT FROM ({_cols("f.", IDENTITY_NAMES)})
"""


def reject_conflicting_identities(cursor: Any) -> None:
    """Reject the later rows of a person whose identity (names, civility) differs from their first row."""
    # The rule's words as a PostgreSQL format() template (%1$s: the first row's line, %2$s: its name).
    rule = gettext("conflicting identity for the same national identifier (line %(line)s has %(name)s)")
    cursor.execute(CONFLICTS_SQL, [rule % {"line": "%1$s", "name": "%2$s"}])
    if cursor.rowcount:
        cursor.execute("DELETE FROM import_rows r USING import_rejects j WHERE j.line = r.line")


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
    SELECT r.technical_id, {_cols("r.", STRUCTURE_FIELDS)}, now()
    FROM import_rows r JOIN (
        SELECT min(line) AS line FROM import_rows WHERE technical_id <> '' GROUP BY technical_id
    ) first USING (line)
    ON CONFLICT (technical_id) DO UPDATE SET {_sets(STRUCTURE_FIELDS)}, updated_at = now()
    WHERE ({_cols("registry_structure.", STRUCTURE_FIELDS)})
        IS DISTINCT FROM ({_cols("EXCLUDED.", STRUCTURE_FIELDS)})
    RETURNING technical_id, (xmax = 0) AS inserted
)
SELECT technical_id FROM changed WHERE NOT inserted
"""

# Each professional, exercise and structure is read from its first row in the file: the first line of each
# key is found by hashing the narrow keys, then joined back (sorting whole rows spills to disk on big files).
# New professionals are inserted in national_id order, so their three unique indexes grow at the right edge
# instead of at random pages. Sort keys are compared byte-wise (COLLATE "C"): they are codes and digits,
# and locale-aware comparison makes big sorts slow.

# One person, one professional, however many ways the file lists them. A person already switched to
# RPPS (correspondence) may still appear by ADELI: they are matched by ADELI too. A person the file lists
# both under ADELI and under RPPS, linked by the correspondence file of the same run (``import_links``,
# kept by its first pass: ``correspondence.LINKS_TABLE``), is one person whose key is their RPPS national
# identifier: their ADELI rows resolve to the RPPS person, whether already known or created by this run
# (once, from the RPPS row).
LINKS_SQL = "CREATE TEMP TABLE IF NOT EXISTS import_links (adeli text PRIMARY KEY, rpps text UNIQUE)"

PEOPLE_SQL = f"""
CREATE TEMP TABLE import_people AS
SELECT s.*, COALESCE(p.id, a.id, l.id) AS professional_id,
       CASE WHEN s.id_type = '0' AND COALESCE(s.linked_rpps, a.rpps) IS NOT NULL
            THEN '8' || COALESCE(s.linked_rpps, a.rpps) ELSE s.national_id END AS person_key
FROM (
    SELECT r.national_id, r.id_type, r.identifier, lk.rpps AS linked_rpps, {_cols("r.", PERSON_FIELDS)}
    FROM import_rows r
    JOIN (SELECT min(line) AS line FROM import_rows GROUP BY national_id) first USING (line)
    LEFT JOIN import_links lk ON r.id_type = '0' AND lk.adeli = r.identifier
) s
LEFT JOIN registry_professional p ON p.national_id = s.national_id
LEFT JOIN registry_professional a ON p.id IS NULL AND s.id_type = '0' AND a.adeli = s.identifier
LEFT JOIN registry_professional l
    ON p.id IS NULL AND a.id IS NULL AND s.linked_rpps IS NOT NULL AND l.national_id = '8' || s.linked_rpps
"""

# An ADELI row standing for a person the file also lists by RPPS (an alias): the RPPS row speaks for them.
NOT_ALIAS = """NOT (s.person_key <> s.national_id
         AND EXISTS (SELECT 1 FROM import_people o WHERE o.national_id = s.person_key))"""

PEOPLE_UPDATE_SQL = f"""
CREATE TEMP TABLE import_changed_people AS
WITH changed AS (
    UPDATE registry_professional p
    SET {", ".join(f"{name} = s.{name}" for name in PERSON_FIELDS)},
        is_active = true, deactivated_at = NULL, deactivation_reason = '', updated_at = now()
    FROM import_people s
    WHERE p.id = s.professional_id
      AND ({_cols("p.", PERSON_FIELDS)}, p.is_active) IS DISTINCT FROM ({_cols("s.", PERSON_FIELDS)}, true)
      AND {NOT_ALIAS}
    RETURNING p.id
)
SELECT id FROM changed
"""

# A known RPPS person the correspondence links to an ADELI number the registry does not hold yet keeps it.
PEOPLE_ADELI_SQL = """
UPDATE registry_professional p SET adeli = s.identifier, updated_at = now()
FROM import_people s
WHERE s.linked_rpps IS NOT NULL AND p.id = s.professional_id AND p.adeli IS NULL
"""

# New people: one row per person key (the RPPS row first), with the ADELI number the correspondence gives.
PEOPLE_INSERT_SQL = f"""
CREATE TEMP TABLE import_person_ids AS
WITH created AS (
    INSERT INTO registry_professional (
        national_id, id_type, rpps, adeli, {_cols("", PERSON_FIELDS)}, email, mobile, is_active,
        first_seen, updated_at, deactivated_at, deactivation_reason
    )
    SELECT person_key, left(person_key, 1),
           CASE WHEN left(person_key, 1) = '8' THEN substr(person_key, 2) END,
           CASE WHEN id_type = '0' THEN identifier
                ELSE (SELECT lk.adeli FROM import_links lk WHERE lk.rpps = n.identifier) END,
           {_cols("", PERSON_FIELDS)}, '', '', true,
           now(), now(), NULL, ''
    FROM (
        SELECT DISTINCT ON (person_key COLLATE "C") *
        FROM import_people WHERE professional_id IS NULL
        ORDER BY person_key COLLATE "C", id_type <> '8'
    ) n
    RETURNING national_id, id
)
SELECT national_id, professional_id FROM import_people WHERE professional_id IS NOT NULL
UNION ALL
SELECT s.national_id, c.id FROM import_people s JOIN created c ON c.national_id = s.person_key
WHERE s.professional_id IS NULL
"""

EXERCISES_SQL = f"""
CREATE TEMP TABLE import_upserted_exercises AS
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
    RETURNING id, professional_id, (xmax = 0) AS inserted
)
SELECT id, professional_id, inserted FROM changed
"""

# What the layers above read (registry.signals), from what the upsert just returned.
EXERCISE_SPLIT_SQL = [
    "CREATE TEMP TABLE import_new_exercises AS "
    "SELECT id AS exercise_id, professional_id FROM import_upserted_exercises WHERE inserted",
    "CREATE TEMP TABLE import_changed_exercises AS "
    "SELECT id FROM import_upserted_exercises WHERE NOT inserted",
]

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

# A second line of the same activity under the same identifier is a duplicate; under the person's other
# number (their ADELI line beside their RPPS line) it is the same activity listed twice: not a reject.
DUPLICATES_SQL = f"""
INSERT INTO import_rejects ({REJECT_COLUMNS})
SELECT a.line, a.national_id, '{column_label(17)} + {column_label(23)}',
       format(%s, a.first_line),
       a.activity_key
FROM import_activities a JOIN import_activities f ON f.line = a.first_line
WHERE a.line <> a.first_line AND f.national_id = a.national_id
"""

# Upsert the activities and count, in one statement, the file rows imported and updated (an unchanged
# activity whose professional, exercise or structure changed counts as updated).
ACTIVITIES_UPSERT_SQL = f"""
CREATE TEMP TABLE import_changed_activities AS
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
SELECT exercise_id, activity_key, inserted FROM changed
"""

ACTIVITIES_COUNT_SQL = """
SELECT
    (SELECT count(*) FROM import_activities WHERE line = first_line),
    (SELECT count(*) FILTER (WHERE inserted) FROM import_changed_activities),
    (SELECT count(*) FILTER (WHERE NOT inserted) FROM import_changed_activities)
    + (SELECT count(*) FROM import_activities a
       WHERE a.upstream_changed AND a.line = a.first_line AND NOT EXISTS (
           SELECT 1 FROM import_changed_activities c
           WHERE c.exercise_id = a.exercise_id AND c.activity_key = a.activity_key
       ))
"""

# The exercises whose data as a card carries them may have changed (registry.signals): their activity rows
# (new or changed), their professional, their exercise row or a structure of theirs changed (upstream_changed,
# already computed for the counts), or a known structure changed that one of their active activities points to
# though this file does not list them. Deactivations (--full) add theirs in deactivate_absent.
TOUCHED_SQL = """
CREATE TEMP TABLE import_touched_exercises AS
SELECT exercise_id FROM import_changed_activities
UNION
SELECT exercise_id FROM import_activities WHERE upstream_changed
UNION
SELECT act.exercise_id FROM import_changed_structures cs
JOIN registry_structure st ON st.technical_id = cs.technical_id
JOIN registry_activity act ON act.structure_id = st.id AND act.is_active
"""

# Who a --full import struck off; created empty by the merge, filled by deactivate_absent.
STRUCK_OFF_SQL = "CREATE TEMP TABLE import_struck_off (professional_id bigint PRIMARY KEY)"


ANALYZE_ROWS_SQL = (
    "ANALYZE import_rows (line, national_id, id_type, profession_code, mode_code, technical_id)"
)

# Foreign keys are checked by per-row triggers (deferred to COMMIT by Django): a third of the import's time
# on a first load. Every value this merge writes into a foreign key comes from a join with its parent table
# in this same transaction (or from a code table checked row by row), the parents are never deleted, and
# imports take turns (advisory lock), so the checks cannot fail; they are skipped when the database role is
# allowed to, and only when no other trigger lives on the registry tables (replica mode would skip it too).
FAST_PATH_SQL = """
SELECT has_parameter_privilege('session_replication_role', 'SET')
   AND NOT EXISTS (
       SELECT 1 FROM pg_trigger
       WHERE NOT tgisinternal AND tgname NOT LIKE 'registry\\_digest\\_stale\\_%' AND tgrelid IN (
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


# Empty registry, and a role allowed to drop and create the tables' indexes (their owner).
BULK_PATH_SQL = """
SELECT NOT EXISTS (SELECT 1 FROM registry_professional)
   AND (SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class WHERE oid = ANY(%s::regclass[]))
"""


def drop_secondary_indexes(cursor: Any) -> list[str]:
    """On a first load (no professional yet), drop the registry's plain indexes and return the statements that
    rebuild them, as pg_restore does: building an index once is several times cheaper than growing it row by
    row. The drop takes the tables' exclusive lock until COMMIT, acceptable only while the registry is empty;
    unique and primary key indexes (constraints, and the targets of ON CONFLICT) always stay."""
    cursor.execute(BULK_PATH_SQL, [REGISTRY_TABLES])
    if not cursor.fetchone()[0]:
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


def restore_triggers(cursor: Any) -> None:
    cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def merge_extraction(*, cursor: Any, progress: Progress | None) -> tuple[int, int, int]:
    """Merge ``import_rows`` into the registry; return (imported, updated, unchanged) in file rows. The
    caller turns the row triggers off first when it may (``skip_foreign_key_triggers``) and back on after
    its last registry write (``restore_triggers``)."""
    # Temporary tables get no statistics from autovacuum, and the registry's are stale after a big insert:
    # without ANALYZE the planner guesses "few rows" and picks nested loops over a million rows.
    rebuild = drop_secondary_indexes(cursor)
    steps = [
        ("code tables", [ANALYZE_ROWS_SQL, SKILL_TYPES_SQL, SKILLS_SQL]),
        ("structures", [STRUCTURES_SQL, "ANALYZE import_changed_structures"]),
        ("structures", ["ANALYZE registry_structure (id, technical_id)"]),
        ("professionals", [LINKS_SQL, PEOPLE_SQL, "ANALYZE import_people (national_id, professional_id)"]),
        ("professionals", [PEOPLE_UPDATE_SQL, PEOPLE_ADELI_SQL, PEOPLE_INSERT_SQL]),
        ("exercises", ["ANALYZE import_person_ids, import_changed_people, registry_professional (id)"]),
        ("exercises", [EXERCISES_SQL, *EXERCISE_SPLIT_SQL, "ANALYZE import_changed_exercises"]),
        ("exercises", ["ANALYZE registry_exercise (id, professional_id, profession_id)"]),
        ("activities", [ACTIVITIES_SQL, "ANALYZE import_activities (line, first_line, exercise_id)"]),
    ]
    for name, statements in steps:
        if progress:
            progress(f"merging {name}")
        for statement in statements:
            cursor.execute(statement)
    duplicate = gettext("duplicate activity: same person, profession, mode and structure as line %(line)s")
    cursor.execute(DUPLICATES_SQL, [duplicate % {"line": "%s"}])
    cursor.execute(ACTIVITIES_UPSERT_SQL)
    cursor.execute(ACTIVITIES_COUNT_SQL)
    merged, imported, updated = cursor.fetchone()
    cursor.execute(TOUCHED_SQL)
    cursor.execute(STRUCK_OFF_SQL)
    if progress and rebuild:
        progress(f"building {len(rebuild)} indexes")
    rebuild_indexes(cursor, rebuild)
    return imported, updated, merged - imported - updated


# ---------------------------------------------------------------------------------------------------------
# --full: who is no longer in the extraction

# A person with a rejected row is kept as is: a bad row says nothing about whether they left.
PROTECTED_SQL = """
CREATE TEMP TABLE import_protected AS
SELECT DISTINCT p.id FROM import_rejects j JOIN registry_professional p ON p.national_id = j.identifier
"""

DEACTIVATE_ACTIVITIES_SQL = """
WITH gone AS (
UPDATE registry_activity act SET is_active = false, updated_at = now()
FROM registry_exercise e, registry_professional p
WHERE act.exercise_id = e.id AND e.professional_id = p.id AND act.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (
      SELECT 1 FROM import_activities a
      WHERE a.exercise_id = act.exercise_id AND a.activity_key = act.activity_key
  )
  AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)
RETURNING act.exercise_id
)
INSERT INTO import_touched_exercises SELECT DISTINCT exercise_id FROM gone
"""

DEACTIVATE_EXERCISES_SQL = """
UPDATE registry_exercise e SET is_active = false
FROM registry_professional p
WHERE e.professional_id = p.id AND e.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (SELECT 1 FROM import_activities a WHERE a.exercise_id = e.id)
  AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)
"""

DEACTIVATE_PEOPLE_SQL = """
WITH gone AS (
UPDATE registry_professional p
SET is_active = false, deactivated_at = now(), deactivation_reason = %s, updated_at = now()
WHERE p.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (SELECT 1 FROM import_person_ids i WHERE i.professional_id = p.id)
  AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)
RETURNING p.id
)
INSERT INTO import_struck_off SELECT id FROM gone
"""

# Only active exercises are "touched" (registry.signals): those this import just deactivated are not.
TOUCHED_ACTIVE_SQL = """
DELETE FROM import_touched_exercises t
USING registry_exercise e WHERE e.id = t.exercise_id AND NOT e.is_active
"""


PROTECTED_CLAUSE = "AND NOT EXISTS (SELECT 1 FROM import_protected x WHERE x.id = p.id)"
IN_SCOPE_CLAUSE = (
    f"{PROTECTED_CLAUSE} AND EXISTS (SELECT 1 FROM import_deactivation_scope z WHERE z.id = p.id)"
)


def _in_scope(sql: str) -> str:
    assert PROTECTED_CLAUSE in sql
    return sql.replace(PROTECTED_CLAUSE, IN_SCOPE_CLAUSE)


def deactivate_absent(*, cursor: Any, reason: str, scope: Callable[[Any], None] | None = None) -> int:
    """Mark inactive (never delete) the professionals, exercises and activities the full extraction no
    longer lists; return how many professionals were deactivated. ``scope``, when the file's rows were
    not all staged (registry.digests), creates ``import_deactivation_scope``: the only professionals
    that may have something to deactivate (those staged, and those the file does not list)."""
    cursor.execute(PROTECTED_SQL)
    statements = [DEACTIVATE_ACTIVITIES_SQL, DEACTIVATE_EXERCISES_SQL, DEACTIVATE_PEOPLE_SQL]
    if scope is not None:
        scope(cursor)
        statements = [_in_scope(sql) for sql in statements]
    cursor.execute(statements[0])
    cursor.execute(statements[1])
    cursor.execute(statements[2], [reason[:200]])
    deactivated = int(cursor.rowcount)
    cursor.execute(TOUCHED_ACTIVE_SQL)
    return deactivated
