"""Every event has its subject and body in French and English, and they render what the context says."""

from pathlib import Path

import pytest

from notifications.events import EVENTS, Event
from notifications.rendering import TEMPLATE_DIR, render_text, template_name

from .conftest import SAMPLE_CONTEXT

pytestmark = pytest.mark.django_db

LANGUAGES = ["fr", "en"]


def context_for(event: str) -> dict:
    return {field: SAMPLE_CONTEXT[field] for field in EVENTS[event].fields}


def test_every_event_is_in_the_registry():
    assert set(EVENTS) == set(Event.values)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", Event.values)
def test_every_event_has_both_templates(event, language):
    for part in ["subject", "body"]:
        assert (Path(TEMPLATE_DIR) / template_name(event, part, language)).is_file()


def test_there_is_no_template_for_an_unknown_event():
    folders = {path.name for path in (Path(TEMPLATE_DIR) / "notifications").iterdir()}
    assert folders == set(Event.values)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", Event.values)
def test_it_renders_every_event(holder, event, language):
    rendered = render_text(event=event, language=language, context=context_for(event), recipient=holder)
    assert rendered.subject and "\n" not in rendered.subject
    assert "{" not in rendered.subject + rendered.body and "}" not in rendered.body
    assert "Dr Claire Martin" in rendered.body
    for field in {"order_reference", "card_number", "reason", "tracking_reference", "renewal_url"} & set(
        EVENTS[event].fields
    ):
        assert SAMPLE_CONTEXT[field] in rendered.body


def test_it_speaks_the_messages_language(holder):
    context = context_for("renewal_due")
    french = render_text(event="renewal_due", language="fr", context=context, recipient=holder)
    english = render_text(event="renewal_due", language="en", context=context, recipient=holder)
    assert "expire le 24 février 2027" in french.subject
    assert "Bonjour" in french.body
    assert "expires on Feb. 24, 2027" in english.subject
    assert "Hello" in english.body


def test_it_does_not_html_escape_plain_text(holder):
    context = {**context_for("order_rejected"), "reason": "Pièce d'identité <illisible> & périmée"}
    rendered = render_text(event="order_rejected", language="fr", context=context, recipient=holder)
    assert "Pièce d'identité <illisible> & périmée" in rendered.body


@pytest.mark.parametrize(
    ("amount", "language", "expected"),
    [("36.00", "fr", "36,00\u00a0€"), ("36", "en", "€36.00"), ("0", "fr", "gratuit"), ("0.00", "en", "free")],
)
def test_replacement_tells_whether_it_is_paid(holder, amount, language, expected):
    context = {**context_for("replacement_ordered"), "amount": amount}
    rendered = render_text(event="replacement_ordered", language=language, context=context, recipient=holder)
    assert expected in rendered.body


@pytest.mark.parametrize(
    ("automatic", "expected"), [(False, "en un clic"), (True, "renouvellement automatique")]
)
def test_a_renewal_reminder_says_whether_the_holder_must_act(holder, automatic, expected):
    context = {**context_for("renewal_due"), "automatic": automatic}
    rendered = render_text(event="renewal_due", language="fr", context=context, recipient=holder)
    assert expected in rendered.body
