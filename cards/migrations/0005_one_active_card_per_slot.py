"""One active card per slot, as a database guarantee (issue 15).

A slot is what one physical card covers (``orders.eligibility.slot_filter``): a professional exercise, or
for a structure's staff (no exercise) the structure and the card type, always of one holder. A renewal or a
replacement is made while the card it follows is still live, so two *live* cards (personalized, shipped,
active) of one slot are normal until the new one is activated; activation then revokes the other
(``lifecycle.activation``), in the same transaction but after the new card became active. So the rule is
checked at commit (a deferred constraint trigger): at most one ``active`` card per slot. The trigger takes a
transaction lock on the slot before it looks, so two transactions activating cards of one slot at once are
checked one after the other, the second seeing what the first committed.

It runs on every change of state (a card becomes active only by its ``activate`` transition; stations
create cards ``personalized``), not on inserts: rows written as they are (imports, test fixtures) and the
rows already there are not re-checked.
"""

from django.db import migrations

FUNCTION = """
CREATE FUNCTION cards_one_active_card_per_slot() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    card cards_card%ROWTYPE;
BEGIN
    SELECT * INTO card FROM cards_card WHERE id = NEW.id;
    IF NOT FOUND OR card.state <> 'active' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(
        hashtext('cards_card slot'),
        hashtext(CASE
            WHEN card.exercise_id IS NOT NULL THEN concat_ws(':', 'exercise', card.exercise_id)
            ELSE concat_ws(':', 'structure', card.professional_id, card.structure_id, card.card_type)
        END)
    );
    IF EXISTS (
        SELECT 1 FROM cards_card other
        WHERE other.id <> card.id
          AND other.state = 'active'
          AND other.professional_id = card.professional_id
          AND (
              (card.exercise_id IS NOT NULL AND other.exercise_id = card.exercise_id)
              OR (
                  card.exercise_id IS NULL AND other.exercise_id IS NULL
                  AND other.structure_id IS NOT DISTINCT FROM card.structure_id
                  AND other.card_type = card.card_type
              )
          )
    ) THEN
        RAISE EXCEPTION 'card % would be the second active card of its slot', card.number
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'card_one_active_per_slot';
    END IF;
    RETURN NULL;
END;
$$;
"""

TRIGGER = """
CREATE CONSTRAINT TRIGGER card_one_active_per_slot
    AFTER UPDATE OF state ON cards_card
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.state = 'active')
    EXECUTE FUNCTION cards_one_active_card_per_slot();
"""


class Migration(migrations.Migration):
    dependencies = [("cards", "0004_translated_labels")]

    operations = [
        migrations.RunSQL(
            FUNCTION + TRIGGER,
            "DROP TRIGGER card_one_active_per_slot ON cards_card; "
            "DROP FUNCTION cards_one_active_card_per_slot();",
        ),
    ]
