from django.core.management.base import BaseCommand, CommandError

from pki import signing


class Command(BaseCommand):
    help = "Create the root and issuing CAs (IGC-Santé style names) if missing. Idempotent."

    def handle(self, *args, **options):
        try:
            root, issuing, created = signing.pki_init()
        except signing.PkiNotInitialized as exc:
            raise CommandError(str(exc))
        verb = "created" if created else "already present"
        self.stdout.write(
            f"{root.name} / {issuing.name}: {verb} (keys in {issuing.key_path.rsplit('/', 1)[0]})"
        )
