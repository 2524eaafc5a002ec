"""The operators' back-office: each authority sees its own queue only; transitions go through the services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cards.models import Card
from core.transitions import allowed
from lifecycle.models import Opposition
from orders.models import Order
from orders.payment_services import OPERATOR_METHODS
from orders.services import REJECTION_REASON_MIN_LENGTH
from portal.forms import PaymentForm, RejectForm
from registry.models import RegistryImport
from tests.factories import AdeliProfessionalFactory, CardFactory, ExerciseFactory, OrderFactory

pytestmark = pytest.mark.django_db


def submitted(profession: str = "10", **fields) -> Order:
    exercise = ExerciseFactory(profession_id=profession)
    order: Order = OrderFactory(exercise=exercise, state=Order.State.SUBMITTED, **fields)  # type: ignore[assignment]
    order.events.create(transition="submit", from_state="draft", to_state="submitted")
    return order


def test_the_queue_lists_the_operators_authority_only(people, as_user):
    mine, theirs = submitted("10"), submitted("60")
    html = as_user(people.cnom).get(reverse("portal:queue")).content.decode()
    assert f"N° {mine.pk}<" in html
    assert f"N° {theirs.pk}<" not in html


def test_another_ordres_order_is_not_found(people, as_user):
    theirs = submitted("60")  # infirmier: ONI
    response = as_user(people.cnom).get(reverse("portal:bo-order", args=[theirs.pk]))
    assert response.status_code == 404
    assert as_user(people.cnom).post(reverse("portal:bo-approve", args=[theirs.pk])).status_code == 404
    assert Order.objects.get(pk=theirs.pk).state == Order.State.SUBMITTED


def test_filters_and_search(people, as_user):
    first = submitted("10")
    renewal = submitted("10", kind=Order.Kind.RENEWAL)
    client = as_user(people.cnom)
    html = client.get(reverse("portal:queue"), {"kind": "renewal"}).content.decode()
    assert f"N° {renewal.pk}<" in html and f"N° {first.pk}<" not in html
    name = first.professional.last_name
    html = client.get(reverse("portal:queue"), {"q": name}).content.decode()
    assert f"N° {first.pk}<" in html and f"N° {renewal.pk}<" not in html
    html = client.get(reverse("portal:queue"), {"q": first.professional.rpps}).content.decode()
    assert f"N° {first.pk}<" in html
    html = client.get(reverse("portal:queue"), {"state": "approved", "card_type": "CPS"}).content.decode()
    assert "Aucune commande ne correspond." in html


def test_the_htmx_filter_answers_the_rows_only(people, as_user):
    submitted("10")
    response = as_user(people.cnom).get(
        reverse("portal:queue"), {"state": "submitted"}, HTTP_HX_REQUEST="true"
    )
    assert "<html" not in response.content.decode() and "<table" in response.content.decode()


def test_the_order_page_shows_registry_record_eligibility_history_and_actions(people, as_user):
    order = submitted("10")
    html = as_user(people.cnom).get(reverse("portal:bo-order", args=[order.pk])).content.decode()
    assert order.professional.national_id in html
    assert "éligibilité sont respectées." in html
    assert "Historique" in html
    assert "Approuver" in html and "Rejeter" in html and "Annuler la commande" in html


def test_the_operator_approves_an_order(people, as_user):
    order = submitted("10")
    response = as_user(people.cnom).post(reverse("portal:bo-approve", args=[order.pk]), follow=True)
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED
    assert "La commande est approuvée." in response.content.decode()


def test_a_rejection_without_a_reason_gives_a_french_error(people, as_user):
    order = submitted("10")
    response = as_user(people.cnom).post(reverse("portal:bo-reject", args=[order.pk]), {"reason": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    assert Order.objects.get(pk=order.pk).state == Order.State.SUBMITTED


def test_a_rejection_with_a_reason(people, as_user):
    order = submitted("10")
    as_user(people.cnom).post(reverse("portal:bo-reject", args=[order.pk]), {"reason": "Pièces manquantes"})
    order.refresh_from_db()
    assert order.state == Order.State.REJECTED
    assert order.events.last().reason == "Pièces manquantes"


def test_recording_a_payment(people, as_user):
    order = OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )
    url = reverse("portal:bo-payment", args=[order.pk])
    client = as_user(people.cnom)
    bad = client.post(url, {"method": "transfer", "amount": "abc", "reference": ""})
    assert bad.status_code == 400 and "Saisissez un nombre." in bad.content.decode()
    page = reverse("portal:bo-order", args=[order.pk])
    wrong = {"method": "transfer", "amount": "10", "reference": "VIR-1", "next": page}  # as the form posts
    answer = client.post(url, wrong, follow=True)
    assert answer.redirect_chain == [(page, 303)]
    assert "Le montant dû est de 36" in answer.content.decode()
    client.post(url, {"method": "transfer", "amount": "36.00", "reference": "VIR-1"})
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED and order.payment.reference == "VIR-1"


def test_cancelling_an_order(people, as_user):
    order = submitted("10")
    as_user(people.cnom).post(reverse("portal:bo-cancel", args=[order.pk]), {"reason": "doublon"})
    assert Order.objects.get(pk=order.pk).state == Order.State.CANCELLED


def test_a_transition_from_the_wrong_state_is_explained(people, as_user):
    order = submitted("10")
    client = as_user(people.cnom)
    client.post(reverse("portal:bo-approve", args=[order.pk]))
    page = reverse("portal:bo-order", args=[order.pk])
    response = client.post(reverse("portal:bo-approve", args=[order.pk]), {"next": page}, follow=True)
    assert response.redirect_chain == [(page, 303)]
    assert "n&#x27;est pas possible depuis l&#x27;état" in response.content.decode()


def test_the_auditor_reads_but_has_no_actions(people, as_user):
    order = submitted("10")
    client = as_user(people.auditor)
    html = client.get(reverse("portal:bo-order", args=[order.pk])).content.decode()
    assert "Approuver" not in html
    assert client.post(reverse("portal:bo-approve", args=[order.pk])).status_code == 403


def test_overdue_orders(people, as_user):
    late = submitted("10")
    Order.objects.filter(pk=late.pk).update(state_changed_at=timezone.now() - datetime.timedelta(days=60))
    fresh = submitted("10")
    html = as_user(people.cnom).get(reverse("portal:overdue")).content.decode()
    assert f"N° {late.pk}<" in html and f"N° {fresh.pk}<" not in html


def test_the_holder_page_lists_all_their_cards(people, as_user):
    professional = people.card.professional
    html = as_user(people.cnom).get(reverse("portal:bo-holder", args=[professional.pk])).content.decode()
    assert people.card.display_number in html
    other = people.other_card.professional
    assert as_user(people.cnom).get(reverse("portal:bo-holder", args=[other.pk])).status_code == 404


def test_the_ans_operator_sees_adeli_orders(people, as_user):
    adeli = ExerciseFactory(professional=AdeliProfessionalFactory(), profession_id="91")  # orthophoniste
    order = OrderFactory(exercise=adeli, state=Order.State.SUBMITTED)
    assert as_user(people.ans).get(reverse("portal:bo-order", args=[order.pk])).status_code == 200
    assert as_user(people.cnom).get(reverse("portal:bo-order", args=[order.pk])).status_code == 404


def test_production_and_imports_are_for_ans(people, as_user, settings, tmp_path):
    settings.CPX_REJECT_DIR = tmp_path
    report = tmp_path / "rejects.txt"
    report.write_text("line 3: bad RPPS\n")
    run = RegistryImport.objects.create(
        file_name="PS_LibreAcces.txt",
        file_sha256="0" * 64,
        rejected=1,
        reject_report=str(report),
        status="done",
    )
    client = as_user(people.ans)
    assert "Stations de personnalisation" in client.get(reverse("portal:production")).content.decode()
    assert "PS_LibreAcces.txt" in client.get(reverse("portal:imports")).content.decode()
    download = client.get(reverse("portal:import-rejects", args=[run.pk]))
    assert b"bad RPPS" in b"".join(download.streaming_content)
    assert as_user(people.cnom).get(reverse("portal:production")).status_code == 403
    assert as_user(people.cnom).get(reverse("portal:imports")).status_code == 403


def test_a_reject_report_outside_the_reject_folder_is_not_served(people, as_user, settings, tmp_path):
    settings.CPX_REJECT_DIR = tmp_path / "rejects"
    run = RegistryImport.objects.create(
        file_name="x", file_sha256="1" * 64, rejected=1, reject_report="/etc/passwd"
    )
    assert as_user(people.ans).get(reverse("portal:import-rejects", args=[run.pk])).status_code == 404


def test_an_operator_records_a_declaration_made_by_phone(people, as_user):
    client = as_user(people.cnom)
    holder_page = client.get(reverse("portal:bo-holder", args=[people.card.professional_id])).content.decode()
    url = reverse("portal:card-declare", args=[people.card.pk])
    assert url in holder_page
    missing = client.post(url, {"reason": "lost"})
    assert "Ce champ est obligatoire." in missing.content.decode()
    confirm = client.post(url, {"reason": "lost", "channel": "phone"})
    assert 'name="channel" value="phone"' in confirm.content.decode()
    client.post(url, {"reason": "lost", "channel": "phone", "confirm": "1"})
    opposition = Opposition.objects.get(card=people.card)
    assert (opposition.channel, opposition.declared_by_role) == ("phone", "authority_operator")


def test_an_operator_cannot_declare_another_ordres_card(people, as_user):
    url = reverse("portal:card-declare", args=[people.other_card.pk])
    assert (
        as_user(people.cnom).post(url, {"reason": "lost", "channel": "phone", "confirm": "1"}).status_code
        == 404
    )


def test_ans_records_a_shipping_batch(people, as_user):
    made = CardFactory(exercise=people.card.exercise, state=Card.State.PERSONALIZED)
    client = as_user(people.ans)
    assert made.display_number in client.get(reverse("portal:shipping")).content.decode()
    missing = client.post(reverse("portal:shipping"), {"card": [made.pk]})
    assert missing.status_code == 400 and "Ce champ est obligatoire." in missing.content.decode()
    empty = client.post(reverse("portal:shipping"), {"carrier": "La Poste", "reference": "LP-1"}, follow=True)
    assert "Une expédition contient au moins une carte." in empty.content.decode()
    data = {"carrier": "La Poste", "reference": "LP-1", "card": [made.pk], f"tracking-{made.pk}": "8R1"}
    client.post(reverse("portal:shipping"), data)
    assert Card.objects.get(pk=made.pk).state == Card.State.SHIPPED
    assert as_user(people.cnom).get(reverse("portal:shipping")).status_code == 403


def test_the_registry_lookup_finds_the_authoritys_people_only(people, as_user):
    doctor = people.card.professional
    nurse = people.other_card.professional
    client = as_user(people.cnom)
    by_rpps = client.get(reverse("portal:bo-holders"), {"q": doctor.rpps}).content.decode()
    assert doctor.national_id in by_rpps
    by_name = client.get(reverse("portal:bo-holders"), {"q": nurse.last_name}).content.decode()
    assert nurse.national_id not in by_name and "Personne ne correspond." in by_name


BUTTON_URLS = {
    "submit": "portal:bo-submit",
    "approve": "portal:bo-approve",
    "reject": "portal:bo-reject",
    "record_payment": "portal:bo-payment",
    "requeue": "portal:bo-requeue",
    "cancel": "portal:bo-cancel",
}
# Approved and paid orders move on in the same transaction (to payment, to production): no order rests
# there, and the page has no button for those follow-ups (request_payment, queue).
PASSING_STATES = {Order.State.APPROVED, Order.State.PAID}


@pytest.mark.parametrize("state", Order.State.values)
@pytest.mark.parametrize("who", ["cnom", "auditor"])
def test_the_order_page_offers_exactly_what_the_actor_may_fire(people, as_user, state, who):
    paid = state in (Order.State.AWAITING_PAYMENT, Order.State.PAID)
    order = OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=state,
        fee=Decimal("36.00") if paid else None,
    )
    user = getattr(people, who)
    html = as_user(user).get(reverse("portal:bo-order", args=[order.pk])).content.decode()
    shown = {name for name, url in BUTTON_URLS.items() if reverse(url, args=[order.pk]) in html}
    mine = set(allowed(order, user))
    assert shown == mine & set(BUTTON_URLS)
    if state not in PASSING_STATES:
        assert shown == mine  # every transition the actor may fire from here has its button
    api = APIClient()
    api.force_authenticate(user)
    answer = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert set(answer["your_transitions"]) & set(BUTTON_URLS) == shown  # the API says the same


def test_the_payment_form_offers_the_methods_operators_record(people, as_user):
    assert [value for value, _label in PaymentForm().fields["method"].choices] == list(OPERATOR_METHODS)
    order = OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )
    url = reverse("portal:bo-payment", args=[order.pk])
    online = {"method": "card_online", "amount": "36.00", "reference": "chk_1"}
    assert as_user(people.cnom).post(url, online).status_code == 400
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


def test_a_rejection_reason_is_as_long_as_the_service_asks(people, as_user):
    assert RejectForm().fields["reason"].min_length == REJECTION_REASON_MIN_LENGTH
    order = submitted("10")
    short = "x" * (REJECTION_REASON_MIN_LENGTH - 1)
    response = as_user(people.cnom).post(reverse("portal:bo-reject", args=[order.pk]), {"reason": short})
    assert response.status_code == 400
    assert Order.objects.get(pk=order.pk).state == Order.State.SUBMITTED
