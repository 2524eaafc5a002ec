from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.errors import DomainError
from lifecycle.printing import pin_mailers_print, pin_print_run_confirm


class Command(BaseCommand):
    help = (
        "Print the PIN mailers released up to a day (default: today): one PDF per mailer and a manifest "
        "in a run folder under OUT/<day>/ (files 0600), then purge them from the database. Once the printer "
        "has printed a run, --confirm FOLDER deletes its files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--out", help="output folder (default: MEDIA_ROOT/pin_mailers)")
        parser.add_argument("--confirm", metavar="FOLDER", help="a printed run's folder: delete its files")

    def handle(
        self, *args, day: str | None = None, out: str | None = None, confirm: str | None = None, **options
    ) -> None:
        out_dir = Path(out) if out else Path(settings.MEDIA_ROOT) / "pin_mailers"
        try:
            if confirm:
                deleted = pin_print_run_confirm(folder=Path(confirm), out_dir=out_dir)
                self.stdout.write(f"{confirm}: confirmed printed, {deleted} files deleted")
                return
            when = _day(day) if day is not None else timezone.localdate()
            run = pin_mailers_print(day=when, out_dir=out_dir)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        where = f", {run.folder}, {run.manifest}" if run.folder else ""
        self.stdout.write(f"{run.day}: {run.printed} PIN mailers printed{where}")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--day {value!r} is not a date: give it as YYYY-MM-DD") from None
