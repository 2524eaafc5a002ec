"""The codes pages (portal.views.codes): the holder asks for their codes again with their password; the back
office's help desk finds a card, re-issues its codes, unblocks it by phone and sees the response once."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from lifecycle.models import CodesReissue, UnblockRequest
from pki import unblock
from registry.models import Account
from tests.factories import PASSWORD, persona

from .test_codes import CHECK, approve
from .test_codes_keys import agent_challenge, agent_puk

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def unblock_keys(pki_dir, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    unblock.ensure_keys()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_holder_asks_for_their_codes_again_with_their_password(card, holder_of):
    user = holder_of(card)
    user.set_password(PASSWORD)
    user.save()
    client = signed_in(user)
    assert (
        reverse("portal:card-codes", args=[card.pk])
        in client.get(reverse("portal:card", args=[card.pk])).content.decode()
    )
    page = client.get(reverse("portal:card-codes", args=[card.pk]))
    assert page.status_code == 200 and "cpx-card unblock" in page.content.decode()

    url = reverse("portal:card-codes", args=[card.pk])
    wrong = client.post(url, {"password": "not-it", "next": url})
    assert wrong.status_code == 303 and not CodesReissue.objects.exists()
    done = client.post(url, {"password": PASSWORD, "next": url})
    assert done.status_code == 302 and done["Location"] == reverse("portal:card", args=[card.pk])
    reissue = CodesReissue.objects.get()
    assert reissue.requested_via == "holder" and reissue.state == "pending"
    assert reissue.reference in client.get(url).content.decode()


def test_another_holder_does_not_reach_the_page(card):
    stranger = signed_in(persona(Account.Role.HOLDER))
    assert stranger.get(reverse("portal:card-codes", args=[card.pk])).status_code in (303, 404)
    assert not CodesReissue.objects.exists()


def test_the_help_desk_finds_the_card_and_re_issues_its_codes(card, ans):
    client = signed_in(ans)
    home = client.get(reverse("portal:bo-codes"))
    assert home.status_code == 200
    assert reverse("portal:bo-codes") in client.get(reverse("portal:queue")).content.decode()  # in the menu
    found = client.get(reverse("portal:bo-codes"), {"number": card.display_number})
    assert found.status_code == 302 and found["Location"] == reverse("portal:bo-card-codes", args=[card.pk])
    page = client.get(found["Location"])
    assert page.status_code == 200 and "Demander le déblocage" in page.content.decode()

    reissue_url = reverse("portal:bo-card-reissue", args=[card.pk])
    assert client.post(reissue_url, {"identity_check": "court"}).status_code == 400
    assert client.post(reissue_url, {"identity_check": CHECK}).status_code == 302
    assert CodesReissue.objects.get().identity_check == CHECK


def test_the_help_desk_response_is_shown_once_to_the_operator_who_asked(
    card, ans, cnom, django_capture_on_commit_callbacks
):
    key, challenge = agent_challenge()
    client = signed_in(ans)
    opened = client.post(
        reverse("portal:bo-card-unblock", args=[card.pk]), {"challenge": challenge, "identity_check": CHECK}
    )
    row = UnblockRequest.objects.get()
    assert opened.status_code == 302 and opened["Location"] == reverse("portal:bo-unblock", args=[row.pk])
    waiting = client.get(opened["Location"]).content.decode()
    assert "Un second opérateur doit approuver" in waiting and "Afficher la réponse" not in waiting

    approve(row.approval_id, cnom, django_capture_on_commit_callbacks)
    assert "Afficher la réponse" not in signed_in(cnom).get(opened["Location"]).content.decode()
    assert "Afficher la réponse" in client.get(opened["Location"]).content.decode()
    reveal = reverse("portal:bo-unblock-reveal", args=[row.pk])
    assert signed_in(cnom).post(reveal, {"next": opened["Location"]}).status_code == 303  # not theirs

    shown = client.post(reveal, {"next": opened["Location"]})
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    digits = re.search(r'id="unblock-response"><strong>(\d{4}) (\d{4})</strong>', shown.content.decode())
    assert digits, shown.content.decode()
    response = digits.group(1) + digits.group(2)
    assert agent_puk(key, response, card.number) == unblock.puk_for(card.number, card.puk_key_version)
    again = client.post(reveal, {"next": opened["Location"]})
    assert again.status_code == 303
    after = client.get(opened["Location"]).content.decode()
    assert "Réponse communiquée" in after and unblock.display_response(response) not in after


def test_a_bad_challenge_is_told_on_the_page(card, ans):
    client = signed_in(ans)
    back = reverse("portal:bo-card-codes", args=[card.pk])
    answer = client.post(
        reverse("portal:bo-card-unblock", args=[card.pk]),
        {"challenge": "QWER-TYUI-OPAS", "identity_check": CHECK, "next": back},
    )
    assert answer.status_code == 303 and answer["Location"] == back
    assert not UnblockRequest.objects.exists()
