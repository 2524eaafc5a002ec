"""The national code tables (TRE_G15, TRE_R23, TRE_R09, TRE_R04) and the authorities, as data.

They are loaded into the database by a data migration and by ``sync_code_tables()`` (idempotent), so the
rest of the code reads them from tables, never from constants.
"""

AUTHORITIES = [
    # code, name, kind, professions registered
    ("CNOM", "Conseil national de l'Ordre des médecins", "ordre", ["10"]),
    ("CNOP", "Conseil national de l'Ordre des pharmaciens", "ordre", ["21"]),
    ("ONCD", "Ordre national des chirurgiens-dentistes", "ordre", ["40"]),
    ("CNOSF", "Conseil national de l'Ordre des sages-femmes", "ordre", ["50"]),
    ("CNOMK", "Conseil national de l'Ordre des masseurs-kinésithérapeutes", "ordre", ["70"]),
    ("CNOPP", "Conseil national de l'Ordre des pédicures-podologues", "ordre", ["80"]),
    ("ONI", "Ordre national des infirmiers", "ordre", ["60", "69"]),
    ("ANS", "Agence du numérique en santé", "ans", []),
]

PROFESSIONS = [
    ("10", "Médecin"),
    ("21", "Pharmacien"),
    ("26", "Audioprothésiste"),
    ("28", "Opticien-Lunetier"),
    ("31", "Assistant dentaire"),
    ("32", "Physicien médical"),
    ("40", "Chirurgien-Dentiste"),
    ("50", "Sage-Femme"),
    ("60", "Infirmier"),
    ("69", "Infirmier psychiatrique"),
    ("70", "Masseur-Kinésithérapeute"),
    ("80", "Pédicure-Podologue"),
    ("81", "Orthoprothésiste"),
    ("82", "Podo-Orthésiste"),
    ("83", "Orthopédiste-Orthésiste"),
    ("84", "Oculariste"),
    ("85", "Épithésiste"),
    ("86", "Technicien de laboratoire médical"),
    ("91", "Orthophoniste"),
    ("92", "Orthoptiste"),
    ("93", "Psychologue"),
    ("94", "Ergothérapeute"),
    ("95", "Diététicien"),
    ("96", "Psychomotricien"),
    ("98", "Manipulateur ERM"),
]
DEPRECATED_PROFESSIONS = {"93"}

EXERCISE_MODES = [
    ("L", "Libéral, indépendant, artisan, commerçant"),
    ("S", "Salarié"),
    ("B", "Bénévole"),
    ("I", "Indirect"),
]

CATEGORIES = [
    ("C", "Civil", False),
    ("E", "Étudiant", False),
    ("M", "Agent public", False),
    ("F", "Fonctionnaire", True),
]

SKILL_TYPES = [
    ("S", "Spécialité ordinale"),
    ("CEX", "Compétence exclusive"),
    ("DNQ", "DESC non qualifiant"),
    ("C", "Compétence"),
    ("CAPA", "Capacité"),
    ("FQ", "Fonction qualifiée"),
    ("PAC", "Qualification PAC"),
    ("DSM", "Droit d'exercice complémentaire"),
]

SKILLS = [
    ("SM26", "Qualifié en Médecine Générale", "S"),
    ("SM02", "Anesthésie-réanimation", "S"),
    ("SCD01", "Orthopédie dento-faciale", "S"),
    ("SI07", "Infirmier anesthésiste diplômé d'état (IADE)", "S"),
]


def sync_code_tables(apps=None) -> None:
    """Create or update every code table row (idempotent; usable from a migration)."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    authority_model = apps.get_model("registry", "Authority")
    profession_model = apps.get_model("registry", "Profession")
    mode_model = apps.get_model("registry", "ExerciseMode")
    category_model = apps.get_model("registry", "ProfessionalCategory")
    skill_type_model = apps.get_model("registry", "SkillType")
    skill_model = apps.get_model("registry", "Skill")
    by_profession = {}
    for code, name, kind, professions in AUTHORITIES:
        authority, _ = authority_model.objects.update_or_create(
            code=code, defaults={"name": name, "kind": kind}
        )
        by_profession.update(dict.fromkeys(professions, authority))
    for code, label in PROFESSIONS:
        profession_model.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "authority": by_profession.get(code),
                "deprecated": code in DEPRECATED_PROFESSIONS,
            },
        )
    for code, label in EXERCISE_MODES:
        mode_model.objects.update_or_create(code=code, defaults={"label": label})
    for code, label, deprecated in CATEGORIES:
        category_model.objects.update_or_create(
            code=code, defaults={"label": label, "deprecated": deprecated}
        )
    for code, label in SKILL_TYPES:
        skill_type_model.objects.update_or_create(code=code, defaults={"label": label})
    for code, label, skill_type in SKILLS:
        skill_model.objects.update_or_create(
            code=code, defaults={"label": label, "skill_type_id": skill_type}
        )
