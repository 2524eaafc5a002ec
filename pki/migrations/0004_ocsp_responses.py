# Reserved for the OCSP responder's answers.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("pki", "0003_crl_publication")]

    operations: list = []
