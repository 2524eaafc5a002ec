"""Every state machine of the platform is moved only through its app's services.

For every model with an ``FSMField`` (found by Django, not listed here): its state cannot be assigned, no
application module calls one of its transitions by name (``<anything>.<transition>(``) except the one
path that fires them (``core/transitions.py``), and ``fire`` is called only by the use-case modules of the
app that owns the model, never by a view, an API endpoint, a task, a command or another app.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django_fsm import FSMField

from core.transitions import transition_names

ROOT = Path(__file__).resolve().parents[1]
APPS = [
    "core",
    "approvals",
    "registry",
    "notifications",
    "pki",
    "cards",
    "orders",
    "stations",
    "lifecycle",
    "ecps",
    "portal",
]
ENTRY_POINTS = {"views", "api", "tasks", "admin", "forms", "urls", "management", "templatetags", "views.py"}
THE_ONE_PATH = "core/transitions.py"


def machines() -> list[type]:
    return [
        model
        for model in apps.get_models()
        if any(isinstance(field, FSMField) for field in model._meta.get_fields())
    ]


def app_modules() -> list[tuple[str, ast.Module]]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT).as_posix()
            found.append((relative, ast.parse(path.read_text(), filename=relative)))
    return found


def _calls(tree: ast.Module) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_the_platform_has_its_state_machines():
    names = {f"{m._meta.app_label}.{m.__name__}" for m in machines()}
    assert {"orders.Order", "cards.Card", "ecps.ECps"} <= names


@pytest.mark.parametrize("model", machines(), ids=lambda m: m.__name__)
def test_every_transition_declares_who_may_fire_it(model):
    field = model._meta.get_field("state")
    missing = sorted({t.name for t in field.get_all_transitions(model) if t.permission is None})
    assert missing == [], f"{model.__name__} transitions without permission=: {missing}"


@pytest.mark.parametrize("model", machines(), ids=lambda m: m.__name__)
def test_no_application_code_calls_a_transition_directly(model):
    names = transition_names(model)
    offenders = [
        f"{path}:{call.lineno} .{call.func.attr}("
        for path, tree in app_modules()
        if path != THE_ONE_PATH
        for call in _calls(tree)
        if isinstance(call.func, ast.Attribute) and call.func.attr in names and _is_model_call(call)
    ]
    assert offenders == []


def _is_model_call(call: ast.Call) -> bool:
    """Receivers that are not model rows: a Celery result, a thread pool, an oauth token's own methods."""
    receiver = call.func.value  # type: ignore[attr-defined]
    name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
    return name not in {
        "executor",
        "result",
        "future",
        "self",
        "super",
        "app",
        "control",
        "signer",
        "timer",  # asyncio timer handles and tasks (pki.ocsp_server)
        "listening",
        "pipe",  # a Redis pipeline's expire (core.ratelimit)
        # django-oauth-toolkit's tokens' own revoke() (ecps: an e-CPS revoked takes its tokens with it)
        "token",
        "refresh",
        "access",
        "id_token",
    }


def test_fire_is_called_only_by_the_use_cases_of_the_app_that_owns_the_machine():
    owners = {model._meta.app_label for model in machines()}
    offenders = []
    for path, tree in app_modules():
        if not _imports_core_transitions(tree):
            continue
        app, *rest = Path(path).parts
        entry_point = any(part.removesuffix(".py") in ENTRY_POINTS for part in rest)
        for call in _calls(tree):
            func = call.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called == "fire" and path != THE_ONE_PATH and (app not in owners or entry_point):
                offenders.append(f"{path}:{call.lineno}")
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", machines(), ids=lambda m: m.__name__)
def test_the_state_cannot_be_assigned(model):
    row = model()
    field = model._meta.get_field("state")
    with pytest.raises(AttributeError):
        row.state = next(value for value, _label in field.choices if value != field.get_default())


def _imports_core_transitions(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue  # (global and nonlocal statements have names too: plain strings)
        names = {alias.name for alias in node.names}
        if isinstance(node, ast.ImportFrom) and (
            node.module == "core.transitions" or (node.module == "core" and "transitions" in names)
        ):
            return True
        if isinstance(node, ast.Import) and any(alias.name == "core.transitions" for alias in node.names):
            return True
    return False
