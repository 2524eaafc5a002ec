"""The daily import's shortcut: a person whose rows are, byte for byte, the rows the last import merged is
not read again.

The file goes to PostgreSQL as it is, one text value per line (``COPY``, no Python per row), and one
statement groups it by national identifier with the count and a 64-bit digest of each person's lines
(``bit_xor`` of ``hashtextextended``, seeded by the header and the file's row terminator convention). A
person whose count and digest are those recorded by the last import (``registry_extractiondigest``) is
skipped; the others, "the staged", are pulled back in file order and go through the same per-row checks,
staging and merge as every row did before (``registry.importer``). A person listed both by ADELI and by RPPS
is staged or skipped as one.

Why the result is the one a full read would give:

- a skipped person's rows are those the last import merged, all accepted (a person with a rejected row gets
  no digest, so their rows are checked again and the reject report is the same each day);
- the registry has not changed since outside an import: any write to a column the merge writes, or to the
  code tables the checks read, advances the sequence ``registry_digest_epoch`` at once and again at its
  commit (migration 0008's triggers), and the digests are trusted only at the epoch the last import
  recorded (an import during which it moved records none). Otherwise every person is staged, and the
  digests are recorded again;
- a structure the staged rows describe otherwise than the registry has the other rows that describe it
  staged too, with their people (until nothing more is added), so its details come from its first row in
  the file, as in a full read, even where the file disagrees with itself;
- ``--full``: a skipped person is present, so nothing of theirs is deactivated (only the staged and the
  people the file does not list are looked at); a person struck off loses their digest.

The shortcut is not taken (``None``: the caller reads the file itself, and the digests are dropped) for a
file that is not plain UTF-8 text with one line ending convention, or that has bytes the raw ``COPY``
cannot carry; the full read then applies its own rules and messages to it.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import psycopg
from django.db import transaction

from .extraction import NAMES, WIDTH, RowChecker, header_problem
from .merge import STRUCTURE_FIELDS
from .textfile import BOM, CHUNK, TextStream, open_binary

RAW_TABLES = [
    "import_deactivation_scope",
    "import_changed_technical",
    "import_raw",
    "import_file_people",
    "import_staged_people",
    "import_skipped",
    "import_new_staged",
]
# The raw COPY: one column per line (delimiter and quote bytes that a text line never holds).
RAW_COPY = "(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', ENCODING 'UTF8')"
UNCARRIED = (b"\x00", b"\x01", b"\x02")
# 2**64 - 1: the seed is a signed 64-bit value
SEED_MASK = (1 << 63) - 1

# (the digest computed below the grouping, so that the sort or hash carries identifiers and digests, not
# the lines themselves)
FILE_PEOPLE_SQL = """
CREATE TEMP TABLE import_file_people AS
WITH line AS MATERIALIZED (
    SELECT split_part(body, '|', 3) AS national_id, hashtextextended(body, %s) AS line_digest
    FROM import_raw WHERE body <> ''
)
SELECT national_id, count(*)::integer AS lines, bit_xor(line_digest) AS digest FROM line GROUP BY national_id
"""

STAGED_SQL = """
CREATE TEMP TABLE import_staged_people AS
SELECT f.national_id FROM import_file_people f
LEFT JOIN registry_extractiondigest d ON d.national_id = f.national_id
WHERE %(all)s OR d.national_id IS NULL OR d.lines <> f.lines OR d.digest <> f.digest
"""

# One person, ADELI and RPPS: staged together (registry.merge resolves one to the other).
PARTNERS_SQL = """
INSERT INTO import_staged_people
SELECT national_id FROM (
    SELECT '0' || p.adeli AS national_id FROM import_staged_people s
    JOIN registry_professional p ON p.national_id = s.national_id WHERE p.adeli IS NOT NULL
    UNION
    SELECT '8' || p.rpps FROM import_staged_people s
    JOIN registry_professional p ON s.national_id LIKE '0%' AND p.adeli = substr(s.national_id, 2)
    WHERE p.rpps IS NOT NULL
    UNION
    SELECT '8' || l.rpps FROM import_staged_people s
    JOIN import_links l ON s.national_id LIKE '0%' AND l.adeli = substr(s.national_id, 2)
    UNION
    SELECT '0' || l.adeli FROM import_staged_people s JOIN import_links l ON s.national_id = '8' || l.rpps
) partner
WHERE NOT EXISTS (SELECT 1 FROM import_staged_people x WHERE x.national_id = partner.national_id)
  AND EXISTS (SELECT 1 FROM import_file_people f WHERE f.national_id = partner.national_id)
"""

PARTNERS_NEW_SQL = PARTNERS_SQL.replace("import_staged_people", "import_new_staged")

SKIPPED_SQL = """
CREATE TEMP TABLE import_skipped AS
SELECT f.national_id, f.lines FROM import_file_people f
WHERE NOT EXISTS (SELECT 1 FROM import_staged_people s WHERE s.national_id = f.national_id)
"""

STAGED_ROWS_SQL = f"""
COPY (
    SELECT r.line, r.body FROM import_raw r
    WHERE r.body <> '' AND split_part(r.body, '|', 3) IN (SELECT national_id FROM import_new_staged)
    ORDER BY r.line
) TO STDOUT {RAW_COPY.replace(", ENCODING 'UTF8'", "")}
"""

# A structure the staged rows describe otherwise than the registry: the skipped rows that describe it too
# are staged with their people, so its details come from its first row in the file, as in a full read.
TECHNICAL_ID = NAMES.index("technical_id") + 1
CHANGED_STRUCTURES_SQL = f"""
CREATE TEMP TABLE import_changed_technical AS
SELECT DISTINCT r.technical_id FROM import_rows r
JOIN registry_structure st ON st.technical_id = r.technical_id
WHERE r.technical_id <> ''
  AND ({", ".join(f"st.{name}" for name in STRUCTURE_FIELDS)})
      IS DISTINCT FROM ({", ".join(f"r.{name}" for name in STRUCTURE_FIELDS)})
"""
STRUCTURE_PEOPLE_SQL = f"""
INSERT INTO import_new_staged
SELECT DISTINCT k.national_id FROM import_raw w
JOIN import_skipped k ON k.national_id = split_part(w.body, '|', 3)
WHERE w.body <> ''
  AND split_part(w.body, '|', {TECHNICAL_ID}) IN (SELECT technical_id FROM import_changed_technical)
"""

# --full: who may have something to deactivate. The skipped are listed as they were: nothing of theirs is
# gone. The staged may have lost activities; and who the file does not list at all (by their national
# identifier or, for a person switched to RPPS, their ADELI one) is gone, as registry.merge's full read says.
SCOPE_SQL = [
    """
CREATE TEMP TABLE import_deactivation_scope AS
SELECT professional_id AS id FROM import_person_ids
UNION
SELECT p.id FROM registry_professional p
WHERE p.is_active AND p.id_type IN ('0', '8')
  AND NOT EXISTS (SELECT 1 FROM import_file_people f WHERE f.national_id = p.national_id)
  -- (no ADELI number: '0' || NULL matches nothing)
  AND NOT EXISTS (SELECT 1 FROM import_file_people f WHERE f.national_id = '0' || p.adeli)
""",
    "ANALYZE import_deactivation_scope",
]

RECORD_SQL = """
INSERT INTO registry_extractiondigest (national_id, lines, digest)
SELECT f.national_id, f.lines, f.digest
FROM import_staged_people s JOIN import_file_people f USING (national_id)
WHERE f.national_id <> ''
  AND NOT EXISTS (SELECT 1 FROM import_rejects j WHERE j.identifier = f.national_id)
ON CONFLICT (national_id) DO UPDATE SET lines = EXCLUDED.lines, digest = EXCLUDED.digest
"""

FORGET_REJECTED_SQL = """
DELETE FROM registry_extractiondigest d USING import_rejects j WHERE d.national_id = j.identifier
"""

FORGET_STRUCK_OFF_SQL = """
DELETE FROM registry_extractiondigest d
USING import_struck_off x JOIN registry_professional p ON p.id = x.professional_id
WHERE d.national_id = p.national_id OR d.national_id = '0' || p.adeli
"""

EPOCH_SQL = "SELECT last_value + (CASE WHEN is_called THEN 0 ELSE -1 END) FROM registry_digest_epoch"
STATE_SQL = "SELECT epoch FROM registry_extractiondigeststate WHERE id = 1"
SET_STATE_SQL = """
INSERT INTO registry_extractiondigeststate (id, epoch) VALUES (1, %s)
ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch
"""


class NotCarried(Exception):
    """The file is not one the raw COPY carries as it is: read it the full way."""


@dataclass
class Staged:
    """What the shortcut staged: the rows read (all data rows of the file) and the rows skipped."""

    rows: int
    skipped_rows: int
    skipped_people: int
    epoch: int


def import_mode_on(cursor: Any) -> None:
    """This transaction's writes to the registry are an import's (they do not make the digests stale)."""
    cursor.execute("SET LOCAL cpx.registry_import = 'on'")


def import_mode_off(cursor: Any) -> None:
    cursor.execute("SET LOCAL cpx.registry_import = 'off'")


def current_epoch(cursor: Any) -> int:
    cursor.execute(EPOCH_SQL)
    return int(cursor.fetchone()[0])


def digests_valid(cursor: Any, epoch: int) -> bool:
    cursor.execute(STATE_SQL)
    row = cursor.fetchone()
    return row is not None and row[0] is not None and int(row[0]) == epoch


def stage_changed(*, cursor: Any, stream: TextStream, stage_rows: Any, progress: Any = None) -> Staged | None:
    """Load the file raw, find the people to stage and hand their rows, in file order, to ``stage_rows``
    (``(rows iterator, checker) -> None``: the per-row checks and the COPY into ``import_rows``). Returns
    None, having changed nothing, when the file is not one the raw COPY carries (see the module)."""
    epoch = current_epoch(cursor)
    try:
        with transaction.atomic():  # a savepoint: a file the raw COPY refuses leaves nothing behind
            try:
                rows, last_line, checker, seed = _copy_raw(cursor, stream)
            except psycopg.DataError as exc:  # not UTF-8, mixed line ends, ...
                raise NotCarried from exc
    except NotCarried:
        return None
    if progress:
        progress(f"file loaded as it is: {rows:,} rows")
    valid = digests_valid(cursor, epoch)
    if not valid:
        cursor.execute("TRUNCATE registry_extractiondigest")
    cursor.execute("ANALYZE import_raw")
    cursor.execute(FILE_PEOPLE_SQL, [seed])
    cursor.execute("ANALYZE import_file_people")
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS import_links (adeli text PRIMARY KEY, rpps text UNIQUE)")
    cursor.execute(STAGED_SQL, {"all": not valid})
    cursor.execute(PARTNERS_SQL)
    cursor.execute(SKIPPED_SQL)
    cursor.execute("ANALYZE import_staged_people, import_skipped")
    cursor.execute("CREATE TEMP TABLE import_new_staged AS SELECT national_id FROM import_staged_people")
    if progress:
        progress("compared with the last import, person by person")
    while True:
        _stage_new(cursor, stream, last_line, checker, stage_rows)
        cursor.execute("TRUNCATE import_new_staged")
        cursor.execute("DROP TABLE IF EXISTS import_changed_technical")
        cursor.execute(CHANGED_STRUCTURES_SQL)
        if not cursor.rowcount:
            break  # (the usual case: every row of a changed structure changed, and is staged already)
        cursor.execute(STRUCTURE_PEOPLE_SQL)
        if not _take_new_from_skipped(cursor):
            break
    cursor.execute("SELECT count(*), coalesce(sum(lines), 0) FROM import_skipped")
    skipped_people, skipped_rows = (int(value) for value in cursor.fetchone())
    return Staged(rows=rows, skipped_rows=skipped_rows, skipped_people=skipped_people, epoch=epoch)


def _stage_new(cursor: Any, stream: TextStream, last_line: int, checker: RowChecker, stage_rows: Any) -> None:
    """Hand the rows of ``import_new_staged``'s people, in file order, to ``stage_rows``."""
    with tempfile.TemporaryFile() as spool:
        with cursor.copy(STAGED_ROWS_SQL) as copy:
            for data in copy:
                spool.write(data)
        spool.seek(0)
        stage_rows(_spooled_rows(spool, stream, last_line), checker)


def _take_new_from_skipped(cursor: Any) -> int:
    """Move the people of ``import_new_staged`` (and their ADELI or RPPS other self) from the skipped to the
    staged; return how many."""
    cursor.execute(PARTNERS_NEW_SQL)
    cursor.execute(
        "DELETE FROM import_new_staged n "
        "WHERE NOT EXISTS (SELECT 1 FROM import_skipped k WHERE k.national_id = n.national_id)"
    )
    cursor.execute(
        "DELETE FROM import_skipped k USING import_new_staged n WHERE k.national_id = n.national_id"
    )
    moved = int(cursor.rowcount)
    cursor.execute("INSERT INTO import_staged_people SELECT national_id FROM import_new_staged")
    return moved


def _copy_raw(cursor: Any, stream: TextStream) -> tuple[int, int, RowChecker, int]:
    """COPY the data lines into ``import_raw (line, body)``; return the data rows (non-empty lines), the
    last line's number, a row checker set to the file's terminator convention, and the digest seed."""
    cursor.execute("DROP TABLE IF EXISTS import_raw")
    cursor.execute(
        "CREATE TEMP TABLE import_raw (line integer GENERATED ALWAYS AS IDENTITY (START 2), body text)"
    )
    digest = hashlib.sha256()
    newlines = 0
    header = ""
    checker = RowChecker()  # its code tables read now: not while the COPY is open
    known = False
    with (
        open_binary(stream.path) as handle,
        cursor.copy(f"COPY import_raw (body) FROM STDIN {RAW_COPY}") as copy,
    ):
        pending = b""
        first = True
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if first:
                first = False
                if chunk.startswith(BOM):
                    stream.encoding = "utf-8-sig"
                    chunk = chunk[len(BOM) :]
                header, chunk = _header(chunk, checker)
                known = True
            block = pending + chunk
            cut = block.rfind(b"\n") + 1
            block, pending = block[:cut], block[cut:]
            block = _carried(block)
            newlines += block.count(b"\n")
            copy.write(block)
        if pending:
            copy.write(_carried(pending))
        stream.ends_with_newline = not pending
    if not known:
        raise NotCarried
    cursor.execute("SELECT count(*) FROM import_raw")
    copied = int(cursor.fetchone()[0])
    expected = newlines + (1 if pending else 0)
    if copied != expected:  # a line COPY read otherwise (such as "\\."): not carried as it is
        raise NotCarried
    stream.sha256 = digest.hexdigest()
    cursor.execute("SELECT count(*) FROM import_raw WHERE body <> ''")
    rows = int(cursor.fetchone()[0])
    if rows == 0:
        raise NotCarried  # the full read refuses it with its own words
    seed_text = f"{header}\n{checker.terminated}\n{WIDTH}".encode()
    seed = int.from_bytes(hashlib.blake2b(seed_text, digest_size=8).digest(), "big") & SEED_MASK
    return rows, copied + 1, checker, seed


def _header(chunk: bytes, checker: RowChecker) -> tuple[str, bytes]:
    """The header line (checked as the full read checks it) and the rest of the chunk; ``checker`` is set
    to the terminator convention the file's first data rows show."""
    end = chunk.find(b"\n")
    if end < 0:
        raise NotCarried
    try:
        header = chunk[:end].decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as exc:
        raise NotCarried from exc
    if not header.strip() or header_problem(header):
        raise NotCarried  # the full read refuses it with its own words
    checker.terminated = header.rstrip().endswith("|")
    for raw in chunk[end + 1 :].split(b"\n")[:-1][:1000]:
        line = raw.decode("utf-8", errors="replace").removesuffix("\r")
        if line:
            checker.terminated_row(line, line.split("|"))
            if checker._terminator_known:
                break
    if not checker._terminator_known:
        raise NotCarried  # learnt further down: read the full way
    return header, chunk[end + 1 :]


def _carried(block: bytes) -> bytes:
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
        if b"\r" in block:
            raise NotCarried
    if any(byte in block for byte in UNCARRIED):
        raise NotCarried
    return block


def _spooled_rows(spool: IO[bytes], stream: TextStream, last_line: int) -> Iterator[tuple[int, str]]:
    """(line number, text) of the staged rows; the file's last line sees whether it had its line end."""
    ends_with_newline = stream.ends_with_newline
    stream.ends_with_newline = True
    for raw in spool:
        number, _, body = raw.rstrip(b"\n").decode("utf-8").partition("\x02")
        line = int(number)
        if line == last_line:
            stream.ends_with_newline = ends_with_newline
        yield line, body
    stream.ends_with_newline = ends_with_newline


def deactivation_scope(cursor: Any) -> None:
    for statement in SCOPE_SQL:
        cursor.execute(statement)


def record(cursor: Any, staged: Staged | None, *, full: bool) -> None:
    """After the merge (and --full's deactivations): record the digests of the people staged whose rows were
    all accepted, forget those with a rejected row and those struck off, and the epoch they hold at; or,
    when the file was read the full way, forget them all."""
    if staged is None:
        cursor.execute(SET_STATE_SQL, [None])
        return
    cursor.execute("ANALYZE import_rejects")
    cursor.execute(RECORD_SQL)
    cursor.execute(FORGET_REJECTED_SQL)
    if full:
        cursor.execute(FORGET_STRUCK_OFF_SQL)
    # A registry write committed while this import ran may have come after what it read: trust nothing.
    epoch = staged.epoch if current_epoch(cursor) == staged.epoch else None
    cursor.execute(SET_STATE_SQL, [epoch])


def drop_tables(cursor: Any) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(RAW_TABLES)}")
