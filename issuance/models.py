"""Cards and their production: the PKI, reader stations, personalization, PIN mailers."""

from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from registry.models import CardType, Exercise, Professional, Structure


class Card(ConcurrentTransitionMixin, models.Model):
    """A personalized physical card. Its state machine (DESIGN "Card") lives here; transitions are fired
    only through issuance.services."""

    class State(models.TextChoices):
        PERSONALIZED = "personalized", "Personnalisée"
        SHIPPED = "shipped", "Expédiée"
        ACTIVE = "active", "Active"
        OPPOSED = "opposed", "En opposition"
        REVOKED = "revoked", "Révoquée"
        EXPIRED = "expired", "Expirée"
        SPOILED = "spoiled", "Gâchée"

    # States in which a card counts as the holder's physical card for its exercise.
    LIVE_STATES = (State.PERSONALIZED, State.SHIPPED, State.ACTIVE)

    number = models.CharField(max_length=20, unique=True)
    card_type = models.CharField(max_length=3, choices=CardType.choices)
    professional = models.ForeignKey(Professional, on_delete=models.PROTECT, related_name="cards")
    exercise = models.ForeignKey(
        Exercise, null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    structure = models.ForeignKey(
        Structure, null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    state = FSMField(default=State.PERSONALIZED, choices=State.choices, protected=True, db_index=True)
    valid_from = models.DateField()
    valid_until = models.DateField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["professional", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.card_type} {self.number}"

    # Transitions: only their own fields; fired only by issuance services (which write CardEvent rows,
    # revoke certificates and notify). Opposition is final: a found card stays blocked.
    @transition(field=state, source=State.PERSONALIZED, target=State.SHIPPED)
    def ship(self) -> None:
        pass

    @transition(field=state, source=[State.SHIPPED, State.PERSONALIZED], target=State.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=state, source=[State.PERSONALIZED, State.SHIPPED, State.ACTIVE], target=State.OPPOSED)
    def oppose(self) -> None:
        pass

    @transition(field=state, source=[State.PERSONALIZED, State.SHIPPED, State.ACTIVE], target=State.REVOKED)
    def revoke(self) -> None:
        pass

    @transition(field=state, source=[State.SHIPPED, State.ACTIVE], target=State.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=state, source=State.PERSONALIZED, target=State.SPOILED)
    def spoil(self) -> None:
        pass

    @property
    def display_number(self) -> str:
        return f"{self.number[:10]}/{self.number[10:]}"
