"""The activation code never travels in a URL a server sees, and is never logged: the QR code carries it in
the URL's fragment, "Use this device" posts it, and a code in a query string is ignored."""

from __future__ import annotations

import logging
import re

import pytest
import segno
from django.core import mail

from .helpers import codes_from

pytestmark = pytest.mark.django_db


def _code_page(client, doctor, doctor_user, sms):
    client.force_login(doctor_user)
    started = client.post(f"/ecps/exercises/{doctor.pk}/activate-with-codes/")
    email_code, sms_code = codes_from(mail.outbox, sms)
    page = client.post(started["Location"], {"email_code": email_code, "sms_code": sms_code})
    assert page.status_code == 200
    body = page.content.decode()
    code = re.search(r'name="code" value="([^"]+)"', body)
    assert code is not None
    return body, code.group(1)


def test_the_qr_code_carries_the_code_in_the_fragment(client, doctor, doctor_user, sms):
    body, code = _code_page(client, doctor, doctor_user, sms)
    expected = segno.make(f"http://testserver/ecps/enrol/#code={code}", error="m").svg_inline(scale=5)
    shown = re.search(r'<svg[^>]*class="segno">.*?</svg>', body, re.S)
    assert shown is not None
    path = re.compile(r'<path[^>]* d="([^"]+)"')
    assert path.search(shown.group(0)).group(1) == path.search(expected).group(1)  # type: ignore[union-attr]
    assert f"?code={code}" not in body and "?code=" not in body


def test_use_this_device_posts_the_code(client, doctor, doctor_user, sms):
    body, code = _code_page(client, doctor, doctor_user, sms)
    assert re.search(r'<form method="post" action="/ecps/enrol/">', body)
    page = client.post("/ecps/enrol/", {"code": code})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert f'value="{code}"' in page.content.decode()


def test_a_code_in_the_query_string_is_ignored(client, doctor, doctor_user, sms):
    _body, code = _code_page(client, doctor, doctor_user, sms)
    page = client.get(f"/ecps/enrol/?code={code}")
    assert page.status_code == 200
    assert re.search(r'name="code" value=""', page.content.decode())  # not taken up into the form


def test_the_enrolment_page_reads_the_fragment_then_wipes_it():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "ecps/static/ecps/webauthn.js").read_text()
    assert "window.location.hash" in script and "history.replaceState" in script


def test_the_code_is_never_logged(client, doctor, doctor_user, sms, authenticator, enrol, caplog):
    caplog.set_level(logging.DEBUG)
    _body, code = _code_page(client, doctor, doctor_user, sms)
    client.post("/ecps/enrol/", {"code": code})
    client.get(f"/ecps/enrol/?code={code}")
    assert client.post(
        "/ecps/enrol/options/", {"code": "000000"}, content_type="application/json"
    ).status_code
    response = enrol(code, authenticator)
    assert response.status_code == 200
    replay = client.post("/ecps/enrol/options/", {"code": code}, content_type="application/json")
    assert replay.status_code in (400, 403, 409, 410, 422)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, 'request', '')!r}" for r in caplog.records)
    assert caplog.records  # something was logged (the refusals), but never the code
    assert code not in logged and code.replace("-", "") not in logged
