"""No field anywhere accepts a PIN or a PUK: the holder types them into the card agent (``cpx-card``), never
into the platform. Searched: every request parameter and body field of the OpenAPI schema, every form class
of the project (and every admin form), every template's form controls and their labels, in English and in
French. A field is refused when its name or its label names a PIN or PUK ("pin", "puk", "code porteur",
"code de déblocage", "unblock code", ...).

The scanners are run on a planted field first, so that a scanner that finds nothing cannot pass."""

from __future__ import annotations

import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.utils import translation
from django.utils.translation import gettext
from drf_spectacular.generators import SchemaGenerator

ROOT = Path(settings.BASE_DIR)
APPS = ["core", "audit", "approvals", "registry", "notifications", "pki", "cards", "orders", "stations"]
APPS += ["lifecycle", "ecps", "portal", "config"]
NAME_TOKENS = {"pin", "pins", "puk", "puks", "pincode", "pukcode", "userpin", "sopin"}
# Names that hold no code: the version of the master key a card's PUK is derived from (pki.unblock).
NOT_CODES = {"puk_key_version"}
NAME_PHRASES = ("code_porteur", "code_deblocage", "code_de_deblocage", "unblock_code", "unblocking_code")
LABEL = re.compile(
    r"(?<![a-z0-9])(pin|puk)(?![a-z0-9])|code\s+porteur|code\s+(de\s+)?d[ée]blocage|unblock(ing)?\s+code",
    re.IGNORECASE,
)


def name_is_a_code(name: str) -> bool:
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().replace("é", "e")
    tokens = [t for t in re.split(r"[^a-z0-9]+", snake) if t]
    return bool(NAME_TOKENS & set(tokens)) or any(p in "_".join(tokens) for p in NAME_PHRASES)


def label_is_a_code(text: Any) -> bool:
    return bool(text) and bool(LABEL.search(str(text)))


# --- the OpenAPI schema -------------------------------------------------------------------------------


def schema_fields(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(where, name, title) of every request parameter and every writable field of every request body."""
    components = schema.get("components", {}).get("schemas", {})
    found: list[tuple[str, str, str]] = []

    def walk(node: Any, where: str, seen: frozenset[str]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where, seen)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref", "")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                walk(components.get(name, {}), f"{where}>{name}", seen | {name})
            return
        for prop, spec in (node.get("properties") or {}).items():
            if isinstance(spec, dict) and spec.get("readOnly"):
                continue
            found.append((where, prop, str((spec or {}).get("title", ""))))
            walk(spec, f"{where}.{prop}", seen)
        for key in ("items", "allOf", "oneOf", "anyOf", "additionalProperties"):
            if key in node:
                walk(node[key], where, seen)

    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                found.append((where, parameter.get("name", ""), str(parameter.get("description", ""))))
            for media in (operation.get("requestBody") or {}).get("content", {}).values():
                walk(media.get("schema", {}), where, frozenset())
    return found


def schema_offences(schema: dict[str, Any]) -> list[str]:
    return [
        f"{where}: {name} ({title})"
        for where, name, title in schema_fields(schema)
        if name not in NOT_CODES and (name_is_a_code(name) or label_is_a_code(title))
    ]


# --- form classes ---------------------------------------------------------------------------------------


def project_form_classes() -> list[type[forms.BaseForm]]:
    """Every form class defined in the project's apps (each module imported, so none is missed)."""
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name and not module.name.endswith(("wsgi", "asgi")):
                importlib.import_module(module.name)
    classes, todo = [], list(forms.BaseForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in APPS:
            classes.append(cls)
    return classes


def admin_form_classes() -> list[type[forms.BaseForm]]:
    from tests.factories import UserFactory

    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)  # type: ignore[assignment]
    return [model_admin.get_form(request) for model_admin in admin.site._registry.values()]


def form_offences(form_classes: list[type[forms.BaseForm]]) -> list[str]:
    offences = []
    for cls in form_classes:
        fields: dict[str, forms.Field] = getattr(cls, "base_fields", {})
        for name, field in fields.items():
            if name in NOT_CODES:
                continue  # its label names the PUK too ("Puk key version"), it holds none
            attrs = field.widget.attrs
            texts = [field.label, field.help_text, attrs.get("placeholder"), attrs.get("aria-label")]
            for language in ("en", "fr"):
                with translation.override(language):
                    if name_is_a_code(name) or any(label_is_a_code(str(t)) for t in texts if t):
                        offences.append(f"{cls.__module__}.{cls.__qualname__}.{name} ({language})")
    return sorted(set(offences))


# --- templates ------------------------------------------------------------------------------------------

TRANSLATE = re.compile(r"""\{%\s*(?:translate|trans)\s+(["'])(.*?)\1[^%]*%\}""", re.DOTALL)
BLOCK = re.compile(r"\{%\s*blocktrans(?:late)?\b[^%]*%\}(.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.DOTALL)
TAG = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
VARIABLE = re.compile(r"\{\{\s*([a-z_][\w.]*)[^}]*\}\}")


def as_rendered(text: str, language: str) -> str:
    """The template's text with its translations in ``language`` and its other tags removed: close enough to
    the page for finding form controls and the words of their labels."""

    def translate(match: re.Match[str]) -> str:
        return gettext(match.group(2))

    def block(match: re.Match[str]) -> str:
        msgid = VARIABLE.sub(lambda v: f"%({v.group(1)})s", match.group(1).strip())
        return re.sub(r"%\((\w+)\)s", r"\1", gettext(msgid))

    with translation.override(language):
        text = TRANSLATE.sub(translate, text)
        text = BLOCK.sub(block, text)
    return VARIABLE.sub("value", TAG.sub(" ", text))


class Controls(HTMLParser):
    """The form controls of a page and the text of its labels and legends."""

    CONTROLS = {"input", "textarea", "select"}
    NOT_FIELDS = {"submit", "button", "reset", "image"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.offences: list[str] = []
        self.labels: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag in {"label", "legend"}:
            self.labels.append([])
        if tag in self.CONTROLS and values.get("type", "").lower() not in self.NOT_FIELDS:
            names = [values.get("name", ""), values.get("id", "")]
            texts = [values.get("placeholder"), values.get("aria-label"), values.get("title")]
            if any(name_is_a_code(n) for n in names) or any(label_is_a_code(t) for t in texts):
                self.offences.append(f"<{tag} {' '.join(f'{k}={v!r}' for k, v in values.items())}>")

    def handle_data(self, data: str) -> None:
        for label in self.labels:
            label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"label", "legend"} and self.labels:
            text = " ".join("".join(self.labels.pop()).split())
            if label_is_a_code(text):
                self.offences.append(f"<{tag}>{text}</{tag}>")


def template_offences(text: str) -> list[str]:
    offences = []
    for language in ("en", "fr"):
        parser = Controls()
        parser.feed(as_rendered(text, language))
        parser.close()
        offences += [f"{o} ({language})" for o in parser.offences]
    return offences


def project_templates() -> list[Path]:
    found = []
    for app in APPS:
        found += sorted((ROOT / app).glob("templates/**/*.html"))
    return found


# --- the planted fields: each scanner finds them -------------------------------------------------------


def test_the_scanners_find_a_planted_pin_field():
    assert name_is_a_code("pin") and name_is_a_code("newPin") and name_is_a_code("puk_code")
    assert name_is_a_code("code_porteur") and not name_is_a_code("shipping") and not name_is_a_code("opinion")
    planted = {
        "paths": {
            "/x/": {
                "post": {
                    "parameters": [{"name": "pin", "in": "query"}],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Body": {
                    "properties": {
                        "nested": {"$ref": "#/components/schemas/Inner"},
                        "secret": {"type": "string", "title": "Code de déblocage"},
                        "pin_released_at": {"type": "string", "readOnly": True},
                    }
                },
                "Inner": {"properties": {"userPin": {"type": "string"}}},
            }
        },
    }
    assert len(schema_offences(planted)) == 3, schema_offences(planted)

    class PlantedForm(forms.Form):
        code = forms.CharField(label="Code porteur (PIN)")
        puk = forms.CharField()
        note = forms.CharField(widget=forms.TextInput(attrs={"placeholder": "Your PUK"}))
        reason = forms.CharField(label="Why")

    assert form_offences([PlantedForm]) == [
        f"{__name__}.{PlantedForm.__qualname__}.{name} ({lang})"
        for name in ("code", "note", "puk")
        for lang in ("en", "fr")
    ]
    template = (
        '{% load i18n %}<form><label for="x">{% translate "Code porteur" %}</label><input id="x" name="code">'
        '<textarea name="new_pin"></textarea><input type="hidden" name="next">'
        '<label for="s">{% translate "What cpx-card printed (the card\'s signature)" %}</label>'
        '<input id="s" name="signature"></form>'
    )
    assert len(template_offences(template)) == 4  # the label and the textarea, in each language


# --- the platform ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_api_parameter_or_body_field_takes_a_pin_or_puk():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    fields = schema_fields(schema)
    assert len(fields) > 100 and any(name == "signature" for _w, name, _t in fields)  # it did read the bodies
    assert schema_offences(schema) == []


@pytest.mark.django_db
def test_no_form_takes_a_pin_or_puk():
    classes = project_form_classes() + admin_form_classes()
    assert len(classes) > 10
    assert form_offences(classes) == []


def test_no_template_has_a_pin_or_puk_field():
    templates = project_templates()
    assert any(p.name == "activate.html" for p in templates) and any(
        p.name == "card_proof.html" for p in templates
    )
    offences = {str(p.relative_to(ROOT)): template_offences(p.read_text()) for p in templates}
    assert {path: found for path, found in offences.items() if found} == {}
