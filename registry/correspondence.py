"""The ADELI -> RPPS correspondence file (``N° ADELI;N° RPPS``): a person registered by ADELI gains an RPPS
number and keeps their identity (the same Professional row, so their exercises, orders and cards follow).

Their national identifier becomes ``8`` + RPPS, so the routing rule sends their orders to their Ordre.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from . import identifiers
from .extraction import normalize_label
from .importer import (
    ImportResult,
    RejectSpool,
    copy_spool,
    count_rejects,
    create_temp_tables,
    drop_temp_tables,
    write_reject_report,
)
from .merge import REJECT_COLUMNS, Progress
from .textfile import TextStream, open_binary, read_lines

ADELI_COLUMN = "1 N° ADELI"
RPPS_COLUMN = "2 N° RPPS"

MATCHES_SQL = """
CREATE TEMP TABLE import_matches AS
SELECT c.line, c.adeli, c.rpps,
       min(c.line) OVER (PARTITION BY c.adeli) AS first_adeli_line,
       min(c.line) OVER (PARTITION BY c.rpps) AS first_rpps_line,
       p.id AS professional_id, p.rpps AS current_rpps, o.national_id AS rpps_owner
FROM import_correspondence c
LEFT JOIN registry_professional p ON p.adeli = c.adeli
LEFT JOIN LATERAL (
    SELECT o.national_id FROM registry_professional o
    WHERE (o.rpps = c.rpps OR o.national_id = '8' || c.rpps) AND o.id IS DISTINCT FROM p.id
    LIMIT 1
) o ON true
"""

# The first rule a line breaks, in the order an operator would fix them.
MATCH_REJECTS_SQL = f"""
INSERT INTO import_rejects ({REJECT_COLUMNS})
SELECT line, adeli, col, rule, value FROM (
    SELECT line, adeli,
        CASE WHEN line <> first_adeli_line OR professional_id IS NULL THEN '{ADELI_COLUMN}'
             ELSE '{RPPS_COLUMN}' END AS col,
        CASE WHEN line <> first_adeli_line THEN format(%(duplicate_adeli)s, first_adeli_line)
             WHEN line <> first_rpps_line THEN format(%(duplicate_rpps)s, first_rpps_line)
             WHEN professional_id IS NULL THEN %(unknown_adeli)s
             WHEN current_rpps IS NOT NULL AND current_rpps <> rpps THEN format(%(other_rpps)s, current_rpps)
             WHEN rpps_owner IS NOT NULL THEN format(%(rpps_taken)s, rpps_owner)
        END AS rule,
        CASE WHEN line <> first_adeli_line OR professional_id IS NULL THEN adeli ELSE rpps END AS value
    FROM import_matches
) checked
WHERE rule IS NOT NULL
"""


def match_rules() -> dict[str, str]:
    """The words of MATCH_REJECTS_SQL's rules, in the language of the import, as PostgreSQL format()
    templates (%s: the other line, or number)."""
    return {
        "duplicate_adeli": _("duplicate ADELI number: already on line %(line)s") % {"line": "%s"},
        "duplicate_rpps": _("RPPS number already given to another ADELI number on line %(line)s")
        % {"line": "%s"},
        "unknown_adeli": _("unknown ADELI number: no professional in the registry has it"),
        "other_rpps": _("the professional already has another RPPS number, %(rpps)s") % {"rpps": "%s"},
        "rpps_taken": _("RPPS number already belongs to professional %(owner)s") % {"owner": "%s"},
    }


# The pairs the extraction of the same run may rely on to recognise one person listed under both
# numbers (registry.merge.PEOPLE_SQL): the first line of its ADELI and of its RPPS number, not
# contradicting the registry (the ADELI person has no other RPPS; the RPPS number is not someone else's
# while the ADELI number is known). Dropped by registry.services once the run's work is done.
LINKS_TABLE = "import_links"
LINKS_CREATE_SQL = f"CREATE TEMP TABLE {LINKS_TABLE} (adeli text PRIMARY KEY, rpps text UNIQUE)"
LINKS_SQL = f"""
INSERT INTO {LINKS_TABLE} (adeli, rpps)
SELECT adeli, rpps FROM import_matches
WHERE line = first_adeli_line AND line = first_rpps_line
  AND (current_rpps IS NULL OR current_rpps = rpps)
  AND (professional_id IS NULL OR rpps_owner IS NULL)
"""

SWITCH_SQL = """
UPDATE registry_professional p
SET rpps = m.rpps, national_id = '8' || m.rpps, id_type = '8', updated_at = now()
FROM import_matches m
WHERE p.id = m.professional_id AND p.rpps IS NULL
  AND NOT EXISTS (SELECT 1 FROM import_rejects j WHERE j.line = m.line)
"""


def correspondence_load(
    *, path: Path, reject_report: Path | None, progress: Progress | None = None, links: bool = False
) -> ImportResult:
    """Stage, check and apply one correspondence file, in the caller's transaction (no report written
    when ``reject_report`` is None). With ``links``, its pairs are kept in ``LINKS_TABLE`` for the
    extraction merged next in the same transaction."""
    started = time.monotonic()
    stream = TextStream(path=path)
    spool = RejectSpool()
    with connection.cursor() as cursor:
        create_temp_tables(cursor)
        cursor.execute("DROP TABLE IF EXISTS import_correspondence, import_matches")
        cursor.execute("CREATE TEMP TABLE import_correspondence (line integer, adeli text, rpps text)")
        rows = _stage(cursor, stream, spool)
        copy_spool(cursor, spool)
        if progress:
            progress("switching ADELI professionals to RPPS")
        cursor.execute(MATCHES_SQL)
        cursor.execute(MATCH_REJECTS_SQL, match_rules())
        if links:
            cursor.execute(f"DROP TABLE IF EXISTS {LINKS_TABLE}")
            cursor.execute(LINKS_CREATE_SQL)
            cursor.execute(LINKS_SQL)
        cursor.execute(SWITCH_SQL)
        updated = int(cursor.rowcount)
        rejected = count_rejects(cursor)
        if reject_report is not None:
            write_reject_report(cursor=cursor, path=reject_report)
        cursor.execute("DROP TABLE import_correspondence, import_matches")
        drop_temp_tables(cursor)
    return ImportResult(
        path=path,
        kind="correspondence",
        encoding=stream.encoding,
        sha256=stream.sha256,
        rows=rows,
        updated=updated,
        unchanged=rows - rejected - updated,
        rejected=rejected,
        reject_report=reject_report,
        seconds=time.monotonic() - started,
    )


def _stage(cursor: Any, stream: TextStream, spool: RejectSpool) -> int:
    count = 0
    with open_binary(stream.path) as handle:
        lines = read_lines(stream, handle)
        _check_header(stream, lines)
        with cursor.copy("COPY import_correspondence (line, adeli, rpps) FROM STDIN") as copy:
            for number, line in _data_lines(lines):
                count += 1
                pair = _checked_pair(number, line, stream, spool)
                if pair:
                    copy.write(f"{number}\t{pair[0]}\t{pair[1]}\n")
    if count == 0:
        raise stream.refuse(_("no data lines after the header (empty correspondence file)"))
    return count


def _data_lines(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    return ((number, line) for number, line in lines if line.strip())


def _check_header(stream: TextStream, lines: Iterator[tuple[int, str]]) -> None:
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise stream.refuse(_("the file is empty (no header line)"))
    labels = [normalize_label(label) for label in first[1].lstrip("\ufeff").rstrip(";").split(";")]
    if len(labels) != 2 or not labels[0].endswith("adeli") or not labels[1].endswith("rpps"):
        raise stream.refuse(
            _("line 1: header %(header)s is not 'N° ADELI;N° RPPS' (not a correspondence file)")
            % {"header": repr(first[1])}
        )


def _checked_pair(number: int, line: str, stream: TextStream, spool: RejectSpool) -> tuple[str, str] | None:
    fields = [field.strip() for field in line.split(";")]
    if len(fields) == 3 and not fields[2]:
        fields.pop()
    if len(fields) != 2:
        if not stream.ends_with_newline:
            raise stream.refuse(
                _("line %(line)d: truncated in the middle of a line (no line end)") % {"line": number}
            )
        wrong = _("the line has %(count)d columns, expected %(width)d") % {"count": len(fields), "width": 2}
        spool.add(number, fields[0], "", wrong)
        return None
    adeli, rpps = fields
    for column, rule, value in (
        (ADELI_COLUMN, identifiers.check_adeli(adeli), adeli),
        (RPPS_COLUMN, identifiers.check_rpps(rpps), rpps),
    ):
        if rule:
            spool.add(number, adeli, column, rule, value)
            return None
    return adeli, rpps
