"""The registry drives the cards (issue 16), from real extraction files: first cards by policy, a CPF for an
intern, an update when the registry no longer matches what a card carries, holders struck off revoked in
the import's own transaction."""

from __future__ import annotations

import json
from typing import cast

import pytest
from django.db import connection

from cards.models import Card, CardEvent
from lifecycle.models import IssuancePolicy
from lifecycle.registry_driven import CURRENT_SQL
from notifications.models import Notification
from orders.models import Order
from pki.models import AuditEvent, Certificate
from registry.identifiers import luhn_complete
from registry.models import Authority, Exercise
from registry.services import registry_import
from stations.personalization import Request, card_written
from tests.factories import CardFactory
from tests.registry.conftest import DOCTOR, OPTICIAN, SAMPLE, sample_row, sample_rows

pytestmark = pytest.mark.django_db

NEW_RPPS = luhn_complete("1000000777")
INTERN_RPPS = luhn_complete("1000000888")


def new_doctor(**changes):
    """A médecin the registry has never listed: RPPS, Ordre des médecins (CNOM)."""
    fields = {"identifier": NEW_RPPS, "national_id": "8" + NEW_RPPS, "last_name": "NOUVEAU"}
    return sample_row(0, **{**fields, **changes})


def intern():
    """A student in medicine (professional category E): an intern, issued a CPF."""
    return new_doctor(identifier=INTERN_RPPS, national_id="8" + INTERN_RPPS, category_code="E")


def policy(code: str, card_type: str, trigger: str, mode: str, approve: bool = True) -> None:
    IssuancePolicy.objects.filter(
        authority__code=code, card_type=card_type, trigger=trigger, profession__isnull=True
    ).update(mode=mode, approve=approve)


def orders_of(national_id: str):
    return Order.objects.filter(professional__national_id=national_id)


def test_a_newly_registered_doctor_gets_a_first_cps_approved_by_the_ordre(write_extraction):
    registry_import(path=SAMPLE)
    path = write_extraction([*sample_rows(), new_doctor()])
    registry_import(path=path)
    order = orders_of("8" + NEW_RPPS).get()
    assert (order.kind, order.card_type, order.origin, order.state) == (
        "first",
        "CPS",
        "automatic",
        "approved",
    )
    assert order.authority.code == "CNOM" and order.release_on is None  # released by the capacity plan
    assert order.decision["rule"] == "first" and order.decision["approved"] is True
    assert order.decision["authority"] == order.authority.name and order.decision["file"] == path.name
    assert order.decision["registered_on"]
    transitions = list(order.events.order_by("id").values_list("transition", "from_state", "to_state"))
    assert transitions == [
        ("create", "", "draft"),
        ("submit", "draft", "submitted"),
        ("approve", "submitted", "approved"),
    ]
    message = Notification.objects.get(
        recipient=order.professional, event="order_placed_for_you", channel="in_app"
    )
    assert message.context["order_reference"] == str(order.pk)
    assert order.decision["registered_on"] in message.context["explanation"]
    assert order.authority.name in message.context["explanation"]
    # The next day's file, the same: nothing more.
    registry_import(path=path)
    assert orders_of("8" + NEW_RPPS).count() == 1


def test_the_registrys_first_load_orders_nothing(write_extraction):
    # The first extraction the platform reads is the country's registry as it stands, cards already issued:
    # ordering a card for everyone in it would be a disaster. New registrations count from the next one.
    registry_import(path=write_extraction([*sample_rows(), new_doctor()]))
    assert Exercise.objects.exists() and not Order.objects.exists()


def test_a_new_adeli_professional_is_proposed_a_card_by_ans(write_extraction):
    registry_import(path=SAMPLE)
    adeli = luhn_complete("13701777")
    optician = sample_row(3, identifier=adeli, national_id="0" + adeli, last_name="NOUVELLE")
    registry_import(path=write_extraction([*sample_rows(), optician]))
    order = orders_of("0" + adeli).get()
    assert (order.authority.code, order.origin, order.state, order.card_type) == (
        "ANS",
        "proposed",
        "draft",
        "CPS",
    )


def test_a_proposed_first_card_is_a_draft_the_holder_is_asked_to_confirm(write_extraction):
    registry_import(path=SAMPLE)
    policy("CNOM", "CPS", "first", "proposed", approve=False)
    registry_import(path=write_extraction([*sample_rows(), new_doctor()]))
    order = orders_of("8" + NEW_RPPS).get()
    assert (order.origin, order.state, order.decision["mode"]) == ("proposed", "draft", "proposed")
    assert Notification.objects.filter(recipient=order.professional, event="card_proposed").exists()


def test_automatic_without_approval_goes_to_the_authoritys_queue(write_extraction):
    registry_import(path=SAMPLE)
    policy("CNOM", "CPS", "first", "automatic", approve=False)
    registry_import(path=write_extraction([*sample_rows(), new_doctor()]))
    assert orders_of("8" + NEW_RPPS).get().state == "submitted"


def test_policy_off_places_nothing(write_extraction):
    registry_import(path=SAMPLE)
    policy("CNOM", "CPS", "first", "off")
    registry_import(path=write_extraction([*sample_rows(), new_doctor()]))
    assert not orders_of("8" + NEW_RPPS).exists()


def test_a_profession_row_wins_over_the_authoritys(write_extraction):
    registry_import(path=SAMPLE)
    cnom = Authority.objects.get(code="CNOM")
    IssuancePolicy.objects.create(
        authority=cnom, card_type="CPS", trigger="first", profession_id="10", mode="off", approve=False
    )
    registry_import(path=write_extraction([*sample_rows(), new_doctor()]))
    assert not orders_of("8" + NEW_RPPS).exists()


def test_an_intern_gets_a_cpf(write_extraction):
    registry_import(path=SAMPLE)
    registry_import(path=write_extraction([*sample_rows(), intern()]))
    order = orders_of("8" + INTERN_RPPS).get()
    assert (order.card_type, order.kind, order.decision["rule"]) == ("CPF", "first", "training")
    assert order.state == "approved"


# --- registry-diff updates ---------------------------------------------------------------------------


def written_now(exercise: Exercise) -> dict:
    """What personalization would write on a card of ``exercise`` today."""
    request = Request(0, exercise.professional, exercise, None, "CPS", "queued")
    return card_written(request)


def test_the_sql_shape_is_what_personalization_writes():
    registry_import(path=SAMPLE)
    for exercise in Exercise.objects.select_related("professional", "profession"):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {CURRENT_SQL} FROM registry_exercise e "
                "JOIN registry_profession prof ON prof.code = e.profession_id WHERE e.id = %s",
                [exercise.pk],
            )
            (shape,) = cursor.fetchone()
        if isinstance(shape, str):
            shape = json.loads(shape)
        assert shape == written_now(exercise)


def card_of(national_id: str, written: dict | None = None) -> Card:
    exercise = Exercise.objects.select_related("professional", "profession").get(
        professional__national_id=national_id
    )
    Order.objects.filter(exercise=exercise).delete()  # the first card's order, done with
    made = CardFactory(exercise=exercise, written=written if written is not None else written_now(exercise))
    return cast(Card, made)


def test_a_changed_structure_yields_an_update_order_with_the_difference(write_extraction):
    registry_import(path=SAMPLE)
    card = card_of(DOCTOR)
    before = card.written["situations"]
    rows = sample_rows()
    rows[0] = sample_row(0, name="CLINIQUE DES LILAS", mode_code="S")
    registry_import(path=write_extraction(rows))
    order = Order.objects.get(replaces=card)
    assert (order.kind, order.origin, order.state, order.card_type) == (
        "update",
        "automatic",
        "approved",
        "CPS",
    )
    assert order.situation_diff["on_card"] == before
    names = [s.get("structure_name") for s in order.situation_diff["in_registry"]]
    assert "CLINIQUE DES LILAS" in names and "CLINIQUE DES LILAS" not in [
        s.get("structure_name") for s in before
    ]
    assert order.decision["rule"] == "update" and order.decision["card_number"] == card.number
    assert Notification.objects.filter(recipient=card.professional, event="order_placed_for_you").exists()


def test_an_unchanged_registry_yields_no_update(write_extraction):
    registry_import(path=SAMPLE)
    card = card_of(DOCTOR)
    rows = sample_rows()
    rows[2] = sample_row(2, name="CABINET BERNARD ET ASSOCIES")  # someone else's structure changed
    registry_import(path=write_extraction(rows))
    assert not Order.objects.filter(replaces=card).exists()


def test_a_card_without_what_it_carries_is_not_compared(write_extraction):
    registry_import(path=SAMPLE)
    card = card_of(DOCTOR)
    Card.objects.filter(pk=card.pk).update(written=None)
    rows = sample_rows()
    rows[0] = sample_row(0, name="CLINIQUE DES LILAS")
    registry_import(path=write_extraction(rows))
    assert not Order.objects.filter(replaces=card).exists()


def test_update_policy_proposed_asks_the_holder(write_extraction):
    registry_import(path=SAMPLE)
    policy("CNOM", "CPS", "update", "proposed", approve=False)
    card = card_of(DOCTOR)
    rows = sample_rows()
    rows[1] = sample_row(1, postcode="69007")
    registry_import(path=write_extraction(rows))
    order = Order.objects.get(replaces=card)
    assert (order.origin, order.state) == ("proposed", "draft")


# --- struck off ----------------------------------------------------------------------------------------


def test_a_struck_off_holders_cards_are_revoked_in_the_imports_transaction(
    write_extraction, settings, certified
):
    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    registry_import(path=SAMPLE)
    card = card_of(OPTICIAN)
    certificates = certified(card)
    rows = [row for row in sample_rows() if row[2] != OPTICIAN]
    registry_import(path=write_extraction(rows), full=True)
    card.refresh_from_db()
    assert card.state == "revoked"
    assert CardEvent.objects.filter(
        card=card, kind="revoked", detail__why="struck off by the registry"
    ).exists()
    for row in Certificate.objects.filter(pk__in=[c.pk for c in certificates]):
        assert row.revoked_at is not None and row.revocation_reason == "cessationOfOperation"
    assert AuditEvent.objects.filter(operation="revoke", serials__contains=[certificates[0].serial]).exists()
    notice = Notification.objects.get(recipient=card.professional, event="card_revoked", channel="in_app")
    card.professional.refresh_from_db()
    assert notice.context["reason"] == card.professional.deactivation_reason != ""
    assert notice.context["card_number"] == card.display_number
    # The safety net after it finds nothing more to do, and tells nobody twice.
    from lifecycle.withdrawal import cards_revoke_for_inactive_holders

    assert cards_revoke_for_inactive_holders() == 0
    assert (
        Notification.objects.filter(
            recipient=card.professional, event="card_revoked", channel="in_app"
        ).count()
        == 1
    )


def test_a_refused_full_import_revokes_nothing(write_extraction, certified):
    registry_import(path=SAMPLE)
    card = card_of(OPTICIAN)
    certified(card)
    rows = [row for row in sample_rows() if row[2] != OPTICIAN]
    from registry.textfile import FileRefused

    with pytest.raises(FileRefused):
        registry_import(path=write_extraction(rows), full=True)  # 1 in 3 struck off: above the guard
    card.refresh_from_db()
    assert card.state == "active"
    assert not Certificate.objects.filter(card=card, revoked_at__isnull=False).exists()


def test_a_struck_off_holders_ecps_is_revoked_in_the_imports_transaction(write_extraction, settings):
    from ecps.models import ECps
    from tests.ecps.helpers import ecps_row

    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    registry_import(path=SAMPLE)
    ecps = ecps_row(Exercise.objects.get(professional__national_id=OPTICIAN))
    kept = ecps_row(Exercise.objects.filter(professional__national_id=DOCTOR).first())
    registry_import(path=write_extraction([row for row in sample_rows() if row[2] != OPTICIAN]), full=True)
    ecps.refresh_from_db()
    assert (ecps.state, ecps.revocation_reason) == ("revoked", "holder_inactive")
    assert ECps.objects.get(pk=kept.pk).state == "active"
    assert Notification.objects.filter(recipient=ecps.holder, event="ecps_revoked").exists()


def test_relying_parties_are_told_of_the_holder_and_their_cards_at_the_imports_commit(
    write_extraction, settings
):
    from notifications import webhooks
    from notifications.models import WebhookDelivery

    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP = True
    registry_import(path=SAMPLE)
    card = card_of(OPTICIAN)
    events = ["holder.struck_off", "card.revoked"]
    webhooks.subscription_create(name="rp", url="http://127.0.0.1:9/hook", events=events, actor="test")
    registry_import(path=write_extraction([row for row in sample_rows() if row[2] != OPTICIAN]), full=True)
    messages = {m.event: m for m in WebhookDelivery.objects.all()}
    assert set(messages) == set(events) and WebhookDelivery.objects.count() == 2
    revoked = messages["card.revoked"]
    assert revoked.card_key == card.number and revoked.state == "pending"
    assert revoked.payload["state"] == "revoked" and revoked.payload["holder"]["national_id"] == OPTICIAN
    assert revoked.payload["reason"] == "cessationOfOperation"
    struck = messages["holder.struck_off"]
    assert struck.card_key == OPTICIAN and struck.payload["reason"]


def test_the_orders_approved_at_once_get_their_production_day_once_the_import_commits(
    write_extraction, django_capture_on_commit_callbacks
):
    from lifecycle import scheduling

    registry_import(path=SAMPLE)
    with django_capture_on_commit_callbacks() as pending:
        registry_import(path=write_extraction([*sample_rows(), new_doctor(), intern()]))
    assert "_plan_releases" in [getattr(callback, "__name__", "") for callback in pending]
    scheduling.release_plan()  # what the task sent on commit runs
    planned = Order.objects.filter(origin="automatic", state="approved")
    assert planned.count() == 2 and not planned.filter(release_on__isnull=True).exists()


def test_the_update_order_page_shows_the_card_beside_the_registry(write_extraction, client):
    from registry.models import Account
    from tests.factories import persona

    registry_import(path=SAMPLE)
    card = card_of(DOCTOR)
    rows = sample_rows()
    rows[0] = sample_row(0, name="CLINIQUE DES LILAS")
    registry_import(path=write_extraction(rows))
    order = Order.objects.get(replaces=card)
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    for user, url in [(holder, f"/orders/{order.pk}/"), (operator, f"/backoffice/orders/{order.pk}/")]:
        client.force_login(user)
        body = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
        assert 'id="situation-diff"' in body and "Sur la carte" in body, url
        changed = body.split('data-differs="true"')
        assert len(changed) == 2, url  # one line differs: the structure's name
        assert "CABINET MARTIN" in changed[1] and "CLINIQUE DES LILAS" in changed[1]
        assert "Créée automatiquement" in body
