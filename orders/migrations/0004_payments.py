"""Payments: the development provider's checkouts, imported bank statements and their entries."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_payment_method_waiver"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BankStatement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("statement_id", models.CharField(max_length=35)),
                ("account_iban", models.CharField(blank=True, max_length=34)),
                ("created_on", models.DateTimeField(blank=True, null=True)),
                ("message_id", models.CharField(blank=True, max_length=35)),
                ("namespace", models.CharField(blank=True, max_length=80)),
                ("filename", models.CharField(blank=True, max_length=255)),
                ("sha256", models.CharField(db_index=True, max_length=64)),
                ("uploaded_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-uploaded_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="BankStatementEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("entry_ref", models.CharField(max_length=140)),
                ("amount", models.DecimalField(decimal_places=2, max_digits=14)),
                ("currency", models.CharField(max_length=3)),
                ("credit", models.BooleanField()),
                ("booked_on", models.DateField(blank=True, null=True)),
                ("remittance", models.TextField(blank=True)),
                ("end_to_end_id", models.CharField(blank=True, max_length=35)),
                ("debtor", models.CharField(blank=True, max_length=140)),
                ("transfer_reference", models.CharField(blank=True, max_length=40)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("matched", "Order paid"),
                            ("unknown_reference", "No order has this reference"),
                            ("wrong_amount", "The amount differs from the fee"),
                            ("already_paid", "The order is already paid"),
                            ("not_awaiting", "The order is not awaiting payment"),
                            ("already_imported", "Entry already imported"),
                            ("debit", "Debit or reversal"),
                            ("not_booked", "Not booked"),
                            ("other_currency", "Not in euros"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="statement_entries",
                        to="orders.order",
                    ),
                ),
                (
                    "payment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="statement_entries",
                        to="orders.payment",
                    ),
                ),
                (
                    "statement",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entries",
                        to="orders.bankstatement",
                    ),
                ),
            ],
            options={
                "ordering": ["statement", "id"],
            },
        ),
        migrations.CreateModel(
            name="DevCheckout",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reference", models.CharField(max_length=64, unique=True)),
                ("amount", models.DecimalField(decimal_places=2, max_digits=8)),
                ("currency", models.CharField(default="EUR", max_length=3)),
                ("return_url", models.URLField(max_length=2000)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("open", "Waiting for the payer"),
                            ("paid", "Paid"),
                            ("declined", "Declined"),
                            ("cancelled", "Cancelled by the payer"),
                        ],
                        default="open",
                        max_length=10,
                    ),
                ),
                ("card_last4", models.CharField(blank=True, max_length=4)),
                ("signature", models.CharField(blank=True, max_length=128)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dev_checkouts",
                        to="orders.order",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddConstraint(
            model_name="bankstatement",
            constraint=models.UniqueConstraint(
                fields=("account_iban", "statement_id"), name="bank_statement_once"
            ),
        ),
        migrations.AddIndex(
            model_name="bankstatemententry",
            index=models.Index(fields=["entry_ref"], name="orders_bank_entry_r_2f645d_idx"),
        ),
        migrations.AddConstraint(
            model_name="bankstatemententry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("outcome", "matched")), fields=("entry_ref",), name="bank_entry_pays_once"
            ),
        ),
    ]
