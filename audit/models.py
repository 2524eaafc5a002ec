"""The audit log's rows (``audit.log`` appends them), its signed checkpoints and their signers'
certificates (``pki.audit_log`` makes both).

The three tables are append-only in the database itself: a trigger (migration 0001) refuses every UPDATE,
DELETE and TRUNCATE, whoever sends it. The rows are chained by hash (docs/audit_log.md gives the exact
encoding): a changed, removed or inserted row breaks the chain, and the daily checkpoints, signed on the CA
token and published under /pki/audit/, pin the chain's head so that even a rewritten chain, or a cut tail,
shows.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AuditRecord(models.Model):
    """One security-relevant action. ``seq`` is gapless (1, 2, 3, ...: appenders take turns, see
    ``audit.log.append``), ``hash`` is the SHA-256 of the row's canonical encoding, which includes the
    previous row's hash (``prev_hash``; 64 zeros for the first row)."""

    seq = models.BigIntegerField(primary_key=True, verbose_name=_("sequence"))
    at = models.DateTimeField(db_index=True, verbose_name=_("at"))
    # dotted: "certificate.issued", "operator.signed_in", ...
    action = models.CharField(max_length=64, verbose_name=_("action"))
    # Who acted. The user row may go (a deleted account) or change (a renamed one) while the audit row may
    # not: no database constraint, nothing done on delete, and what the hash covers is the copied
    # ``actor_name`` (and the id), never the user row itself.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # the username, or a process ("task ...")
    actor_name = models.CharField(max_length=200, blank=True, verbose_name=_("actor name"))
    object_type = models.CharField(max_length=60, blank=True, verbose_name=_("object type"))
    object_id = models.CharField(max_length=100, blank=True, verbose_name=_("object id"))
    # registry.Authority, if any
    authority_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, verbose_name=_("authority id")
    )
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_record_object")]
        constraints = [models.CheckConstraint(condition=Q(seq__gte=1), name="audit_record_seq_positive")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_name or '-'}"


class CheckpointSigner(models.Model):
    """A certificate of the key that signs the checkpoints (``cpx-audit`` on the CA token), issued by the
    root at its ceremony (``pki_init``). The newest one still valid signs; the older ones stay for the
    record (each checkpoint's signature also carries its certificate)."""

    key_label = models.CharField(max_length=64, verbose_name=_("key label"))
    algorithm = models.CharField(max_length=16, verbose_name=_("algorithm"))  # pki.keys.ALGORITHMS
    serial = models.CharField(max_length=40, unique=True, verbose_name=_("serial number"))  # lower-case hex
    der = models.BinaryField()
    not_before = models.DateTimeField(verbose_name=_("not before"))
    not_after = models.DateTimeField(verbose_name=_("not after"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("checkpoint signer")
        verbose_name_plural = _("checkpoint signers")

    def __str__(self) -> str:
        return f"{self.key_label} {self.serial} until {self.not_after:%Y-%m-%d}"


class Checkpoint(models.Model):
    """The chain's head (``seq``, ``hash``) on a day, as a canonical JSON ``document`` and its detached CMS
    ``signature``: the bytes served as /pki/audit/checkpoint-<day>.json and .json.p7s. Each document names
    the SHA-256 of the previous one (``previous``), so the checkpoints form a chain of their own."""

    day = models.DateField(unique=True, verbose_name=_("day"))
    at = models.DateTimeField(verbose_name=_("at"))
    seq = models.BigIntegerField(verbose_name=_("sequence"))  # 0: the log was empty
    hash = models.CharField(max_length=64, verbose_name=_("hash"))
    previous = models.CharField(max_length=64)  # SHA-256 of the previous checkpoint's document (or zeros)
    document = models.BinaryField()
    signature = models.BinaryField()
    signer = models.ForeignKey(
        CheckpointSigner, on_delete=models.PROTECT, related_name="checkpoints", verbose_name=_("signer")
    )

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ["day"]
        constraints = [models.CheckConstraint(condition=Q(seq__gte=0), name="audit_checkpoint_seq")]

    def __str__(self) -> str:
        return f"checkpoint {self.day:%Y-%m-%d} (row {self.seq})"

    @property
    def file_name(self) -> str:
        return f"checkpoint-{self.day:%Y-%m-%d}.json"
