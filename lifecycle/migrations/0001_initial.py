import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# The renewal scan and the expiry task read cards by expiry date among the live ones only: partial indexes
# stay small however many expired and revoked cards the history holds (issuance.Card is issuance's model,
# the indexes are the lifecycle's access paths, so they live here).
CARD_INDEXES = [
    (
        "CREATE INDEX IF NOT EXISTS lifecycle_card_active_until "
        "ON issuance_card (valid_until, id) WHERE state = 'active'",
        "DROP INDEX IF EXISTS lifecycle_card_active_until",
    ),
    (
        "CREATE INDEX IF NOT EXISTS lifecycle_card_live_until "
        "ON issuance_card (valid_until) WHERE state IN ('personalized', 'shipped', 'active')",
        "DROP INDEX IF EXISTS lifecycle_card_live_until",
    ),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("issuance", "0001_initial"),
        ("registry", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ShippingBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("carrier", models.CharField(max_length=60)),
                ("reference", models.CharField(max_length=60, unique=True)),
                ("shipped_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-shipped_at", "-id"], "verbose_name_plural": "shipping batches"},
        ),
        migrations.CreateModel(
            name="Shipment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("tracking_reference", models.CharField(max_length=60)),
                ("pin_release_on", models.DateField()),
                ("pin_released_at", models.DateTimeField(blank=True, null=True)),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="shipments",
                        to="lifecycle.shippingbatch",
                    ),
                ),
                (
                    "card",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="shipment", to="issuance.card"
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("pin_released_at__isnull", True)),
                        fields=["pin_release_on"],
                        name="shipment_pin_pending",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Opposition",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("lost", "Lost"),
                            ("stolen", "Stolen"),
                            ("damaged", "Damaged"),
                            ("defective", "Defective"),
                            ("not_received", "Not received"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("online", "Online"), ("phone", "Phone"), ("form_501", "Form 501 by mail")],
                        max_length=8,
                    ),
                ),
                ("declared_by_role", models.CharField(blank=True, max_length=24)),
                ("declared_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("card_state_before", models.CharField(max_length=16)),
                ("replacement_order_id", models.BigIntegerField(blank=True, null=True)),
                ("revoked_certificates", models.PositiveSmallIntegerField(default=0)),
                (
                    "card",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="opposition", to="issuance.card"
                    ),
                ),
                (
                    "declared_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-declared_at", "-id"]},
        ),
        migrations.CreateModel(
            name="RenewalReminder",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("threshold", models.PositiveSmallIntegerField()),
                ("sent_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("automatic", models.BooleanField(default=False)),
                ("link_used_at", models.DateTimeField(blank=True, null=True)),
                ("renewal_order_id", models.BigIntegerField(blank=True, null=True)),
                (
                    "card",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="renewal_reminders",
                        to="issuance.card",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("card", "threshold"), name="renewal_reminder_once")],
            },
        ),
        migrations.CreateModel(
            name="AutoRenewalPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("enabled", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "authority",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="auto_renewal_policies",
                        to="registry.authority",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "profession",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="registry.profession"
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "auto-renewal policies",
                "constraints": [
                    models.UniqueConstraint(fields=("authority", "profession"), name="auto_renewal_once")
                ],
            },
        ),
        *(migrations.RunSQL(sql, reverse_sql=reverse) for sql, reverse in CARD_INDEXES),
    ]
