"""Building orders in a given state for a given persona, for the tests of the order workflow."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cards.models import Card
from orders import payment_services, services
from orders.models import Order
from registry.models import Account, CardType, StructureMember
from tests.factories import (
    CardFactory,
    ExerciseFactory,
    OrderFactory,
    StructureFactory,
    StructureMemberFactory,
    persona,
)

ROLES = [r.value for r in Account.Role]
FEE = Decimal("36.00")


def doctor_order(state: str = "draft", **kwargs: Any) -> Order:
    """A replacement of a lost CPS of an RPPS doctor (reviewed by CNOM), in ``state``."""
    exercise = ExerciseFactory()
    card = CardFactory(exercise=exercise, state=Card.State.OPPOSED)
    fee = FEE if state in ("awaiting_payment", "paid") else None
    defaults = {
        "exercise": exercise,
        "kind": "replacement",
        "replacement_reason": "lost",
        "replaces": card,
        "state": state,
        "fee": fee,
    }
    order: Any = OrderFactory(**{**defaults, **kwargs})
    return order


def structure_order(state: str = "draft", **kwargs: Any) -> Order:
    """A replacement of a lost CPE of a structure's staff member (reviewed by ANS), in ``state``."""
    member = StructureMemberFactory(structure=StructureFactory(), role=StructureMember.Role.STAFF)
    card = CardFactory(
        exercise=None,
        professional=member.professional,
        structure=member.structure,
        card_type=CardType.CPE,
        state=Card.State.OPPOSED,
    )
    fee = FEE if state in ("awaiting_payment", "paid") else None
    defaults = {
        "exercise": None,
        "structure": member.structure,
        "professional": member.professional,
        "card_type": CardType.CPE,
        "kind": "replacement",
        "replacement_reason": "lost",
        "replaces": card,
        "state": state,
        "fee": fee,
    }
    order: Any = OrderFactory(**{**defaults, **kwargs})
    return order


def order_and_actor(role: str, state: str) -> tuple[Order, Any]:
    """An order in ``state`` and a persona of ``role`` that can see it."""
    if role in (Account.Role.STRUCTURE_MANAGER, Account.Role.ANS_OPERATOR):
        order = structure_order(state)
    else:
        order = doctor_order(state)
    links: dict[str, Any] = {}
    if role == Account.Role.HOLDER:
        links["professional"] = order.professional
    elif role == Account.Role.STRUCTURE_MANAGER:
        links["structure"] = order.structure
    elif role == Account.Role.AUTHORITY_OPERATOR:
        links["authority"] = order.authority
    return order, persona(role, **links)


def fire(name: str, order: Order, actor: Any) -> Any:
    """Fire transition ``name`` through its service, with valid arguments."""
    if name == "record_payment":
        return payment_services.payment_record(
            order=order, actor=actor, amount=FEE, method="transfer", reference="V1"
        )
    if name == "mark_produced":
        card = CardFactory(
            exercise=order.exercise,
            professional=order.professional,
            structure=order.structure,
            card_type=order.card_type,
            state=Card.State.PERSONALIZED,
        )
        return services.order_mark_produced(order=order, actor=actor, card=card)
    if name == "reject":
        return services.order_reject(order=order, actor=actor, reason="Dossier incomplet")
    if name == "mark_failed":
        return services.order_mark_failed(order=order, actor=actor, reason="card did not answer")
    service: Any = {
        "submit": services.order_submit,
        "approve": services.order_approve,
        "cancel": services.order_cancel,
        "queue": services.order_queue,
        "start_production": services.order_start_production,
        "requeue": services.order_requeue,
    }[name]
    return service(order=order, actor=actor)
