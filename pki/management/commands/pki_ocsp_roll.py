from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from approvals import commands as approval
from pki import ca_approvals, hsm, keys, ocsp, signing


class Command(BaseCommand):
    help = (
        "Roll the delegated OCSP responder: a new responder key on the OCSP token (CPX_OCSP_TOKEN_PIN) and a "
        "new responder certificate from each CA (signed on the CA and root tokens: CPX_CA_TOKEN_PIN and "
        "CPX_ROOT_TOKEN_PIN). Each certificate is audited (ocsp_key). Answers are signed with the new key "
        "from then on (web processes pick it up within 30 s). Needs a second ANS operator's approval: run "
        "without --approval (with --operator) to ask for one, then again with --approval ID."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-needed",
            action="store_true",
            help="only when a CA has no responder certificate valid for more than 30 days",
        )
        approval.add_approval_arguments(parser)

    def handle(self, *args, **options):
        target = ca_approvals.target(ca_approvals.OCSP_ROLL)
        if options["approval"] is None:
            what = "si nécessaire" if options["if_needed"] else "nouvelle clé"
            approval.request_and_stop(
                self,
                options,
                payload={"if_needed": options["if_needed"]},
                summary=f"pki_ocsp_roll ({what})",
                **target,
            )
        try:
            # The approval is used in the transaction of the roll: a roll that fails leaves it unused.
            with transaction.atomic():
                approval.consume(options, **target)
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
