"""The production page's blank stock with its low-stock warning, and the print runs with their manifests."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Mailer
from notifications.models import PrintBatch
from stations.models import BlankCard, ReaderStation
from tests.factories import CardFactory


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"  # the French catalogue is merged by the lead


def test_the_production_page_warns_of_a_low_stock_and_saves_a_threshold(people, as_user):
    station = ReaderStation.objects.create(name="lyon-1", module="/dev/null", low_stock_threshold=10)
    BlankCard.objects.create(station=station, number="80250000019000000001")
    client = as_user(people.ans)
    page = client.get(reverse("portal:production")).content.decode()
    assert 'id="low-stock"' in page and "lyon-1: 1 available, below the threshold of 10." in page
    client.post(reverse("portal:station-threshold", args=["lyon-1"]), {"threshold": "1"})
    assert ReaderStation.objects.get(pk=station.pk).low_stock_threshold == 1
    assert 'id="low-stock"' not in client.get(reverse("portal:production")).content.decode()
    assert (
        as_user(people.cnom)
        .post(reverse("portal:station-threshold", args=["lyon-1"]), {"threshold": "5"})
        .status_code
        == 403
    )


def test_the_print_runs_list_the_mailers_printed_and_their_manifest_without_content(people, as_user):
    printed = timezone.now() - datetime.timedelta(hours=2)
    cards = [CardFactory(exercise=people.card.exercise) for _ in range(3)]
    for card in cards:
        Mailer.objects.create(card=card, kind=Mailer.Kind.PIN, printed_at=printed, content=None)
    Mailer.objects.create(card=people.card, kind=Mailer.Kind.PIN, content=b"sealed-secret")
    PrintBatch.objects.create(day=timezone.localdate(), letter_count=0)
    client = as_user(people.ans)
    page = client.get(reverse("portal:print-runs")).content.decode()
    assert "1 letter waits for the next print run." in page
    assert ">3<" in page and "Codes letter" in page
    day = timezone.localtime(printed).date().isoformat()
    manifest_url = reverse("portal:mailer-run", args=[day, Mailer.Kind.PIN])
    assert manifest_url in page
    manifest = client.get(manifest_url).content.decode()
    assert all(card.display_number in manifest for card in cards)
    assert people.card.display_number not in manifest and "sealed-secret" not in manifest
    batch = PrintBatch.objects.get()
    assert client.get(reverse("portal:letter-batch", args=[batch.pk])).status_code == 200
    assert as_user(people.cnom).get(reverse("portal:print-runs")).status_code == 403
    assert client.get(reverse("portal:mailer-run", args=[day, "carrier"])).status_code == 404
