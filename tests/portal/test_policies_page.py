"""The issuance policies page (issue 16): an Ordre's or ANS's operators choose, per event and card type,
what the platform does; the auditor reads every authority's; nobody else opens it. Then in the browser: an
operator changes a policy, adds a profession's own row and removes it; the page passes axe-core."""

from __future__ import annotations

import subprocess
from html import unescape
from pathlib import Path

import pytest
from django.urls import reverse

from audit.models import AuditRecord
from lifecycle.models import IssuancePolicy
from registry.models import Account
from tests.factories import persona

pytestmark = pytest.mark.django_db

FRAGMENT = Path(__file__).resolve().parents[2] / "locale" / "fragments" / "policies.po"
URL = "/backoffice/policies/"


@pytest.fixture(autouse=True)
def policies_catalogue(settings, tmp_path_factory):
    """This part's French (locale/fragments/policies.po) in force before the lead merges it into the
    catalogue: compiled into a directory of its own, put first in ``LOCALE_PATHS``. Harmless after."""
    directory = tmp_path_factory.mktemp("locale") / "fr" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    source = directory / "django.po"
    header = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    source.write_text(header + FRAGMENT.read_text())
    subprocess.run(["msgfmt", "-o", str(directory / "django.mo"), str(source)], check=True)
    settings.LOCALE_PATHS = [str(directory.parent.parent), *settings.LOCALE_PATHS]


def text(response) -> str:
    return unescape(response.content.decode())


def row(code: str, card_type: str, trigger: str, profession: str | None = None) -> IssuancePolicy:
    return IssuancePolicy.objects.get(
        authority__code=code, card_type=card_type, trigger=trigger, profession_id=profession
    )


def test_the_page_is_in_the_operators_navigation(as_user):
    assert reverse("portal:policies") == URL
    link = f'href="{URL}"'
    assert link in text(as_user(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")).get(URL))
    assert link in text(as_user(persona(Account.Role.ANS_OPERATOR)).get(URL))
    assert link not in text(as_user(persona(Account.Role.HOLDER)).get("/messages/"))


@pytest.mark.parametrize("role", [Account.Role.HOLDER, Account.Role.STRUCTURE_MANAGER])
def test_holders_and_managers_may_not_open_it(as_user, role):
    assert as_user(persona(role)).get(URL).status_code == 403


def test_an_ordre_operator_sees_their_ordre_s_tables(as_user):
    response = as_user(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")).get(URL)
    assert response.status_code == 200
    body = text(response)
    assert 'data-authority="CNOM"' in body and 'data-authority="CNOP"' not in body
    for trigger in ("first", "training", "renewal", "update"):
        assert f'data-trigger="{trigger}"' in body
    assert 'id="policy-first-CPS-all"' in body and 'data-mode="automatic"' in body
    assert 'id="policy-first-CPE-all"' not in body  # no first CPE is read from the registry
    assert '<option value="10">' in body and '<option value="21">' not in body  # CNOM's professions


def test_the_auditor_reads_every_authority_s_and_has_no_form(as_user):
    auditor = persona(Account.Role.AUDITOR)
    body = text(as_user(auditor).get(URL))
    assert 'data-authority="CNOM"' in body and 'data-authority="ANS"' in body
    assert '<form method="post"' not in body.split("<main", 1)[1].split("</main>", 1)[0]
    response = as_user(auditor).post(
        URL, {"card_type": "CPS", "trigger": "first", "mode": "off"}, HTTP_REFERER="http://testserver" + URL
    )
    assert response.status_code == 303
    assert row("CNOM", "CPS", "first").mode == "automatic"


def test_an_operator_saves_a_row_and_is_told(as_user):
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    client = as_user(cnom)
    response = client.post(
        URL, {"card_type": "CPS", "trigger": "first", "profession": "", "mode": "proposed", "action": "save"}
    )
    assert response.status_code == 302 and response["Location"] == URL
    policy = row("CNOM", "CPS", "first")
    assert (policy.mode, policy.approve, policy.updated_by_id) == ("proposed", False, cnom.pk)
    assert AuditRecord.objects.filter(action="issuance_policy.changed", actor_id=cnom.pk).exists()
    body = text(client.get(URL, HTTP_ACCEPT_LANGUAGE="fr"))
    assert "La politique de délivrance est enregistrée." in body
    assert cnom.username in body  # who changed it, shown in the row


def test_a_profession_row_is_added_then_removed(as_user):
    client = as_user(persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"))
    fields = {"card_type": "CPS", "trigger": "renewal", "profession": "69", "mode": "off", "action": "save"}
    client.post(URL, fields)
    assert row("ONI", "CPS", "renewal", "69").mode == "off"
    assert 'id="policy-renewal-CPS-69"' in text(client.get(URL))
    client.post(URL, {**fields, "action": "remove"})
    assert not IssuancePolicy.objects.filter(profession_id="69").exists()


def test_bad_input_is_told_and_changes_nothing(as_user):
    client = as_user(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    referer = {"HTTP_REFERER": "http://testserver" + URL, "HTTP_ACCEPT_LANGUAGE": "fr"}
    for fields in (
        {"card_type": "CPS", "trigger": "first", "mode": "sometimes"},
        {"card_type": "CPS", "trigger": "first"},
        {"card_type": "CPE", "trigger": "first", "mode": "off"},  # not a thing the registry triggers
        {"card_type": "CPS", "trigger": "first", "mode": "off", "profession": "21"},  # CNOP's
    ):
        response = client.post(URL, fields, **referer)
        assert response.status_code in (302, 303)
    assert row("CNOM", "CPS", "first").mode == "automatic"
    assert not IssuancePolicy.objects.filter(updated_by__isnull=False).exists()
    assert "Profession introuvable parmi celles" in text(client.get(URL, HTTP_ACCEPT_LANGUAGE="fr"))


def test_the_form_needs_its_csrf_token():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    response = client.post(URL, {"card_type": "CPS", "trigger": "first", "mode": "off"})
    assert response.status_code == 403
    assert row("CNOM", "CPS", "first").mode == "automatic"


# --- in the browser -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_operator_changes_a_policy_in_the_browser(page):
    from playwright.sync_api import expect

    from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, screenshot, sign_in

    sign_in(page, persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"))
    page.get_by_role("link", name="Politiques de délivrance").first.click()
    page.wait_for_url(f"**{URL}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Politiques de délivrance")
    screenshot(page, "policies")
    assert_accessible(page)
    assert_no_axe_violations(page)

    # The CPS on registration: proposed, and left to review, instead of automatic and approved at once.
    line = page.locator("#policy-first-CPS-all")
    line.get_by_role("combobox").select_option("proposed")
    line.get_by_role("checkbox").uncheck()
    line.locator("[data-action=save-policy]").click()
    expect(page.get_by_role("status").first).to_contain_text("La politique de délivrance est enregistrée.")
    expect(page.locator("#policy-first-CPS-all")).to_have_attribute("data-mode", "proposed")
    policy = row("ONI", "CPS", "first")
    assert (policy.mode, policy.approve) == ("proposed", False)

    # Renewal turned off for psychiatric nurses only, then back to the Ordre's policy.
    section = page.locator("[data-trigger=renewal]")
    section.locator("summary").click()
    section.get_by_label("Profession", exact=True).select_option("69")
    section.get_by_label("Mode", exact=True).select_option("off")
    section.locator("[data-action=add-profession-policy]").click()
    expect(page.locator("#policy-renewal-CPS-69")).to_have_attribute("data-mode", "off")
    assert row("ONI", "CPS", "renewal", "69").mode == "off"
    assert_no_axe_violations(page)
    page.locator("#policy-renewal-CPS-69 [data-action=remove-policy]").click()
    expect(page.get_by_role("status").first).to_contain_text("suit désormais la politique")
    expect(page.locator("#policy-renewal-CPS-69")).to_have_count(0)
