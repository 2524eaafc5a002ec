# Reserved for CRL publication (base and delta CRLs).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("pki", "0002_ca_keys_on_tokens")]

    operations: list = []
