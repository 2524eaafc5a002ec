"""The extraction file ``PS_LibreAcces_Personne_activite``: its 56 columns and the rules a row must keep.

A row that breaks a rule is rejected with the column and the rule broken, in words an operator can act on;
the rest of the file goes on (DOMAIN.md §3).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from . import identifiers
from .models import (
    Activity,
    Exercise,
    ExerciseMode,
    Profession,
    Professional,
    ProfessionalCategory,
    Skill,
    SkillType,
    Structure,
)

# (staging column, official header label, the model field the value lands in, for its length limit)
COLUMNS: list[tuple[str, str, str]] = [
    ("id_type", "Type d'identifiant PP", ""),
    ("identifier", "Identifiant PP", ""),
    ("national_id", "Identification nationale PP", "Professional.national_id"),
    ("exercise_civility_code", "Code civilité d'exercice", "Professional.exercise_civility_code"),
    ("exercise_civility", "Libellé civilité d'exercice", "Professional.exercise_civility"),
    ("civility_code", "Code civilité", "Professional.civility_code"),
    ("civility", "Libellé civilité", "Professional.civility"),
    ("last_name", "Nom d'exercice", "Professional.last_name"),
    ("first_name", "Prénom d'exercice", "Professional.first_name"),
    ("profession_code", "Code profession", ""),
    ("profession_label", "Libellé profession", ""),
    ("category_code", "Code catégorie professionnelle", ""),
    ("category_label", "Libellé catégorie professionnelle", ""),
    ("skill_type_code", "Code type savoir-faire", "SkillType.code"),
    ("skill_type_label", "Libellé type savoir-faire", "SkillType.label"),
    ("skill_code", "Code savoir-faire", "Skill.code"),
    ("skill_label", "Libellé savoir-faire", "Skill.label"),
    ("mode_code", "Code mode exercice", ""),
    ("mode_label", "Libellé mode exercice", ""),
    ("siret", "Numéro SIRET site", ""),
    ("siren", "Numéro SIREN site", ""),
    ("finess_site", "Numéro FINESS site", ""),
    ("finess_legal", "Numéro FINESS établissement juridique", ""),
    ("technical_id", "Identifiant technique de la structure", "Structure.technical_id"),
    ("name", "Raison sociale site", "Structure.name"),
    ("trade_name", "Enseigne commerciale site", "Structure.trade_name"),
    ("address_recipient", "Complément destinataire (coord. structure)", "Structure.address_recipient"),
    ("address_place", "Complément point géographique (coord. structure)", "Structure.address_place"),
    ("street_number", "Numéro Voie (coord. structure)", "Structure.street_number"),
    ("street_repetition", "Indice répétition voie (coord. structure)", "Structure.street_repetition"),
    ("street_type", "Code type de voie (coord. structure)", "Structure.street_type"),
    ("street_type_label", "Libellé type de voie (coord. structure)", ""),
    ("street_name", "Libellé Voie (coord. structure)", "Structure.street_name"),
    ("distribution", "Mention distribution (coord. structure)", "Structure.distribution"),
    ("cedex", "Bureau cedex (coord. structure)", "Structure.cedex"),
    ("postcode", "Code postal (coord. structure)", "Structure.postcode"),
    ("commune_code", "Code commune (coord. structure)", "Structure.commune_code"),
    ("commune", "Libellé commune (coord. structure)", "Structure.commune"),
    ("country_code", "Code pays (coord. structure)", "Structure.country_code"),
    ("country", "Libellé pays (coord. structure)", "Structure.country"),
    ("phone", "Téléphone (coord. structure)", "Structure.phone"),
    ("phone2", "Téléphone 2 (coord. structure)", "Structure.phone2"),
    ("fax", "Télécopie (coord. structure)", "Structure.fax"),
    ("email", "Adresse e-mail (coord. structure)", "Structure.email"),
    ("department_code", "Code Département (structure)", "Structure.department_code"),
    ("department", "Libellé Département (structure)", "Structure.department"),
    ("former_id", "Ancien identifiant de la structure", "Structure.former_id"),
    ("registration_authority", "Autorité d'enregistrement", "Activity.registration_authority"),
    ("sector_code", "Code secteur d'activité", "Activity.sector_code"),
    ("sector", "Libellé secteur d'activité", "Activity.sector"),
    ("pharmacist_section_code", "Code section tableau pharmaciens", "Exercise.pharmacist_section_code"),
    ("pharmacist_section", "Libellé section tableau pharmaciens", "Exercise.pharmacist_section"),
    ("role_code", "Code rôle", "Activity.role_code"),
    ("role", "Libellé rôle", "Activity.role"),
    ("genre_code", "Code genre activité", "Activity.genre_code"),
    ("genre", "Libellé genre activité", "Activity.genre"),
]
WIDTH = len(COLUMNS)
NAMES = [name for name, _, _ in COLUMNS]
_MODELS = {
    model.__name__: model
    for model in (Professional, Exercise, Activity, Structure, Skill, SkillType, Profession, ExerciseMode)
}
# Columns checked against an identifier rule when they are filled in.
STRUCTURE_IDS = [(19, identifiers.check_siret), (20, identifiers.check_siren)]
STRUCTURE_IDS += [(21, identifiers.check_finess), (22, identifiers.check_finess)]
PERSON_CHECKS = {"8": identifiers.check_rpps, "0": identifiers.check_adeli}


def column_label(index: int) -> str:
    """``"10 Code profession"``: the column's number (from 1) and its official name, for the report."""
    return f"{index + 1} {COLUMNS[index][1]}"


def _max_length(target: str) -> int:
    if not target:
        return 1 << 30
    model_name, field_name = target.split(".")
    length = getattr(_MODELS[model_name]._meta.get_field(field_name), "max_length", None)
    return int(length) if length else 1 << 30


MAX_LENGTHS = [_max_length(target) for _, _, target in COLUMNS]
# The columns whose values must fit a database field (checked in SQL, after COPY, in one pass).
LIMITED = [(index, limit) for index, limit in enumerate(MAX_LENGTHS) if limit < 1 << 30]


def normalize_label(label: str) -> str:
    """Header labels compared without accents, case, spacing or punctuation (sources differ on these)."""
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return "".join(char for char in plain if char.isalnum())


EXPECTED_HEADER = [normalize_label(label) for _, label, _ in COLUMNS]


def header_problem(line: str) -> str | None:
    """Why the first line is not this format's header, or None."""
    labels = line.lstrip("\ufeff").split("|")
    if len(labels) == WIDTH + 1 and labels[-1] == "":
        labels.pop()
    if len(labels) != WIDTH:
        return _("line 1: the header has %(count)d columns, expected the %(width)d of PS_LibreAcces") % {
            "count": len(labels),
            "width": WIDTH,
        }
    for index, (label, expected) in enumerate(zip(labels, EXPECTED_HEADER, strict=True)):
        if normalize_label(label) != expected:
            return _("line 1: header column %(number)d is %(label)s, expected %(expected)s") % {
                "number": index + 1,
                "label": repr(label),
                "expected": repr(COLUMNS[index][1]),
            }
    return None


# ---------------------------------------------------------------------------------------------------------
# Cleaning the values at staging
#
# Every value is NFC-normalised (a decomposed "E" + combining acute is stored as "É", as typed elsewhere),
# its whitespace-like characters (tab, vertical tab, form feed, a lone CR, NEL U+0085, no-break and other
# Unicode spaces, line and paragraph separators U+2028/U+2029) become spaces, runs of spaces collapse to one
# and the value is trimmed. Any other control or format character (C0/C1 controls, zero-width and
# directional marks, soft hyphen, BOM...) rejects the row when it is in a name (the person's names, the
# structure's name and trade name): a name is printed on the card, so it is not guessed at; elsewhere (an
# address, a label) it is removed.

NAME_COLUMNS = frozenset(NAMES.index(name) for name in ("last_name", "first_name", "name", "trade_name"))
_SPACES = "\t\n\x0b\x0c\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_SPACES += "\u2028\u2029\u202f\u205f\u3000"
_TO_SPACE = str.maketrans(dict.fromkeys(_SPACES, " "))
_RUNS = re.compile(" {2,}")
# A line of printable Latin-1 (and the French Œ œ Ÿ and ’) only, all unchanged by NFC, with no space at a
# value's edge and no double space needs no cleaning: the fast path of nearly every row, in C.
_NOT_PLAIN = re.compile("[^\x20-\x7e\xa1-\xac\xae-\xff\u0152\u0153\u0178\u2019]")


def needs_cleaning(line: str) -> bool:
    return bool(
        "  " in line
        or " |" in line
        or "| " in line
        or line.startswith(" ")
        or line.endswith(" ")
        or _NOT_PLAIN.search(line)
    )


def _shown(value: str) -> str:
    """The value for the reject report, its invisible characters written as U+XXXX."""
    return "".join(f"<U+{ord(char):04X}>" if not char.isprintable() else char for char in value)


def clean_fields(fields: list[str]) -> Problem | None:
    """Clean every value in place (see above); the problem when a name holds a control character."""
    for index, value in enumerate(fields):
        cleaned = unicodedata.normalize("NFC", value).translate(_TO_SPACE)
        if not cleaned.isprintable():
            controls = [
                char for char in cleaned if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn")
            ]
            if controls and index in NAME_COLUMNS:
                rule = _("control character %(code)s in a name (not allowed)") % {
                    "code": f"U+{ord(controls[0]):04X}"
                }
                return Problem(index, rule, _shown(value))
            cleaned = "".join(char for char in cleaned if char not in controls)
        if "  " in cleaned:
            cleaned = _RUNS.sub(" ", cleaned)
        fields[index] = cleaned.strip(" ")
    return None


@dataclass(frozen=True)
class Problem:
    """One rule broken by a row: the column (index from 0, or None for the whole row) and the rule."""

    column: int | None
    rule: str
    value: str = ""


class RowChecker:
    """The per-row rules, with the code tables loaded once and identifier checks memoised in a bounded
    cache (structures repeat across rows; the cache is cleared when full so memory stays flat)."""

    CACHE_LIMIT = 200_000

    def __init__(self, *, terminated: bool = True) -> None:
        # Whether this file's rows end with a ``|`` terminator: learnt from its rows (see terminated_row),
        # until then assumed to be as the header's.
        self.terminated = terminated
        self._terminator_known = False
        self.professions = set(Profession.objects.values_list("code", flat=True))
        self.modes = set(ExerciseMode.objects.values_list("code", flat=True)) | {""}
        self.categories = set(ProfessionalCategory.objects.values_list("code", flat=True)) | {""}
        self._cache: dict[tuple[int, str], str | None] = {}
        self._last_person: tuple[str, str, str] | None = None

    def terminated_row(self, line: str, fields: list[str]) -> bool:
        """Whether the row's last ``|`` is a terminator (to take off before counting columns).

        A row may end with ``|`` or not, whatever the header does. A row not ending with ``|`` is read as it
        is. A row ending with ``|`` is ambiguous on its own (a terminator, or an empty last column), so the
        file's convention decides: it is learnt from the first row that shows it (a row not ending with
        ``|``: no terminators; a row ending with ``|`` that has WIDTH columns before it: terminators), and
        assumed to be the header's until then. Where rows are not terminated, a row of exactly WIDTH
        columns plus a final ``|`` is still read as terminated (as it was always accepted)."""
        ends = line.endswith("|")
        if not self._terminator_known:
            if not ends:
                self.terminated, self._terminator_known = False, True
            elif len(fields) == WIDTH + 1:
                self.terminated, self._terminator_known = True, True
        return ends and (self.terminated or len(fields) == WIDTH + 1)

    def problem(self, fields: list[str]) -> Problem | None:
        return self._person_problem(fields) or self._code_problem(fields) or self._structure_problem(fields)

    def _person_problem(self, fields: list[str]) -> Problem | None:
        person = (fields[0], fields[1], fields[2])
        if person == self._last_person:  # the rows of one person follow each other
            return None
        problem = _person_identity_problem(*person)
        if problem is None:
            self._last_person = person
        return problem

    def _code_problem(self, fields: list[str]) -> Problem | None:
        if not fields[7]:
            return Problem(7, _("the name is missing"))
        if fields[9] not in self.professions:
            return Problem(9, _("unknown profession code (TRE_G15)"), fields[9])
        if fields[11] not in self.categories:
            return Problem(11, _("unknown professional category code (TRE_R09)"), fields[11])
        if fields[17] not in self.modes:
            return Problem(17, _("unknown mode of exercise code (TRE_R23)"), fields[17])
        return None

    def _structure_problem(self, fields: list[str]) -> Problem | None:
        siret, siren = fields[19], fields[20]
        if siret and siren and not siret.startswith(siren):
            return Problem(20, _("SIREN must be the first 9 digits of the SIRET"), siren)
        for index, check in STRUCTURE_IDS:
            value = fields[index]
            # Beside a SIRET, the SIREN is its first 9 digits, already covered by the SIRET's own key
            # (published files carry such SIRENs whose standalone key fails: they are not errors).
            if value and not (index == 20 and siret):
                rule = self._checked(index, value, check)
                if rule:
                    return Problem(index, rule, value)
        return None

    def _checked(self, index: int, value: str, check: Callable[[str], str | None]) -> str | None:
        key = (index, value)
        if key not in self._cache:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = check(value)
        return self._cache[key]


def _person_identity_problem(id_type: str, identifier: str, national_id: str) -> Problem | None:
    check = PERSON_CHECKS.get(id_type)
    if check is None:
        return Problem(0, _("identifier type must be 8 (RPPS) or 0 (ADELI)"), id_type)
    rule = check(identifier)
    if rule:
        return Problem(
            1, _("%(rule)s (identifier type %(type)s)") % {"rule": rule, "type": id_type}, identifier
        )
    if national_id != id_type + identifier:
        rule = identifiers.check_national_id(national_id, id_type, identifier)
        rule = rule or _("national identifier must be the type digit followed by the identifier")
        return Problem(2, rule, national_id)
    return None
