from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_authority_receipt_confirmation_policy")]

    operations: list = []
