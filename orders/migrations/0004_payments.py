from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_payment_method_waiver")]

    operations: list = []
