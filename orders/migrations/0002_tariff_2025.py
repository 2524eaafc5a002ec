import datetime
from decimal import Decimal

from django.db import migrations


def load(apps, schema_editor):
    Tariff = apps.get_model("orders", "Tariff")
    Tariff.objects.get_or_create(valid_from=datetime.date(2025, 1, 1), defaults={"amount": Decimal("36.00")})


def unload(apps, schema_editor):
    apps.get_model("orders", "Tariff").objects.filter(valid_from=datetime.date(2025, 1, 1)).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
