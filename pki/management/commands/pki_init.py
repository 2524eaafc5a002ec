from django.core.management.base import BaseCommand, CommandError

from pki import audit_log, hsm, keys, signing, unblock


class Command(BaseCommand):
    help = (
        "The root ceremony: create the root and the issuing CAs (IGC-Santé style names) if missing, their "
        "keys generated on the root and CA tokens (CPX_ROOT_TOKEN_PIN and CPX_CA_TOKEN_PIN), and sign the "
        "first CRLs; the audit log's checkpoint key (cpx-audit, CA token, certified by the root); and the "
        "current version of the unblock keys (PUK master key, help-desk key) on the unblock token "
        "(CPX_UNBLOCK_TOKEN_PIN). Idempotent."
    )

    def handle(self, *args, **options):
        try:
            root, issuing, created = signing.pki_init()
            version = unblock.current_version()
            made = unblock.ensure_keys(version)
            audit_signer, audit_certified = audit_log.ensure_audit_key(actor="command pki_init")
        except (
            signing.PkiNotInitialized,
            hsm.TokenUnavailable,
            keys.KeyPolicyError,
            audit_log.AuditKeyMissing,
        ) as exc:
            raise CommandError(str(exc))
        verb = "created" if created else "already present"
        tok = hsm.token("ca")
        self.stdout.write(
            f"{root.name} / {issuing.name}: {verb} (keys on the tokens {hsm.token('root').label} "
            f"and {tok.label}, module {tok.module})"
        )
        self.stdout.write(
            f"unblock keys v{version} ({unblock.master_label(version)}, {unblock.helpdesk_label(version)}): "
            f"{'created' if made else 'already present'} on the token {hsm.token('unblock').label}"
        )
        self.stdout.write(
            f"audit key {audit_signer.key_label}: certificate {audit_signer.serial} until "
            f"{audit_signer.not_after:%Y-%m-%d} "
            f"({'issued by the root now' if audit_certified else 'already valid'})"
        )
