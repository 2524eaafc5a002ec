"""The state machine can be moved only through orders.services."""

import re
from pathlib import Path

import pytest

from orders.models import Order
from tests.factories import OrderFactory

ROOT = Path(__file__).resolve().parents[2]
SKIP = {"tests", "var", "node_modules", "docs"}
TRANSITIONS = [t.name for t in Order._meta.get_field("state").get_all_transitions(Order)]


@pytest.mark.django_db
def test_the_state_cannot_be_assigned():
    order = OrderFactory()
    with pytest.raises(AttributeError):
        order.state = Order.State.QUEUED


def test_no_code_outside_the_services_fires_an_order_transition():
    """Application code (not tests) calls ``order.<transition>(`` only in orders/services.py."""
    names = "|".join(TRANSITIONS)
    call = re.compile(rf"\border\.({names})\(")
    offenders = []
    apps = [d for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name not in SKIP]
    for path in (p for app in apps for p in app.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in ("orders/services.py", "orders/models.py"):
            continue
        if call.search(path.read_text(errors="replace")):
            offenders.append(relative)
    assert offenders == []
