"""Validation of the identifiers of the health registry: RPPS, ADELI, FINESS, SIREN, SIRET, idNatPs.

All check keys are Luhn (mod 10) over the whole number. Each check returns ``None`` when the value is
valid, or a short reason (in the words of the rule broken) so the import and the API can report it.
"""

from collections.abc import Callable

from django.utils.translation import gettext as _

LENGTHS = {"rpps": 11, "adeli": 9, "finess": 9, "siren": 9, "siret": 14}


# Each digit's contribution when it sits in a doubled position (2*d, minus 9 above 9), as ASCII digits,
# so the sum runs over bytes in C: the import checks millions of identifiers.
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_valid(number: str) -> bool:
    """True when the digit string passes the Luhn check (from the right, double every second digit)."""
    if not (number.isascii() and number.isdigit()):
        return False
    raw = number.encode("ascii")
    total = sum(raw[-1::-2]) + sum(raw[-2::-2].translate(_DOUBLED)) - 48 * len(raw)
    return total % 10 == 0


def luhn_complete(partial: str) -> str:
    """Append the Luhn key that makes ``partial`` valid."""
    for key in "0123456789":
        if luhn_valid(partial + key):
            return partial + key
    raise AssertionError("unreachable: one key always fits")


def _check(kind: str, value: str) -> str | None:
    length = LENGTHS[kind]
    if not value:
        return _("%(name)s is missing") % {"name": kind.upper()}
    if not value.isdigit():
        return _("%(name)s must contain digits only") % {"name": kind.upper()}
    if len(value) != length:
        return _("%(name)s must have %(length)d digits, not %(count)d") % {
            "name": kind.upper(),
            "length": length,
            "count": len(value),
        }
    if not luhn_valid(value):
        return _("%(name)s check digit (Luhn) is wrong") % {"name": kind.upper()}
    return None


def check_rpps(value: str) -> str | None:
    return _check("rpps", value)


def check_adeli(value: str) -> str | None:
    return _check("adeli", value)


def check_siren(value: str) -> str | None:
    return _check("siren", value)


def check_siret(value: str) -> str | None:
    return _check("siret", value)


def check_finess(value: str) -> str | None:
    """FINESS: 9 characters with a Luhn key. Corsican numbers (2A/2B) are checked with 2A→20, 2B→20."""
    if value[:2].upper() in {"2A", "2B"}:
        value = "20" + value[2:]
    return _check("finess", value)


CHECKS: dict[str, Callable[[str], str | None]] = {
    "rpps": check_rpps,
    "adeli": check_adeli,
    "finess": check_finess,
    "siren": check_siren,
    "siret": check_siret,
}

# Identifier type digit (TRE_G08) -> the check of the number that follows it.
NATIONAL_ID_TYPES = {"0": "adeli", "8": "rpps", "3": "finess", "5": "siret"}


def check_national_id(value: str, id_type: str | None = None, number: str | None = None) -> str | None:
    """The national identifier: type digit + number; for 3/5 (structure staff) followed by an internal
    number. When ``id_type`` and ``number`` (columns 1 and 2 of the file) are given they must agree."""
    if not value:
        return _("national identifier is missing")
    type_digit, rest = value[0], value[1:]
    if type_digit not in NATIONAL_ID_TYPES:
        return _("national identifier type digit %(digit)s is not one of 0, 3, 5, 8") % {
            "digit": repr(type_digit)
        }
    if id_type is not None and id_type != type_digit:
        return _("identifier type %(type)s does not match the national identifier's type digit %(digit)s") % {
            "type": repr(id_type),
            "digit": repr(type_digit),
        }
    kind = NATIONAL_ID_TYPES[type_digit]
    length = LENGTHS[kind]
    if type_digit in {"0", "8"}:
        if len(rest) != length:
            return _("national identifier must be %(digit)s + %(length)d digits") % {
                "digit": type_digit,
                "length": length,
            }
        problem = CHECKS[kind](rest)
    else:
        if len(rest) <= length:
            return _("national identifier %(digit)s + %(name)s must carry an internal number") % {
                "digit": type_digit,
                "name": kind.upper(),
            }
        problem = CHECKS[kind](rest[:length])
    if problem:
        return problem
    if number is not None and number != rest[: len(number)]:
        return _("identifier does not match the national identifier")
    return None
