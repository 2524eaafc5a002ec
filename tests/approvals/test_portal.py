"""The back office's approvals page: what waits for me, what I asked, and deciding (CSRF-protected posts)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalRequest

from .conftest import ask

pytestmark = pytest.mark.django_db


def client_for(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def test_the_page_lists_what_waits_for_me_and_what_i_asked(sample, cnom, cnom2):
    waiting, mine = ask(cnom2, "theirs"), ask(cnom, "mine")
    html = client_for(cnom).get(reverse("portal:approvals")).content.decode()
    awaiting_part, mine_part = html.split('id="mine-h"')[0], html.split('id="mine-h"')[1]
    assert "En attente de votre décision" in awaiting_part
    assert "Essai theirs" in awaiting_part and cnom2.username in awaiting_part
    assert "Essai mine" not in awaiting_part
    assert "Essai mine" in mine_part.split('id="others-h"')[0]
    assert f'href="{reverse("portal:approval", args=[waiting.pk])}"' in html
    assert f'href="{reverse("portal:approval", args=[mine.pk])}"' in html


def test_the_navigation_links_to_the_page(sample, cnom):
    html = client_for(cnom).get(reverse("portal:queue")).content.decode()
    assert f'href="{reverse("portal:approvals")}"' in html


def test_holders_have_no_approvals_page(sample, holder):
    assert client_for(holder).get(reverse("portal:approvals")).status_code == 403


def test_the_detail_has_labelled_approve_and_reject_forms(sample, cnom, cnom2):
    request = ask(cnom, "waive")
    html = client_for(cnom2).get(reverse("portal:approval", args=[request.pk])).content.decode()
    assert "<h1>Demande d&#x27;approbation n° " in html or "<h1>Demande d'approbation n° " in html
    assert "Approuver</button>" in html and "Refuser</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<label class="fr-label" for="id_reject-comment">Motif du refus' in html
    assert '<label class="fr-label" for="id_approve-comment">Commentaire (facultatif)' in html
    assert "waive" in html


def test_the_requester_sees_no_decision_buttons_but_may_withdraw(sample, cnom):
    request = ask(cnom)
    html = client_for(cnom).get(reverse("portal:approval", args=[request.pk])).content.decode()
    assert "Approuver</button>" not in html
    assert "vous ne pouvez pas décider de votre propre demande" in html
    client_for(cnom).post(reverse("portal:approval-cancel", args=[request.pk]))
    assert ApprovalRequest.objects.get(pk=request.pk).state == ApprovalRequest.State.CANCELLED


def test_approving_from_the_page_executes_the_action(sample, cnom, cnom2):
    request = ask(cnom)
    response = client_for(cnom2).post(reverse("portal:approval-approve", args=[request.pk]), follow=True)
    assert "Demande approuvée : l&#x27;action a été exécutée." in response.content.decode()
    assert ApprovalRequest.objects.get(pk=request.pk).state == ApprovalRequest.State.EXECUTED
    assert sample.executed == [request.pk]


def test_the_requester_posting_approve_is_refused_with_a_message(sample, cnom):
    request = ask(cnom)
    page = reverse("portal:approval", args=[request.pk])
    response = client_for(cnom).post(
        reverse("portal:approval-approve", args=[request.pk]), {"next": page}, follow=True
    )
    assert response.redirect_chain == [(page, 303)]
    assert "Vous avez demandé cette action : une autre personne doit en décider." in response.content.decode()
    assert ApprovalRequest.objects.get(pk=request.pk).state == ApprovalRequest.State.PENDING
    assert sample.executed == []


def test_a_rejection_needs_a_reason(sample, cnom, cnom2):
    request = ask(cnom)
    url = reverse("portal:approval-reject", args=[request.pk])
    bad = client_for(cnom2).post(url, {"reject-comment": ""})
    assert bad.status_code == 400 and "Ce champ est obligatoire." in bad.content.decode()
    client_for(cnom2).post(url, {"reject-comment": "Pas justifié"})
    assert ApprovalRequest.objects.get(pk=request.pk).state == ApprovalRequest.State.REJECTED


def test_posts_need_the_csrf_token(sample, cnom, cnom2):
    request = ask(cnom)
    client = client_for(cnom2, enforce_csrf_checks=True)
    assert client.post(reverse("portal:approval-approve", args=[request.pk])).status_code == 403
    assert ApprovalRequest.objects.get(pk=request.pk).state == ApprovalRequest.State.PENDING


def test_a_request_outside_ones_scope_is_404(sample, cnom, oni):
    sample.register(may_request=lambda user, payload: user == cnom, may_approve=lambda user, request: False)
    request = ask(cnom)
    assert client_for(oni).get(reverse("portal:approval", args=[request.pk])).status_code == 404
    assert client_for(oni).post(reverse("portal:approval-approve", args=[request.pk])).status_code == 404


def test_the_auditor_reads_but_cannot_decide(sample, cnom):
    from registry.models import Account
    from tests.factories import persona

    auditor = persona(Account.Role.AUDITOR)
    request = ask(cnom)
    html = client_for(auditor).get(reverse("portal:approval", args=[request.pk])).content.decode()
    assert "Approuver</button>" not in html
    assert client_for(auditor).post(reverse("portal:approval-approve", args=[request.pk])).status_code == 403
