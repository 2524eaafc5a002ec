"""The root's operations, run by an operator in a process given the root token's PIN (CPX_ROOT_TOKEN_PIN or
CPX_ROOT_TOKEN_PIN_FILE): the root key is used nowhere else (no web process, no task)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from approvals import commands as approval
from pki import ca_approvals, crl, hsm, signing
from pki.models import CertificateAuthority


class Command(BaseCommand):
    help = (
        "Root ceremonies. `pki_root crl`: sign and publish the root's CRL (one year) on the root token; "
        "run it well before the current one's nextUpdate. Needs a second ANS operator's approval: run "
        "without --approval (with --operator) to ask for one, then again with --approval ID."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="operation", required=True)
        crl_parser = sub.add_parser("crl", help="sign and publish the root's CRL (one year)")
        approval.add_approval_arguments(crl_parser)

    def handle(self, *args: object, **options: object) -> None:
        if options["operation"] != "crl":
            raise CommandError(f"unknown operation {options['operation']!r}")
        try:
            root = CertificateAuthority.objects.get(slug=signing.ROOT_SLUG, parent__isnull=True)
        except CertificateAuthority.DoesNotExist:
            raise CommandError("no root CA: run `manage.py pki_init` first") from None
        target = ca_approvals.target(ca_approvals.ROOT_CRL)
        if options["approval"] is None:
            approval.request_and_stop(
                self, options, payload={}, summary=f"pki_root crl ({root.name})", **target
            )
        try:
            # The approval is used in the transaction of the publication: one that fails leaves it unused.
            with transaction.atomic():
                approval.consume(options, **target)
                row = crl.publish_root_crl(root, actor="command pki_root crl")
        except hsm.TokenUnavailable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{root.name}: CRL #{row.number} published, {row.entries} entries, "
            f"next update {row.next_update:%Y-%m-%d %H:%M} UTC"
        )
