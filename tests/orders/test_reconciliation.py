"""Bank-statement reconciliation from camt.053 (ISO 20022): transfers quoting an order's reference for its fee
pay it, through ``payment_record``; the rest is listed; nothing is paid twice; a malformed file changes
nothing. Samples: ``tests/orders/fixtures/camt053_*.xml`` (hand-written in the standard's structure)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from string import Template
from xml.sax.saxutils import escape

import pytest
from django.utils import translation

from core.errors import NotPermitted
from orders.models import BankStatement, BankStatementEntry, Order, OrderEvent, Payment
from orders.payments import transfer_reference
from orders.reconciliation import (
    StatementAlreadyImported,
    StatementInvalid,
    parse_statement,
    statement_reconcile,
)
from tests.factories import persona

from .helpers import FEE, doctor_order

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent / "fixtures"
Outcome = BankStatementEntry.Outcome
STMT_OPEN = (
    b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>S</Id>'
)
STMT_CLOSE = b"</Stmt></BkToCstmrStmt></Document>"


def sample(name: str, **values: object) -> bytes:
    return Template((FIXTURES / name).read_text()).substitute({k: str(v) for k, v in values.items()}).encode()


def camt053(
    entries: list[tuple[str, Decimal | str, str]], *, statement_id: str = "STMT-1", version: str = "02"
) -> bytes:
    """A camt.053 statement crediting each (bank reference, amount, remittance text) entry."""
    rows = "".join(
        f"""
      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>{"<Cd>BOOK</Cd>" if version >= "08" else "BOOK"}</Sts>
        <BookgDt><Dt>2026-12-01</Dt></BookgDt>
        <AcctSvcrRef>{escape(ref)}</AcctSvcrRef>
        <NtryDtls><TxDtls><RmtInf><Ustrd>{escape(text)}</Ustrd></RmtInf></TxDtls></NtryDtls>
      </Ntry>"""
        for ref, amount, text in entries
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-{statement_id}</MsgId><CreDtTm>2026-12-01T18:00:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{statement_id}</Id><CreDtTm>2026-12-01T18:00:00+01:00</CreDtTm>
      <Acct><Id><IBAN>FR7630001007941234567890185</IBAN></Id></Acct>{rows}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def ans():
    return persona("ans_operator")


def test_the_v02_sample_pays_the_order_and_lists_the_rest(ans):
    order = doctor_order("awaiting_payment")
    content = sample(
        "camt053_v02.xml",
        statement_id="2026-335",
        amount="36.00",
        entry_ref="BQ-1001",
        reference=transfer_reference(order.pk),
    )
    result = statement_reconcile(content=content, actor=ans, filename="releve.xml")
    assert result.matched == 1
    outcomes = [(entry.entry_ref, entry.outcome) for entry in result.entries]
    assert outcomes == [
        ("BQ-1001", Outcome.MATCHED),
        ("BQ-1001-2", Outcome.UNKNOWN_REFERENCE),
        ("BQ-1001-3", Outcome.DEBIT),
    ]
    payment = Payment.objects.get(order=order)
    assert (payment.method, payment.amount, payment.reference) == ("transfer", FEE, "BQ-1001")
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED
    assert OrderEvent.objects.filter(order=order, transition="record_payment").count() == 1
    matched = result.entries[0]
    assert matched.order_id == order.pk and matched.payment_id == payment.pk
    assert matched.debtor == "Claire MARTIN" and matched.transfer_reference == transfer_reference(order.pk)
    statement = result.statements[0]
    assert (statement.statement_id, statement.account_iban) == ("2026-335", "FR7630001007941234567890185")
    assert statement.uploaded_by == ans and statement.filename == "releve.xml"


def test_a_statement_imported_again_pays_nothing_twice(ans):
    order = doctor_order("awaiting_payment")
    content = camt053([("BQ-1", FEE, transfer_reference(order.pk))])
    statement_reconcile(content=content, actor=ans)
    with pytest.raises(StatementAlreadyImported, match="already imported"):
        statement_reconcile(content=content, actor=ans)
    # the same statement id re-sent in another file (reformatted): recognised too
    with pytest.raises(StatementAlreadyImported):
        statement_reconcile(content=content.replace(b"<Ntry>", b"<Ntry> "), actor=ans)
    assert Payment.objects.filter(order=order).count() == 1
    assert BankStatement.objects.count() == 1


def test_an_entry_repeated_by_another_statement_is_recognised(ans):
    order = doctor_order("awaiting_payment")
    statement_reconcile(
        content=camt053([("BQ-7", FEE, transfer_reference(order.pk))], statement_id="S1"), actor=ans
    )
    again = statement_reconcile(
        content=camt053([("BQ-7", FEE, transfer_reference(order.pk))], statement_id="S2"), actor=ans
    )
    assert [entry.outcome for entry in again.entries] == [Outcome.ALREADY_IMPORTED]
    assert Payment.objects.filter(order=order).count() == 1


def test_what_does_not_match_is_listed_for_review(ans):
    wrong_amount = doctor_order("awaiting_payment")
    paid = doctor_order("awaiting_payment")
    statement_reconcile(
        content=camt053([("BQ-P", FEE, transfer_reference(paid.pk))], statement_id="S0"), actor=ans
    )
    draft = doctor_order("submitted")
    entries = [
        ("BQ-A", "35.00", transfer_reference(wrong_amount.pk)),
        ("BQ-B", FEE, f"second transfer {transfer_reference(paid.pk)}"),
        ("BQ-C", FEE, transfer_reference(draft.pk)),
        ("BQ-D", FEE, "CPX-999999-00"),  # wrong check digits: no reference read
        ("BQ-E", FEE, transfer_reference(99999999)),  # no such order
    ]
    result = statement_reconcile(content=camt053(entries, statement_id="S1"), actor=ans)
    assert [entry.outcome for entry in result.entries] == [
        Outcome.WRONG_AMOUNT,
        Outcome.ALREADY_PAID,
        Outcome.NOT_AWAITING,
        Outcome.UNKNOWN_REFERENCE,
        Outcome.UNKNOWN_REFERENCE,
    ]
    assert result.matched == 0
    assert Order.objects.get(pk=wrong_amount.pk).state == Order.State.AWAITING_PAYMENT
    assert Payment.objects.filter(order=paid).count() == 1


def test_two_transfers_for_one_order_in_a_statement_pay_it_once(ans):
    order = doctor_order("awaiting_payment")
    ref = transfer_reference(order.pk)
    result = statement_reconcile(content=camt053([("BQ-1", FEE, ref), ("BQ-2", FEE, ref)]), actor=ans)
    assert [entry.outcome for entry in result.entries] == [Outcome.MATCHED, Outcome.ALREADY_PAID]


def test_the_v08_sample_with_a_batch_pays_each_transaction(ans):
    first, second = doctor_order("awaiting_payment"), doctor_order("awaiting_payment")
    content = sample(
        "camt053_v08.xml",
        statement_id="2026-336",
        entry_ref="BQ-9",
        batch_total="72.00",
        amount_a="36.00",
        reference_a=transfer_reference(first.pk),
        amount_b="36.00",
        reference_b=transfer_reference(second.pk),
    )
    result = statement_reconcile(content=content, actor=ans)
    assert [(entry.entry_ref, entry.outcome) for entry in result.entries] == [
        ("BQ-9-A", Outcome.MATCHED),
        ("BQ-9-B", Outcome.MATCHED),
    ]
    assert result.entries[0].debtor == "Paul DURAND" and result.entries[1].end_to_end_id
    assert Payment.objects.get(order=first).reference == "BQ-9-A"
    assert Payment.objects.get(order=second).reference == "BQ-9-B"
    assert result.statements[0].namespace.endswith("camt.053.001.08")


def test_a_malformed_file_is_refused_whole_and_names_the_line(ans):
    order = doctor_order("awaiting_payment")
    content = sample(
        "camt053_malformed_amount.xml",
        statement_id="BAD-1",
        amount="36.00",
        entry_ref="BQ-X",
        reference=transfer_reference(order.pk),
    )
    line = next(n for n, text in enumerate(content.decode().splitlines(), 1) if "36,00" in text)
    with pytest.raises(StatementInvalid) as refused:
        statement_reconcile(content=content, actor=ans)
    assert f"Line {line}" in refused.value.message and "Stmt[1]/Ntry[2]/Amt" in refused.value.message
    assert not BankStatement.objects.exists() and not Payment.objects.exists()
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<Document><BkToCstmrStmt>", "Line 1, column"),
        (b"not xml at all", "not well-formed"),
        (
            b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
            "root element",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>',
            "no statement",
        ),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x "CPX-1-95">]>\n'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&x;</Document>',
            "DTD",
        ),
        (
            STMT_OPEN + b"<Ntry><Amt>36.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>" + STMT_CLOSE,
            "currency",
        ),
        (
            STMT_OPEN + b'<Ntry><Amt Ccy="EUR">36.00</Amt><CdtDbtInd>CREDIT</CdtDbtInd></Ntry>' + STMT_CLOSE,
            "CRDT or DBIT",
        ),
    ],
)
def test_what_is_not_a_camt053_statement_is_refused(ans, content, message):
    with pytest.raises(StatementInvalid, match=message):
        statement_reconcile(content=content, actor=ans)
    assert not BankStatement.objects.exists()


def test_later_versions_namespaces_are_read():
    for version in ("02", "04", "08", "10", "13"):
        parsed = parse_statement(camt053([("R", "36.00", "x")], version=version))
        assert parsed.statements[0].transactions[0].booked


def test_only_ans_operators_import_statements(ans):
    content = camt053([("BQ-1", FEE, "x")])
    for role, links in (("authority_operator", {"authority": "CNOM"}), ("auditor", {}), ("holder", {})):
        with pytest.raises(NotPermitted):
            statement_reconcile(content=content, actor=persona(role, **links))
    assert not BankStatement.objects.exists()
