from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_payments")]

    operations: list = []
