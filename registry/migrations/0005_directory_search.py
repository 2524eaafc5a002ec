from django.db import migrations

# The directory is searched and sorted without regard to accents or case: PostgreSQL's unaccent (made
# immutable by naming its dictionary, so it may be indexed) and trigram indexes, which serve
# ``LIKE '%...%'`` on the unaccented, lowercased "last name first name" (registry/search.py).
FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE OR REPLACE FUNCTION cpx_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, lower($1)) $$
    """,
    """
    CREATE INDEX IF NOT EXISTS registry_professional_name_trgm ON registry_professional
    USING gin (cpx_unaccent(last_name || ' ' || first_name) gin_trgm_ops)
    """,
    """
    CREATE INDEX IF NOT EXISTS registry_professional_sort_name ON registry_professional
    (cpx_unaccent(last_name), cpx_unaccent(first_name), id)
    """,
]
BACKWARD = [
    "DROP INDEX IF EXISTS registry_professional_sort_name",
    "DROP INDEX IF EXISTS registry_professional_name_trgm",
    "DROP FUNCTION IF EXISTS cpx_unaccent(text)",
]


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_structure_staff")]

    operations = [
        migrations.RunSQL(sql=tuple(FORWARD), reverse_sql=tuple(BACKWARD)),
    ]
