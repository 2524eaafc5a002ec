"""The operators' journeys in a real browser: an ANS operator imports a registry extraction from the page,
follows its progress, reads the result and downloads the reject report; the directory finds "Hélène" when
searching "helene", and a holder by card number. The worker is the outside world: a thread of this test
runs the import task as a worker would, slowed down so that the progress shows."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import expect

from registry import importer, progress, tasks
from registry.models import Account, CardType, RegistryImport
from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, screenshot, sign_in
from tests.factories import AdeliProfessionalFactory, CardFactory, StaffFactory, persona

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> Iterator[list[threading.Thread]]:
    """``import_upload.delay`` hands the import to a worker thread; each progress step takes a while."""
    settings.VAR_DIR = tmp_path / "var"
    settings.CPX_REJECT_DIR = tmp_path / "var" / "rejects"
    threads: list[threading.Thread] = []
    publish = progress.ImportProgress.publish

    def slow_publish(self: Any, rows: int) -> None:
        publish(self, rows)
        time.sleep(1.2)

    def run(import_id: int) -> None:
        try:
            tasks.import_upload.apply(args=[import_id]).get()
        finally:
            connection.close()

    def delay(import_id: int, *args: Any) -> None:
        thread = threading.Thread(target=run, args=(import_id,), daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(importer, "ROWS_STEP", 10)
    monkeypatch.setattr(progress, "MIN_INTERVAL", 0)
    monkeypatch.setattr(progress.ImportProgress, "publish", slow_publish)
    monkeypatch.setattr(tasks.import_upload, "delay", delay)
    yield threads
    for thread in threads:
        thread.join(timeout=60)


def test_an_ans_operator_imports_a_registry_file_and_downloads_its_reject_report(page, worker, tmp_path):
    extraction = tmp_path / "PS_LibreAcces_Personne_activite_202612.txt"
    call_command(
        "make_registry_sample", rows=40, out=str(extraction), seed=11, bad_share=0.15, stdout=io.StringIO()
    )
    sign_in(page, persona(Account.Role.ANS_OPERATOR))
    page.goto("/backoffice/imports/")
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "operator_imports")

    page.locator("input[type=file]").set_input_files(str(extraction))
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()

    status = page.locator("#import-status")
    expect(status).to_have_attribute("data-status", "running")
    expect(status.locator(".import-progress")).to_contain_text(re.compile(r"\d+"))
    screenshot(page, "operator_import_running")
    expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    record = RegistryImport.objects.get()
    assert record.rejected > 0
    expect(status.locator("table")).to_contain_text(str(record.imported))
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "operator_import_done")

    with page.expect_download() as download:
        status.locator(f"a[href='/backoffice/imports/{record.pk}/rejects/']").click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert report.startswith("line,identifier,column,rule,value")
    assert len(report.strip().splitlines()) == record.rejected + 1


def test_the_directory_finds_helene_without_accents_and_a_holder_by_card_number(page):
    AdeliProfessionalFactory(last_name="ÉTIENNE", first_name="Hélène")
    AdeliProfessionalFactory(last_name="MARTIN", first_name="Paul")
    staff = StaffFactory(last_name="RENAUD", first_name="Lucie")
    card = CardFactory(exercise=None, professional=staff, card_type=CardType.CPE)
    sign_in(page, persona(Account.Role.ANS_OPERATOR))
    page.goto("/backoffice/holders/")
    results = page.locator("#main table")
    expect(results).to_contain_text("MARTIN")
    expect(page.locator(".directory-count")).to_contain_text("3")

    page.locator("#id_q").fill("helene")
    page.locator("form[role=search] button[type=submit]").click()
    expect(results).to_contain_text("ÉTIENNE Hélène")
    expect(results).not_to_contain_text("MARTIN")
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "operator_directory")

    page.locator("#id_q").fill(card.display_number)
    page.locator("form[role=search] button[type=submit]").click()
    expect(results).to_contain_text("RENAUD Lucie")
    expect(results).not_to_contain_text("ÉTIENNE")
    results.get_by_role("link", name=re.compile("RENAUD")).click()
    expect(page.locator("#main")).to_contain_text(card.display_number)


@pytest.fixture
def operators_may_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operators create and submit orders on a holder's behalf: ``orders.permissions.CREATE_ROLES`` gains
    OPERATORS (the lead's one-line change; this fixture does nothing once it is made)."""
    from core.roles import OPERATORS, role_in
    from orders import permissions, services
    from orders.models import Order

    if OPERATORS <= permissions.CREATE_ROLES:
        return
    roles = permissions.CREATE_ROLES | OPERATORS
    monkeypatch.setattr(services, "CREATE_ROLES", roles)
    for transition in Order._meta.get_field("state").get_all_transitions(Order):
        if transition.name == "submit":
            monkeypatch.setattr(transition, "permission", role_in(roles))


def test_an_ordre_operator_orders_on_a_holders_behalf_and_comments_on_the_order(page, operators_may_order):
    from tests.factories import ExerciseFactory

    exercise = ExerciseFactory(
        profession_id="10", professional__last_name="LAMBERT", professional__first_name="Chloé"
    )
    sign_in(page, persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    page.goto(f"/backoffice/holders/{exercise.professional.pk}/")
    assert_accessible(page)
    assert_no_axe_violations(page)
    page.locator("form[action$='/order/'] button[type=submit]").click()
    expect(page.locator("#order-state")).to_be_visible()
    assert "/backoffice/orders/" in page.url

    page.locator("#id_text").fill("Diplôme vérifié auprès de la faculté.")
    page.locator("form[action$='/comment/'] button[type=submit]").click()
    expect(page.locator(".order-comments")).to_contain_text("Diplôme vérifié auprès de la faculté.")
    assert_no_axe_violations(page)
    screenshot(page, "operator_order_comment")


def test_an_ans_operator_sees_the_low_stock_and_the_print_runs(page):
    from django.utils import timezone

    from cards.models import Mailer
    from stations.models import BlankCard, ReaderStation

    station = ReaderStation.objects.create(name="lyon-1", module="/dev/null", low_stock_threshold=5)
    BlankCard.objects.create(station=station, number="80250000019000000001")
    card = CardFactory(exercise=None, professional=StaffFactory(), card_type=CardType.CPE)
    Mailer.objects.create(card=card, kind=Mailer.Kind.PIN, printed_at=timezone.now())
    sign_in(page, persona(Account.Role.ANS_OPERATOR))
    page.goto("/backoffice/production/")
    expect(page.locator("#low-stock")).to_contain_text("lyon-1")
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "operator_production")

    page.goto("/backoffice/print-runs/")
    expect(page.locator("#mailer-runs")).to_contain_text("1")
    assert_no_axe_violations(page)
    page.locator("#mailer-runs a").first.click()
    expect(page.locator("#manifest")).to_contain_text(card.display_number)
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "operator_print_run")
