from django.core.management.base import BaseCommand, CommandError

from pki import hsm, keys, ocsp, signing


class Command(BaseCommand):
    help = (
        "Roll the delegated OCSP responder: a new responder key on the OCSP token (CPX_OCSP_TOKEN_PIN) and a "
        "new responder certificate from each CA (signed on the CA and root tokens: CPX_CA_TOKEN_PIN and "
        "CPX_ROOT_TOKEN_PIN). Each certificate is audited (ocsp_key). Answers are signed with the new key "
        "from then on (web processes pick it up within 30 s)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-needed",
            action="store_true",
            help="only when a CA has no responder certificate valid for more than 30 days",
        )

    def handle(self, *args, **options):
        try:
            made = ocsp.ensure_responders(actor="command pki_ocsp_roll", roll=not options["if_needed"])
        except (signing.PkiNotInitialized, hsm.TokenUnavailable, keys.KeyPolicyError) as exc:
            raise CommandError(str(exc))
        if not made:
            self.stdout.write("every CA has a current responder certificate: nothing to do")
        for responder in made:
            self.stdout.write(
                f"{responder.authority.name}: responder key {responder.key_label} ({responder.algorithm}) "
                f"certified until {responder.not_after:%Y-%m-%d}"
            )
