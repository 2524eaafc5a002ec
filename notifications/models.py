"""The outbox: one row per message per channel, written in the transaction of the event that caused it.

A row is the message and its delivery state at once. Workers claim a row with a conditional UPDATE that
pushes ``next_attempt_at`` forward by a lease and stamps a ``claim_token``; only the holder of the token may
mark it sent or failed, and a crashed worker's lease simply runs out, so the sweep picks the row up again.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.models import Professional

from .events import Event


class PrintBatch(models.Model):
    """The letters of one day, gathered into one PDF (one letter per page) and a CSV manifest."""

    day = models.DateField(unique=True)
    letter_count = models.PositiveIntegerField(default=0)
    pdf_path = models.CharField(max_length=500, blank=True)
    manifest_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "print batches"

    def __str__(self) -> str:
        return f"{self.day} ({self.letter_count} letters)"


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        LETTER = "letter", "Courrier"
        IN_APP = "in_app", "Message"

    class State(models.TextChoices):
        PENDING = "pending", "À envoyer"
        SENT = "sent", "Envoyé"
        FAILED = "failed", "Échec définitif"

    class Language(models.TextChoices):
        FR = "fr", "Français"
        EN = "en", "English"

    recipient = models.ForeignKey(Professional, on_delete=models.PROTECT, related_name="notifications")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    event = models.CharField(max_length=32, choices=Event.choices)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.FR)
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    dedup_key = models.CharField(max_length=200)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Letters: the address checked at delivery, printed as is by the daily batch.
    postal_address = models.TextField(blank=True)
    print_batch = models.ForeignKey(
        PrintBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="letters"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key", "channel"], name="notification_unique_dedup"),
        ]
        indexes = [
            # The sweep's scan: only the (few) pending rows are indexed, whatever the size of the history.
            models.Index(fields=["next_attempt_at"], name="notification_due", condition=Q(state="pending")),
            # Letters sent but not yet printed, for the daily batch.
            models.Index(
                fields=["sent_at"],
                name="notification_unprinted",
                condition=Q(channel="letter", state="sent", print_batch__isnull=True),
            ),
            models.Index(fields=["recipient", "channel", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient_id} ({self.channel}, {self.state})"
