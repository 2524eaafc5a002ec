"""Synthetic extraction files in the official ``PS_LibreAcces_Personne_activite`` format, for demos, tests and
benchmarks: valid Luhn identifiers, French names, every profession code, students, people with several
activities, structures with SIRET/SIREN/FINESS, and a chosen share of bad rows of every kind.

Written as a stream: memory does not grow with the number of rows. The same seed gives the same file.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

from .codes import AUTHORITIES, CATEGORIES, EXERCISE_MODES, PROFESSIONS, SKILL_TYPES, SKILLS
from .extraction import COLUMNS, WIDTH
from .identifiers import luhn_complete


def _words(text: str) -> list[str]:
    return text.split()


LAST_NAMES = _words(
    "MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFÈVRE LEROY "
    "ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT MÜLLER "
    "FAURE ANDRÉ MERCIER BLANC GUÉRIN BOYER GARNIER CHEVALIER FRANÇOIS LEGRAND GAUTHIER GARCIA PERRIN "
    "ROBIN CLÉMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON MARCHAND DUVAL DENIS DUMONT MARIE "
    "LEMAIRE NOËL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY RIVIÈRE LUCAS BRUNET GAILLARD BARBIER "
    "ARNAUD MARTINEZ GÉRARD ROCHE RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON PICARD ROGER FABRE AUBERT "
    "LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE BENOÎT REY LECLERC PAYET ROLLAND "
    "D'ALMEIDA N'DIAYE"
) + ["LE GALL", "DE LA FONTAINE"]
FIRST_NAMES = {
    "M": _words(
        "Hugo Louis Gabriel Jules Arthur Raphaël Léo Adam Lucas Noé Théo Mathéo Benoît Jérôme François "
        "Cédric Hervé Loïc Gaëtan Joël Stéphane Frédéric Éric Rémi Sébastien"
    ),
    "MME": _words(
        "Claire Amélie Léa Chloé Zoé Inès Jade Louise Emma Manon Hélène Élodie Noémie Anaïs Maëlle Céline "
        "Sophie Béatrice Françoise Agnès Gaëlle Mélanie Aurélie Cécile Laëtitia"
    ),
}
CIVILITIES = {"M": "Monsieur", "MME": "Madame"}
CITIES = [
    ("75012", "75112", "PARIS", "75", "Paris"),
    ("69003", "69383", "LYON", "69", "Rhône"),
    ("13005", "13205", "MARSEILLE", "13", "Bouches-du-Rhône"),
    ("59000", "59350", "LILLE", "59", "Nord"),
    ("42000", "42218", "SAINT-ÉTIENNE", "42", "Loire"),
    ("30000", "30189", "NÎMES", "30", "Gard"),
    ("34500", "34032", "BÉZIERS", "34", "Hérault"),
    ("45000", "45234", "ORLÉANS", "45", "Loiret"),
    ("97400", "97411", "SAINT-DENIS", "974", "La Réunion"),
    ("20000", "2A004", "AJACCIO", "2A", "Corse-du-Sud"),
    ("67000", "67482", "STRASBOURG", "67", "Bas-Rhin"),
    ("35000", "35238", "RENNES", "35", "Ille-et-Vilaine"),
]
STREETS = [
    ("R", "Rue", "de la Paix"),
    ("AV", "Avenue", "Jean Jaurès"),
    ("BD", "Boulevard", "Gambetta"),
    ("PL", "Place", "de l'Église"),
    ("R", "Rue", "du Sacré-Cœur"),
    ("CHE", "Chemin", "des Écoliers"),
    ("QUAI", "Quai", "Pasteur"),
    ("IMP", "Impasse", "Molière"),
]
RPPS_PROFESSIONS = ["10"] * 30 + ["60"] * 25 + ["70"] * 12 + ["21"] * 10 + ["40"] * 6 + ["50"] * 4
RPPS_PROFESSIONS += ["80"] * 2 + ["69"]
ADELI_PROFESSIONS = [code for code, _ in PROFESSIONS if code not in {"10", "21", "40", "50", "80"}]
LABELS = dict(PROFESSIONS)
CATEGORY_LABELS = {code: label for code, label, _ in CATEGORIES}
CATEGORY_WEIGHTS = ["C"] * 85 + ["M"] * 8 + ["E"] * 5 + ["F"] * 2
MODE_LABELS = dict(EXERCISE_MODES)
SKILL_TYPE_LABELS = dict(SKILL_TYPES)
SKILL_LABELS = {code: (label, skill_type) for code, label, skill_type in SKILLS}
PROFESSION_SKILLS = {"10": ["SM26", "SM26", "SM02"], "40": ["SCD01"], "60": ["SI07"]}
ORDRES = {code: authority for authority, _, _, codes in AUTHORITIES for code in codes}
SECTORS = [("SA07", "Cabinet individuel"), ("SA08", "Cabinet de groupe"), ("SA01", "Établissement public")]
BAD_KINDS = [
    "columns",
    "rpps_key",
    "adeli_key",
    "siret_key",
    "siren_key",
    "finess_key",
    "profession",
    "type_mismatch",
    "duplicate",
]
HEADER = "|".join(label for _, label, _ in COLUMNS) + "|"


@dataclass
class SampleStats:
    """What was written: ``bad`` rows are exactly those an import must reject."""

    rows: int = 0
    bad: int = 0
    people: int = 0
    bad_kinds: Counter[str] = field(default_factory=Counter)


@lru_cache(maxsize=1 << 16)
def structure_fields(number: int) -> tuple[str, ...]:
    """Columns 20-47 of structure ``number``: the same structure always reads the same (cached, bounded)."""
    kind = number % 10  # 0-5 cabinet, 6-8 company, 9 hospital
    siren = luhn_complete(f"{(30_000_000 + number) % 10**8:08d}") if kind >= 6 else ""
    siret = luhn_complete(f"{siren}{number % 10_000:04d}") if siren else ""
    finess = luhn_complete(f"{(number * 7) % 95 + 1:02d}{number % 10**6:06d}") if kind == 9 else ""
    technical_id = f"C{siret}" if siret else f"R1{number:013d}"
    name = _structure_name(kind, number)
    postcode, commune_code, commune, department_code, department = CITIES[number % len(CITIES)]
    street_type, _, street_name = STREETS[number % len(STREETS)]
    phone = f"0{1 + number % 5}{number % 10**8:08d}"
    email = f"contact{number}@structure.example" if kind >= 6 else ""
    return (
        siret, siren, finess, finess, technical_id, name, "", "", "", str(1 + number % 180), "",
        street_type, "", street_name, "", "", postcode, commune_code, commune, "99000", "France",
        phone, "", "", email, department_code, department, "",
    )  # fmt: skip


def _structure_name(kind: int, number: int) -> str:
    last = LAST_NAMES[number % len(LAST_NAMES)]
    if kind < 6:
        return f"CABINET {last}"
    if kind < 9:
        return ["PHARMACIE", "SELARL", "CENTRE DE SANTÉ", "MAISON DE SANTÉ"][number % 4] + f" {last}"
    return f"CENTRE HOSPITALIER {CITIES[number % len(CITIES)][2]}"


class RowMaker:
    """Draws people and their rows from a seeded random generator."""

    def __init__(self, *, rows: int, seed: int) -> None:
        self.random = random.Random(seed)
        self.structures = max(10, rows // 3)
        self.offset = (seed * 104_729) % 10**8
        self.people = 0
        self.adeli_people = 0

    def person(self) -> list[list[str]]:
        """The rows of one new person (one per activity)."""
        self.people += 1
        pick = self.random
        by_rpps = pick.random() < 0.75
        profession = pick.choice(RPPS_PROFESSIONS if by_rpps else ADELI_PROFESSIONS)
        identity = self._identity(by_rpps, profession)
        exercises = [profession]
        if pick.random() < 0.02:  # a few people practise two professions
            other = pick.choice(RPPS_PROFESSIONS if by_rpps else ADELI_PROFESSIONS)
            exercises += [other] if other != profession else []
        return [row for code in exercises for row in self._exercise_rows(identity, code, by_rpps)]

    def _identity(self, by_rpps: bool, profession: str) -> list[str]:
        if by_rpps:
            number = luhn_complete(f"1{(self.offset + self.people) % 10**9:09d}")
            id_type = "8"
        else:
            self.adeli_people += 1
            serial = (self.offset + self.adeli_people) % 950_000
            number = luhn_complete(f"{1 + serial // 10_000:02d}{profession}{serial % 10_000:04d}")
            id_type = "0"
        sex = self.random.choice(("M", "MME"))
        doctor = profession in {"10", "40"} or (profession == "21" and self.random.random() < 0.3)
        return [
            id_type, number, id_type + number, "DR" if doctor else "", "Docteur" if doctor else "",
            sex, CIVILITIES[sex], self.random.choice(LAST_NAMES), self.random.choice(FIRST_NAMES[sex]),
        ]  # fmt: skip

    def _exercise_rows(self, identity: list[str], profession: str, by_rpps: bool) -> Iterator[list[str]]:
        pick = self.random
        category = pick.choice(CATEGORY_WEIGHTS)
        skill = self._skill(profession, category)
        activities = pick.choices((1, 2, 3, 4), weights=(70, 20, 8, 2))[0]
        ordre = ORDRES.get(profession, "ARS") if by_rpps else "ARS"
        section = ("A", "Section A: titulaires d'officine") if profession == "21" else ("", "")
        for number in pick.sample(range(self.structures), activities):
            mode = "S" if number % 10 == 9 else ("L" if number % 10 < 6 else pick.choice("LS"))
            sector = SECTORS[2] if number % 10 == 9 else SECTORS[number % 2]
            yield [
                *identity, profession, LABELS[profession], category, CATEGORY_LABELS[category], *skill,
                mode, MODE_LABELS[mode], *structure_fields(number), f"{ordre}/{ordre}/{ordre}",
                *sector, *section, "", "", "", "",
            ]  # fmt: skip

    def _skill(self, profession: str, category: str) -> list[str]:
        codes = PROFESSION_SKILLS.get(profession)
        if not codes or category == "E" or self.random.random() < 0.4:
            return ["", "", "", ""]
        code = self.random.choice(codes)
        label, skill_type = SKILL_LABELS[code]
        return [skill_type, SKILL_TYPE_LABELS[skill_type], code, label]


def spoil(row: list[str], kind: str, previous: list[str] | None) -> list[str]:
    """A copy of a good row that breaks exactly one rule (``kind``)."""
    bad = list(row)
    if kind == "duplicate" and previous is not None:
        return list(previous)
    if kind == "columns":
        return bad[:-5]
    if kind in {"rpps_key", "adeli_key"}:
        bad[1] = _wrong_key(bad[1])
        bad[2] = bad[0] + bad[1]
    elif kind == "type_mismatch":
        bad[2] = ("0" if bad[0] == "8" else "8") + bad[1]
    elif kind == "profession":
        bad[9], bad[10] = "99", "Profession inconnue"
    elif kind == "siret_key":
        bad[19] = _wrong_key(bad[19] or luhn_complete("4420012300012"))
        bad[20] = bad[19][:9]
    elif kind == "siren_key":
        bad[19], bad[20] = "", _wrong_key(bad[20] or luhn_complete("44200123"))
    elif kind == "finess_key":
        bad[21] = _wrong_key(bad[21] or luhn_complete("75000123"))
    return bad


def _wrong_key(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def sample_rows(
    *, rows: int, bad_share: float, seed: int, stats: SampleStats, bad_kinds: list[str] | None = None
) -> Iterator[list[str]]:
    """``rows`` rows, about ``bad_share`` of them bad (each kind in turn); ``stats`` counts as it goes."""
    kinds = bad_kinds or BAD_KINDS
    maker = RowMaker(rows=rows, seed=seed)
    previous: list[str] | None = None
    turn = 0
    pending: list[list[str]] = []
    while stats.rows < rows:
        if not pending:
            pending = maker.person()
        row = pending.pop(0)
        if maker.random.random() < bad_share:
            kind = _bad_kind(row, previous, kinds[turn % len(kinds)])
            turn += 1
            stats.bad += 1
            stats.bad_kinds[kind] += 1
            row = spoil(row, kind, previous)
            pending = []  # the spoiled person's other rows are dropped: they only appear badly
        else:
            previous = row
        stats.rows += 1
        yield row
    stats.people = maker.people


def _bad_kind(row: list[str], previous: list[str] | None, kind: str) -> str:
    if kind == "duplicate" and previous is None:
        return "profession"
    if kind in {"rpps_key", "adeli_key"}:
        return "rpps_key" if row[0] == "8" else "adeli_key"
    return kind


@contextmanager
def _open_text(out: Path, *, encoding: str, zipped: bool) -> Iterator[IO[str]]:
    out.parent.mkdir(parents=True, exist_ok=True)
    codec = "utf-8-sig" if encoding == "utf-8-sig" else encoding
    if not zipped:
        with out.open("w", encoding=codec, newline="") as handle:
            yield handle
        return
    member = out.name.removesuffix(".zip") + ("" if out.name.endswith(".txt.zip") else ".txt")
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w") as raw,
        io.TextIOWrapper(raw, encoding=codec, newline="") as handle,
    ):
        yield handle


# ISO-8859-1 has no Œ: a latin-1 publication spells it out.
LATIN1_SPELLING = str.maketrans({"Œ": "OE", "œ": "oe"})


def registry_sample_write(
    *,
    out: Path,
    rows: int,
    bad_share: float = 0.01,
    seed: int = 0,
    encoding: str = "utf-8",
    zipped: bool = False,
    crlf: bool = False,
    bad_kinds: list[str] | None = None,
) -> SampleStats:
    """Write a synthetic extraction file (header with a trailing ``|``, as published)."""
    stats = SampleStats()
    end = "|\r\n" if crlf else "|\n"
    with _open_text(out, encoding=encoding, zipped=zipped) as handle:
        handle.write(HEADER + end[1:])
        batch: list[str] = []
        for row in sample_rows(rows=rows, bad_share=bad_share, seed=seed, stats=stats, bad_kinds=bad_kinds):
            batch.append("|".join(row) + (end if len(row) == WIDTH else end[1:]))
            if len(batch) >= 5000:
                _write(handle, batch, encoding)
        _write(handle, batch, encoding)
    return stats


def _write(handle: IO[str], batch: list[str], encoding: str) -> None:
    text = "".join(batch)
    handle.write(text.translate(LATIN1_SPELLING) if encoding in {"latin-1", "iso-8859-1"} else text)
    batch.clear()
