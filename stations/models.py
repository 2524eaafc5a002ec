"""Reader stations: their readers, their blank stock, and the personalization jobs they run."""

from django.db import models

from cards.models import Card
from orders.models import Order


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
    # The station's credential towards the signing service: an Ed25519 public key (SubjectPublicKeyInfo,
    # DER); its private half is a PEM file on the station's host (key_file, or the default path of
    # stations.services.station_key_path). A station without a public key gets no certificate.
    public_key = models.BinaryField(blank=True, default=b"")
    key_file = models.CharField(max_length=500, blank=True)
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

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="personalization_jobs")
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
