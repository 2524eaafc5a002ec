"""Import an RPPS/ADELI extraction file (and/or an ADELI -> RPPS correspondence file) into the registry.

Ends with one line: ``imported N, updated N, unchanged N, rejected N`` and where the reject report is.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from approvals import commands as approval
from core.errors import DomainError
from registry import forced_import
from registry.importer import ImportResult
from registry.services import (
    registry_correspondence_import,
    registry_import,
    registry_import_with_correspondence,
)
from registry.textfile import FileRefused


class Command(BaseCommand):
    help = (
        "Import a PS_LibreAcces_Personne_activite extraction (UTF-8, Windows-1252 or ISO-8859-1, plain or "
        ".zip) and/or an ADELI->RPPS correspondence file; bad rows go to a CSV reject report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="the extraction file (.txt, .csv or .zip)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="a full extraction: professionals it no longer lists are marked inactive",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --full: deactivate even more than CPX_IMPORT_MAX_DEACTIVATION_SHARE (default 5%%) "
            "of the active registry (otherwise such a file is refused). Needs a second ANS operator's "
            "approval for this file: without --approval, one is requested (give --operator) and nothing is "
            "imported; run again with --approval ID once it is approved",
        )
        approval.add_approval_arguments(parser)
        parser.add_argument("--correspondence", metavar="FILE", help="ANS's 'N° ADELI;N° RPPS' file")
        parser.add_argument("--reject-report", metavar="PATH", help="where to write the rejects (CSV)")
        parser.add_argument("--progress", action="store_true", help="show progress even when not on a tty")

    def handle(self, *args, **options) -> None:
        if not options["file"] and not options["correspondence"]:
            raise CommandError("give an extraction FILE, --correspondence FILE, or both")
        report = Path(options["reject_report"]) if options["reject_report"] else None
        progress = self.progress if options["progress"] or sys.stderr.isatty() else None
        results: list[ImportResult] = []
        file = Path(options["file"]) if options["file"] else None
        correspondence = Path(options["correspondence"]) if options["correspondence"] else None
        forced = self.check_forced(file, options)
        try:
            if file and correspondence:
                # One transaction, the correspondence first (see registry_import_with_correspondence).
                results.extend(
                    registry_import_with_correspondence(
                        path=file,
                        correspondence=correspondence,
                        full=options["full"],
                        force=forced,
                        approval_id=options["approval"],
                        actor=approval.operator(options["operator"], required=False),
                        reject_report=report,
                        correspondence_reject_report=_correspondence_report(report),
                        progress=progress,
                    )
                )
            elif file:
                results.append(
                    registry_import(
                        path=file,
                        full=options["full"],
                        force=forced,
                        approval_id=options["approval"],
                        actor=approval.operator(options["operator"], required=False),
                        reject_report=report,
                        progress=progress,
                    )
                )
            elif correspondence:
                results.append(
                    registry_correspondence_import(
                        path=correspondence, reject_report=report, progress=progress
                    )
                )
        except FileRefused as exc:
            raise CommandError(f"refused: {exc}") from exc
        except DomainError as exc:  # the approval (not granted, used, for another file...)
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        if progress:
            sys.stderr.write("\n")
        self.stdout.write(summary_line(results))

    def check_forced(self, file: Path | None, options: dict) -> bool:
        """Whether the run is a forced full import; without --approval, ask for one and stop."""
        if options["approval"] is not None and not options["force"]:
            raise CommandError("--approval goes with --full --force")
        if not options["force"]:
            return False
        if not (file and options["full"]):
            raise CommandError("--force applies to a --full extraction import")
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        if options["approval"] is None:
            where = forced_import.target(file)
            approval.request_and_stop(
                self, options, **where, **forced_import.request_summary(file, where["object_id"])
            )
        return True

    def progress(self, message: str) -> None:
        sys.stderr.write(f"\r{time.strftime('%H:%M:%S')} {message:<60}")
        sys.stderr.flush()


def _correspondence_report(report: Path | None) -> Path | None:
    return report.with_suffix(".correspondence.csv") if report else None


def summary_line(results: list[ImportResult]) -> str:
    """One line for the whole run, whatever files it read."""
    total = ImportResult(path=results[0].path)
    for result in results:
        total.imported += result.imported
        total.updated += result.updated
        total.unchanged += result.unchanged
        total.rejected += result.rejected
        total.deactivated += result.deactivated
    reports = [str(r.reject_report) for r in results if r.reject_report]
    line = total.summary
    if any(r.kind == "extraction" for r in results) and total.deactivated:
        line += f"; deactivated {total.deactivated}"
    return line + f"; reject report: {', '.join(reports) if reports else 'none (no rejects)'}"
