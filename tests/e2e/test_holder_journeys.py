"""The holder's order journeys in a real browser, with no API call: a first card ordered by a holder who has
none, approved by their Ordre in the back office, made at a station, shipped by ANS, activated by the holder
with the card agent; a rejected order ordered again, pre-filled; a draft submitted, another cancelled.

The station's work (writing a blank card) is a service call: no person does it in a browser. The holder's
side of activation runs the repository's card agent (bin/cpx-card) against the card, the PIN read from the
codes letter, as the holder would on their computer."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card
from orders import services as order_services
from orders.models import Order
from registry.models import Account
from stations import personalization
from tests.e2e.conftest import assert_accessible, screenshot, sign_in
from tests.factories import ActivityFactory, ExerciseFactory, persona

# The PKI's and the stations' fixtures (a test CA hierarchy, a station with SoftHSM2 readers and blanks).
from tests.pki.conftest import ca_keys, card_key, hierarchy, pki_dir  # noqa: F401
from tests.portal.test_holder_orders import holder_catalogue  # noqa: F401 (this area's French, autouse)
from tests.stations.conftest import SOFTHSM, pin_and_puk, scheduled, station  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AGENT = Path(__file__).resolve().parents[2] / "bin" / "cpx-card"
SERIOUS = ("serious", "critical")


def assert_axe_clean(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert found == [], found


def check_page(page: Any, name: str) -> None:
    screenshot(page, name)
    assert_accessible(page)
    assert_axe_clean(page)


def new_page(browser: Any, live_server: Any) -> Any:
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def run_agent(made_by: Any, command: str, pin: str) -> str:
    """What the holder does on their computer: the command the page shows, the PIN typed into the agent."""
    program, *args = shlex.split(command)
    assert program == "cpx-card"
    env = {**os.environ, "SOFTHSM2_CONF": made_by.softhsm_conf, "CPX_CARD_MODULE": SOFTHSM}
    result = subprocess.run(
        [str(AGENT), *args], input=pin + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_holder_orders_a_first_card_which_is_approved_made_shipped_and_activated(
    page,
    browser,
    live_server,
    station,  # noqa: F811
):
    activity = ActivityFactory(
        exercise__professional__first_name="Léa", exercise__professional__last_name="MOREAU"
    )
    professional = activity.exercise.professional
    holder = persona(Account.Role.HOLDER, professional=professional)

    # 1. The holder has no card: the page explains and offers the first one.
    sign_in(page, holder)
    expect(page.get_by_role("heading", name="Mes cartes")).to_be_visible()
    expect(page.locator("#main")).to_contain_text("Vous n'avez pas encore de carte.")
    expect(page.locator(f"#exercise-{activity.exercise_id}")).to_contain_text("CPS : commande possible")
    check_page(page, "holder_no_card")
    page.get_by_role("link", name="Commander ma première carte").click()
    expect(page.get_by_role("heading", name="Commander ma carte")).to_be_visible()
    expect(page.locator("#main")).to_contain_text("La première carte est gratuite.")
    expect(page.get_by_label(re.compile("^CPS — Médecin"))).to_be_checked()
    check_page(page, "holder_order_new")
    page.get_by_role("button", name="Envoyer la commande").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "transmise à Conseil national de l'Ordre des médecins"
    )
    order = Order.objects.get(professional=professional)
    assert (order.state, order.kind, order.card_type) == ("submitted", "first", "CPS")
    expect(page.locator("#order-timeline")).to_contain_text("Déposée")
    check_page(page, "holder_order_submitted")

    # 2. The Ordre approves it in its queue.
    ordre = new_page(browser, live_server)
    sign_in(ordre, persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    ordre.goto("/backoffice/")
    expect(ordre.locator("#queue-results")).to_contain_text("MOREAU")
    ordre.get_by_role("link", name=f"N° {order.pk}", exact=True).click()
    ordre.get_by_role("button", name="Approuver").click()
    expect(ordre.locator("#order-state")).to_contain_text("En file de fabrication")

    # 3. The station makes the card (the job a station's worker runs).
    card = personalization.personalize_order(order_id=order.pk, station=station)
    assert card is not None and Order.objects.get(pk=order.pk).state == Order.State.PRODUCED
    pin, _puk = pin_and_puk(card)  # the codes letter, as the post will bring it

    # 4. ANS ships it.
    ans = new_page(browser, live_server)
    sign_in(ans, persona(Account.Role.ANS_OPERATOR))
    ans.goto("/backoffice/shipping/")
    ans.get_by_role("textbox", name="Transporteur", exact=True).fill("La Poste")
    ans.get_by_label("Référence du lot").fill("LP-HOLDER-1")
    ans.get_by_label(f"Expédier la carte {card.display_number}").check()
    ans.get_by_label(f"Numéro de suivi de la carte {card.display_number}").fill("8R00000000042")
    ans.get_by_role("button", name="Enregistrer le lot").click()
    expect(ans.get_by_role("status").first).to_contain_text("LP-HOLDER-1")

    # 5. The holder follows it on the order's timeline: shipped, the codes letter's day, non-receipt's day.
    page.goto(f"/orders/{order.pk}/")
    timeline = page.locator("#order-timeline")
    expect(timeline).to_contain_text("Carte envoyée par courrier")
    expect(timeline).to_contain_text("8R00000000042")
    expect(timeline).to_contain_text("Votre lettre des codes (PIN et PUK) part ce jour-là")
    expect(timeline).to_contain_text("À partir de ce jour, vous pouvez déclarer la carte non reçue")
    check_page(page, "holder_order_shipped")

    # 6. The card arrives: the holder activates it with the card agent.
    page.get_by_role("link", name=card.display_number).click()
    page.get_by_role("link", name="Activer cette carte").click()
    page.locator("[data-action=get-command]").click()
    command = page.locator("[data-command]").first.get_attribute("data-command")
    assert command and command.startswith("cpx-card sign")
    page.get_by_label("Ce que cpx-card a affiché (la signature de la carte)").fill(
        run_agent(station, command, pin)
    )
    page.locator("[data-action=activate-with-card]").click()
    expect(page.get_by_role("status").first).to_contain_text("La carte est active.")
    assert Card.objects.get(pk=card.pk).state == Card.State.ACTIVE

    page.goto(f"/orders/{order.pk}/")
    expect(page.locator("#order-timeline")).to_contain_text("Carte activée")
    expect(page.locator("#order-timeline")).not_to_contain_text("déclarer la carte non reçue")
    page.goto("/cards/")
    expect(page.locator("svg.card-face")).to_contain_text(card.display_number)
    check_page(page, "holder_cards_active")


def test_a_rejected_order_is_ordered_again_pre_filled(page):
    doctor = ExerciseFactory(profession_id="10", professional__last_name="FONTAINE")
    nurse = ExerciseFactory(professional=doctor.professional, profession_id="60")  # a second exercise
    holder = persona(Account.Role.HOLDER, professional=doctor.professional)
    rejected = order_services.order_place(
        actor=holder, professional=doctor.professional, card_type="CPS", kind="first", exercise=nurse
    )
    order_services.order_reject(
        order=rejected,
        actor=persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"),
        reason="Inscription au tableau de l'Ordre à compléter",
    )

    sign_in(page, holder)
    page.goto("/orders/")
    check_page(page, "holder_orders")
    page.get_by_role("link", name=f"N° {rejected.pk}", exact=True).click()
    expect(page.locator("#main")).to_contain_text("Inscription au tableau de l'Ordre à compléter")
    check_page(page, "holder_order_rejected")
    page.get_by_role("link", name="Déposer une nouvelle commande").click()

    # The form comes with the rejected order's choice made (the nurse's exercise, not the first one).
    expect(page.get_by_label(re.compile("^CPS — Infirmier"))).to_be_checked()
    expect(page.get_by_label(re.compile("^CPS — Médecin"))).not_to_be_checked()
    page.get_by_role("button", name="Envoyer la commande").click()
    expect(page.get_by_role("status").first).to_contain_text("transmise à")
    again = Order.objects.exclude(pk=rejected.pk).get(professional=doctor.professional)
    assert (again.exercise_id, again.state) == (nurse.pk, Order.State.SUBMITTED)


def test_a_draft_is_submitted_and_another_cancelled(page):
    doctor = ExerciseFactory(profession_id="10", professional__last_name="GIRARD")
    nurse = ExerciseFactory(professional=doctor.professional, profession_id="60")
    holder = persona(Account.Role.HOLDER, professional=doctor.professional)
    drafts = [  # as the API leaves them (created, never submitted)
        order_services.order_create(
            actor=holder, professional=doctor.professional, card_type="CPS", kind="first", exercise=exercise
        )
        for exercise in (doctor, nurse)
    ]

    sign_in(page, holder)
    page.goto(f"/orders/{drafts[0].pk}/")
    expect(page.locator("#draft-notice")).to_contain_text("Cette commande est un brouillon")
    check_page(page, "holder_order_draft")
    page.get_by_role("button", name="Déposer cette commande").click()
    expect(page.get_by_role("status").first).to_contain_text("transmise à")
    expect(page.locator("#order-state")).to_contain_text("Déposée")

    page.goto(f"/orders/{drafts[1].pk}/")
    page.get_by_role("button", name="Annuler ce brouillon").click()
    expect(page.locator("#order-state")).to_contain_text("Annulée")
    states = [Order.objects.get(pk=d.pk).state for d in drafts]
    assert states == [Order.State.SUBMITTED, Order.State.CANCELLED]
