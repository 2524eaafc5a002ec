from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_structure_staff")]

    operations: list = []
