"""The directory of the back-office: the people an operator may see, searched and sorted without regard to
accents or case (PostgreSQL ``unaccent`` and trigram indexes, migration 0005_directory_search).

A search is words of a name (every word must appear in "last name first name", accents and case ignored:
"helene" finds "Hélène") or an identifier (national, RPPS or ADELI: exact). Callers may add other ways of
finding someone (``also``: the card number, in ``cards.search``).
"""

from __future__ import annotations

import re

from django.db.models import CharField, F, Func, Prefetch, Q, QuerySet, Value
from django.utils.translation import gettext_lazy as _

from .models import Exercise, Professional


class Unaccent(Func):
    """``cpx_unaccent(text)``: lowercased and without accents (immutable, so indexable)."""

    function = "cpx_unaccent"
    output_field = CharField()


def search_name() -> Func:
    """The indexed expression: ``cpx_unaccent(last_name || ' ' || first_name)``."""
    return Func(
        F("last_name"),
        F("first_name"),
        function="cpx_unaccent",
        arg_joiner=" || ' ' || ",
        output_field=CharField(),
    )


SORTS = {
    "name": (Unaccent(F("last_name")).asc(), Unaccent(F("first_name")).asc(), F("id").asc()),
    "-name": (Unaccent(F("last_name")).desc(), Unaccent(F("first_name")).desc(), F("id").desc()),
    "-updated": (F("updated_at").desc(), F("id").desc()),
}
SORT_CHOICES = [
    ("name", _("Name, A to Z")),
    ("-name", _("Name, Z to A")),
    ("-updated", _("Recently updated")),
]

IDENTIFIER = re.compile(r"^[0-9A-Za-z]{8,32}$")


def name_words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,;]+", text.strip()) if word][:6]


def directory_query(text: str, *, also: Q | None = None) -> Q:
    """The condition a person matches ``text`` with: every word of a name, or an identifier."""
    words = name_words(text)
    if not words:
        return Q()
    by_name = Q()
    for word in words:
        by_name &= Q(search_name__contains=Unaccent(Value(word)))
    found = by_name
    compact = text.strip().replace(" ", "")
    if IDENTIFIER.match(compact):
        found |= Q(national_id=compact) | Q(rpps=compact) | Q(adeli=compact)
    if also is not None:
        found |= also
    return found


def directory_search(
    *, people: QuerySet[Professional], text: str = "", sort: str = "name", also: Q | None = None
) -> QuerySet[Professional]:
    """``people`` (already scoped to the operator) matching ``text``, sorted by ``sort`` (a key of SORTS),
    with their exercises and professions fetched."""
    found = people.annotate(search_name=search_name())
    if text.strip():
        found = found.filter(directory_query(text, also=also))
    exercises = Exercise.objects.select_related("profession").order_by("-is_active", "profession__code")
    return found.order_by(*SORTS.get(sort, SORTS["name"])).prefetch_related(
        Prefetch("exercises", queryset=exercises, to_attr="directory_exercises")
    )
