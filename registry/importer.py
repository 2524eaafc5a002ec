"""The import of an extraction file: stream it into a staging table with COPY, then merge it into the
registry with set-based SQL.

Memory stays flat: the file is read in 1 MB chunks, rows go to PostgreSQL in batches, rejects go to a
temporary file, and every merge step is one SQL statement. Everything happens in the caller's transaction,
so a file refused half-way leaves the registry exactly as it was. The merge itself is in ``merge.py``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.db import connection
from django.utils.translation import gettext as _

from . import digests
from .extraction import (
    LIMITED,
    NAMES,
    WIDTH,
    Problem,
    RowChecker,
    clean_fields,
    column_label,
    header_problem,
    needs_cleaning,
)
from .merge import (
    REJECT_COLUMNS,
    Progress,
    deactivate_absent,
    merge_extraction,
    reject_conflicting_identities,
    restore_triggers,
    skip_foreign_key_triggers,
)
from .textfile import TextStream, open_binary, read_lines

BATCH = 4000
PROGRESS_EVERY = 100_000

# Who follows the rows read while the file is staged (the back-office page, through registry.progress):
# called with the count every ROWS_STEP rows and once at the end of the file; it bounds its own rate.
row_listener: ContextVar[Callable[[int], None] | None] = ContextVar("row_listener", default=None)
ROWS_STEP = 500

TEMP_TABLES = [
    "import_rows",
    "import_rejects",
    "import_changed_structures",
    "import_people",
    "import_changed_people",
    "import_person_ids",
    "import_upserted_exercises",
    "import_changed_exercises",
    "import_new_exercises",
    "import_activities",
    "import_changed_activities",
    "import_touched_exercises",
    "import_protected",
    "import_struck_off",
]


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
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES + digests.RAW_TABLES)}")


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
) -> tuple[int, digests.Staged | None]:
    """COPY the good rows of the file into ``import_rows``: only the people whose rows changed since the
    last import when the digests allow it (``registry.digests``), else every row. Return the number of
    data rows in the file and what the shortcut skipped (None when the file was read the full way)."""

    def stage_rows(rows: Iterator[tuple[int, str]], checker: RowChecker) -> None:
        with cursor.copy(f"COPY import_rows (line, {', '.join(NAMES)}) FROM STDIN (DELIMITER '|')") as copy:
            _copy_rows(copy, rows, checker, stream, spool, progress)

    staged = digests.stage_changed(cursor=cursor, stream=stream, stage_rows=stage_rows, progress=progress)
    if staged is not None:
        listener = row_listener.get()
        if listener:
            listener(staged.rows)
        if progress:
            progress(
                f"read {staged.rows:,} rows: {staged.skipped_rows:,} rows of {staged.skipped_people:,} "
                "people unchanged since the last import, the others checked"
            )
        return staged.rows, staged
    return _stage_every_row(cursor=cursor, stream=stream, spool=spool, progress=progress), None


def _stage_every_row(
    *, cursor: Any, stream: TextStream, spool: RejectSpool, progress: Progress | None
) -> int:
    with open_binary(stream.path) as handle:
        lines = read_lines(stream, handle)
        terminated = _check_header(stream, lines)
        checker = RowChecker(terminated=terminated)
        with cursor.copy(f"COPY import_rows (line, {', '.join(NAMES)}) FROM STDIN (DELIMITER '|')") as copy:
            rows = _copy_rows(copy, _rows(lines), checker, stream, spool, progress)
    if rows == 0:
        raise stream.refuse(_("no data rows after the header (empty extraction)"))
    return rows


def _check_header(stream: TextStream, lines: Iterator[tuple[int, str]]) -> bool:
    """Check the header line; return whether it ends with a ``|`` terminator."""
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise stream.refuse(_("the file is empty (no header line)"))
    problem = header_problem(first[1])
    if problem:
        raise stream.refuse(
            _("%(problem)s: not a PS_LibreAcces_Personne_activite extraction") % {"problem": problem}
        )
    return first[1].rstrip().endswith("|")


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
    listener = row_listener.get()
    for number, line in rows:
        count += 1
        if listener and count % ROWS_STEP == 0:
            listener(count)
        staged = _staged_line(number, line, checker, stream, spool)
        if staged is not None:
            batch.append(staged)
            if len(batch) >= BATCH:
                copy.write("".join(batch))
                batch.clear()
        if progress and count % PROGRESS_EVERY == 0:
            progress(f"read {count:,} rows ({count / (time.monotonic() - started):,.0f} rows/s)")
    copy.write("".join(batch))
    if listener:
        listener(count)
    return count


def _staged_line(
    number: int, line: str, checker: RowChecker, stream: TextStream, spool: RejectSpool
) -> str | None:
    """The row as a COPY line (its line number first), or None when it is rejected."""
    fields = line.split("|")
    read = len(fields)
    if checker.terminated_row(line, fields):
        fields.pop()  # the row's terminator, not an empty column
        line = line[:-1]
    if len(fields) != WIDTH:
        _wrong_width(number, fields, read, stream, spool)
        return None
    if needs_cleaning(line):
        problem = clean_fields(fields)
        if problem is not None:
            spool.add_problem(number, fields, problem)
            return None
        line = "|".join(fields)
    problem = checker.problem(fields)
    if problem is not None:
        spool.add_problem(number, fields, problem)
        return None
    if "\\" in line or "\r" in line:
        line = line.replace("\\", "\\\\").replace("\r", "\\r")
    return f"{number}|{line}\n"


def _wrong_width(number: int, fields: list[str], read: int, stream: TextStream, spool: RejectSpool) -> None:
    if not stream.ends_with_newline:
        # Only the very last line can lack its line end: a short one is a file cut off mid-row (so a final
        # ``|`` there is no terminator: the columns read are all the separated values).
        raise stream.refuse(
            _(
                "line %(line)d: truncated in the middle of a row "
                "(%(read)d of %(width)d columns and no line end)"
            )
            % {"line": number, "read": read, "width": WIDTH}
        )
    # its terminator already taken off
    rule = _("the row has %(count)d columns, expected %(width)d") % {"count": len(fields), "width": WIDTH}
    spool.add(number, fields[2] if len(fields) > 2 else "", "", rule)


def _first_overlong(part: str) -> str:
    """A CASE giving, for the first value too long for its database field, its column, limit or value."""
    whens = []
    for index, limit in LIMITED:
        label = column_label(index).replace("'", "''")
        result = {"column": f"'{label}'", "limit": f"'{limit}'", "value": NAMES[index]}[part]
        whens.append(f"WHEN length({NAMES[index]}) > {limit} THEN {result}")
    return f"CASE {' '.join(whens)} END"


# A value longer than its field would make the merge fail: such rows are rejected in one scan, in C, rather
# than by a length check of every value in Python.
OVERLONG_SQL = f"""
INSERT INTO import_rejects ({REJECT_COLUMNS})
SELECT line, national_id, {_first_overlong("column")},
       format(%s, {_first_overlong("limit")}), left({_first_overlong("value")}, 60)
FROM import_rows
WHERE {" OR ".join(f"length({NAMES[index]}) > {limit}" for index, limit in LIMITED)}
"""


def reject_overlong(cursor: Any) -> None:
    # The rule's words, as a PostgreSQL format() template (%s: the field's limit).
    cursor.execute(OVERLONG_SQL, [_("longer than %(limit)s characters") % {"limit": "%s"}])
    if cursor.rowcount:
        cursor.execute("DELETE FROM import_rows r USING import_rejects j WHERE j.line = r.line")


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


def count_active(cursor: Any) -> int:
    """The active professionals a --full import may deactivate (the registry's RPPS and ADELI people)."""
    cursor.execute("SELECT count(*) FROM registry_professional WHERE is_active AND id_type IN ('0', '8')")
    return int(cursor.fetchone()[0])


def _check_deactivation_share(
    stream: TextStream, deactivated: int, active: int, max_share: float | None
) -> None:
    """A truncated or partial file given as --full would strike most of the registry off (and revoke their
    cards): refuse it as a whole unless forced."""
    if max_share is None or deactivated == 0 or deactivated <= max_share * active:
        return
    raise stream.refuse(
        _(
            "this --full import would deactivate %(deactivated)s of the %(active)s active professionals "
            "(%(share)s), more than the %(allowed)s allowed (setting CPX_IMPORT_MAX_DEACTIVATION_SHARE): "
            "refused, the registry is unchanged; check that the file is the complete extraction, or run "
            "again with --force (force=True) if this is intended"
        )
        % {
            "deactivated": f"{deactivated:,}",
            "active": f"{active:,}",
            "share": f"{deactivated / active:.1%}",
            "allowed": f"{max_share:.1%}",
        }
    )


def extraction_load(
    *,
    path: Path,
    full: bool,
    reject_report: Path,
    progress: Progress | None = None,
    max_deactivation_share: float | None = None,
    merged: Callable[[Any], None] | None = None,
) -> ImportResult:
    """Stage, check and merge one extraction file, in the caller's transaction.

    With ``full`` and a ``max_deactivation_share``, a file that would deactivate more than that share of the
    active registry is refused (FileRefused: the caller's transaction rolls everything back). ``merged`` is
    called with the cursor once the file is merged and accepted, while the temporary tables of
    ``registry.signals`` still exist (``registry.services`` sends ``extraction_merged`` from it)."""
    started = time.monotonic()
    stream = TextStream(path=path)
    spool = RejectSpool()
    with connection.cursor() as cursor:
        digests.import_mode_on(cursor)
        active_before = count_active(cursor) if full else 0
        create_temp_tables(cursor)
        rows, staged = stage_extraction(cursor=cursor, stream=stream, spool=spool, progress=progress)
        copy_spool(cursor, spool)
        reject_overlong(cursor)
        reject_conflicting_identities(cursor)
        # Row triggers off (when safe) from the merge to the digests, the import's last registry write: the
        # foreign key checks it need not make, and registry.digests' staleness triggers it must not fire.
        replica = skip_foreign_key_triggers(cursor)
        imported, updated, unchanged = merge_extraction(cursor=cursor, progress=progress)
        if staged is not None:
            unchanged += staged.skipped_rows
        deactivated = 0
        if full:
            if progress:
                progress("deactivating who the full extraction no longer lists")
            reason = _("absent from the full extraction %(file)s") % {"file": path.name}
            scope = digests.deactivation_scope if staged is not None else None
            deactivated = deactivate_absent(cursor=cursor, reason=reason, scope=scope)
            _check_deactivation_share(stream, deactivated, active_before, max_deactivation_share)
        if progress:
            progress("recording the digests")
        digests.record(cursor, staged, full=full)
        if replica:
            restore_triggers(cursor)
            digests.import_mode_off(cursor)  # (without replica, the deferred triggers fire at COMMIT)
        if merged is not None:
            if progress:
                progress("the layers above do their part")
            merged(cursor)
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
