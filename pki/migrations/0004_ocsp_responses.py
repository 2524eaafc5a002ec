# The OCSP responder's cached answers (pki.ocsp.OcspResponse), one per certificate and CertID.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("pki", "0003_crl_publication")]

    operations = [
        migrations.CreateModel(
            name="OcspResponse",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("cert_id", models.CharField(max_length=64)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("revocation_reason", models.CharField(blank=True, max_length=24)),
                ("this_update", models.DateTimeField()),
                ("next_update", models.DateTimeField()),
                ("refresh_at", models.DateTimeField()),
                ("der", models.BinaryField()),
                (
                    "certificate",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ocsp_responses",
                        to="pki.certificate",
                    ),
                ),
                (
                    "responder",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="responses",
                        to="pki.ocspresponder",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("certificate", "cert_id"), name="ocsp_response_unique_cert_id"
                    )
                ],
            },
        ),
    ]
