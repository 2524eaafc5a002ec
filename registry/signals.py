"""What the registry tells the layers above while an import runs (issue 16).

``extraction_merged`` is sent inside the import's transaction, after the merge of an extraction (and, with
``--full``, after the deactivation of who it no longer lists), before the staging tables are dropped. A
receiver does set-based work (one statement per step, never a loop over the registry) in the same
transaction: what it writes commits with the registry's data, or rolls back with it if the import is
refused. Receivers are connected by the apps above (lifecycle, ecps) in their ``ready()``; the registry
does not know them.

Arguments: ``cursor`` (the import's), ``run_id`` (the extraction's RegistryImport pk), ``full`` (bool),
``file_name`` (the file's base name, for explanations).

The temporary tables the receivers may read (they exist only in this transaction):

- ``import_new_exercises (exercise_id, professional_id)``: exercises this import created (a new person's,
  or a new profession of a known one);
- ``import_touched_exercises (exercise_id)``: active exercises whose data as a card carries them may have
  changed: the exercise row itself, one of its activities (new, changed, or no longer listed), or a
  structure one of them points to; a superset is allowed, a missing one is a defect;
- ``import_changed_structures (technical_id)``: known structures whose data changed;
- ``import_struck_off (professional_id)``: professionals this import marked inactive (``--full``), empty
  otherwise;
- ``import_person_ids (national_id, professional_id)``: every person the file lists.
"""

from django.dispatch import Signal

extraction_merged = Signal()
