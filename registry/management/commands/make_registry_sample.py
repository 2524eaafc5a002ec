"""Write a synthetic PS_LibreAcces_Personne_activite file (for demos, tests and benchmarks)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.sample import BAD_KINDS, registry_sample_write


class Command(BaseCommand):
    help = "Write a synthetic extraction file in the official format, with a chosen share of bad rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, required=True, help="number of data rows")
        parser.add_argument("--out", required=True, help="the file to write (.zip with --zip)")
        parser.add_argument("--bad-share", type=float, default=0.01, help="share of bad rows (0 to 1)")
        parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same file")
        parser.add_argument(
            "--encoding", default="utf-8", choices=["utf-8", "utf-8-sig", "cp1252", "latin-1"]
        )
        parser.add_argument("--zip", action="store_true", help="write a zip archive, as ANS publishes")
        parser.add_argument("--crlf", action="store_true", help="Windows line ends")
        parser.add_argument(
            "--bad-kinds",
            help=f"comma-separated kinds of bad rows to write (default all: {', '.join(BAD_KINDS)})",
        )

    def handle(self, *args, **options) -> None:
        if options["rows"] < 1 or not 0 <= options["bad_share"] <= 1:
            raise CommandError("--rows must be at least 1 and --bad-share between 0 and 1")
        kinds = options["bad_kinds"].split(",") if options["bad_kinds"] else None
        if kinds and set(kinds) - set(BAD_KINDS):
            raise CommandError(f"unknown --bad-kinds {sorted(set(kinds) - set(BAD_KINDS))}")
        out = Path(options["out"])
        stats = registry_sample_write(
            out=out,
            rows=options["rows"],
            bad_share=options["bad_share"],
            seed=options["seed"],
            encoding=options["encoding"],
            zipped=options["zip"],
            crlf=options["crlf"],
            bad_kinds=kinds,
        )
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(stats.bad_kinds.items()))
        self.stdout.write(
            f"wrote {out}: {stats.rows} rows, {stats.people} people, {stats.bad} bad rows ({kinds or 'none'})"
        )
