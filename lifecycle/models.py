"""A card's life after personalization: delivery, activation, opposition, renewal reminders, codes.

The card's own state machine lives on ``cards.Card`` (fired by ``cards.services``); this app's use cases
(``shipping``, ``activation``, ``opposition``, ``withdrawal``, ``renewal``, ``codes``) call it and keep what
the lifecycle needs beside it: shipping batches and their PIN-mailer release dates, oppositions (one per
card: an opposition is final), renewal reminders (one per card per threshold, which is what makes the
daily scan idempotent), the Ordres' automatic-renewal choices, and the codes letters re-issued and the
help-desk unblocks, each with its two-person approval.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from approvals.models import ApprovalRequest
from cards.models import Card, Mailer
from orders.models import Order
from registry.models import Authority, CardType, Profession


class ShippingBatch(models.Model):
    """Cards handed to the carrier together (one manifest). The PIN mailers follow a day later."""

    carrier = models.CharField(max_length=60, verbose_name=_("carrier"))
    # the carrier's manifest number
    reference = models.CharField(max_length=60, unique=True, verbose_name=_("reference"))
    shipped_at = models.DateTimeField(default=timezone.now, verbose_name=_("shipped at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("shipping batch")
        ordering = ["-shipped_at", "-id"]
        verbose_name_plural = _("shipping batches")

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
    pin_release_on = models.DateField(verbose_name=_("PIN release on"))
    pin_released_at = models.DateTimeField(null=True, blank=True, verbose_name=_("PIN released at"))

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
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

    card = models.OneToOneField(
        Card, on_delete=models.PROTECT, related_name="opposition", verbose_name=_("card")
    )
    # What happened is what the replacement order gives as its reason: one list, the orders'.
    reason = models.CharField(
        max_length=12, choices=Order.ReplacementReason.choices, verbose_name=_("reason")
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=_("channel"))
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_by_role = models.CharField(max_length=24, blank=True, verbose_name=_("declared by role"))
    declared_at = models.DateTimeField(default=timezone.now, verbose_name=_("declared at"))
    card_state_before = models.CharField(max_length=16)
    replacement_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_certificates = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("opposition")
        verbose_name_plural = _("oppositions")
        ordering = ["-declared_at", "-id"]

    def __str__(self) -> str:
        return f"{self.card_id} {self.reason}"


class RenewalReminder(models.Model):
    """A renewal reminder sent for a card at a threshold (days before expiry): never twice.

    The unique (card, threshold) pair is what the daily scan's ``INSERT ... ON CONFLICT DO NOTHING``
    relies on. The reminder also carries the state of its one-click renewal link: ``link_used_at`` is set
    by a conditional UPDATE, so the link works once.
    """

    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="renewal_reminders", verbose_name=_("card")
    )
    threshold = models.PositiveSmallIntegerField(verbose_name=_("threshold"))
    sent_at = models.DateTimeField(default=timezone.now, verbose_name=_("sent at"))
    # an AutoRenewalPolicy ordered the renewal itself
    automatic = models.BooleanField(default=False, verbose_name=_("automatic"))
    link_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("link used at"))
    # The holder declined the renewal from the reminder (leaving practice): no renewal is ordered or kept.
    declined_at = models.DateTimeField(null=True, blank=True, verbose_name=_("declined at"))
    renewal_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("renewal reminder")
        verbose_name_plural = _("renewal reminders")
        constraints = [
            models.UniqueConstraint(fields=["card", "threshold"], name="renewal_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} at {self.threshold} days"


class AutoRenewalPolicy(models.Model):
    """An Ordre's choice to renew its professions' cards without waiting for the holder."""

    authority = models.ForeignKey(
        Authority, on_delete=models.PROTECT, related_name="auto_renewal_policies", verbose_name=_("authority")
    )
    profession = models.ForeignKey(
        Profession, on_delete=models.PROTECT, related_name="+", verbose_name=_("profession")
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("auto-renewal policy")
        verbose_name_plural = _("auto-renewal policies")
        constraints = [
            models.UniqueConstraint(fields=["authority", "profession"], name="auto_renewal_once"),
        ]

    def __str__(self) -> str:
        return f"{self.authority_id} {self.profession_id} ({'on' if self.enabled else 'off'})"


class IssuancePolicy(models.Model):
    """An authority's choice, per card type, for each event the registry reports (issue 16): issue nothing
    (``off``), ask the holder or structure (``proposed``: a draft order confirmed in one click), or order
    the card (``automatic``, approved at once when ``approve``). One row per authority, card type and
    trigger (the defaults are written for every authority, ``lifecycle.policies``); ``profession`` narrows a
    row to one profession (a more specific row wins). Changed by the authority's operators, audited."""

    class Trigger(models.TextChoices):
        FIRST = "first", _("First card on registration")
        TRAINING = "training", _("CPF for students and interns")
        RENEWAL = "renewal", _("Renewal")
        UPDATE = "update", _("Update after a change of situation")

    class Mode(models.TextChoices):
        OFF = "off", _("Off")
        PROPOSED = "proposed", _("Proposed")
        AUTOMATIC = "automatic", _("Automatic")

    authority = models.ForeignKey(
        Authority, on_delete=models.PROTECT, related_name="issuance_policies", verbose_name=_("authority")
    )
    card_type = models.CharField(max_length=3, choices=CardType.choices, verbose_name=_("card type"))
    trigger = models.CharField(max_length=10, choices=Trigger.choices, verbose_name=_("trigger"))
    profession = models.ForeignKey(
        Profession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("profession"),
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, verbose_name=_("mode"))
    approve = models.BooleanField(default=False, verbose_name=_("approved at once"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("issuance policy")
        verbose_name_plural = _("issuance policies")
        ordering = ["authority__code", "card_type", "trigger"]
        constraints = [
            models.UniqueConstraint(
                fields=["authority", "card_type", "trigger"],
                condition=Q(profession__isnull=True),
                name="issuance_policy_once",
            ),
            models.UniqueConstraint(
                fields=["authority", "card_type", "trigger", "profession"],
                condition=Q(profession__isnull=False),
                name="issuance_policy_once_per_profession",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.authority_id} {self.card_type} {self.trigger}: {self.mode}"


class CodesReissue(models.Model):
    """A codes letter asked for again (lifecycle.codes): by the holder, after signing in again with their
    password, or by an operator on their behalf, after an identity check recorded in ``identity_check``.
    Carried out once a second person approves (``approval``): the signing service then derives the PUK
    again and seals a new letter (``mailer``, kind ``codes``), printed by the next print run. No PIN."""

    class Via(models.TextChoices):
        HOLDER = "holder", _("Holder")
        OPERATOR = "operator", _("Operator")

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="codes_reissues")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_via = models.CharField(max_length=8, choices=Via.choices)
    identity_check = models.TextField(max_length=1000)  # how the requester's identity was checked
    fee = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)  # None: free
    approval = models.OneToOneField(
        ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="codes_reissue"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    mailer = models.OneToOneField(
        Mailer, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes_reissue"
    )
    produced_at = models.DateTimeField(null=True, blank=True)  # the sealed letter exists

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reference} ({self.card_id})"

    STATE_LABELS = {
        "pending": _("Waiting for approval"),
        "rejected": _("Refused"),
        "expired": _("Expired without a decision"),
        "cancelled": _("Cancelled"),
        "approved": _("Approved: letter being prepared"),
        "produced": _("Letter ready for printing"),
        "printed": _("Letter printed and posted"),
        "dropped": _("Dropped: the card cannot be used any more"),
    }

    @property
    def reference(self) -> str:
        """The letter's reference, printed on it and told to the holder."""
        return f"RC-{timezone.localtime(self.created_at):%Y%m%d}-{self.pk:06d}"

    @property
    def state(self) -> str:
        """The approval's state until approved, then ``approved`` (the signing service makes the letter),
        ``produced`` (sealed, for the print run), ``printed``; ``dropped`` for a card no longer live."""
        if self.produced_at is not None:
            if self.mailer is None:
                return "dropped"
            return "printed" if self.mailer.printed_at else "produced"
        if self.approved_at is not None:
            return "approved"
        return self.approval.state if self.approval is not None else "pending"

    @property
    def state_label(self) -> str:
        return str(self.STATE_LABELS.get(self.state, self.state))


class UnblockRequest(models.Model):
    """A help-desk unblock (lifecycle.codes): an operator types the challenge the holder reads from
    ``cpx-card helpdesk``, after checking who is calling (``identity_check``); a second operator approves;
    the signing service computes the response for that card and challenge (``pki.unblock``) and seals it
    here (``response_sealed``); it is shown once, to the requesting operator only, then purged.

    The challenge (the agent's ephemeral public point) is no secret; it is one-time, so one per card."""

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="unblock_requests")
    challenge = models.CharField(max_length=64)  # base32 of the point, upper case, no padding nor dashes
    identity_check = models.TextField(max_length=1000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approval = models.OneToOneField(
        ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="unblock_request"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    response_sealed = models.BinaryField(null=True, blank=True)  # Fernet (cards.mailers.seal)
    answered_at = models.DateTimeField(null=True, blank=True)  # sealed by the signing service
    shown_at = models.DateTimeField(null=True, blank=True)  # shown to the requester, then purged
    purged_at = models.DateTimeField(null=True, blank=True)  # purged (shown, or left unseen too long)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["card", "challenge"], name="unblock_challenge_once"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} unblock #{self.pk}"

    STATE_LABELS = {
        "pending": _("Waiting for approval"),
        "rejected": _("Refused"),
        "expired": _("Expired without a decision"),
        "cancelled": _("Cancelled"),
        "computing": _("Approved: response being computed"),
        "ready": _("Response ready (read once)"),
        "shown": _("Response given"),
        "purged": _("Response erased without being read"),
    }

    @property
    def state_label(self) -> str:
        return str(self.STATE_LABELS.get(self.state, self.state))

    @property
    def state(self) -> str:
        """Where it stands: the approval's state until approved, then ``computing`` (the signing service
        has it), ``ready`` (sealed, not yet shown), ``shown`` or ``purged`` (never shown, too late)."""
        if self.shown_at is not None:
            return "shown"
        if self.purged_at is not None:
            return "purged"
        if self.answered_at is not None:
            return "ready"
        if self.approved_at is not None:
            return "computing"
        return self.approval.state if self.approval is not None else "pending"
