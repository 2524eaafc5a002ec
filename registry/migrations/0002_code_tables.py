from django.db import migrations


def load(apps, schema_editor):
    from registry.codes import sync_code_tables

    sync_code_tables(apps)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
