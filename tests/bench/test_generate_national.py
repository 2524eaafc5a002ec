"""The national-scale generator (bench/generate_national.py) at a small scale: its files, the registry the
real import makes of them, and the cards, certificates, orders and notifications it writes in SQL."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection, transaction

from bench import generate_national as gen
from cards.models import Card
from orders.models import Order
from pki import signing
from pki.models import Certificate
from registry.models import Authority, Exercise, Professional
from registry.routing import authority_for_exercise
from registry.services import registry_import
from registry.signals import extraction_merged
from stations.personalization import Request, holder_data

PEOPLE = 1200  # two of each daily change (one person in 600 of each kind)
TODAY = dt.date(2026, 12, 1)


def _ids(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("|")[2] for line in lines]


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path, gen.FileCounts]:
    base, daily = tmp_path / "base.txt", tmp_path / "daily.txt"
    counts = gen.extractions_write(gen.Sizes(professionals=PEOPLE, seed=3), base, daily)
    return base, daily, counts


def test_the_files_are_the_same_people_with_half_a_percent_changed(files):
    base, daily, counts = files
    before, after = _ids(base), _ids(daily)
    assert counts.professionals == PEOPLE == len(set(before))
    assert len(before) == counts.rows and len(after) == counts.daily_rows
    assert (len(counts.struck_off), len(counts.changed), len(counts.new)) == (2, 2, 2)
    assert set(after) == (set(before) - set(counts.struck_off)) | set(counts.new)
    assert not set(counts.new) & set(before)
    # A changed person: same identity, the first activity at another structure (column 24: its id).
    rows = {
        name: [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
        for name, path in (("base", base), ("daily", daily))
    }
    for national_id in counts.changed:
        old = [row for row in rows["base"] if row[2] == national_id]
        new = [row for row in rows["daily"] if row[2] == national_id]
        assert len(old) == len(new)
        assert old[0][23] != new[0][23] and old[0][23] not in {row[23] for row in new}
        assert old[0][:17] == new[0][:17] and old[1:] == new[1:]
    # Everyone else reads the same, line for line.
    unchanged = set(before) - set(counts.struck_off) - set(counts.changed)
    assert [r for r in rows["base"] if r[2] in unchanged] == [r for r in rows["daily"] if r[2] in unchanged]


@pytest.fixture
def ca(settings, tmp_path_factory):
    settings.CPX_HSM_SOFTHSM_DIR = str(tmp_path_factory.mktemp("hsm"))
    settings.CPX_ROOT_TOKEN_PIN, settings.CPX_CA_TOKEN_PIN = "test-root-pin", "test-ca-pin"
    settings.CPX_OCSP_TOKEN_PIN = "test-ocsp-pin"
    settings.CPX_PKI_TEST_HIERARCHY = True
    signing.pki_init()
    return signing.issuing_ca("CPS")


def _registry_written() -> dict[int, dict]:
    """The registry's current data in the written shape, per active exercise (the generator's SQL)."""
    with transaction.atomic(), connection.cursor() as cursor:
        ans = Authority.objects.get(code="ANS").pk
        cursor.execute(gen.WRITTEN_SQL, {"max_situations": 16, "ans": ans})
        cursor.execute("SELECT exercise_id, written FROM gen_exercises")
        found = {exercise_id: json.loads(written) if isinstance(written, str) else written
                 for exercise_id, written in cursor.fetchall()}  # fmt: skip
    return found


@pytest.mark.django_db(transaction=True)
def test_the_database_is_consistent_with_the_registry_and_the_daily_file(files, ca, tmp_path):
    base, daily, counts = files
    result = registry_import(path=base, reject_report=tmp_path / "rejects.csv")
    assert result.rejected == 0 and Professional.objects.count() == PEOPLE
    exercises = Exercise.objects.filter(is_active=True).count()
    sizes = gen.Sizes(professionals=PEOPLE, cards=exercises + 100, orders=exercises + 150, notifications=300)
    ans = Authority.objects.get(code="ANS").pk
    with transaction.atomic(), connection.cursor() as cursor:
        report = gen.populate(cursor, sizes, ca_id=ca.pk, today=TODAY, ans_id=ans)
    assert report["live_cards"] == exercises and report["history_cards"] == 100
    assert report["certificates"] == 2 * (exercises + 100)
    assert report["orders"] == exercises + 150 and report["notifications"] == 300

    # One live card per active exercise, a CPF for students, all valid today, and none for the rest.
    live = list(Card.objects.filter(state=Card.State.ACTIVE).select_related("exercise__profession"))
    assert Counter(card.exercise_id for card in live) == Counter(
        Exercise.objects.filter(is_active=True).values_list("id", flat=True)
    )
    assert all((card.card_type == "CPF") == (card.exercise.category_id == "E") for card in live)
    assert all(card.valid_from <= TODAY < card.valid_until for card in live)
    assert all(card.professional_id == card.exercise.professional_id for card in live)
    expired = Card.objects.filter(state=Card.State.EXPIRED)
    assert expired.count() == 100 and not expired.filter(valid_until__gte=TODAY).exists()

    # Card.written is what stations.personalization.holder_data writes for the same registry data.
    for card in live:
        request = Request(0, card.professional, card.exercise, None, card.card_type, "queued")
        data = json.loads(holder_data(request, card.number, card.valid_from, card.valid_until))
        assert card.written == {"profession": data["profession"], "situations": data["situations"]}
    assert any(len(card.written["situations"]) > 1 for card in live)

    # Two certificates per card (auth and sign) under the persons' CA, tied to the card by id and number.
    pairs = Counter(Certificate.objects.values_list("card_id", "card_number", "usage"))
    numbers = dict(Card.objects.values_list("id", "number"))
    assert pairs == Counter({(i, n, u): 1 for i, n in numbers.items() for u in ("auth", "sign")})
    assert set(Certificate.objects.values_list("authority_id", flat=True)) == {ca.pk}

    # One produced order per card, routed as registry.routing routes it; the rest cancelled.
    produced = Order.objects.filter(state="produced").select_related("exercise__profession", "professional")
    assert produced.count() == exercises + 100
    assert sorted(produced.values_list("produced_card_id", flat=True)) == sorted(numbers)
    for order in produced:
        assert order.authority_id == authority_for_exercise(order.exercise, order.professional).pk
        assert order.card_type == Card.objects.get(pk=order.produced_card_id).card_type
    assert Order.objects.filter(state="cancelled").count() == 50
    assert not Order.objects.exclude(state__in=["produced", "cancelled"]).exists()

    # The daily file, imported with --full (the receivers left out: this is about the data):
    # the struck-off people are deactivated, the new ones created, and the registry now differs from the
    # cards exactly for the people whose situation changed.
    with mock.patch.object(extraction_merged, "receivers", []):
        result = registry_import(path=daily, full=True, reject_report=tmp_path / "daily_rejects.csv")
    assert result.rejected == 0 and result.deactivated == 2
    gone = Professional.objects.filter(national_id__in=counts.struck_off)
    assert not gone.filter(is_active=True).exists() and gone.count() == 2
    assert Professional.objects.filter(national_id__in=counts.new).count() == 2
    now = _registry_written()
    differs = {
        card.professional.national_id
        for card in live
        if card.exercise_id in now and now[card.exercise_id] != card.written
    }
    assert differs == set(counts.changed)
