"""Import an RPPS/ADELI extraction file (and/or an ADELI -> RPPS correspondence file) into the registry.

Ends with one line: ``imported N, updated N, unchanged N, rejected N`` and where the reject report is.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

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
            "of the active registry (otherwise such a file is refused)",
        )
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
        try:
            if file and correspondence:
                # One transaction, the correspondence first (see registry_import_with_correspondence).
                results.extend(
                    registry_import_with_correspondence(
                        path=file,
                        correspondence=correspondence,
                        full=options["full"],
                        force=options["force"],
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
                        force=options["force"],
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
        if progress:
            sys.stderr.write("\n")
        self.stdout.write(summary_line(results))

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
