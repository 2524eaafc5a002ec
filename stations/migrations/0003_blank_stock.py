from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("stations", "0002_station_credential")]

    operations: list = []
