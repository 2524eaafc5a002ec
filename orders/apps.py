import datetime
from decimal import Decimal

from django.apps import AppConfig
from django.db.models.signals import post_migrate

# The replacement fee in force since 2025 (reference data; later prices are added as new dated rows).
FIRST_TARIFF = (datetime.date(2025, 1, 1), Decimal("36.00"))


def _ensure_first_tariff(sender, **kwargs) -> None:
    # The one home of this reference row: after every migrate (a new database, an upgrade) and after a
    # flush (TransactionTestCase teardown emits post_migrate), so no database is ever without a price.
    from .models import Tariff

    valid_from, amount = FIRST_TARIFF
    Tariff.objects.get_or_create(valid_from=valid_from, defaults={"amount": amount})


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_ensure_first_tariff, sender=self, dispatch_uid="orders_first_tariff")
        from . import (
            checks,  # noqa: F401  (the payments' system checks, registered on import)
            waivers,  # the two-person approval of a fee waiver
        )

        waivers.register()
