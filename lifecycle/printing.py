"""The secure PIN-mailer print run: the sealed PIN mailers whose day has come, opened once, written for the
printer, then purged.

A PIN mailer may be printed once its card's shipment released it (``pin_released_at`` set), or once its
release day (``pin_release_on``, the day after the card left) is reached. A re-issued codes letter (kind
``codes``, ``lifecycle.codes``: it exists only once its request was approved) is printed by the next run,
with no shipment to wait for, while its card is live; it is purged once printed like the first.

Each chunk of mailers is, in ONE transaction: claimed (``SELECT ... FOR UPDATE SKIP LOCKED``, so two runs
never print one twice), opened, written to disk (each file fsync'ed, mode 0600), marked printed (its sealed
content purged) with a ``pin_mailer_printed`` (``codes_letter_printed``) CardEvent, then committed. A crash
before the commit leaves the mailers sealed and unprinted (the next run prints them again: a duplicate letter,
never a lost one); a mailer is never purged without its file on disk.

No PDF merger is installed (reportlab writes PDFs, it does not merge them, and the sealed mailers cannot be
re-rendered), so a run is a folder of its own under ``out_dir/<day>/``: one PDF per mailer, in the printing
order, and ``manifest.csv`` (order, file, mailer id, card number, holder national id). The files hold the
PIN and PUK in clear: the folder is 0700, the files 0600, and once the printer has printed them the run is
confirmed (``pin_print_run_confirm``, ``print_pin_mailers --confirm FOLDER``), which deletes them.

A run is for today or a past day: a future day would print mailers before the day-after-the-card rule
allows, and is refused.
"""

from __future__ import annotations

import csv
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cards.models import Card, CardEvent, Mailer
from cards.services import mailer_mark_printed, pin_mailer_open
from core.errors import InvalidInput

log = logging.getLogger(__name__)

MANIFEST_HEADER = ["order", "file", "mailer_id", "card_number", "national_id"]
CHUNK = 200


@dataclass
class PinPrintRun:
    """What one print run did. ``folder`` and ``manifest`` are None when there was nothing to print."""

    day: date
    printed: int = 0
    folder: Path | None = None
    manifest: Path | None = None
    files: list[Path] = field(default_factory=list)


def printable_pin_mailers(*, day: date) -> Q:
    """The codes letters that may be printed on ``day``, sealed: PIN mailers released, or their release day
    reached; re-issued codes letters (approved when they exist) of live cards."""
    sealed = Q(printed_at__isnull=True, content__isnull=False)
    first = Q(kind=Mailer.Kind.PIN) & (
        Q(card__shipment__pin_released_at__isnull=False) | Q(card__shipment__pin_release_on__lte=day)
    )
    reissued = Q(kind=Mailer.Kind.CODES, card__state__in=Card.LIVE_STATES)
    return sealed & (first | reissued)


def pin_mailers_print(*, day: date | None = None, out_dir: Path, chunk: int = CHUNK) -> PinPrintRun:
    """Print (write out for the printer) every PIN mailer due on ``day`` (default: today) and purge it.

    Returns the run: how many were printed, the run's folder, its manifest and its files (in order)."""
    day = day or timezone.localdate()
    if day > timezone.localdate():
        raise InvalidInput(
            f"a PIN-mailer print run is for today or a past day, not {day.isoformat()}",
            code="print_day_in_future",
            field="day",
        )
    run = PinPrintRun(day=day)
    writer: _RunWriter | None = None
    try:
        while True:
            with transaction.atomic():
                mailers = list(
                    Mailer.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(printable_pin_mailers(day=day))
                    .select_related("card__professional")
                    .order_by("pk")[:chunk]
                )
                if mailers:
                    writer = writer or _RunWriter.open(Path(out_dir) / day.isoformat())
                    _print_chunk(writer, mailers, run)
            if len(mailers) < chunk:
                break
    finally:
        if writer is not None:
            writer.close()
    if writer is not None and run.printed:
        run.folder, run.manifest = writer.folder, writer.manifest
    log.info("PIN mailers printed for %s: %d in %s", day, run.printed, run.folder)
    return run


def _print_chunk(writer: _RunWriter, mailers: list[Mailer], run: PinPrintRun) -> None:
    """Write then purge one claimed chunk, inside the caller's transaction. Should anything fail before
    the commit, this chunk's files and manifest lines are taken back (the rows roll back sealed)."""
    mark = writer.mark()
    try:
        written = [writer.write(mailer, pin_mailer_open(mailer=mailer)) for mailer in mailers]
        writer.sync()
        for mailer in mailers:
            mailer_mark_printed(mailer=mailer)
        CardEvent.objects.bulk_create(
            CardEvent(
                card_id=mailer.card_id,
                kind="codes_letter_printed" if mailer.kind == Mailer.Kind.CODES else "pin_mailer_printed",
                detail={"mailer": mailer.pk, "run": writer.folder.name, "file": path.name},
            )
            for mailer, path in zip(mailers, written, strict=True)
        )
    except BaseException:
        writer.rollback(mark)
        raise
    run.files.extend(written)
    run.printed += len(written)


class _RunWriter:
    """A run's folder (0700) under the day's folder: mailer files (0600) and the manifest (0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest = folder / "manifest.csv"
        self._manifest = os.fdopen(_create_private(self.manifest), "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._manifest)
        self._csv.writerow(MANIFEST_HEADER)
        self._files: list[Path] = []

    @classmethod
    def open(cls, day_folder: Path) -> _RunWriter:
        day_folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = timezone.localtime().strftime("%H%M%S")
        folder = day_folder / f"run-{stamp}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # whatever the umask
        return cls(folder)

    def write(self, mailer: Mailer, pdf: bytes) -> Path:
        order = len(self._files) + 1
        card = mailer.card
        path = self.folder / f"{order:06d}-{card.number}.pdf"
        with os.fdopen(_create_private(path), "wb") as out:
            out.write(pdf)
            out.flush()
            os.fsync(out.fileno())
        self._files.append(path)
        self._csv.writerow([order, path.name, mailer.pk, card.number, card.professional.national_id])
        return path

    def sync(self) -> None:
        """Files, manifest and folder on disk before the purge is committed."""
        self._manifest.flush()
        os.fsync(self._manifest.fileno())
        _fsync_dir(self.folder)

    def mark(self) -> tuple[int, int]:
        self._manifest.flush()
        return len(self._files), self._manifest.tell()

    def rollback(self, mark: tuple[int, int]) -> None:
        """Take back what was written since ``mark``: those mailers stay sealed, so no file may remain."""
        count, size = mark
        for path in self._files[count:]:
            path.unlink(missing_ok=True)
        del self._files[count:]
        self._manifest.flush()
        self._manifest.seek(size)
        self._manifest.truncate()
        self.sync()

    def close(self) -> None:
        """Close the manifest; a run that printed nothing (its only chunk failed) leaves no folder."""
        self._manifest.close()
        if not self._files:
            self.manifest.unlink(missing_ok=True)
            self.folder.rmdir()


def _create_private(path: Path) -> int:
    """A new file, readable by its owner only (0600 whatever the umask); never an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pin_print_run_confirm(*, folder: Path, out_dir: Path) -> int:
    """The printer printed the run in ``folder``: delete its PDFs (the PIN and PUK in clear) and its
    manifest, then the folder. Only a run folder under ``out_dir`` is accepted. Returns the files deleted."""
    folder = Path(folder).resolve()
    root = Path(out_dir).resolve()
    if (
        root not in folder.parents
        or not folder.name.startswith("run-")
        or not (folder / "manifest.csv").exists()
    ):
        raise InvalidInput(f"{folder} is not a PIN-mailer print run under {root}", code="not_a_print_run")
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as manifest:
        names = [row["file"] for row in csv.DictReader(manifest)]
    deleted = 0
    for name in names:
        path = folder / Path(name).name
        if path.exists():
            path.unlink()
            deleted += 1
    (folder / "manifest.csv").unlink()
    leftovers = list(folder.iterdir())
    if leftovers:
        raise InvalidInput(
            f"{folder} holds files the manifest does not list: {sorted(p.name for p in leftovers)}"
        )
    folder.rmdir()
    _fsync_dir(folder.parent)
    log.info("PIN print run %s confirmed: %d files deleted", folder, deleted)
    return deleted
