"""Comments on an order: a note an operator of the order's authority leaves for the other operators, and
for the holder when they choose so. Comments are appended, never edited nor removed."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import NotPermitted
from core.roles import OPERATORS, Role, role_of

from .errors import InvalidOrder
from .models import Order, OrderComment
from .scoping import orders_visible_to

MAX_LENGTH = 2000


def comment_add(*, order: Order, actor: Any, text: str, visible_to_holder: bool = False) -> OrderComment:
    """Add a comment to ``order``: only an operator who may see the order (its authority's) comments."""
    role = role_of(actor)
    if role not in OPERATORS:
        raise NotPermitted(_("Only the operators comment on an order."))
    if not orders_visible_to(actor).filter(pk=order.pk).exists():
        raise NotPermitted(_("This order is not your authority's."))
    text = (text or "").strip()
    if not text:
        raise InvalidOrder(_("Write the comment."), field="text")
    if len(text) > MAX_LENGTH:
        raise InvalidOrder(_("A comment is at most 2000 characters long."), field="text")
    return OrderComment.objects.create(
        order=order, author=actor, author_role=role or "", text=text, visible_to_holder=visible_to_holder
    )


def comments_visible_to(*, order: Order, user: Any) -> QuerySet[OrderComment]:
    """The comments of ``order`` that ``user`` may read: all of them for the back office, the holder's
    own for the holder (or their structure's manager), none otherwise."""
    comments = OrderComment.objects.filter(order=order).select_related("author")
    if not orders_visible_to(user).filter(pk=order.pk).exists():
        return comments.none()
    role = role_of(user)
    if role in OPERATORS or role == Role.AUDITOR:
        return comments
    if role in (Role.HOLDER, Role.STRUCTURE_MANAGER):
        return comments.filter(visible_to_holder=True)
    return comments.none()
