"""The catalogues are complete: every msgid of the code has its French, nothing is fuzzy, the .mo are current.

The catalogues are regenerated exactly as the project does it (``locale/fr/LC_MESSAGES/django.po``'s header:
``makemessages -l fr -l en --ignore='.venv/*' --ignore='var/*' --ignore='tests/*' --ignore='bench/*'``), but
in a copy of the repository, so the test never writes into ``locale/``. Then:

- **French** (``fr``): every entry has a translation (each plural form), and none is fuzzy (gettext does not
  use a fuzzy entry: the page would show the English msgid).
- **English** (``en``): the msgids *are* the English text, so an empty msgstr is the rule (gettext then shows
  the msgid); a non-empty msgstr is allowed for a deliberate English rewording. The English catalogue is
  complete when it holds every msgid of the code (a msgid missing from the committed ``en`` catalogue fails)
  and has no fuzzy entry (a fuzzy entry is a guess left by makemessages, never reviewed).
- For both, the committed catalogue is up to date: regenerating it adds no msgid.
- The committed ``django.mo`` says the same as the committed ``django.po`` (it was compiled after the last
  change): both are read back and compared entry by entry.
"""

from __future__ import annotations

import ast
import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("fr", "en")
IGNORES = (".venv/*", "var/*", "tests/*", "bench/*")
# What the copy leaves out: not sources of msgids (and, for .venv, far too big to copy).
NOT_COPIED = (".git", ".venv", "var", "node_modules", ".ruff_cache", ".mypy_cache", "__pycache__", "media")


class Entry:
    def __init__(self) -> None:
        self.msgctxt: str | None = None
        self.msgid = ""
        self.msgid_plural: str | None = None
        self.msgstr: dict[int, str] = {}
        self.flags: set[str] = set()
        self.obsolete = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())

    def __repr__(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt else ""
        return f"{context}{self.msgid!r}"


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (header and obsolete entries excluded): a small parser of what makemessages
    writes."""
    entries: list[Entry] = []
    entry = Entry()
    field: tuple[str, int] | None = None

    def close() -> None:
        nonlocal entry, field
        if entry.msgid or entry.msgctxt:
            entries.append(entry)
        entry, field = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#~|"):
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
            if not line:
                continue
        if not line:
            close()
            continue
        if line.startswith("#,"):
            if field is not None:
                close()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            if field is not None and field[0] == "msgstr":
                close()
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            value = ast.literal_eval(line)
        else:
            if keyword in ("msgctxt", "msgid") and field is not None and field[0] == "msgstr":
                close()
            value = ast.literal_eval(rest)
            if keyword.startswith("msgstr["):
                field = ("msgstr", int(keyword[7:-1]))
                entry.msgstr[field[1]] = ""
            elif keyword == "msgstr":
                field = ("msgstr", 0)
                entry.msgstr[0] = ""
            else:
                field = (keyword, 0)
                setattr(entry, keyword, "")
        assert field is not None, f"{path}: unexpected line {raw!r}"
        name, index = field
        if name == "msgstr":
            entry.msgstr[index] += value
        else:
            setattr(entry, name, (getattr(entry, name) or "") + value)
    close()
    return [e for e in entries if not e.obsolete]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    """A copy of the repository whose catalogues makemessages has regenerated from the code."""
    copy = tmp_path_factory.mktemp("i18n") / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
    command = [sys.executable, "manage.py", "makemessages", "--no-obsolete"]
    command += [f"--locale={language}" for language in LANGUAGES]
    command += [f"--ignore={pattern}" for pattern in IGNORES]
    done = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return copy


def catalogue(root: Path, language: str) -> Path:
    return root / "locale" / language / "LC_MESSAGES" / "django.po"


def names(entries: list[Entry]) -> str:
    return "\n".join(f"  {entry!r}" for entry in entries)


def test_the_parser_reads_what_makemessages_writes(tmp_path):
    """The checks below are only as good as the parser: plural forms, contexts, flags, continuation lines."""
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n\n'
        '#: a.py:1\nmsgid "One"\nmsgstr "Un"\n\n'
        '#: a.py:2\n#, fuzzy, python-format\n#| msgid "Tw"\nmsgid "Two %(n)s"\nmsgstr "Deux %(n)s"\n\n'
        'msgctxt "month"\nmsgid "May"\nmsgstr ""\n\n'
        'msgid ""\n"Long "\n"text"\nmsgid_plural "Long texts"\nmsgstr[0] "Long texte"\nmsgstr[1] ""\n\n'
        '#~ msgid "Gone"\n#~ msgstr "Parti"\n',
        encoding="utf-8",
    )
    entries = {entry.msgid: entry for entry in read_po(po)}
    assert list(entries) == ["One", "Two %(n)s", "May", "Long text"]
    assert entries["One"].translated and not entries["One"].fuzzy
    assert entries["Two %(n)s"].fuzzy and entries["Two %(n)s"].msgstr == {0: "Deux %(n)s"}
    assert entries["May"].msgctxt == "month" and not entries["May"].translated
    assert entries["Long text"].msgid_plural == "Long texts" and not entries["Long text"].translated


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_catalogue_holds_every_msgid_of_the_code(regenerated, language):
    committed = {entry.key for entry in read_po(catalogue(ROOT, language))}
    missing = [entry for entry in read_po(catalogue(regenerated, language)) if entry.key not in committed]
    assert not missing, (
        f"{len(missing)} msgid(s) of the code are not in locale/{language}/LC_MESSAGES/django.po "
        f"(run makemessages, translate, compilemessages):\n{names(missing)}"
    )


def test_every_msgid_of_the_code_has_its_french(regenerated):
    untranslated = [entry for entry in read_po(catalogue(regenerated, "fr")) if not entry.translated]
    assert not untranslated, f"{len(untranslated)} msgid(s) without French:\n{names(untranslated)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_entry_is_fuzzy(regenerated, language):
    fuzzy = [entry for entry in read_po(catalogue(regenerated, language)) if entry.fuzzy]
    assert not fuzzy, f"{len(fuzzy)} fuzzy (so unused) entries in the {language} catalogue:\n{names(fuzzy)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_translations_keep_their_placeholders(regenerated, language, tmp_path):
    """msgfmt --check-format: a French text that loses or renames a %(name)s would fail at run time."""
    done = subprocess.run(
        [
            "msgfmt",
            "--check-format",
            "-o",
            str(tmp_path / "django.mo"),
            str(catalogue(regenerated, language)),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_committed_one(language, tmp_path):
    """locale/<lang>/LC_MESSAGES/django.mo was compiled from the django.po beside it after its last change."""
    po = catalogue(ROOT, language)
    fresh = tmp_path / "django.mo"
    done = subprocess.run(["msgfmt", "-o", str(fresh), str(po)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with fresh.open("rb") as f:
        expected = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    stale = sorted(str(key) for key in expected.keys() ^ compiled.keys())
    stale += sorted(str(key) for key in expected.keys() & compiled.keys() if expected[key] != compiled[key])
    assert not stale, (
        f"{po.with_suffix('.mo')} is not compiled from its .po (compilemessages):\n"
        + "\n".join(f"  {key}" for key in stale[:50])
    )
