"""The outbox: one row per message per channel, written in the transaction of the event that caused it.

A row is the message and its delivery state at once. Workers claim a row with a conditional UPDATE that
pushes ``next_attempt_at`` forward by a lease and stamps a ``claim_token``; only the holder of the token may
mark it sent or failed, and a crashed worker's lease simply runs out, so the sweep picks the row up again.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models import Professional

from .events import Event


class PrintBatch(models.Model):
    """The letters of one day, gathered into one PDF (one letter per page) and a CSV manifest."""

    day = models.DateField(unique=True, verbose_name=_("day"))
    letter_count = models.PositiveIntegerField(default=0, verbose_name=_("letter count"))
    pdf_path = models.CharField(max_length=500, blank=True, verbose_name=_("PDF path"))
    manifest_path = models.CharField(max_length=500, blank=True, verbose_name=_("manifest path"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("print batch")
        ordering = ["-day"]
        verbose_name_plural = _("print batches")

    def __str__(self) -> str:
        return f"{self.day} ({self.letter_count} letters)"


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        LETTER = "letter", _("Letter")
        IN_APP = "in_app", _("Message")

    class State(models.TextChoices):
        PENDING = "pending", _("To send")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed for good")

    class Language(models.TextChoices):
        FR = "fr", "Français"
        EN = "en", "English"

    recipient = models.ForeignKey(
        Professional, on_delete=models.PROTECT, related_name="notifications", verbose_name=_("recipient")
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=_("channel"))
    event = models.CharField(max_length=32, choices=Event.choices, verbose_name=_("event"))
    language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.FR, verbose_name=_("language")
    )
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder, verbose_name=_("context"))
    dedup_key = models.CharField(max_length=200, verbose_name=_("dedup key"))
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.PENDING, verbose_name=_("state")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))
    # Letters: the address checked at delivery, printed as is by the daily batch.
    postal_address = models.TextField(blank=True, verbose_name=_("postal address"))
    print_batch = models.ForeignKey(
        PrintBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="letters",
        verbose_name=_("print batch"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
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


# --- webhooks: the relying parties told at once (notifications.webhooks) ---------------------------------


class WebhookEvent(models.TextChoices):
    """What a relying party may subscribe to. The names are the wire's (``type`` of the message)."""

    CARD_OPPOSED = "card.opposed", _("Card opposed")
    CARD_REVOKED = "card.revoked", _("Card revoked")
    CARD_SUSPENDED = "card.suspended", _("Card suspended")
    ECPS_REVOKED = "ecps.revoked", _("e-CPS revoked")
    HOLDER_STRUCK_OFF = "holder.struck_off", _("Holder struck off")
    CARD_UPDATED = "card.updated", _("Card updated")


class WebhookSubscription(models.Model):
    """A relying party's endpoint and the events it is told of. ``secret`` is the Standard Webhooks signing
    key (``whsec_<base64>``): kept, since every message is signed with it, but shown to the operator only
    once, at creation (it is a signing key, not a holder's secret)."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    url = models.URLField(max_length=500, verbose_name=_("URL"))
    events = ArrayField(
        models.CharField(max_length=32, choices=WebhookEvent.choices), verbose_name=_("events")
    )
    secret = models.CharField(max_length=100, editable=False, verbose_name=_("signing secret"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


class WebhookDelivery(models.Model):
    """One message to one subscription: the outbox row and its delivery state at once, written in the
    transaction of the change it tells of. Messages of one ``card_key`` go out in ``id`` order."""

    class State(models.TextChoices):
        PENDING = "pending", _("To send")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed for good")

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    event = models.CharField(max_length=32, choices=WebhookEvent.choices, verbose_name=_("event"))
    message_id = models.CharField(max_length=40, unique=True, verbose_name=_("message id"))
    # The card's number (the holder's national id for holder.struck_off): what ordering is kept by.
    card_key = models.CharField(max_length=40, verbose_name=_("card key"))
    payload = models.JSONField(encoder=DjangoJSONEncoder, verbose_name=_("payload"))
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, verbose_name=_("state")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    last_status = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("last status"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            # The worker's scan: the (few) pending rows that are due.
            models.Index(fields=["next_attempt_at", "id"], name="webhook_due", condition=Q(state="pending")),
            # "No earlier undelivered message for this key": the undelivered rows only.
            models.Index(
                fields=["subscription", "card_key", "id"],
                name="webhook_undelivered_key",
                condition=~Q(state="delivered"),
            ),
            models.Index(fields=["subscription", "-id"], name="webhook_by_subscription"),
            models.Index(fields=["id"], name="webhook_failed", condition=Q(state="failed")),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event} {self.card_key} ({self.state})"
