"""The audit log, its checkpoints and their signers' certificates: three append-only tables.

The trigger refuses UPDATE, DELETE and TRUNCATE on each, for every database user (the owner of a table can
still disable it: the hash chain and the published checkpoints are what make tampering show, this is the
first wall). The only exception is a TRUNCATE in a *test* database (name ``test_...``) by a session that set
``cpx.audit_allow_truncate = on``: how Django's test runner empties the tables between transactional tests.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

APPEND_ONLY = ["audit_auditrecord", "audit_checkpoint", "audit_checkpointsigner"]


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CheckpointSigner',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_label', models.CharField(max_length=64)),
                ('algorithm', models.CharField(max_length=16)),
                ('serial', models.CharField(max_length=40, unique=True)),
                ('der', models.BinaryField()),
                ('not_before', models.DateTimeField()),
                ('not_after', models.DateTimeField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name='AuditRecord',
            fields=[
                ('seq', models.BigIntegerField(primary_key=True, serialize=False)),
                ('at', models.DateTimeField(db_index=True)),
                ('action', models.CharField(max_length=64)),
                ('actor_name', models.CharField(blank=True, max_length=200)),
                ('object_type', models.CharField(blank=True, max_length=60)),
                ('object_id', models.CharField(blank=True, max_length=100)),
                ('authority_id', models.BigIntegerField(blank=True, db_index=True, null=True)),
                ('detail', models.JSONField(blank=True, default=dict)),
                ('prev_hash', models.CharField(max_length=64)),
                ('hash', models.CharField(max_length=64)),
                ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['seq'],
                'indexes': [models.Index(fields=['object_type', 'object_id'], name='audit_record_object')],
                'constraints': [models.CheckConstraint(condition=models.Q(('seq__gte', 1)), name='audit_record_seq_positive')],
            },
        ),
        migrations.CreateModel(
            name='Checkpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(unique=True)),
                ('at', models.DateTimeField()),
                ('seq', models.BigIntegerField()),
                ('hash', models.CharField(max_length=64)),
                ('previous', models.CharField(max_length=64)),
                ('document', models.BinaryField()),
                ('signature', models.BinaryField()),
                ('signer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='checkpoints', to='audit.checkpointsigner')),
            ],
            options={
                'ordering': ['day'],
                'constraints': [models.CheckConstraint(condition=models.Q(('seq__gte', 0)), name='audit_checkpoint_seq')],
            },
        ),
    ]

    operations += [
        migrations.RunSQL(
            sql=[
                """
                CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'TRUNCATE'
                       AND current_setting('cpx.audit_allow_truncate', true) = 'on'
                       AND current_database() LIKE 'test\\_%' THEN
                        RETURN NULL;
                    END IF;
                    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                        USING ERRCODE = 'insufficient_privilege';
                END
                $$
                """,
                *[
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
                    for table in APPEND_ONLY
                ],
            ],
            reverse_sql=[
                *[f"DROP TRIGGER {table}_append_only ON {table}" for table in APPEND_ONLY],
                "DROP FUNCTION audit_refuse_change()",
            ],
        ),
    ]
