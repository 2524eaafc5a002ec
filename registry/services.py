"""Use cases of the registry: importing the official extraction and correspondence files.

Each run is recorded in RegistryImport (what it read, what it did, where its reject report is). The data
work happens in one transaction, so a refused file leaves the registry exactly as it was; the run's record
is written outside it, so a refusal is remembered too.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from approvals.errors import ApprovalRequired
from audit import log as audit_log
from core.tasks import send_task

from . import forced_import
from .correspondence import LINKS_TABLE, correspondence_load
from .importer import ImportResult, extraction_load
from .merge import Progress
from .models import RegistryImport
from .signals import extraction_merged
from .textfile import FileRefused, file_sha256

# A --full import deactivating more than this share of the active registry is refused unless forced.
DEFAULT_MAX_DEACTIVATION_SHARE = 0.05

# Two imports at once would merge against each other's half-written state: they take turns.
IMPORT_LOCK = 0x43505852  # "CPXR"

# What striking holders off asks of the layers above, by task name (see holders_struck_off).
STRUCK_OFF_TASKS = ("lifecycle.revoke_inactive_holders", "ecps.revoke_inactive_holders")


def registry_import(
    *,
    path: Path,
    full: bool = False,
    force: bool = False,
    approval_id: int | None = None,
    actor: Any = None,
    reject_report: Path | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a ``PS_LibreAcces_Personne_activite`` extraction (plain or zipped, any published encoding).

    Raises FileRefused when the file is unusable as a whole; bad rows only go to the reject report. A
    ``full`` import that would deactivate more than ``CPX_IMPORT_MAX_DEACTIVATION_SHARE`` (default 5%) of
    the active registry is refused as a whole, unless ``force``, which needs ``approval_id``: a second ANS
    operator's approval of a forced import of this file (``registry.forced_import``), used by this run.
    """
    forced = _check_forced(path, full, force, approval_id)

    def work(reports: list[Path], runs: list[int]) -> list[ImportResult]:
        _use_forced(forced, path, approval_id, actor)
        return [_extraction(path, full, force, reports[0], progress, runs[0])]

    audited = {"forced": force, "approval_id": approval_id, "actor": actor}
    return _run([(path, "extraction", full, reject_report)], work, **audited)[0]


def registry_import_with_correspondence(
    *,
    path: Path,
    correspondence: Path,
    full: bool = False,
    force: bool = False,
    approval_id: int | None = None,
    actor: Any = None,
    reject_report: Path | None = None,
    correspondence_reject_report: Path | None = None,
    progress: Progress | None = None,
) -> tuple[ImportResult, ImportResult]:
    """An extraction and the ADELI -> RPPS correspondence published with it, in one transaction (all or
    nothing): the correspondence first, so that a person the extraction already lists under their new RPPS
    number is found (switched from ADELI) rather than created a second time; then the extraction; then the
    correspondence again for the people the extraction has just brought in by ADELI. The second pass's
    rejects are the report's (a line the extraction resolved is not a reject); the updates of both count.
    Returns (correspondence result, extraction result). ``force`` needs ``approval_id`` (see
    ``registry_import``)."""
    forced = _check_forced(path, full, force, approval_id)

    def work(reports: list[Path], runs: list[int]) -> list[ImportResult]:
        _use_forced(forced, path, approval_id, actor)
        first = correspondence_load(path=correspondence, reject_report=None, progress=progress, links=True)
        extraction = _extraction(path, full, force, reports[1], progress, runs[1])
        second = correspondence_load(path=correspondence, reject_report=reports[0], progress=progress)
        second.updated += first.updated
        second.unchanged = second.rows - second.rejected - second.updated
        return [second, extraction]

    jobs = [
        (correspondence, "correspondence", False, correspondence_reject_report),
        (path, "extraction", full, reject_report),
    ]
    corr, extraction = _run(jobs, work, forced=force, approval_id=approval_id, actor=actor)
    return corr, extraction


def _extraction(
    path: Path, full: bool, force: bool, report: Path, progress: Progress | None, run_id: int
) -> ImportResult:
    def merged(cursor: Any) -> None:
        # registry.signals: the layers above do their set-based work in this transaction.
        extraction_merged.send(
            sender=RegistryImport, cursor=cursor, run_id=run_id, full=full, file_name=path.name
        )

    return extraction_load(
        path=path,
        full=full,
        reject_report=report,
        progress=progress,
        max_deactivation_share=None if force else max_deactivation_share(),
        merged=merged,
    )


def _check_forced(path: Path, full: bool, force: bool, approval_id: int | None) -> bool:
    """Whether this is a forced full import; if so its approval must be granted for this file (checked
    before any work; used in the import's transaction)."""
    if not (full and force):
        return False
    if approval_id is None:
        raise ApprovalRequired(
            "a forced full import needs a second ANS operator's approval: ask for one (import_registry "
            "--full --force --operator USERNAME, or the API with force=true) and give its number"
        )
    forced_import.forced_import_check(approval_id=approval_id, path=path)
    return True


def _use_forced(forced: bool, path: Path, approval_id: int | None, actor: Any) -> None:
    if forced:
        assert approval_id is not None
        forced_import.forced_import_use(approval_id=approval_id, path=path, actor=actor)


def max_deactivation_share() -> float:
    return float(getattr(settings, "CPX_IMPORT_MAX_DEACTIVATION_SHARE", DEFAULT_MAX_DEACTIVATION_SHARE))


def registry_correspondence_import(
    *, path: Path, reject_report: Path | None = None, progress: Progress | None = None
) -> ImportResult:
    """Apply ANS's ADELI -> RPPS correspondence file: each listed person gains their RPPS number."""

    def work(reports: list[Path], runs: list[int]) -> list[ImportResult]:
        return [correspondence_load(path=path, reject_report=reports[0], progress=progress)]

    return _run([(path, "correspondence", False, reject_report)], work)[0]


# (the file, its kind, full, the reject report asked for): one RegistryImport each.
Job = tuple[Path, str, bool, Path | None]


def _run(
    jobs: list[Job],
    work: Callable[[list[Path], list[int]], list[ImportResult]],
    *,
    forced: bool = False,
    approval_id: int | None = None,
    actor: Any = None,
) -> list[ImportResult]:
    """Record each file's run, do ``work`` (given each file's reject report path) in one transaction under
    the import lock, and record its outcome; a refusal of any file leaves the registry as it was. The
    import's audit row (``registry.imported``) is the transaction's last write: it commits with the data."""
    records = [
        RegistryImport.objects.create(file_name=str(path)[-500:], kind=kind, full=full, file_sha256="")
        for path, kind, full, _ in jobs
    ]
    reports = [
        report or default_report_path(path, record)
        for (path, _, _, report), record in zip(jobs, records, strict=True)
    ]
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
                cursor.execute(f"DROP TABLE IF EXISTS {LINKS_TABLE}")
            results = work(reports, [record.pk for record in records])
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {LINKS_TABLE}")
            for (path, _, _, _), result in zip(jobs, results, strict=True):
                result.sha256 = given_sha256(path, result.sha256)
            _audit_import(jobs, records, results, forced=forced, approval_id=approval_id, actor=actor)
    except Exception as exc:
        for (path, _, _, _), record in zip(jobs, records, strict=True):
            _record_failure(record, path, exc, own=len(jobs) == 1 or str(exc).startswith(f"{path}:"))
        raise
    for (_, _, _, asked), report, result, record in zip(jobs, reports, results, records, strict=True):
        if result.rejected == 0 and asked is None:
            report.unlink(missing_ok=True)  # nothing to report: no empty file left behind
            result.reject_report = None
        _record_success(record, result)
    if any(result.deactivated for result in results):
        holders_struck_off()
    return results


def _audit_import(
    jobs: list[Job],
    records: list[RegistryImport],
    results: list[ImportResult],
    *,
    forced: bool,
    approval_id: int | None,
    actor: Any,
) -> None:
    """One audit row for the whole import (its files, their counts), flagged when forced past the
    deactivation limit (with the approval that allowed it)."""
    files = [
        {
            "run": record.pk,
            "kind": kind,
            "file": path.name,
            "sha256": result.sha256,
            "full": full,
            "rows": result.rows,
            "imported": result.imported,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "rejected": result.rejected,
            "deactivated": result.deactivated,
        }
        for (path, kind, full, _), record, result in zip(jobs, records, results, strict=True)
    ]
    audit_log.append(
        "registry.imported",
        actor=actor,
        object_type="registry_import",
        object_id=records[-1].pk,
        detail={
            "forced": forced,
            "approval_id": approval_id,
            "deactivated": sum(r.deactivated for r in results),
            "files": files,
        },
    )


# --- an upload over the API: one RegistryImport per upload -----------------------------------------------


def upload_report_path(record: RegistryImport) -> Path:
    return Path(settings.CPX_REJECT_DIR) / f"api-import-{record.pk}-rejects.csv"


def registry_upload_import(*, record: RegistryImport, approval_id: int | None = None) -> str:
    """Import the file of an upload (its RegistryImport, made ``running`` by the API) through
    ``registry_import``, and fold the run's own record into the upload's: one row per upload. An upload no
    longer running (a second delivery of its task) is left as it is.

    A lost database connection is raised as is: the import's transaction was rolled back, so running this
    again (the task retries) starts from a clean registry; the row the lost attempt left is dropped first.
    With ``approval_id`` the upload is a forced full import, approved for this file (``registry_import``).
    """
    if record.status != RegistryImport.Status.RUNNING:
        return "nothing to do"
    report = upload_report_path(record)
    _upload_runs(record).delete()
    try:
        result = registry_import(
            path=Path(record.file_name),
            full=record.full,
            force=approval_id is not None,
            approval_id=approval_id,
            reject_report=report,
        )
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        _fold_upload_run(record, fallback_error=f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, FileRefused | ApprovalRequired):
            raise
        return "refused"
    if result.rejected == 0:
        report.unlink(missing_ok=True)
    _fold_upload_run(record)
    return result.summary


def _upload_runs(record: RegistryImport) -> QuerySet[RegistryImport]:
    """The records registry_import made for this upload's file (the run's, or an interrupted attempt's)."""
    return RegistryImport.objects.filter(file_name=record.file_name).exclude(pk=record.pk)


FOLDED = [
    "status",
    "file_sha256",
    "encoding",
    "rows_read",
    "imported",
    "updated",
    "unchanged",
    "rejected",
    "deactivated",
    "error",
    "finished_at",
]


def _fold_upload_run(record: RegistryImport, fallback_error: str = "") -> None:
    run = _upload_runs(record).order_by("-pk").first()
    if run is not None:
        for name in FOLDED:
            setattr(record, name, getattr(run, name))
        record.reject_report = str(upload_report_path(record)) if run.rejected else ""
    if fallback_error and record.status == RegistryImport.Status.RUNNING:
        record.status, record.error = RegistryImport.Status.REFUSED, fallback_error[:2000]
        record.finished_at = timezone.now()
    record.error = record.error.replace(f"{record.file_name}: ", "")
    record.save()
    _upload_runs(record).delete()


def given_sha256(path: Path, streamed: str) -> str:
    """The hash of the file as given (what an upload recorded): for a zip, the archive's own, not that of the
    text inside it that the reader hashed while streaming (that one is the file's for a plain file)."""
    return file_sha256(path) if zipfile.is_zipfile(path) else streamed


def holders_struck_off() -> None:
    """Holders the registry no longer lists must lose their credentials at once: their cards are revoked and
    they are told why, and their e-CPS stops working. The revocations belong to the layers above (lifecycle,
    ecps): once the import has committed, each is sent its task by name (the revocations publish a CRL and
    write to the outbox). The same tasks run daily as safety nets (config/celery.py), which catch anything a
    lost message leaves behind."""
    for task in STRUCK_OFF_TASKS:
        transaction.on_commit(_sender(task), robust=True)


def _sender(task: str) -> Callable[[], None]:
    def send() -> None:
        send_task(task)

    return send


def default_report_path(path: Path, record: RegistryImport) -> Path:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    stem = path.name.split(".")[0]
    return Path(settings.CPX_REJECT_DIR) / f"{stem}-{stamp}-run{record.pk}-rejects.csv"


def _record_failure(record: RegistryImport, path: Path, exc: Exception, *, own: bool = True) -> None:
    record.status = RegistryImport.Status.REFUSED
    record.error = str(exc) if isinstance(exc, FileRefused) else f"{type(exc).__name__}: {exc}"
    if not own:  # another file of the same run was refused: nothing of this one was applied either
        record.error = f"not applied, the run was refused: {record.error}"
    record.file_sha256 = file_sha256(path)
    record.finished_at = timezone.now()
    record.save()


def _record_success(record: RegistryImport, result: ImportResult) -> None:
    record.status = RegistryImport.Status.DONE
    record.file_sha256 = result.sha256
    record.encoding = result.encoding
    record.rows_read = result.rows
    record.imported = result.imported
    record.updated = result.updated
    record.unchanged = result.unchanged
    record.rejected = result.rejected
    record.deactivated = result.deactivated
    record.reject_report = str(result.reject_report or "")
    record.finished_at = timezone.now()
    record.save()
