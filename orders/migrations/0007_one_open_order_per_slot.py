"""One order under way per slot, as a database constraint (issue 15).

Before the constraint, the duplicates that racing submissions let through (they block each other's approval
for good: ``open_order_exists``) are resolved: in each slot the order furthest along is kept (the oldest
among equals) and the others are cancelled, each with an ``OrderEvent`` that says why."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone

HOLDING = ("submitted", "approved", "awaiting_payment", "paid", "queued", "in_production", "failed")
PROGRESS = {state: rank for rank, state in enumerate(HOLDING)}
REASON = "Duplicate of order %s in the same slot (one open order per slot)"


def cancel_duplicates(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEvent = apps.get_model("orders", "OrderEvent")
    holding = Order.objects.filter(state__in=HOLDING)
    slots = [
        (holding.filter(exercise__isnull=False), ["exercise"]),
        (holding.filter(exercise__isnull=True), ["professional", "structure", "card_type"]),
    ]
    for orders, slot in slots:
        crowded = orders.values(*slot).annotate(n=Count("id")).filter(n__gt=1)
        for key in crowded:
            key.pop("n")
            rivals = sorted(orders.filter(**key), key=lambda o: (-PROGRESS[o.state], o.pk))
            kept, *extra = rivals
            for order in extra:
                OrderEvent.objects.create(
                    order=order,
                    transition="cancel",
                    from_state=order.state,
                    to_state="cancelled",
                    reason=REASON % kept.pk,
                )
            Order.objects.filter(pk__in=[o.pk for o in extra]).update(
                state="cancelled", state_changed_at=timezone.now()
            )


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0004_translated_labels"),
        ("orders", "0006_translated_labels"),
        ("registry", "0006_translated_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(cancel_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("exercise__isnull", False),
                    (
                        "state__in",
                        (
                            "submitted",
                            "approved",
                            "awaiting_payment",
                            "paid",
                            "queued",
                            "in_production",
                            "failed",
                        ),
                    ),
                ),
                fields=("exercise",),
                name="order_one_open_per_exercise",
            ),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("exercise__isnull", True),
                    (
                        "state__in",
                        (
                            "submitted",
                            "approved",
                            "awaiting_payment",
                            "paid",
                            "queued",
                            "in_production",
                            "failed",
                        ),
                    ),
                ),
                fields=("professional", "structure", "card_type"),
                name="order_one_open_per_structure_slot",
            ),
        ),
    ]
