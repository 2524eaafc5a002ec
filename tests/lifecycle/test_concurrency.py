"""Two declarations for one card at the same moment: one blocks it, the other is told it already is."""

import threading

import pytest
from django.db import connection

from lifecycle import errors
from lifecycle.models import Opposition
from lifecycle.opposition import card_declare_opposition
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_declarations_make_one_opposition(card, holder_of, cnom, hierarchy):
    holder = holder_of(card)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def declare(actor, channel):
        try:
            barrier.wait()
            card_declare_opposition(card=card.pk, reason="stolen", actor=actor, channel=channel)
            outcomes.append("declared")
        except errors.AlreadyOpposed:
            outcomes.append("already_opposed")
        finally:
            connection.close()

    threads = [threading.Thread(target=declare, args=a) for a in ((holder, "online"), (cnom, "phone"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already_opposed", "declared"]
    assert Opposition.objects.count() == 1
    assert Order.objects.filter(kind="replacement").count() == 1
