from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stations", "0002_station_credential")]

    operations = [
        migrations.AddField(
            model_name="readerstation",
            name="low_stock_threshold",
            field=models.PositiveIntegerField(default=50, verbose_name="low-stock threshold"),
        ),
    ]
