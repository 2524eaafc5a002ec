"""Reader stations: their readers, their blank stock, and the personalization jobs they run."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards.models import Card
from orders.models import Order


class ReaderStation(models.Model):
    """A machine with card readers; its Celery worker consumes only the queue ``station.<name>``."""

    class State(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")
        PAUSED = "paused", _("Paused")

    name = models.SlugField(max_length=40, unique=True, verbose_name=_("name"))
    module = models.CharField(max_length=500, verbose_name=_("module"))
    # SoftHSM2 configuration of this station's token store (development); empty with real readers.
    softhsm_conf = models.CharField(max_length=500, blank=True)
    # The station's credential towards the signing service: an Ed25519 public key (SubjectPublicKeyInfo,
    # DER); its private half is a PEM file on the station's host (key_file, or the default path of
    # stations.services.station_key_path). A station without a public key gets no certificate.
    public_key = models.BinaryField(blank=True, default=b"")
    key_file = models.CharField(max_length=500, blank=True)
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.OFFLINE, verbose_name=_("state")
    )
    last_heartbeat = models.DateTimeField(null=True, blank=True, verbose_name=_("last heartbeat"))
    # Below this many available blank cards, the production page warns that the stock runs low.
    low_stock_threshold = models.PositiveIntegerField(default=50, verbose_name=_("low-stock threshold"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reader station")
        verbose_name_plural = _("reader stations")

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"station.{self.name}"


class Reader(models.Model):
    """A card reader of a station (a PKCS#11 slot)."""

    class State(models.TextChoices):
        IDLE = "idle", _("Idle")
        BUSY = "busy", _("Busy")
        OUT_OF_ORDER = "out_of_order", _("Out of order")

    station = models.ForeignKey(ReaderStation, on_delete=models.CASCADE, related_name="readers")
    slot = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.IDLE)

    class Meta:
        verbose_name = _("reader")
        verbose_name_plural = _("readers")
        constraints = [models.UniqueConstraint(fields=["station", "slot"], name="reader_unique_slot")]

    def __str__(self) -> str:
        return f"{self.station_id}:{self.slot}"


class BlankCard(models.Model):
    """A blank card in a station's stock; its number (8025000001 + 10-digit serial) is printed on it."""

    class State(models.TextChoices):
        AVAILABLE = "available", _("Available")
        IN_USE = "in_use", _("In use")
        USED = "used", pgettext_lazy("blank card", "Used")
        SPOILED = "spoiled", pgettext_lazy("blank card", "Spoiled")

    station = models.ForeignKey(
        ReaderStation, on_delete=models.PROTECT, related_name="blanks", verbose_name=_("station")
    )
    number = models.CharField(max_length=20, unique=True, verbose_name=_("number"))
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.AVAILABLE, db_index=True, verbose_name=_("state")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("blank card")
        verbose_name_plural = _("blank cards")

    def __str__(self) -> str:
        return self.number


class PersonalizationJob(models.Model):
    """One attempt to personalize a card for an order, with its last committed checkpoint.

    An attempt found unfinished when its order's job runs again was interrupted (its process held a
    PostgreSQL advisory lock, released when it died): its blank is wiped and spoiled, its certificates
    revoked, and a new attempt starts on a new blank.
    """

    class Step(models.TextChoices):
        CLAIMED = "claimed", _("Blank card reserved")
        INITIALIZED = "initialized", _("Card initialized")
        KEYS = "keys", _("Keys generated")
        CERTIFIED = "certified", _("Certificates issued")
        WRITTEN = "written", _("Card written")
        VERIFIED = "verified", _("Card verified")
        DONE = "done", "Terminé"
        FAILED = "failed", "Échoué"
        INTERRUPTED = "interrupted", "Interrompu"

    FINAL_STEPS = (Step.DONE, Step.FAILED, Step.INTERRUPTED)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="personalization_jobs")
    station = models.ForeignKey(
        ReaderStation, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("station")
    )
    blank = models.ForeignKey(
        BlankCard,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
        verbose_name=_("blank"),
    )
    reader = models.ForeignKey(Reader, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    step = models.CharField(max_length=12, choices=Step.choices, default=Step.CLAIMED, verbose_name=_("step"))
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    updated_at = models.DateTimeField(auto_now=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration (ms)"))

    class Meta:
        verbose_name = _("personalization job")
        verbose_name_plural = _("personalization jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["order_id"],
                condition=~models.Q(step__in=["done", "failed", "interrupted"]),
                name="job_one_running_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} {self.step}"
