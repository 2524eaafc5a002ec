"""A card's life after personalization: delivery, activation, opposition, renewal reminders.

The card's own state machine lives on ``cards.Card`` (fired by ``cards.services``); this app's use cases
(``shipping``, ``activation``, ``opposition``, ``withdrawal``, ``renewal``) call it and keep what the
lifecycle needs beside it: shipping batches and their PIN-mailer release dates, oppositions (one per
card: an opposition is final), renewal reminders (one per card per threshold, which is what makes the
daily scan idempotent) and the Ordres' automatic-renewal choices.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import Card
from orders.models import Order
from registry.models import Authority, Profession


class ShippingBatch(models.Model):
    """Cards handed to the carrier together (one manifest). The PIN mailers follow a day later."""

    carrier = models.CharField(max_length=60)
    reference = models.CharField(max_length=60, unique=True)  # the carrier's manifest number
    shipped_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-shipped_at", "-id"]
        verbose_name_plural = "shipping batches"

    def __str__(self) -> str:
        return f"{self.carrier} {self.reference}"


class Shipment(models.Model):
    """One card in a batch, with its tracking reference and the day its PIN mailer may be released.

    The PIN mailer goes separately, ``CPX_PIN_MAILER_DELAY_DAYS`` after the card, so that one stolen
    envelope never holds both the card and its codes.
    """

    batch = models.ForeignKey(ShippingBatch, on_delete=models.PROTECT, related_name="shipments")
    card = models.OneToOneField(Card, on_delete=models.PROTECT, related_name="shipment")
    tracking_reference = models.CharField(max_length=60)
    pin_release_on = models.DateField()
    pin_released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The release task's scan: only the mailers still waiting are indexed.
            models.Index(
                fields=["pin_release_on"],
                name="shipment_pin_pending",
                condition=Q(pin_released_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} ({self.tracking_reference})"


class Opposition(models.Model):
    """A declaration that a card is lost, stolen, damaged, defective or was never received.

    One per card (``card`` is unique): an opposition cannot be undone, and a second declaration is refused
    by the service and, should two race, by this constraint.
    """

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        PHONE = "phone", _("Phone")
        FORM_501 = "form_501", _("Form 501 by mail")

    card = models.OneToOneField(Card, on_delete=models.PROTECT, related_name="opposition")
    # What happened is what the replacement order gives as its reason: one list, the orders'.
    reason = models.CharField(max_length=12, choices=Order.ReplacementReason.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_by_role = models.CharField(max_length=24, blank=True)
    declared_at = models.DateTimeField(default=timezone.now)
    card_state_before = models.CharField(max_length=16)
    replacement_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_certificates = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-declared_at", "-id"]

    def __str__(self) -> str:
        return f"{self.card_id} {self.reason}"


class RenewalReminder(models.Model):
    """A renewal reminder sent for a card at a threshold (days before expiry): never twice.

    The unique (card, threshold) pair is what the daily scan's ``INSERT ... ON CONFLICT DO NOTHING``
    relies on. The reminder also carries the state of its one-click renewal link: ``link_used_at`` is set
    by a conditional UPDATE, so the link works once.
    """

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="renewal_reminders")
    threshold = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    automatic = models.BooleanField(default=False)  # an AutoRenewalPolicy ordered the renewal itself
    link_used_at = models.DateTimeField(null=True, blank=True)
    renewal_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["card", "threshold"], name="renewal_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} at {self.threshold} days"


class AutoRenewalPolicy(models.Model):
    """An Ordre's choice to renew its professions' cards without waiting for the holder."""

    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="auto_renewal_policies")
    profession = models.ForeignKey(Profession, on_delete=models.PROTECT, related_name="+")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "auto-renewal policies"
        constraints = [
            models.UniqueConstraint(fields=["authority", "profession"], name="auto_renewal_once"),
        ]

    def __str__(self) -> str:
        return f"{self.authority_id} {self.profession_id} ({'on' if self.enabled else 'off'})"
