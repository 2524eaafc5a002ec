from django.core.management.base import BaseCommand, CommandParser

from notifications.services import notifications_sweep


class Command(BaseCommand):
    help = "Deliver the notifications that are pending and due, now (what the periodic sweep does)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=None, help="at most this many (default: CPX_NOTIFY_SWEEP_BATCH)"
        )

    def handle(self, *args, limit: int | None = None, **options) -> None:
        self.stdout.write(f"sent {notifications_sweep(limit=limit)}")
