"""The bank statements' API view (``orders.api_payments.BankStatementsView``): import and list; the same rules
as the page (ANS operators import, a malformed file is a 400, a second import a 409)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIRequestFactory, force_authenticate

from orders.api_payments import BankStatementsView
from orders.models import Order
from orders.payments import transfer_reference
from tests.factories import persona

from .helpers import doctor_order
from .test_reconciliation import camt053

pytestmark = pytest.mark.django_db


def call(user, method: str, content: bytes | None = None):
    factory = APIRequestFactory()
    if method == "post":
        upload = SimpleUploadedFile("releve.xml", content or b"", content_type="application/xml")
        request = factory.post("/api/v1/bank_statements/", {"statement": upload}, format="multipart")
    else:
        request = factory.get("/api/v1/bank_statements/")
    force_authenticate(request, user=user)
    return BankStatementsView.as_view()(request)


def test_an_ans_operator_imports_a_statement_through_the_api():
    ans = persona("ans_operator")
    order = doctor_order("awaiting_payment")
    content = camt053([("BQ-API-1", "36.00", transfer_reference(order.pk))])
    created = call(ans, "post", content)
    assert created.status_code == 201
    assert created.data[0]["entries"][0]["outcome"] == "matched"
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED
    assert call(ans, "post", content).status_code == 409
    assert call(ans, "post", b"<Document>").status_code == 400
    listed = call(persona("auditor"), "get")
    assert listed.status_code == 200 and [s["statement_id"] for s in listed.data] == ["STMT-1"]


def test_only_ans_operators_import():
    cnom = persona("authority_operator", authority="CNOM")
    assert call(cnom, "post", camt053([("B", "1.00", "x")])).status_code == 403
    assert call(cnom, "get").data == []
