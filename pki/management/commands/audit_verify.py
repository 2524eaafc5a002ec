from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import log
from pki import audit_log


class Command(BaseCommand):
    help = (
        "Verify the audit log: every row's hash and link from the first to the last (streamed), every "
        "published checkpoint's signature (by the audit key the root certified) and its place in the chain "
        "of checkpoints, and that the log still holds, at each checkpoint's seq, the row it signed. Exits "
        "non-zero naming the first bad row or checkpoint. Needs no token."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--copies",
            type=Path,
            help="a directory of checkpoints kept outside the platform (checkpoint-<day>.json + .json.p7s) "
            "to check as well",
        )
        parser.add_argument(
            "--ca-file",
            type=Path,
            help="the root CA certificate (PEM) to trust, instead of the one in the platform's database",
        )

    def handle(self, *args, **options):
        root = audit_log.root_certificate(options["ca_file"])
        anchors: list[log.Anchor] = []
        try:
            if root is not None:
                anchors = audit_log.check_published(root)
                if options["copies"]:
                    anchors += audit_log.check_copies(options["copies"], root)
            elif audit_log.has_checkpoints() or options["copies"]:
                raise audit_log.CheckpointInvalid("no root CA certificate to check the checkpoints against")
        except audit_log.CheckpointInvalid as exc:
            raise CommandError(f"audit log verification FAILED: {exc}")
        result = log.verify(anchors=anchors)
        if result.problem is not None:
            raise CommandError(f"audit log verification FAILED: {result.problem.message}")
        checkpoints = sorted(anchors, key=lambda a: a.seq)
        latest = f", the latest ({checkpoints[-1].name}) at row {checkpoints[-1].seq}" if checkpoints else ""
        self.stdout.write(
            f"audit log verified: {result.rows} rows, head row {result.last_seq} hash {result.last_hash}; "
            f"{len(anchors)} checkpoint(s) verified{latest}"
        )
