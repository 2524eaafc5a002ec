"""The daily import's per-person digests (registry.digests), and what makes them stale.

Any write to a column the extraction merge writes, outside an import, advances the sequence
``registry_digest_epoch`` at once and when it commits (a row trigger and a deferred constraint trigger); the
digests are trusted
only while the sequence is where the last import left it. Imports set ``cpx.registry_import`` (their own
writes do not count) and run with the row triggers off (session_replication_role = replica)."""

from django.db import migrations, models

# The columns the extraction merge writes (registry.merge; held equal by tests/registry/test_digests.py).
WATCHED = {
    "registry_professional": [
        "national_id",
        "id_type",
        "rpps",
        "adeli",
        "exercise_civility_code",
        "exercise_civility",
        "civility_code",
        "civility",
        "last_name",
        "first_name",
        "is_active",
    ],
    "registry_exercise": [
        "professional_id",
        "profession_id",
        "category_id",
        "skill_id",
        "pharmacist_section_code",
        "pharmacist_section",
        "is_active",
    ],
    "registry_activity": [
        "exercise_id",
        "structure_id",
        "mode_id",
        "activity_key",
        "registration_authority",
        "sector_code",
        "sector",
        "role_code",
        "role",
        "genre_code",
        "genre",
        "is_active",
    ],
    "registry_structure": [
        "technical_id",
        "siret",
        "siren",
        "finess_site",
        "finess_legal",
        "name",
        "trade_name",
        "address_recipient",
        "address_place",
        "street_number",
        "street_repetition",
        "street_type",
        "street_name",
        "distribution",
        "cedex",
        "postcode",
        "commune_code",
        "commune",
        "country_code",
        "country",
        "phone",
        "phone2",
        "fax",
        "email",
        "department_code",
        "department",
        "former_id",
    ],
    # The code tables the row checks read.
    "registry_profession": ["code"],
    "registry_exercisemode": ["code"],
    "registry_professionalcategory": ["code"],
}

FUNCTION = """
CREATE FUNCTION registry_digests_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('cpx.registry_import', true), '') <> 'on' THEN
        PERFORM nextval('registry_digest_epoch');
    END IF;
    RETURN NULL;
END $$;
"""


def _triggers() -> list[str]:
    statements = ["CREATE SEQUENCE registry_digest_epoch", FUNCTION]
    for table, columns in WATCHED.items():
        old = ", ".join(f"OLD.{c}" for c in columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        when = f"WHEN (({old}) IS DISTINCT FROM ({new}))"
        # Advanced at once (an import later in the same transaction sees it) and again at commit (an import
        # that read the epoch while this transaction was open sees it at its end, or the next one does).
        for name, timing in (("now", ""), ("commit", "DEFERRABLE INITIALLY DEFERRED")):
            kind = "CONSTRAINT TRIGGER" if timing else "TRIGGER"
            statements += [
                f"CREATE {kind} registry_digest_stale_{name}_write AFTER INSERT OR DELETE ON {table} "
                f"{timing} FOR EACH ROW EXECUTE FUNCTION registry_digests_stale()",
                f"CREATE {kind} registry_digest_stale_{name}_update AFTER UPDATE OF {', '.join(columns)} "
                f"ON {table} {timing} FOR EACH ROW {when} EXECUTE FUNCTION registry_digests_stale()",
            ]
        statements.append(
            f"CREATE TRIGGER registry_digest_stale_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION registry_digests_stale()"
        )
    return statements


def _drop() -> list[str]:
    statements = []
    for table in WATCHED:
        for name in ("now_write", "now_update", "commit_write", "commit_update", "truncate"):
            statements.append(f"DROP TRIGGER IF EXISTS registry_digest_stale_{name} ON {table}")
    return [
        *statements,
        "DROP FUNCTION IF EXISTS registry_digests_stale()",
        "DROP SEQUENCE registry_digest_epoch",
    ]


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_integrator_client")]

    operations = [
        migrations.CreateModel(
            name="ExtractionDigest",
            fields=[
                ("national_id", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("lines", models.PositiveIntegerField()),
                ("digest", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="ExtractionDigestState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("epoch", models.BigIntegerField(null=True)),
            ],
        ),
        migrations.RunSQL(_triggers(), _drop()),
        migrations.RunSQL("INSERT INTO registry_extractiondigeststate (id, epoch) VALUES (1, NULL)", ""),
    ]
