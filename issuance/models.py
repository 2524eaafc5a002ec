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
    # The order this card was produced for (orders.Order id): unique, so a rerun job never makes a second.
    order_id = models.BigIntegerField(null=True, blank=True, unique=True)
    station = models.ForeignKey(
        "ReaderStation", null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    # The platform's own PIN-retry counter (SoftHSM2 has none): three failures in a row block the card.
    pin_failures = models.PositiveSmallIntegerField(default=0)
    pin_blocked_at = models.DateTimeField(null=True, blank=True)
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

    # Only a shipped card: a card never shipped has no delivery to confirm (its order would stay stuck).
    @transition(field=state, source=State.SHIPPED, target=State.ACTIVE)
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


class CardEvent(models.Model):
    """One row per card lifecycle change or PIN event: the history (written in the same transaction)."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.card_id} {self.kind}"


class CertificateAuthority(models.Model):
    """A CA of the platform's PKI. Its private key never enters the database: ``key_path`` names a file
    encrypted with CPX_PKI_PASSPHRASE. The current CRL is cached here and regenerated on each revocation."""

    slug = models.SlugField(max_length=40, unique=True)  # /pki/crl/<slug>.crl
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    der = models.BinaryField()
    key_path = models.CharField(max_length=500)
    is_test = models.BooleanField(default=True)
    crl_number = models.PositiveBigIntegerField(default=0)
    crl_der = models.BinaryField(null=True, blank=True)
    crl_next_update = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "certificate authorities"

    def __str__(self) -> str:
        return self.name


class Certificate(models.Model):
    """A card certificate. Issued before its card is recorded (the card number ties them), so a spoiled
    blank's certificates can be found and revoked."""

    class Usage(models.TextChoices):
        AUTH = "auth", "Authentification"
        SIGN = "sign", "Signature"

    class Reason(models.TextChoices):
        # RFC 5280 CRLReason names, as cryptography's x509.ReasonFlags values.
        UNSPECIFIED = "unspecified", "Non précisée"
        KEY_COMPROMISE = "keyCompromise", "Compromission de clé"
        AFFILIATION_CHANGED = "affiliationChanged", "Changement d'affiliation"
        SUPERSEDED = "superseded", "Remplacée"
        CESSATION = "cessationOfOperation", "Cessation d'activité"

    authority = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="certificates")
    serial = models.CharField(max_length=40, unique=True)  # lower-case hex
    card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="certificates"
    )
    card_number = models.CharField(max_length=20, db_index=True)
    usage = models.CharField(max_length=4, choices=Usage.choices)
    subject = models.CharField(max_length=500)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=24, choices=Reason.choices, blank=True)
    der = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["authority", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.usage} {self.serial}"


class ReaderStation(models.Model):
    """A machine with card readers; its Celery worker consumes only the queue ``station.<name>``."""

    class State(models.TextChoices):
        ONLINE = "online", "En ligne"
        OFFLINE = "offline", "Hors ligne"
        PAUSED = "paused", "En pause"

    name = models.SlugField(max_length=40, unique=True)
    module = models.CharField(max_length=500)
    # SoftHSM2 configuration of this station's token store (development); empty with real readers.
    softhsm_conf = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OFFLINE)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"station.{self.name}"


class Reader(models.Model):
    """A card reader of a station (a PKCS#11 slot)."""

    class State(models.TextChoices):
        IDLE = "idle", "Libre"
        BUSY = "busy", "Occupé"
        OUT_OF_ORDER = "out_of_order", "Hors service"

    station = models.ForeignKey(ReaderStation, on_delete=models.CASCADE, related_name="readers")
    slot = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.IDLE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["station", "slot"], name="reader_unique_slot")]

    def __str__(self) -> str:
        return f"{self.station_id}:{self.slot}"


class BlankCard(models.Model):
    """A blank card in a station's stock; its number (8025000001 + 10-digit serial) is printed on it."""

    class State(models.TextChoices):
        AVAILABLE = "available", "Disponible"
        IN_USE = "in_use", "En cours"
        USED = "used", "Utilisée"
        SPOILED = "spoiled", "Gâchée"

    station = models.ForeignKey(ReaderStation, on_delete=models.PROTECT, related_name="blanks")
    number = models.CharField(max_length=20, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.AVAILABLE, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.number


class PersonalizationJob(models.Model):
    """One attempt to personalize a card for an order, with its last committed checkpoint.

    An attempt found unfinished when its order's job runs again was interrupted (its process held a
    PostgreSQL advisory lock, released when it died): its blank is wiped and spoiled, its certificates
    revoked, and a new attempt starts on a new blank.
    """

    class Step(models.TextChoices):
        CLAIMED = "claimed", "Carte vierge réservée"
        INITIALIZED = "initialized", "Carte initialisée"
        KEYS = "keys", "Clés générées"
        CERTIFIED = "certified", "Certificats émis"
        WRITTEN = "written", "Carte écrite"
        VERIFIED = "verified", "Carte vérifiée"
        DONE = "done", "Terminé"
        FAILED = "failed", "Échoué"
        INTERRUPTED = "interrupted", "Interrompu"

    FINAL_STEPS = (Step.DONE, Step.FAILED, Step.INTERRUPTED)

    order_id = models.BigIntegerField(db_index=True)
    station = models.ForeignKey(ReaderStation, on_delete=models.PROTECT, related_name="jobs")
    blank = models.ForeignKey(BlankCard, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    reader = models.ForeignKey(Reader, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    step = models.CharField(max_length=12, choices=Step.choices, default=Step.CLAIMED)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order_id"],
                condition=~models.Q(step__in=["done", "failed", "interrupted"]),
                name="job_one_running_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} {self.step}"


class Mailer(models.Model):
    """A letter produced with the card. The PIN mailer's PDF is stored Fernet-encrypted until printed,
    then purged; the carrier letter carries no secret."""

    class Kind(models.TextChoices):
        PIN = "pin", "Courrier des codes"
        CARRIER = "carrier", "Lettre porte-carte"

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="mailers")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    content = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    printed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["card", "kind"], name="mailer_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.card_id} {self.kind}"
