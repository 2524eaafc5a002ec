"""Every main page of every persona, in a real browser, in French and in English: axe-core finds no serious or
critical violation (RGAA / WCAG 2.1 AA), the page passes ``assert_accessible``, and its visible text is in the
page's language only (no English left in French mode, no French in English mode).

The pages are the navigation of each role (the ``NAV`` dict of ``portal/templatetags/portal.py``, so a page
added there is covered with no change here), a detail page of each kind (a card, an order, an approval, a
holder, a card's codes), the e-CPS pages, the sign-in page and the legal pages of the footer. Failures are
collected over every page of a persona and reported together.

``CPX_DOCS_SCREENSHOTS=1`` also saves the French pages under ``docs/screenshots/`` (for the README).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest
from core.roles import Role
from lifecycle import opposition
from orders import services as order_services
from orders.models import Order
from portal.templatetags.portal import NAV
from registry.models import Account, Authority, CardType, StructureMember
from tests.e2e.conftest import assert_accessible, axe_report, axe_violations, screenshot, sign_in
from tests.factories import (
    CardFactory,
    ExerciseFactory,
    StaffFactory,
    StructureFactory,
    StructureMemberFactory,
    StructureOrderFactory,
    persona,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Words and phrases that never appear in French text (checked on the French pages), and the reverse. Whole
# words, case-sensitive where the other language has the word capitalised differently.
ENGLISH = [
    r"\bthe\b",
    r"\bThe\b",
    r"\byour\b",
    r"\bYour\b",
    r"\byou\b",
    r"\bYou\b",
    r"\bof\b",
    r"\band\b",
    r"\bwith\b",
    r"\bfor\b",
    r"\bnot\b",
    r"\bis\b",
    r"\bare\b",
    r"\bthis\b",
    r"\bThis\b",
    r"\bto\b",
    r"\bOrder\b",
    r"\border\b",
    r"\bOrders\b",
    r"\bCard\b",
    r"\bcard\b",
    r"\bCards\b",
    r"\bcards\b",
    r"\bMy\b",
    r"\bNo\b",
    r"\bNone\b",
    r"\bSign\b",
    r"\bSearch\b",
    r"\bState\b",
    r"\bHolder\b",
    r"\bPrevious\b",
    r"\bNext\b",
    r"\bDownload\b",
    r"\bShipping\b",
    r"\bRegistry\b",
    r"\bApprovals?\b",
    r"\bMessages? read\b",
    r"\bUnread\b",
    r"\bdays?\b",
    r"\bonline\b",
    r"\bidle\b",
    r"\bSuspend\b",
    r"\bActivated\b",
    r"\bhappened\b",
    r"\bready\b",
    r"\bon the phone\b",
    r"\byet\b",
]
FRENCH = [
    r"\ble\b",
    r"\bLe\b",
    r"\bla\b",
    r"\bLa\b",
    r"\bles\b",
    r"\bLes\b",
    r"\bdes\b",
    r"\bune\b",
    r"\bUne\b",
    r"\bvous\b",
    r"\bVous\b",
    r"\bvotre\b",
    r"\bVotre\b",
    r"\bvos\b",
    r"\bmes\b",
    r"\bMes\b",
    r"\bMon\b",
    r"\bpour\b",
    r"\bavec\b",
    r"\best\b",
    r"\bsont\b",
    r"\bpas\b",
    r"\bau\b",
    r"\baux\b",
    r"\bdu\b",
    r"\bcommandes?\b",
    r"\bCommandes?\b",
    r"\bcartes?\b",
    r"\bCartes?\b",
    r"\bÉtat\b",
    r"\bTitulaire\b",
    r"\bAucune?\b",
    r"\bRechercher\b",
    r"\bSe connecter\b",
    r"\bSe déconnecter\b",
    r"\bTélécharger\b",
    r"\bjours?\b",
    r"\bpayer\b",
    r"\bdemande\b",
    r"\bDemande\b",
    r"\bNon lu\b",
    r"\bHistorique\b",
]
# Proper nouns and codes that are the same in both languages; removed before looking for the words above.
ALLOWED = [
    "République Française",
    "République française",
    "Agence du Numérique en Santé",
    "Défenseur des droits",
    "Libre réponse 71120",
    "Paris CEDEX 07",
    "rue d’Oradour-sur-Glane",
    "info.gouv.fr",
    "service-public.fr",
    "legifrance.gouv.fr",
    "data.gouv.fr",
    "etalab-2.0",
    "e-CPS",
    "RPPS",
    "ADELI",
    "PIN",
    "PUK",
    "CNIL",
    "client_id",
    "client_secret",
    "cpx-card",
    "Ordre",
    "ANS",
    "CPx",
]

# The visible text of the page, without what is in another language on purpose: code and commands, the card
# face (printed in French whatever the UI language), the QR code, and elements marked with their own lang
# (the language switch's "English" / "Français").
VISIBLE_TEXT = """() => {
  const parts = [];
  for (const selector of ['header', 'main', 'footer']) {
    const el = document.querySelector(selector);
    if (!el) continue;
    const copy = el.cloneNode(true);
    copy.querySelectorAll('code, pre, svg, script, [lang]').forEach(n => n.remove());
    copy.style.position = 'absolute';
    document.body.appendChild(copy);
    parts.push(copy.innerText);
    copy.remove();
  }
  return parts.join('\\n');
}"""


@dataclass
class World:
    """The data every persona's pages show: one of each kind of object, built through the services where
    the pages read what the services leave (an opposition, its replacement order, the holder's messages)."""

    users: dict[str, Any]
    details: dict[str, list[tuple[str, str]]]
    names: list[str] = field(default_factory=list)


def submitted_order(exercise: Any) -> Order:
    owner = persona(Account.Role.HOLDER, professional=exercise.professional)
    order = order_services.order_create(
        actor=owner,
        professional=exercise.professional,
        card_type=CardType.CPS,
        kind=Order.Kind.FIRST,
        exercise=exercise,
    )
    return order_services.order_submit(order=order, actor=owner)


@pytest.fixture
def world(db: Any) -> World:
    doctor: Any = ExerciseFactory(
        profession_id="10", professional__first_name="Claire", professional__last_name="MARTIN"
    )
    holder = persona(Account.Role.HOLDER, professional=doctor.professional)
    card: Any = CardFactory(exercise=doctor)
    # A second exercise whose card is declared lost: an opposition, a paid replacement, messages.
    second: Any = ExerciseFactory(profession_id="21", professional=doctor.professional)
    lost: Any = CardFactory(exercise=second)
    opposition.card_declare_opposition(card=lost, reason="lost", actor=holder, channel="online")
    replacement = Order.objects.filter(replaces=lost).first()

    structure: Any = StructureFactory(name="Centre de santé des Lilas")
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=structure)
    staff: Any = StructureMemberFactory(
        structure=structure, professional=StaffFactory(), role=StructureMember.Role.STAFF
    ).professional
    staff_card: Any = CardFactory(
        exercise=None, professional=staff, structure=structure, card_type=CardType.CPE
    )

    applicant: Any = ExerciseFactory(
        profession_id="10", professional__first_name="Paul", professional__last_name="DURAND"
    )
    order = submitted_order(applicant)
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    colleague = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    now = timezone.now()
    approval = ApprovalRequest.objects.create(
        action="orders.fee_waiver",
        summary=f"Remise des frais de la commande {order.pk}",
        payload={"order_id": order.pk, "reason": "Carte jamais reçue"},
        authority_id=cnom.account.authority_id,
        object_type="order",
        object_id=str(order.pk),
        requested_by=colleague,
        created_at=now,
        expires_at=now + datetime.timedelta(hours=48),
    )
    ans = persona(Account.Role.ANS_OPERATOR)
    # ANS sees the orders of its own authority: the structures' cards.
    ans_order: Any = StructureOrderFactory(structure=structure, state=Order.State.SUBMITTED)
    auditor = persona(Account.Role.AUDITOR)

    back_office = [
        ("order", reverse("portal:bo-order", args=[order.pk])),
        ("holder", reverse("portal:bo-holder", args=[applicant.professional.pk])),
        ("approval", reverse("portal:approval", args=[approval.pk])),
    ]
    operator_only = [("card_codes", reverse("portal:bo-card-codes", args=[card.pk]))]
    holder_pages = [
        ("card", reverse("portal:card", args=[card.pk])),
        ("card_blocked", reverse("portal:card", args=[lost.pk])),
        ("card_declare", reverse("portal:card-declare", args=[card.pk])),
        ("card_codes", reverse("portal:card-codes", args=[card.pk])),
        ("card_activate", reverse("portal:card-activate", args=[card.pk])),
        ("ecps", reverse("ecps:holder")),
    ]
    if replacement is not None:
        holder_pages.append(("order", reverse("portal:order", args=[replacement.pk])))
    return World(
        users={
            "holder": holder,
            "manager": manager,
            "operator": cnom,
            "ans": ans,
            "auditor": auditor,
        },
        details={
            "holder": holder_pages,
            "manager": [("staff_card", reverse("portal:card", args=[staff_card.pk]))],
            "operator": back_office + operator_only,
            "ans": [
                ("order", reverse("portal:bo-order", args=[ans_order.pk])),
                ("holder", reverse("portal:bo-holder", args=[ans_order.professional.pk])),
                ("approval", reverse("portal:approval", args=[approval.pk])),
                ("card_codes", reverse("portal:bo-card-codes", args=[staff_card.pk])),
                ("relying_parties", reverse("ecps:relying-parties")),
            ],
            "auditor": back_office,
        },
        names=[
            structure.name,
            *(
                p.full_name
                for p in (doctor.professional, staff, applicant.professional, ans_order.professional)
            ),
            *(
                p.first_name
                for p in (doctor.professional, staff, applicant.professional, ans_order.professional)
            ),
            *(
                p.last_name
                for p in (doctor.professional, staff, applicant.professional, ans_order.professional)
            ),
            approval.summary,
            *Authority.objects.values_list("name", flat=True),
            "Carte jamais reçue",
        ],
    )


PUBLIC = [
    ("login", "login"),
    ("accessibility", "portal:accessibility"),
    ("legal_notice", "portal:legal-notice"),
    ("personal_data", "portal:personal-data"),
    ("ecps_signin", "ecps:signin"),
    ("ecps_enrol", "ecps:enrol"),
]


def pages_of(world: World, who: str) -> list[tuple[str, str]]:
    """(name, address) of every main page of ``who``: its navigation, then its detail pages."""
    if who == "public":
        return [(name, reverse(route)) for name, route in PUBLIC]
    role = world.users[who].account.role
    nav = [(route.split(":")[-1].removeprefix("bo-"), reverse(route)) for route, _label in NAV.get(role, [])]
    return nav + world.details[who]


def set_language(page: Any, live_server: Any, code: str) -> None:
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": live_server.url}])


def leftovers(text: str, words: list[str], allowed: list[str]) -> list[str]:
    """The words of ``words`` found in ``text`` once the ``allowed`` phrases are taken out, in context."""
    for phrase in sorted(allowed, key=len, reverse=True):
        text = text.replace(phrase, " ")
    found = []
    for pattern in words:
        for match in re.finditer(pattern, text):
            start, end = max(match.start() - 30, 0), min(match.end() + 30, len(text))
            found.append(f"{match.group(0)!r} in “…{' '.join(text[start:end].split())}…”")
    return found


def check_pages(page: Any, live_server: Any, world: World, who: str, language: str) -> list[str]:
    """Visit every page of ``who`` in ``language``; the problems found, page by page."""
    problems: list[str] = []
    if who != "public":
        sign_in(page, world.users[who])
    set_language(page, live_server, language)
    words, allowed = (ENGLISH, ALLOWED) if language == "fr" else (FRENCH, ALLOWED)
    for name, address in pages_of(world, who):
        response = page.goto(address)
        where = f"[{who} {language}] {name} ({address})"
        if response is None or response.status >= 400:
            problems.append(f"{where}: HTTP {response.status if response else 'no response'}")
            continue
        if language == "fr" and os.environ.get("CPX_DOCS_SCREENSHOTS"):
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot(page, f"{who}_{name}"), DOCS_SCREENSHOTS / f"{who}_{name}.png")
        try:
            assert_accessible(page)
        except AssertionError as failure:
            problems.append(f"{where}: assert_accessible: {failure}")
        violations = axe_violations(page)
        if violations:
            problems.append(f"{where}: axe-core:\n{axe_report(violations)}")
        assert page.locator("html").get_attribute("lang") == language, where
        found = leftovers(page.evaluate(VISIBLE_TEXT), words, allowed + world.names)
        if found:
            other = "English" if language == "fr" else "French"
            problems.append(f"{where}: {other} left in the page:\n    " + "\n    ".join(found))
    return problems


PERSONAS = ["public", "holder", "manager", "operator", "ans", "auditor"]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("who", PERSONAS)
def test_every_main_page_is_accessible_and_in_one_language(page, live_server, world, who, language):
    problems = check_pages(page, live_server, world, who, language)
    assert not problems, "\n\n".join(problems)


def test_the_pages_cover_every_role_of_the_navigation(world):
    """Every role with a navigation has a persona here (a role added to NAV without one fails)."""
    covered = {world.users[who].account.role for who in PERSONAS if who != "public"}
    assert set(NAV) <= covered
    assert Role.HOLDER in covered and Role.AUDITOR in covered


def test_the_language_check_finds_leftovers():
    """The word lists catch a real leftover and leave proper nouns and the other language alone."""
    assert leftovers("Mes cartes — Your e-CPS is ready", ENGLISH, ALLOWED)
    assert not leftovers("Mon e-CPS — Agence du Numérique en Santé — RPPS 10000000001", ENGLISH, ALLOWED)
    assert leftovers("My cards — Vous n'avez pas de carte", FRENCH, ALLOWED)
    assert not leftovers("My cards — République Française — Agence du Numérique en Santé", FRENCH, ALLOWED)


def test_axe_fails_on_a_serious_violation(page):
    """The axe helper is not a tautology: a page with an unlabelled field and an image without text fails."""
    page.set_content(
        '<html lang="fr"><body><main><h1>T</h1><input type="text"><img src="x.png"></main></body></html>'
    )
    rules = {violation["id"] for violation in axe_violations(page)}
    assert {"label", "image-alt"} <= rules


def test_on_a_phone_the_menu_holds_the_navigation_the_language_and_sign_out(page, live_server, world):
    """Below the large breakpoint DSFR hides the header's tools: the burger menu opens the navigation with the
    other language and sign-out as buttons, and the page still passes axe-core."""
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, world.users["holder"])
    page.goto(reverse("portal:cards"))
    assert_accessible(page)
    violations = axe_violations(page)
    assert not violations, axe_report(violations)
    assert not page.get_by_label("Langue").is_visible()  # the header's select: for large screens
    page.get_by_role("button", name="Menu").click()
    menu = page.locator("#header-menu")
    assert menu.get_by_role("link", name="Mes commandes").is_visible()
    screenshot(page, "holder_menu_phone")
    violations = axe_violations(page)
    assert not violations, axe_report(violations)
    menu.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Menu").click()
    page.locator("#header-menu").get_by_role("button", name=re.compile("^Sign out")).click()
    assert "/accounts/login/" in page.url
