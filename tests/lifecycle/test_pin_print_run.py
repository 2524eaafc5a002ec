"""The secure PIN-mailer print run: released mailers written once for the printer (files 0600, a manifest),
purged from the database in the transaction that claimed them; nothing before its day; never twice."""

import csv
import datetime as dt
import re
import stat
import threading
from typing import cast

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from freezegun import freeze_time

from cards import mailers
from cards.models import Card, CardEvent, Mailer
from cards.services import pin_mailer_open
from lifecycle import printing
from lifecycle.models import Shipment, ShippingBatch
from lifecycle.printing import pin_mailers_print
from lifecycle.shipping import ShipmentLine, pin_mailers_release, shipping_batch_create
from orders.models import Order
from registry.models import Account
from tests.factories import ActivityFactory, CardFactory, OrderFactory, TariffFactory, persona

DAY = dt.date(2026, 3, 3)


def sealed_pin_mailer(card: Card, pin: str = "4821", puk: str = "73920164") -> Mailer:
    to = mailers.Addressee(
        name=card.professional.full_name,
        address_lines=("1 rue de la Paix", "75002 Paris"),
        card_number=card.number,
        card_type=card.card_type,
        valid_until=card.valid_until.isoformat(),
    )
    pdf = mailers.render_pin_mailer(to, pin=pin, puk=puk)
    Mailer.objects.create(card=card, kind=Mailer.Kind.CARRIER, content=mailers.render_carrier(to))
    return Mailer.objects.create(card=card, kind=Mailer.Kind.PIN, content=mailers.seal(pdf))


def shipped_card(*, release_on: dt.date, released: bool, pin: str = "4821") -> tuple[Card, Mailer]:
    card = cast(Card, CardFactory(state=Card.State.SHIPPED))
    mailer = sealed_pin_mailer(card, pin=pin)
    batch = ShippingBatch.objects.create(carrier="La Poste", reference=f"B-{card.number}")
    Shipment.objects.create(
        batch=batch,
        card=card,
        tracking_reference=f"6A{card.pk:08d}",
        pin_release_on=release_on,
        pin_released_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC) if released else None,
    )
    return card, mailer


def codes_in(pdf: bytes) -> tuple[str, str]:
    """The PIN and PUK as printed (the mailer's page stream is uncompressed; parentheses are escaped)."""
    pin = re.search(rb"PIN\\\) : (\d{4})", pdf)
    puk = re.search(rb"PUK\\\) : (\d{8})", pdf)
    assert pin and puk, "no codes in this PDF"
    return pin.group(1).decode(), puk.group(1).decode()


def sealed(mailer: Mailer) -> bool:
    mailer.refresh_from_db()
    return mailer.content is not None and mailer.printed_at is None


def manifest_rows(run: printing.PinPrintRun) -> list[dict[str, str]]:
    assert run.manifest is not None
    with open(run.manifest, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.django_db
def test_released_mailers_are_written_once_for_the_printer_then_purged(tmp_path):
    card, mailer = shipped_card(release_on=DAY, released=True, pin="4821")
    other, other_mailer = shipped_card(release_on=DAY - dt.timedelta(days=5), released=True, pin="9057")
    clear = {mailer.pk: pin_mailer_open(mailer=mailer), other_mailer.pk: pin_mailer_open(mailer=other_mailer)}

    run = pin_mailers_print(day=DAY, out_dir=tmp_path)

    assert run.printed == 2 and len(run.files) == 2
    assert run.folder is not None and run.folder.parent == tmp_path / "2026-03-03"
    # The printer gets exactly the letters that were sealed, PIN and PUK included.
    assert [p.read_bytes() for p in run.files] == [clear[mailer.pk], clear[other_mailer.pk]]
    assert [codes_in(p.read_bytes()) for p in run.files] == [("4821", "73920164"), ("9057", "73920164")]
    assert [mode(p) for p in (*run.files, run.manifest)] == [0o600] * 3
    assert mode(run.folder) == 0o700
    assert manifest_rows(run) == [
        {
            "order": str(i),
            "file": path.name,
            "mailer_id": str(m.pk),
            "card_number": c.number,
            "national_id": c.professional.national_id,
        }
        for i, (path, m, c) in enumerate(
            zip(run.files, (mailer, other_mailer), (card, other), strict=True), start=1
        )
    ]
    # Purged: the sealed content is gone, the mailer cannot be opened again; the carrier letter is kept.
    for m in (mailer, other_mailer):
        m.refresh_from_db()
        assert m.content is None and m.printed_at is not None
        with pytest.raises(ValueError):
            pin_mailer_open(mailer=m)
    assert Mailer.objects.filter(kind=Mailer.Kind.CARRIER, content__isnull=False).count() == 2
    event = CardEvent.objects.get(card=card, kind="pin_mailer_printed")
    assert event.detail == {"mailer": mailer.pk, "run": run.folder.name, "file": run.files[0].name}

    # A second run, the same day or later, prints nothing and leaves no folder behind.
    again = pin_mailers_print(day=DAY + dt.timedelta(days=1), out_dir=tmp_path)
    assert (again.printed, again.files, again.folder, again.manifest) == (0, [], None, None)
    assert list(tmp_path.rglob("run-*")) == [run.folder]
    assert CardEvent.objects.filter(kind="pin_mailer_printed").count() == 2


@pytest.mark.django_db
def test_nothing_is_printed_before_its_release_day(tmp_path):
    _, due_tomorrow = shipped_card(release_on=DAY + dt.timedelta(days=1), released=False)
    _, released_early = shipped_card(release_on=DAY + dt.timedelta(days=1), released=True)
    _, due_today = shipped_card(release_on=DAY, released=False)
    unshipped = CardFactory(state=Card.State.PERSONALIZED)
    not_shipped = sealed_pin_mailer(unshipped)

    run = pin_mailers_print(day=DAY, out_dir=tmp_path)

    assert [row["mailer_id"] for row in manifest_rows(run)] == [str(released_early.pk), str(due_today.pk)]
    assert sealed(due_tomorrow) and sealed(not_shipped)
    assert not sealed(released_early) and not sealed(due_today)
    assert not CardEvent.objects.filter(card=unshipped).exists()

    tomorrow = pin_mailers_print(day=DAY + dt.timedelta(days=1), out_dir=tmp_path)
    assert [row["mailer_id"] for row in manifest_rows(tomorrow)] == [str(due_tomorrow.pk)]
    assert sealed(not_shipped)  # a card never shipped never has its codes printed


@pytest.mark.django_db
def test_the_whole_way_from_shipping_through_release_to_print(tmp_path):
    TariffFactory()
    activity = ActivityFactory()
    card = CardFactory(exercise=activity.exercise, state=Card.State.PERSONALIZED)
    OrderFactory(exercise=activity.exercise, state=Order.State.PRODUCED, produced_card=card)
    mailer = sealed_pin_mailer(card, pin="1357")
    ans = persona(Account.Role.ANS_OPERATOR)
    with freeze_time("2026-03-02 10:00"):
        shipping_batch_create(
            actor=ans, carrier="La Poste", reference="B-1", lines=[ShipmentLine(card.pk, "6A00000001")]
        )
        # The card left today: its codes wait for tomorrow, whatever the day the run is told.
        assert pin_mailers_print(out_dir=tmp_path).printed == 0
    with freeze_time("2026-03-03 05:00"):
        assert pin_mailers_release() == 1
    with freeze_time("2026-03-03 06:00"):
        run = pin_mailers_print(out_dir=tmp_path)

    assert run.day == dt.date(2026, 3, 3) and run.printed == 1
    assert codes_in(run.files[0].read_bytes())[0] == "1357"
    assert not sealed(mailer)
    assert [e.kind for e in card.events.all()][-2:] == ["pin_mailer_sent", "pin_mailer_printed"]


@pytest.mark.django_db
def test_a_failure_before_commit_leaves_every_mailer_sealed_and_no_file(tmp_path, monkeypatch):
    mailers_ = [shipped_card(release_on=DAY, released=True)[1] for _ in range(3)]
    real_mark = printing.mailer_mark_printed
    calls = []

    def crash_on_the_second(*, mailer):
        calls.append(mailer.pk)
        if len(calls) == 2:
            raise ConnectionError("the database went away")
        real_mark(mailer=mailer)

    monkeypatch.setattr(printing, "mailer_mark_printed", crash_on_the_second)
    with pytest.raises(ConnectionError):
        pin_mailers_print(day=DAY, out_dir=tmp_path)

    assert all(sealed(m) for m in mailers_)  # the first purge rolled back with the rest
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no codes left lying on disk
    assert not CardEvent.objects.filter(kind="pin_mailer_printed").exists()

    monkeypatch.setattr(printing, "mailer_mark_printed", real_mark)
    run = pin_mailers_print(day=DAY, out_dir=tmp_path)
    assert run.printed == 3 and not any(sealed(m) for m in mailers_)


@pytest.mark.django_db
def test_runs_go_chunk_by_chunk(tmp_path):
    mailers_ = [shipped_card(release_on=DAY, released=True)[1] for _ in range(5)]
    run = pin_mailers_print(day=DAY, out_dir=tmp_path, chunk=2)
    assert run.printed == 5
    assert [int(row["mailer_id"]) for row in manifest_rows(run)] == [m.pk for m in mailers_]
    assert [int(row["order"]) for row in manifest_rows(run)] == [1, 2, 3, 4, 5]


@pytest.mark.django_db(transaction=True)
def test_a_mailer_claimed_by_another_run_is_skipped_never_printed_twice(tmp_path):
    _, busy = shipped_card(release_on=DAY, released=True)
    _, free = shipped_card(release_on=DAY, released=True)
    locked, release = threading.Event(), threading.Event()

    def other_run_holds_it():
        try:
            with transaction.atomic():
                Mailer.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    other = threading.Thread(target=other_run_holds_it)
    other.start()
    try:
        assert locked.wait(timeout=10)
        run = pin_mailers_print(day=DAY, out_dir=tmp_path)  # does not wait for the lock: skips the row
    finally:
        release.set()
        other.join()

    assert [row["mailer_id"] for row in manifest_rows(run)] == [str(free.pk)]
    assert sealed(busy)
    later = pin_mailers_print(day=DAY, out_dir=tmp_path)
    assert [row["mailer_id"] for row in manifest_rows(later)] == [str(busy.pk)]
    assert CardEvent.objects.filter(kind="pin_mailer_printed").count() == 2


@pytest.mark.django_db
def test_the_command_prints_one_summary_line(tmp_path, settings, capsys):
    shipped_card(release_on=DAY, released=False)
    out = tmp_path / "out"
    call_command("print_pin_mailers", "--day", "2026-03-03", "--out", str(out))
    line = capsys.readouterr().out.strip()
    assert line.startswith("2026-03-03: 1 PIN mailers printed, ") and "\n" not in line
    folder = next((out / "2026-03-03").iterdir())
    assert str(folder) in line and len(list(folder.glob("*.pdf"))) == 1

    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("print_pin_mailers", "--day", "2026-03-03")
    assert capsys.readouterr().out.strip() == "2026-03-03: 0 PIN mailers printed"
    shipped_card(release_on=DAY, released=True)
    call_command("print_pin_mailers", "--day", "2026-03-03")
    assert str(tmp_path / "media" / "pin_mailers" / "2026-03-03") in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["03/03/2026", "2026-02-30", "tomorrow", ""])
def test_a_bad_day_is_answered_clearly(tmp_path, bad):
    _, mailer = shipped_card(release_on=DAY, released=True)
    with pytest.raises(CommandError, match="is not a date: give it as YYYY-MM-DD"):
        call_command("print_pin_mailers", "--day", bad, "--out", str(tmp_path))
    assert sealed(mailer) and not list(tmp_path.iterdir())


def test_the_print_run_is_a_daily_beat_task(db, settings, tmp_path):
    from config.celery import app
    from lifecycle.tasks import print_pin_mailers

    settings.MEDIA_ROOT = tmp_path
    assert app.conf.beat_schedule["lifecycle-print-pin-mailers"]["task"] == "lifecycle.print_pin_mailers"
    assert print_pin_mailers.apply().get() == 0


@pytest.mark.django_db
def test_a_print_run_for_a_future_day_is_refused(tmp_path):
    from django.utils import timezone

    from core.errors import InvalidInput

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    _, mailer = shipped_card(release_on=tomorrow, released=False)
    with pytest.raises(InvalidInput, match="today or a past day"):
        pin_mailers_print(day=tomorrow, out_dir=tmp_path)
    with pytest.raises(CommandError, match="today or a past day"):
        call_command("print_pin_mailers", "--day", tomorrow.isoformat(), "--out", str(tmp_path))
    assert sealed(mailer) and not list(tmp_path.iterdir())


@pytest.mark.django_db
def test_a_confirmed_run_leaves_no_code_on_disk(tmp_path, capsys):
    shipped_card(release_on=DAY, released=True)
    shipped_card(release_on=DAY, released=False)
    run = pin_mailers_print(day=DAY, out_dir=tmp_path)
    assert run.folder is not None and len(run.files) == 2
    with pytest.raises(CommandError, match="not a PIN-mailer print run"):
        call_command("print_pin_mailers", "--confirm", str(tmp_path), "--out", str(tmp_path))
    call_command("print_pin_mailers", "--confirm", str(run.folder), "--out", str(tmp_path))
    assert "confirmed printed, 2 files deleted" in capsys.readouterr().out
    assert not run.folder.exists() and not list(tmp_path.rglob("*.pdf"))
    with pytest.raises(printing.InvalidInput):
        printing.pin_print_run_confirm(folder=run.folder, out_dir=tmp_path)  # already gone


@pytest.mark.django_db
def test_an_opposed_or_revoked_cards_sealed_mailer_is_purged_at_once(tmp_path):
    from cards import services as card_services

    opposed, opposed_mailer = shipped_card(release_on=DAY, released=True)
    revoked, revoked_mailer = shipped_card(release_on=DAY, released=True)
    # A codes letter re-issued on request and not yet printed goes with the card too.
    reissued = Mailer.objects.create(card=opposed, kind=Mailer.Kind.CODES, content=b"sealed")
    actor = persona(Account.Role.ANS_OPERATOR)
    with transaction.atomic():
        card_services.card_oppose(
            card=card_services.card_lock(opposed), actor=actor, crl_reason="keyCompromise"
        )
    with transaction.atomic():
        card_services.card_revoke(
            card=card_services.card_lock(revoked), actor=actor, crl_reason="cessationOfOperation"
        )
    for card, mailer in ((opposed, opposed_mailer), (revoked, revoked_mailer)):
        mailer.refresh_from_db()
        assert mailer.content is None and mailer.printed_at is None
        assert CardEvent.objects.filter(card=card, kind="pin_mailer_discarded").exists()
    reissued.refresh_from_db()
    assert reissued.content is None and reissued.printed_at is None
    carrier = Mailer.objects.get(card=opposed, kind=Mailer.Kind.CARRIER)
    assert carrier.content  # the carrier letter holds no secret: kept
    assert pin_mailers_print(day=DAY, out_dir=tmp_path).printed == 0
