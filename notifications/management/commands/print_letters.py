from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from notifications.services import print_batch_build


class Command(BaseCommand):
    help = (
        "Build the print batch of a day (default: yesterday): one PDF, one letter per page, and a manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, day: date | None = None, **options) -> None:
        batch = print_batch_build(day=day or timezone.localdate() - timedelta(days=1))
        self.stdout.write(
            f"{batch.day}: {batch.letter_count} letters, {batch.pdf_path}, {batch.manifest_path}"
        )
