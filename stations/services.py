"""Use cases of the reader stations: registration, blank stock, health and scheduling of production.

The personalization job itself is in ``stations.personalization`` (it talks to cards); everything here is
database work that views, the API, commands and tasks call.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, Q, When
from django.utils import timezone

from core.tasks import send_task
from orders.models import Order

from . import signing_request
from .models import BlankCard, PersonalizationJob, Reader, ReaderStation

log = logging.getLogger(__name__)

CARD_ISSUER = "8025000001"
STATION_ALIVE = dt.timedelta(minutes=2)
BLANK_STOCK_LOCK = 0x43505801  # "CPX" + 1: pg advisory lock key for numbering blanks
# The job on a station's own queue (stations.tasks.personalize), sent by name: the tasks call the services.
PERSONALIZE_TASK = "stations.personalize"


# --- stations and blank stock ----------------------------------------------------------------------


def station_register(
    *, name: str, module: str, readers: int, softhsm_conf: str = "", key_file: str = ""
) -> ReaderStation:
    """Create or update a station and its readers (slots 0..readers-1), and make sure it has its
    credential towards the signing service (``station_credential``). Idempotent."""
    station, _ = ReaderStation.objects.update_or_create(
        name=name, defaults={"module": module, "softhsm_conf": softhsm_conf}
    )
    for slot in range(readers):
        Reader.objects.get_or_create(station=station, slot=slot)
    station_credential(station=station, key_file=key_file)
    return station


def station_credential(*, station: ReaderStation, key_file: str = "") -> str:
    """The station's Ed25519 key: kept if its file exists (re-registering never changes it), generated
    otherwise (PEM, mode 0600, in the station's directory or at ``key_file``). The public half goes on the
    station's row, where the signing service reads it. Returns what was done: "kept", "created",
    "registered" (an existing file's key, newly recorded) or "remote" (the row has a key whose file is on
    another host)."""
    key_file = key_file or station.key_file
    path = signing_request.key_path(station.name, key_file)
    if path.exists():
        key = signing_request.load_key_file(path)
        outcome = "kept"
    elif station.public_key:
        return "remote"
    else:
        key = signing_request.generate_key_file(path)
        outcome = "created"
    public = signing_request.spki_der(key.public_key())
    if bytes(station.public_key) != public and outcome == "kept":
        outcome = "registered"
    # The path is recorded (absolute) so that every process of the station finds the key whatever its
    # working directory or settings.
    station.public_key, station.key_file = public, str(path.resolve())
    station.save(update_fields=["public_key", "key_file"])
    log.info("station %s: credential %s (%s)", station.name, outcome, path)
    return outcome


def softhsm_store(name: str) -> str:
    """A station's own SoftHSM2 token store (development): var/stations/<name>/softhsm2.conf + tokens/.
    One store per station, so stations never share a token directory (concurrent writers corrupt it)."""
    root = Path(getattr(settings, "CPX_STATIONS_DIR", settings.VAR_DIR / "stations")) / name
    (root / "tokens").mkdir(parents=True, exist_ok=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    return str(conf)


def blank_stock_add(*, station: ReaderStation, count: int) -> list[BlankCard]:
    """Receive ``count`` blanks into the station's stock, numbered after the highest existing serial."""
    with transaction.atomic():
        # A transaction-scoped advisory lock keeps two receptions from taking the same serials.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BLANK_STOCK_LOCK])
        last = BlankCard.objects.order_by("-number").values_list("number", flat=True)
        start = int(last[0][10:]) + 1 if last else 1
        numbers = [f"{CARD_ISSUER}{serial:010d}" for serial in range(start, start + count)]
        return BlankCard.objects.bulk_create(BlankCard(station=station, number=n) for n in numbers)


def station_heartbeat(*, station: ReaderStation) -> None:
    ReaderStation.objects.filter(pk=station.pk).update(
        last_heartbeat=timezone.now(), state=ReaderStation.State.ONLINE
    )


def station_state(*, station: ReaderStation) -> str:
    """What the station is doing now: a station whose heartbeat stopped is offline, whatever it last said
    (a killed station never gets to say goodbye)."""
    if station.state == ReaderStation.State.ONLINE and (
        station.last_heartbeat is None or station.last_heartbeat < timezone.now() - STATION_ALIVE
    ):
        return ReaderStation.State.OFFLINE
    return station.state


def station_stats(*, station: ReaderStation, since_minutes: int = 60) -> dict[str, object]:
    """What an operator watches: stock, throughput over the last period, failures, readers."""
    since = timezone.now() - dt.timedelta(minutes=since_minutes)
    stock = dict(station.blanks.values_list("state").annotate(n=Count("id")))
    recent = station.jobs.filter(updated_at__gte=since)
    return {
        "name": station.name,
        "queue": station.queue,
        "state": station_state(station=station),
        "last_heartbeat": station.last_heartbeat,
        "readers": list(station.readers.order_by("slot").values("slot", "state")),
        "blanks": {state: stock.get(state, 0) for state in BlankCard.State.values},
        "cards_last_period": recent.filter(step=PersonalizationJob.Step.DONE).count(),
        "failures_last_period": recent.filter(
            step__in=[PersonalizationJob.Step.FAILED, PersonalizationJob.Step.INTERRUPTED]
        ).count(),
        "period_minutes": since_minutes,
    }


def station_choose() -> ReaderStation | None:
    """Where a job goes: among stations with blanks and not paused, those alive (a heartbeat within
    STATION_ALIVE) first, then the most available blanks. A station that is down still gets work when
    no other can take it: its queue waits for it."""
    alive_since = timezone.now() - STATION_ALIVE
    return (
        ReaderStation.objects.exclude(state=ReaderStation.State.PAUSED)
        .annotate(
            available=Count("blanks", filter=Q(blanks__state=BlankCard.State.AVAILABLE)),
            alive=Case(When(last_heartbeat__gte=alive_since, then=1), default=0),
        )
        .filter(available__gt=0)
        .order_by("-alive", "-available", "name")
        .first()
    )


def production_sweep(*, older_than: dt.timedelta = dt.timedelta(minutes=10)) -> int:
    """Hand back to production the queued orders nobody is working on (no station had blanks when they
    were queued, or the broker lost the message). Idempotent: a duplicate task finds the card made."""
    final = [str(step) for step in PersonalizationJob.FINAL_STEPS]
    running = PersonalizationJob.objects.exclude(step__in=final).values("order_id")
    stale = Order.objects.filter(state=Order.State.QUEUED, state_changed_at__lt=timezone.now() - older_than)
    count = 0
    for order_id in stale.exclude(pk__in=running).values_list("pk", flat=True).iterator():
        production_schedule(order_id=order_id)
        count += 1
    return count


def production_schedule(*, order_id: int) -> None:
    """Hand a queued order to a reader station (the ``stations.schedule_production`` task, which orders
    send by name on commit when an order reaches ``queued``). The task goes to the chosen station's own
    queue; with no station able to take it, the order stays queued and the sweep reschedules it.
    """
    station = station_choose()
    if station is None:
        log.warning("order %s: no station with blank cards; it stays queued", order_id)
        return
    send_task(PERSONALIZE_TASK, order_id, station.name, queue=station.queue)
