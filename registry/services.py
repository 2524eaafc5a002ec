"""Use cases of the registry: importing the official extraction and correspondence files.

Each run is recorded in RegistryImport (what it read, what it did, where its reject report is). The data
work happens in one transaction, so a refused file leaves the registry exactly as it was; the run's record
is written outside it, so a refusal is remembered too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .correspondence import correspondence_load
from .importer import ImportResult, extraction_load
from .merge import Progress
from .models import RegistryImport
from .textfile import FileRefused, file_sha256

# A --full import deactivating more than this share of the active registry is refused unless forced.
DEFAULT_MAX_DEACTIVATION_SHARE = 0.05

# Two imports at once would merge against each other's half-written state: they take turns.
IMPORT_LOCK = 0x43505852  # "CPXR"

Loader = Callable[[Path, Path, Progress | None], ImportResult]


def registry_import(
    *,
    path: Path,
    full: bool = False,
    force: bool = False,
    reject_report: Path | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a ``PS_LibreAcces_Personne_activite`` extraction (plain or zipped, any published encoding).

    Raises FileRefused when the file is unusable as a whole; bad rows only go to the reject report. A
    ``full`` import that would deactivate more than ``CPX_IMPORT_MAX_DEACTIVATION_SHARE`` (default 5%) of
    the active registry is refused as a whole, unless ``force``.
    """

    def load(source: Path, report: Path, report_progress: Progress | None) -> ImportResult:
        return extraction_load(
            path=source,
            full=full,
            reject_report=report,
            progress=report_progress,
            max_deactivation_share=None if force else max_deactivation_share(),
        )

    return _run(
        path=path, kind="extraction", full=full, reject_report=reject_report, progress=progress, load=load
    )


def max_deactivation_share() -> float:
    return float(getattr(settings, "CPX_IMPORT_MAX_DEACTIVATION_SHARE", DEFAULT_MAX_DEACTIVATION_SHARE))


def registry_correspondence_import(
    *, path: Path, reject_report: Path | None = None, progress: Progress | None = None
) -> ImportResult:
    """Apply ANS's ADELI -> RPPS correspondence file: each listed person gains their RPPS number."""

    def load(source: Path, report: Path, report_progress: Progress | None) -> ImportResult:
        return correspondence_load(path=source, reject_report=report, progress=report_progress)

    return _run(
        path=path,
        kind="correspondence",
        full=False,
        reject_report=reject_report,
        progress=progress,
        load=load,
    )


def _run(
    *,
    path: Path,
    kind: str,
    full: bool,
    reject_report: Path | None,
    progress: Progress | None,
    load: Loader,
) -> ImportResult:
    record = RegistryImport.objects.create(file_name=str(path)[-500:], kind=kind, full=full, file_sha256="")
    report = reject_report or default_report_path(path, record)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
            result = load(path, report, progress)
    except Exception as exc:
        _record_failure(record, path, exc)
        raise
    if result.rejected == 0 and reject_report is None:
        report.unlink(missing_ok=True)  # nothing to report: no empty file left behind
        result.reject_report = None
    _record_success(record, result)
    if result.deactivated:
        holders_struck_off()
    return result


def holders_struck_off() -> None:
    """Holders the registry no longer lists must lose their credentials at once: their cards are revoked and
    they are told why, and their e-CPS stops working. Run after the import commits (the revocations publish
    a CRL and write to the outbox); the daily safety-net tasks catch anything a crash here leaves behind."""
    from ecps.services import ecps_revoke_for_inactive_holders
    from lifecycle.services import cards_revoke_for_inactive_holders

    cards_revoke_for_inactive_holders()
    ecps_revoke_for_inactive_holders()


def default_report_path(path: Path, record: RegistryImport) -> Path:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    stem = path.name.split(".")[0]
    return Path(settings.CPX_REJECT_DIR) / f"{stem}-{stamp}-run{record.pk}-rejects.csv"


def _record_failure(record: RegistryImport, path: Path, exc: Exception) -> None:
    record.status = RegistryImport.Status.REFUSED
    record.error = str(exc) if isinstance(exc, FileRefused) else f"{type(exc).__name__}: {exc}"
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
