from django.core.management.base import BaseCommand

from ecps.services import ecps_revoke_for_inactive_holders


class Command(BaseCommand):
    help = "Revoke the e-CPS of holders or exercises the registry marks inactive (after an import)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"revoked {ecps_revoke_for_inactive_holders()}")
