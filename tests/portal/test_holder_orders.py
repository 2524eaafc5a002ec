"""The holder orders cards in the portal: a first card for each eligible exercise (the rules told before
sending), drafts submitted or cancelled, a new order after a rejection, pre-filled from it."""

from __future__ import annotations

import subprocess
from html import unescape
from pathlib import Path

import pytest
from django.urls import reverse

from cards.models import Card
from orders import services as order_services
from orders.models import Order
from registry.models import Account
from tests.factories import (
    AdeliProfessionalFactory,
    CardFactory,
    ExerciseFactory,
    OrderFactory,
    StudentExerciseFactory,
    TariffFactory,
    persona,
)

pytestmark = pytest.mark.django_db

FRAGMENT = Path(__file__).resolve().parents[2] / "locale" / "fragments" / "holder.po"


@pytest.fixture(autouse=True)
def holder_catalogue(settings, tmp_path_factory):
    """This area's French (locale/fragments/holder.po) in force before the lead merges it into the
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


def holder_with(exercise) -> object:
    return persona(Account.Role.HOLDER, professional=exercise.professional)


def reject(order: Order, reason: str = "Diplôme non enregistré au tableau de l'Ordre") -> Order:
    return order_services.order_reject(
        order=order, actor=persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"), reason=reason
    )


# --- the holder without a card --------------------------------------------------------------------------


def test_a_holder_without_a_card_is_offered_a_first_card_with_the_rules(as_user):
    exercise = ExerciseFactory(profession_id="10")
    html = text(as_user(holder_with(exercise)).get(reverse("portal:cards")))
    assert "Vous n'avez pas encore de carte." in html
    assert reverse("portal:order-new") in html and "Commander ma première carte" in html
    assert "Ordre des médecins" in html
    assert "CPS : commande possible" in html


def test_the_order_form_explains_each_exercise_and_offers_only_the_eligible_cards(as_user):
    TariffFactory()
    doctor = ExerciseFactory(profession_id="10")
    CardFactory(exercise=doctor)  # this exercise has its card
    student = StudentExerciseFactory(professional=doctor.professional, profession_id="60")
    html = text(as_user(holder_with(doctor)).get(reverse("portal:order-new")))
    assert f'value="{student.pk}:CPF"' in html
    assert f'value="{doctor.pk}:CPS"' not in html and f'value="{doctor.pk}:CPF"' not in html
    assert 'data-reason="live_card_exists"' in html  # the doctor's exercise, and why
    assert "La première carte est gratuite." in html
    assert "36,00\xa0€" in html  # what a replacement would cost, said before ordering


def test_an_adeli_holder_is_told_ans_reviews_the_order(as_user):
    exercise = ExerciseFactory(professional=AdeliProfessionalFactory(), profession_id="91")
    html = text(as_user(holder_with(exercise)).get(reverse("portal:order-new")))
    assert "Instruite par Agence du numérique en santé · gratuite" in html


def test_a_holder_orders_a_first_card_and_it_is_submitted(as_user):
    exercise = ExerciseFactory(profession_id="10")
    client = as_user(holder_with(exercise))
    response = client.post(reverse("portal:order-new"), {"choice": f"{exercise.pk}:CPS", "action": "submit"})
    order = Order.objects.get(professional=exercise.professional)
    assert response.status_code == 302 and response["Location"] == reverse("portal:order", args=[order.pk])
    assert (order.state, order.kind, order.card_type, order.exercise_id) == (
        "submitted",
        "first",
        "CPS",
        exercise.pk,
    )
    assert "transmise à" in text(client.get(response["Location"]))


def test_a_card_that_may_not_be_ordered_is_refused_by_the_form(as_user):
    exercise = ExerciseFactory(profession_id="10")  # not a student: no CPF
    client = as_user(holder_with(exercise))
    response = client.post(reverse("portal:order-new"), {"choice": f"{exercise.pk}:CPF", "action": "submit"})
    assert response.status_code == 200
    assert not Order.objects.filter(professional=exercise.professional).exists()


def test_another_holders_exercise_cannot_be_ordered(as_user):
    mine, theirs = ExerciseFactory(profession_id="10"), ExerciseFactory(profession_id="10")
    client = as_user(holder_with(mine))
    client.post(reverse("portal:order-new"), {"choice": f"{theirs.pk}:CPS", "action": "submit"})
    assert not Order.objects.filter(exercise=theirs).exists()


def test_a_draft_is_saved_then_submitted_from_its_page(as_user):
    exercise = ExerciseFactory(profession_id="10")
    client = as_user(holder_with(exercise))
    client.post(reverse("portal:order-new"), {"choice": f"{exercise.pk}:CPS", "action": "draft"})
    order = Order.objects.get(professional=exercise.professional)
    assert order.state == Order.State.DRAFT
    page = reverse("portal:order", args=[order.pk])
    html = text(client.get(page))
    assert (
        "Cette commande est un brouillon" in html and reverse("portal:order-submit", args=[order.pk]) in html
    )
    response = client.post(reverse("portal:order-submit", args=[order.pk]), {"next": page})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).state == Order.State.SUBMITTED
    assert reverse("portal:order-submit", args=[order.pk]) not in text(client.get(page))


def test_a_draft_that_breaks_a_rule_says_so_and_its_submission_is_refused_with_the_reason(as_user):
    exercise = ExerciseFactory(profession_id="10")
    draft = OrderFactory(exercise=exercise)
    CardFactory(exercise=exercise)  # a card came another way meanwhile
    client = as_user(holder_with(exercise))
    page = reverse("portal:order", args=[draft.pk])
    assert 'data-reason="live_card_exists"' in text(client.get(page))
    refused = client.post(reverse("portal:order-submit", args=[draft.pk]), {"next": page}, follow=True)
    assert refused.redirect_chain == [(page, 303)]
    assert "Le titulaire a déjà une carte pour cet exercice" in text(refused)
    assert Order.objects.get(pk=draft.pk).state == Order.State.DRAFT


def test_a_draft_is_cancelled_from_its_page(as_user):
    exercise = ExerciseFactory(profession_id="10")
    draft = OrderFactory(exercise=exercise)
    client = as_user(holder_with(exercise))
    page = reverse("portal:order", args=[draft.pk])
    assert "Annuler ce brouillon" in text(client.get(page))
    client.post(reverse("portal:order-cancel", args=[draft.pk]), {"next": page})
    assert Order.objects.get(pk=draft.pk).state == Order.State.CANCELLED


def test_another_holders_draft_cannot_be_submitted(as_user):
    draft = OrderFactory(exercise=ExerciseFactory(profession_id="10"))
    stranger = holder_with(ExerciseFactory(profession_id="10"))
    assert as_user(stranger).post(reverse("portal:order-submit", args=[draft.pk])).status_code == 404
    assert Order.objects.get(pk=draft.pk).state == Order.State.DRAFT


# --- ordering again -------------------------------------------------------------------------------------


def test_a_rejected_first_order_offers_a_new_one_pre_filled(as_user):
    exercise = ExerciseFactory(profession_id="10")
    holder = holder_with(exercise)
    order = order_services.order_place(
        actor=holder, professional=exercise.professional, card_type="CPS", kind="first", exercise=exercise
    )
    reject(order)
    client = as_user(holder)
    html = text(client.get(reverse("portal:order", args=[order.pk])))
    assert "Diplôme non enregistré" in html and reverse("portal:order-again", args=[order.pk]) in html
    again = client.get(reverse("portal:order-again", args=[order.pk]))
    assert again.status_code == 302
    form = text(client.get(again["Location"]))
    assert f'value="{exercise.pk}:CPS" checked' in form


def test_a_rejected_replacement_is_ordered_again_with_its_reason(as_user):
    TariffFactory()
    exercise = ExerciseFactory(profession_id="10")
    card = CardFactory(exercise=exercise, state=Card.State.OPPOSED)
    holder = holder_with(exercise)
    order = order_services.order_place(
        actor=holder,
        professional=exercise.professional,
        card_type="CPS",
        kind="replacement",
        exercise=exercise,
        replacement_reason="stolen",
        replaces=card,
    )
    reject(order)
    client = as_user(holder)
    url = reverse("portal:order-again", args=[order.pk])
    html = text(client.get(url))
    assert 'value="stolen" checked' in html and card.display_number in html
    response = client.post(url, {"replacement_reason": "stolen"})
    new = Order.objects.exclude(pk=order.pk).get(professional=exercise.professional)
    assert response["Location"] == reverse("portal:order", args=[new.pk])
    assert (new.kind, new.replaces_id, new.replacement_reason, new.state) == (
        "replacement",
        card.pk,
        "stolen",
        "submitted",
    )


def test_an_order_under_way_is_not_ordered_again(as_user):
    exercise = ExerciseFactory(profession_id="10")
    order = OrderFactory(exercise=exercise, state=Order.State.SUBMITTED)
    client = as_user(holder_with(exercise))
    assert reverse("portal:order-again", args=[order.pk]) not in text(
        client.get(reverse("portal:order", args=[order.pk]))
    )
    assert client.get(reverse("portal:order-again", args=[order.pk])).status_code == 404


def test_the_order_pages_are_the_holders_own(as_user, people):
    assert as_user(people.cnom).get(reverse("portal:order-new")).status_code == 403
    assert as_user(people.manager).get(reverse("portal:order-new")).status_code == 403


def test_the_orders_list_offers_ordering_and_the_exports(as_user, people):
    OrderFactory(exercise=people.card.exercise, state=Order.State.SUBMITTED)
    html = text(as_user(people.holder).get(reverse("portal:orders")))
    assert reverse("portal:order-new") in html
    assert reverse("portal:export-csv", args=["my-orders"]) in html


# --- the order's timeline -----------------------------------------------------------------------------


def test_the_order_page_shows_one_timeline_with_shipping_the_codes_letter_and_non_receipt(as_user, settings):
    import datetime as dt

    from django.utils import timezone

    from lifecycle.models import Shipment, ShippingBatch

    settings.CPX_NOT_RECEIVED_DAYS = 10
    exercise = ExerciseFactory(profession_id="10")
    card = CardFactory(exercise=exercise, state=Card.State.SHIPPED)
    order = OrderFactory(exercise=exercise, state=Order.State.PRODUCED, produced_card=card)
    shipped_at = timezone.now() - dt.timedelta(days=12)
    made_at = shipped_at - dt.timedelta(days=1)
    order.events.create(
        transition="mark_produced", from_state="in_production", to_state="produced", at=made_at
    )
    batch = ShippingBatch.objects.create(carrier="La Poste", reference="B-7", shipped_at=shipped_at)
    release = timezone.localdate(shipped_at) + dt.timedelta(days=1)
    Shipment.objects.create(batch=batch, card=card, tracking_reference="8R42", pin_release_on=release)
    html = text(as_user(holder_with(exercise)).get(reverse("portal:order", args=[order.pk])))
    timeline = html[html.index('id="order-timeline"') :]
    assert timeline.index("Fabriquée") < timeline.index("Carte envoyée par courrier") < timeline.index("8R42")
    assert "Votre lettre des codes (PIN et PUK) part ce jour-là" in timeline
    assert "Carte non reçue ? Vous pouvez maintenant la déclarer" in timeline  # 12 days > 10
    assert reverse("portal:card-declare", args=[card.pk]) in timeline
