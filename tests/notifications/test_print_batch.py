"""The daily print batch: one PDF with one letter per page, and a manifest that matches it page for page."""

import csv
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from freezegun import freeze_time

from notifications import services, tasks
from notifications.events import EVENTS
from notifications.models import Notification, PrintBatch
from notifications.rendering import fit_lines, letter_pdf, render_notification

from .conftest import SAMPLE_CONTEXT, make_professional

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def letter_sent_on(day: date, professional, event="card_expired") -> Notification:
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS[event].fields}
    moment = timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=10))
    with freeze_time(moment):
        rows = services.notify(
            recipient=professional, event=event, context=context, dedup_key=f"{event}:{professional.pk}:{day}"
        )
        letter = next(n for n in rows if n.channel == "letter")
        assert services.notification_deliver(notification_id=letter.pk)
    return letter


def test_a_letter_is_one_pdf_page(paper_holder):
    letter = letter_sent_on(DAY, paper_holder)
    letter.refresh_from_db()
    pdf = letter_pdf(letter)
    assert pdf.startswith(b"%PDF")
    assert pages(pdf) == 1


def test_the_batch_gathers_the_days_letters_one_per_page_with_a_manifest(paper_holder):
    people = [paper_holder, make_professional(last_name="Petit", first_name="Anne")]
    letters = [letter_sent_on(DAY, person) for person in people]
    letters.append(
        letter_sent_on(DAY - timedelta(days=3), make_professional(last_name="Roux"))
    )  # a straggler
    tomorrow = letter_sent_on(DAY + timedelta(days=1), make_professional(last_name="Noël"))

    batch = services.print_batch_build(day=DAY)

    assert batch.letter_count == 3
    folder = Path(batch.pdf_path).parent
    assert folder.name == "2026-11-24" and folder.parent.name == "letters"
    assert pages(Path(batch.pdf_path).read_bytes()) == 3
    with open(batch.manifest_path, newline="", encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest))
    assert [int(r["page"]) for r in rows] == [1, 2, 3]
    assert sorted(int(r["notification_id"]) for r in rows) == sorted(n.pk for n in letters)
    assert {r["name"] for r in rows} == {"Luc Bernard", "Anne Petit", "Claire Roux"}
    assert {r["event"] for r in rows} == {"card_expired"}
    assert (
        rows[0]["national_id"]
        == Notification.objects.get(pk=rows[0]["notification_id"]).recipient.national_id
    )
    tomorrow.refresh_from_db()
    assert tomorrow.print_batch is None


def test_building_a_days_batch_twice_prints_nothing_twice(paper_holder):
    letter_sent_on(DAY, paper_holder)
    first = services.print_batch_build(day=DAY)
    letter_sent_on(DAY, make_professional(last_name="Tard"))  # made ready after the batch was built
    again = services.print_batch_build(day=DAY)
    assert again.pk == first.pk and again.letter_count == 1
    later = services.print_batch_build(day=DAY + timedelta(days=1))
    assert later.letter_count == 1
    assert PrintBatch.objects.count() == 2


def test_the_task_builds_yesterdays_batch(paper_holder):
    letter_sent_on(DAY, paper_holder)
    with freeze_time(timezone.make_aware(datetime(2026, 11, 25, 0, 30))):
        batch = PrintBatch.objects.get(pk=tasks.print_batch())
    assert batch.day == DAY and batch.letter_count == 1


def test_an_empty_day_still_has_its_batch(db):
    batch = services.print_batch_build(day=DAY)
    assert batch.letter_count == 0
    assert Path(batch.manifest_path).read_text().splitlines() == [
        "page,national_id,name,event,notification_id"
    ]


def test_a_very_long_letter_still_fits_on_one_page(paper_holder):
    context = {
        **{k: SAMPLE_CONTEXT[k] for k in EVENTS["card_revoked"].fields},
        "reason": "motif détaillé " * 800,
    }
    rows = services.notify(recipient=paper_holder, event="card_revoked", context=context, dedup_key="long")
    letter = next(n for n in rows if n.channel == "letter")
    assert services.notification_deliver(notification_id=letter.pk)
    letter.refresh_from_db()
    assert pages(letter_pdf(letter)) == 1
    lines = fit_lines(render_notification(letter).body, room=40)
    assert len(lines) == 40 and lines[-1] == "[…]"
    assert fit_lines("short\n\nbody", room=40) == ["short", "", "body"]
