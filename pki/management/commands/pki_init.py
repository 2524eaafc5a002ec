from django.core.management.base import BaseCommand, CommandError

from pki import hsm, keys, signing


class Command(BaseCommand):
    help = (
        "The root ceremony: create the root and the issuing CAs (IGC-Santé style names) if missing, their "
        "keys generated on the root and CA tokens (CPX_ROOT_TOKEN_PIN and CPX_CA_TOKEN_PIN), and sign the "
        "first CRLs. Idempotent."
    )

    def handle(self, *args, **options):
        try:
            root, issuing, created = signing.pki_init()
        except (signing.PkiNotInitialized, hsm.TokenUnavailable, keys.KeyPolicyError) as exc:
            raise CommandError(str(exc))
        verb = "created" if created else "already present"
        tok = hsm.token("ca")
        self.stdout.write(
            f"{root.name} / {issuing.name}: {verb} (keys on the tokens {hsm.token('root').label} "
            f"and {tok.label}, module {tok.module})"
        )
