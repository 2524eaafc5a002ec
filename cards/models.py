"""Cards: the card and its whole state machine, its history, the letters made with it, and the challenges its
holder signs with it to prove they hold it."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.roles import role_in
from registry.models import CardType, Exercise, Professional, Structure

from .permissions import ACTIVATES, DECLARES, EXPIRES, REVOKES, SHIPS


class Card(ConcurrentTransitionMixin, models.Model):
    """A personalized physical card. Its state machine (DESIGN "Card") lives here and its transitions are
    fired only by ``cards.services``. The order it was made for is ``Order.produced_card`` (one link,
    kept by orders: ``card.order``)."""

    class State(models.TextChoices):
        PERSONALIZED = "personalized", _("Personalized")
        SHIPPED = "shipped", _("Shipped")
        ACTIVE = "active", _("Active")
        OPPOSED = "opposed", _("Opposed")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    # States in which a card counts as the holder's physical card for its exercise.
    LIVE_STATES = (State.PERSONALIZED, State.SHIPPED, State.ACTIVE)

    number = models.CharField(max_length=20, unique=True, verbose_name=_("number"))
    card_type = models.CharField(max_length=3, choices=CardType.choices, verbose_name=_("card type"))
    professional = models.ForeignKey(
        Professional, on_delete=models.PROTECT, related_name="cards", verbose_name=_("professional")
    )
    exercise = models.ForeignKey(
        Exercise, null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    structure = models.ForeignKey(
        Structure, null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    state = FSMField(
        default=State.PERSONALIZED,
        choices=State.choices,
        protected=True,
        db_index=True,
        verbose_name=_("state"),
    )
    valid_from = models.DateField()
    valid_until = models.DateField(db_index=True, verbose_name=_("valid until"))
    # The version of the master unblock key the card's PUK was derived from (pki.unblock): the PUK is never
    # stored, it is derived again from the card number and this version when it is legitimately needed.
    puk_key_version = models.PositiveSmallIntegerField(default=1)
    # Issue 16: what the card carries of its holder's situation, as written in its holder data
    # (docs/card_data.md: ``profession`` and ``situations``), so the registry's current data can be compared
    # with it (``lifecycle.registry_driven``). Null for a card whose written data are not known.
    written = models.JSONField(null=True, blank=True, verbose_name=_("data written on the card"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        indexes = [
            models.Index(fields=["professional", "state"]),
            # The renewal scan and the expiry task read cards by expiry date among the live ones only:
            # partial indexes stay small however many expired and revoked cards the history holds.
            models.Index(fields=["valid_until", "id"], condition=Q(state="active"), name="card_active_until"),
            models.Index(
                fields=["valid_until"],
                condition=Q(state__in=["personalized", "shipped", "active"]),
                name="card_live_until",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_type} {self.number}"

    # Transitions: only their own fields. Fired only by cards.services through core.transitions.fire, which
    # checks the permission (cards.permissions) and writes the CardEvent; the use cases of the apps above
    # (lifecycle) call those services. Opposition is final: a found card stays blocked.
    @transition(field=state, source=State.PERSONALIZED, target=State.SHIPPED, permission=role_in(SHIPS))
    def ship(self) -> None:
        pass

    # Only a shipped card: a card never shipped has no delivery to confirm.
    @transition(field=state, source=State.SHIPPED, target=State.ACTIVE, permission=role_in(ACTIVATES))
    def activate(self) -> None:
        pass

    @transition(field=state, source=LIVE_STATES, target=State.OPPOSED, permission=role_in(DECLARES))
    def oppose(self) -> None:
        pass

    @transition(field=state, source=LIVE_STATES, target=State.REVOKED, permission=role_in(REVOKES))
    def revoke(self) -> None:
        pass

    @transition(
        field=state, source=[State.SHIPPED, State.ACTIVE], target=State.EXPIRED, permission=role_in(EXPIRES)
    )
    def expire(self) -> None:
        pass

    @property
    def display_number(self) -> str:
        return f"{self.number[:10]}/{self.number[10:]}"


class CardEvent(models.Model):
    """One row per card lifecycle change or letter event: the history (written in the same transaction)."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.card_id} {self.kind}"


class Mailer(models.Model):
    """A letter produced with the card. The PIN mailer's PDF is stored Fernet-encrypted until printed,
    then purged; the carrier letter carries no secret."""

    class Kind(models.TextChoices):
        PIN = "pin", _("Codes letter")
        CARRIER = "carrier", _("Card carrier letter")
        CODES = "codes", _("Codes letter re-issued")

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="mailers")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    content = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    printed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # One codes letter and one carrier letter per card; the codes letters re-issued on request are as many
        # as were approved.
        constraints = [
            models.UniqueConstraint(
                fields=["card", "kind"], condition=~Q(kind="codes"), name="mailer_one_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.card_id} {self.kind}"


class ActivationChallenge(models.Model):
    """A one-time challenge that the holder signs with the card's authentication key (``cpx-card sign``, after
    the PIN typed into the agent, never into the platform): the proof that the card is in their hands.

    Its text names the card, so a signature made for one card proves nothing for another. It is good until
    ``expires_at``, once, and for at most ``MAX_BAD_SIGNATURES`` wrong signatures; ``closed_at`` and
    ``closed_because`` record how it ended (``lifecycle.activation``)."""

    PREFIX = "cpx-card-activation"
    MAX_BAD_SIGNATURES = 3

    class Closed(models.TextChoices):
        USED = "used", pgettext_lazy("challenge", "Used")
        BAD_SIGNATURES = "bad_signatures", _("Too many wrong signatures")
        SUPERSEDED = "superseded", _("Replaced by a new challenge")

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="activation_challenges")
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    bad_signatures = models.PositiveSmallIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_because = models.CharField(max_length=16, choices=Closed.choices, blank=True)

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """What the card signs (its UTF-8 bytes): ``cpx-card-activation|<card number>|<nonce>``."""
        return f"{self.PREFIX}|{self.card.number}|{self.nonce}"
