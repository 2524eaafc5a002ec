"""Eligibility of an order, against the registry and the cards as they are now.

Checked on submission and again on approval (the registry may have changed in between). Every rule has
its own code and message, and all failed rules are reported together.

A card "slot" is what one physical card covers: a professional exercise, or for a structure's staff
(no exercise) the structure and the card type. At most one live card and one order under way per slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import Card
from registry.models import Authority, CardType, Exercise, Professional, StructureMember
from registry.routing import authority_for_exercise

from .errors import Reason
from .models import Order

STUDENT_CATEGORY = "E"
STRUCTURE_ROLE_FOR: dict[str, str] = {
    CardType.CPE: StructureMember.Role.STAFF,
    CardType.CPA: StructureMember.Role.AUTHORISED,
    CardType.CDE: StructureMember.Role.LEGAL_REPRESENTATIVE,
}
# Cards that a replacement may replace: live ones, and those blocked or withdrawn because of the loss.
REPLACEABLE_STATES = (*Card.LIVE_STATES, Card.State.OPPOSED, Card.State.REVOKED)
# A produced card that has not reached its holder yet: its order still owes it.
CARD_ON_ITS_WAY = (Card.State.PERSONALIZED, Card.State.SHIPPED)


def slot_filter(order: Order, prefix: str = "") -> Q:
    if order.exercise_id:
        return Q(**{f"{prefix}exercise_id": order.exercise_id})
    return Q(**{f"{prefix}exercise__isnull": True, f"{prefix}structure_id": order.structure_id}) & Q(
        **{f"{prefix}card_type": order.card_type}
    )


def live_cards(order: Order):
    return Card.objects.filter(slot_filter(order), professional_id=order.professional_id).filter(
        state__in=Card.LIVE_STATES
    )


def in_slot(card: Any, order: Order) -> bool:
    """``slot_filter`` for a card already in memory."""
    if order.exercise_id:
        return card.exercise_id == order.exercise_id
    return card.exercise_id is None and (card.structure_id, card.card_type) == (
        order.structure_id,
        order.card_type,
    )


def is_live_card_of(card: Any, order: Order) -> bool:
    """``live_cards(order).filter(pk=card.pk).exists()`` for a card already in memory."""
    live = card.state in Card.LIVE_STATES
    return live and card.professional_id == order.professional_id and in_slot(card, order)


Facts = dict[str, bool]


def facts(order: Order) -> Facts:
    """What the rules need to know about other rows, asked in one round trip: an open order of the slot, a
    live card of the slot (first orders), the structure membership (structure cards)."""
    questions = {"open_order": in_progress(order)}
    if order.kind == Order.Kind.FIRST:
        questions["live_card"] = live_cards(order)
    if order.card_type in STRUCTURE_ROLE_FOR:
        questions["member"] = membership(order)
    return exist(questions)


def exist(querysets: dict[str, Any]) -> Facts:
    """Whether each queryset has a row: ``SELECT EXISTS (...), EXISTS (...)``, one statement."""
    parts, params = [], []
    for queryset in querysets.values():
        sql, more = queryset.values("pk")[:1].query.sql_with_params()
        parts.append(f"EXISTS ({sql})")
        params.extend(more)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        row = cursor.fetchone()
    return dict(zip(querysets, row, strict=True))


def check(order: Order) -> list[Reason]:
    """Every failed rule, in a stable order; empty when the order is eligible."""
    known = facts(order)
    reasons = holder_rules(order) + card_type_rules(order, known) + open_order_rules(order, known)
    reasons += KIND_RULES[order.kind](order, known)
    return reasons


def holder_rules(order: Order) -> list[Reason]:
    reasons = []
    if not order.professional.is_active:
        reasons.append(Reason("holder_inactive", str(_("The holder is no longer active in the registry."))))
    if order.exercise_id and not order.exercise.is_active:  # type: ignore[union-attr]
        reasons.append(Reason("exercise_inactive", str(_("This professional exercise is no longer active."))))
    return reasons


def card_type_rules(order: Order, known: Facts) -> list[Reason]:
    if order.card_type in STRUCTURE_ROLE_FOR:
        return structure_card_rules(order, known)
    exercise = order.exercise
    if exercise is None:
        return [Reason("exercise_required", str(_("A CPS or CPF is ordered for a professional exercise.")))]
    is_student = exercise.category_id == STUDENT_CATEGORY
    if order.card_type == CardType.CPF and not is_student:
        return [Reason("cpf_requires_student", str(_("A CPF is for students (professional category E).")))]
    if order.card_type == CardType.CPS:
        person = order.professional
        if not (person.rpps or person.adeli):
            return [Reason("cps_requires_registration", str(_("A CPS is for RPPS or ADELI professionals.")))]
        if is_student:
            message = _("Students (category E) are issued a CPF, not a CPS.")
            return [Reason("cps_not_for_students", str(message))]
    return []


def membership(order: Order):
    role = STRUCTURE_ROLE_FOR[order.card_type]
    return StructureMember.objects.filter(
        structure_id=order.structure_id or 0, professional_id=order.professional_id, role=role, is_active=True
    )


def structure_card_rules(order: Order, known: Facts) -> list[Reason]:
    role = STRUCTURE_ROLE_FOR[order.card_type]
    if order.structure_id and known["member"]:
        return []
    messages: dict[str, str] = {
        StructureMember.Role.STAFF: str(_("A CPE is for a structure's staff member.")),
        StructureMember.Role.AUTHORISED: str(_("A CPA is for a structure's authorised personnel.")),
        StructureMember.Role.LEGAL_REPRESENTATIVE: str(_("A CDE is for a structure's legal representative.")),
    }
    return [Reason(f"{order.card_type.lower()}_requires_{role}", messages[role])]


def open_order_rules(order: Order, known: Facts) -> list[Reason]:
    if known["open_order"]:
        return [Reason("open_order_exists", str(_("Another order for this card is already in progress.")))]
    return []


def in_progress(order: Order):
    """The holder's other orders of the same slot that are under way (``Order.OPEN_STATES``) and still owe
    a card.

    A ``produced`` order owes its card until that card reaches the holder: while it is on its way
    (personalized, shipped). It owes nothing once the card is active, nor when the card was blocked on its
    way (declared not received, lost or stolen before activation), nor when its card is the one this order
    replaces or renews (the card exists; this order takes over)."""
    others = Order.objects.filter(slot_filter(order), professional_id=order.professional_id)
    others = others.filter(state__in=Order.OPEN_STATES).exclude(pk=order.pk)
    if order.replaces_id:
        others = others.exclude(produced_card_id=order.replaces_id)
    on_its_way = Card.objects.filter(pk=OuterRef("produced_card_id"), state__in=CARD_ON_ITS_WAY)
    return others.exclude(Q(state=Order.State.PRODUCED) & ~Exists(on_its_way))


def first_rules(order: Order, known: Facts) -> list[Reason]:
    if known["live_card"]:
        return [
            Reason(
                "live_card_exists",
                str(_("The holder already has a card for this exercise: order a renewal or a replacement.")),
            )
        ]
    return []


def renewal_rules(order: Order, known: Facts) -> list[Reason]:
    card = order.replaces
    if card is None or not is_live_card_of(card, order):
        return [Reason("renewal_without_card", str(_("A renewal needs a current card of the holder.")))]
    days_left = (card.valid_until - timezone.localdate()).days
    if days_left > settings.CPX_RENEWAL_WINDOW_DAYS:
        message = _(
            "A renewal may be ordered only %(days)d days before expiry (this card expires on %(date)s)."
        )
        text = message % {"days": settings.CPX_RENEWAL_WINDOW_DAYS, "date": card.valid_until.isoformat()}
        return [Reason("renewal_too_early", str(text))]
    return []


def replacement_rules(order: Order, known: Facts) -> list[Reason]:
    card = order.replaces
    if card is None:
        return [Reason("replaced_card_required", str(_("Say which card is replaced.")))]
    if card.professional_id != order.professional_id:
        return [Reason("replaced_card_not_holders", str(_("The replaced card is not the holder's card.")))]
    if not in_slot(card, order) or card.card_type != order.card_type:
        message = _("The replaced card is for another exercise or type.")
        return [Reason("replaced_card_mismatch", str(message))]
    if card.state not in REPLACEABLE_STATES:
        return [Reason("replaced_card_not_replaceable", str(_("This card can no longer be replaced.")))]
    return []


def update_rules(order: Order, known: Facts) -> list[Reason]:
    card = order.replaces
    if card is None or not is_live_card_of(card, order):
        return [Reason("update_without_card", str(_("An update needs a current card of the holder.")))]
    return []


KIND_RULES: dict[str, Callable[[Order, Facts], list[Reason]]] = {
    Order.Kind.FIRST: first_rules,
    Order.Kind.RENEWAL: renewal_rules,
    Order.Kind.REPLACEMENT: replacement_rules,
    Order.Kind.UPDATE: update_rules,
}


# --- what a holder may order, explained before they order it -------------------------------------------

# The card a professional exercise is issued, by category: students (category E) a CPF, everyone else a CPS.
EXERCISE_CARD_TYPES = (CardType.CPS, CardType.CPF)


@dataclass(frozen=True)
class ExerciseEligibility:
    """One exercise of a professional and the first card it may have: ``card_types`` those that may be
    ordered now (empty when none), ``reasons`` why not (the rules of the card the exercise is issued)."""

    exercise: Exercise
    authority: Authority
    card_types: tuple[str, ...]
    reasons: tuple[Reason, ...]

    @property
    def eligible(self) -> bool:
        return bool(self.card_types)


def card_type_for(exercise: Exercise) -> str:
    """The card an exercise is issued: a CPF for a student (category E), a CPS otherwise."""
    return CardType.CPF if exercise.category_id == STUDENT_CATEGORY else CardType.CPS


def first_cards_for(professional: Professional) -> list[ExerciseEligibility]:
    """Each exercise of ``professional`` (active ones first) with the first cards (CPS, CPF) it may be
    ordered now and, when none, the reasons: the very rules of submission (``check``) run on the order that
    would be placed, so the page never promises what submission would refuse."""
    exercises = professional.exercises.select_related("profession", "category").order_by("-is_active", "pk")
    return [exercise_eligibility(professional, exercise) for exercise in exercises]


def exercise_eligibility(professional: Professional, exercise: Exercise) -> ExerciseEligibility:
    authority = authority_for_exercise(exercise, professional)
    checked: dict[str, list[Reason]] = {
        card_type: check(first_order(professional, exercise, card_type, authority))
        for card_type in EXERCISE_CARD_TYPES
    }
    allowed = tuple(card_type for card_type, reasons in checked.items() if not reasons)
    reasons = () if allowed else tuple(checked[card_type_for(exercise)])
    return ExerciseEligibility(exercise=exercise, authority=authority, card_types=allowed, reasons=reasons)


def first_order(
    professional: Professional, exercise: Exercise, card_type: str, authority: Authority
) -> Order:
    """The first order that would be placed (unsaved), as ``orders.services.order_create`` builds it."""
    return Order(
        professional=professional,
        exercise=exercise,
        card_type=card_type,
        kind=Order.Kind.FIRST,
        authority=authority,
    )
