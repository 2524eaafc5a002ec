"""An uploaded extraction becomes an import: the one path shared by the API (``registry.api_imports``) and
the back-office page (``portal.views.production``).

The upload is checked at once (a file whose first line is the PS_LibreAcces header), kept under
``VAR_DIR/imports/<uuid>/``, recorded as a RegistryImport in state ``running`` and imported by the Celery
task ``registry.tasks.import_upload``, so a large file never holds a web worker. A forced full import runs
only with an approval granted for this very file; without one, the request for it is made and the upload
dropped (``ApprovalRequired`` with the request's id).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from approvals.errors import ApprovalRequired
from core.errors import DomainError

from . import forced_import
from .extraction import header_problem
from .models import RegistryImport
from .tasks import import_upload
from .textfile import FileRefused, TextStream, file_sha256, open_binary, read_lines


class UploadRefused(DomainError):
    """The file is not an extraction at all (its ``problem`` says why); nothing was kept."""

    code = "invalid"
    status = 400
    default_message = _("The file is not a PS_LibreAcces_Personne_activite extraction.")

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class QueueUnavailable(DomainError):
    code = "unavailable"
    status = 503
    default_message = _("The import queue is unavailable; try again later.")


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "upload").name).strip("._")
    return cleaned[:120] or "upload.txt"


def upload_store(upload: UploadedFile) -> Path:
    """Keep the upload where the worker can read it: VAR_DIR/imports/<uuid>/<name>."""
    folder = Path(settings.VAR_DIR) / "imports" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(upload.name or "")
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def format_problem(path: Path) -> str | None:
    """Why the file is not an extraction at all (read with the registry's own reader), or None.
    Row-level problems are the import's business: they go to the reject report."""
    stream = TextStream(path=path)
    try:
        with open_binary(path) as handle:
            first = next(read_lines(stream, handle), None)
    except FileRefused as exc:
        return str(exc).replace(f"{path}: ", "")
    if first is None or not first[1].strip():
        return "the file is empty (no header line)"
    problem = header_problem(first[1])
    return f"{problem}: not a PS_LibreAcces_Personne_activite extraction" if problem else None


def upload_drop(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.rmdir()


def upload_import_start(
    *,
    upload: UploadedFile,
    actor: Any,
    full: bool = False,
    force: bool = False,
    approval_id: int | None = None,
) -> RegistryImport:
    """Check and keep the upload, record its import (``running``) and queue the task that runs it.

    Raises ``UploadRefused`` (not an extraction), ``ApprovalRequired`` (a forced import without approval:
    the request for one is made, its id in ``extra["request_id"]``), a ``DomainError`` of
    ``forced_import_check`` (the approval given is not usable for this file), or ``QueueUnavailable``."""
    path = upload_store(upload)
    problem = format_problem(path)
    if problem:
        upload_drop(path)
        raise UploadRefused(problem)
    approval = _forced_approval(
        path=path, actor=actor, full=full, force=force, approval_id=approval_id, name=upload.name or ""
    )
    record = RegistryImport.objects.create(file_name=str(path), file_sha256=file_sha256(path), full=full)
    try:
        import_upload.delay(record.pk, *([approval] if approval else []))
    except Exception as exc:  # the broker is down: say so now rather than leave the import "running"
        RegistryImport.objects.filter(pk=record.pk).update(
            status=RegistryImport.Status.REFUSED,
            error=f"not queued ({type(exc).__name__}): upload it again later",
            finished_at=timezone.now(),
        )
        raise QueueUnavailable() from exc
    return record


def _forced_approval(
    *, path: Path, actor: Any, full: bool, force: bool, approval_id: int | None, name: str
) -> int | None:
    """A forced import runs only with an approval granted for this file (checked now, used by the import);
    without one, the request for it is made, the upload dropped, and the error says which to approve."""
    if not (force and full):
        return None
    if approval_id is not None:
        try:
            forced_import.forced_import_check(approval_id=approval_id, path=path)
        except DomainError:
            upload_drop(path)
            raise
        return int(approval_id)
    try:
        asked = forced_import.forced_import_request(path=path, actor=actor, file_name=name)
    finally:
        upload_drop(path)
    raise ApprovalRequired(
        f"approval request {asked.pk} created: once another ANS operator approves it, upload the same file "
        f"again with force=true and approval={asked.pk}",
        request_id=asked.pk,
    )
