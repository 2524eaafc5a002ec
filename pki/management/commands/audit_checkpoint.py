from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pki import audit_log, hsm, keys, signing


class Command(BaseCommand):
    help = (
        "Sign and publish today's checkpoint of the audit log (its last row's seq and hash), as the daily "
        "task pki.audit_checkpoint does; idempotent (a day has one checkpoint). Needs the CA token's PIN "
        "(CPX_CA_TOKEN_PIN); if the audit key has no valid certificate yet, it is made here, which needs "
        "the root token's PIN too (CPX_ROOT_TOKEN_PIN), as at pki_init."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", type=Path, help="also write checkpoint-<day>.json and its .json.p7s into this directory"
        )

    def handle(self, *args, **options):
        try:
            if audit_log.current_signer() is None:
                signer, _made = audit_log.ensure_audit_key(actor="command audit_checkpoint")
                self.stdout.write(f"audit key {signer.key_label} certified by the root: {signer.serial}")
            checkpoint, made = audit_log.make_checkpoint(actor="command audit_checkpoint")
        except (
            signing.PkiNotInitialized,
            hsm.TokenUnavailable,
            keys.KeyPolicyError,
            audit_log.AuditKeyMissing,
        ) as exc:
            raise CommandError(str(exc))
        verb = "signed" if made else "already signed"
        self.stdout.write(
            f"{checkpoint.file_name}: {verb}, rows 1..{checkpoint.seq}, head hash {checkpoint.hash}"
        )
        if options["out"]:
            out: Path = options["out"]
            out.mkdir(parents=True, exist_ok=True)
            (out / checkpoint.file_name).write_bytes(bytes(checkpoint.document))
            (out / f"{checkpoint.file_name}.p7s").write_bytes(bytes(checkpoint.signature))
            self.stdout.write(f"written to {out}")
