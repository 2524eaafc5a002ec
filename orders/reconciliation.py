"""Bank-statement reconciliation: ANS uploads the bank's ISO 20022 ``camt.053`` statement, and every
transfer that quotes an order's reference (``orders.payments.transfer_reference``) for the exact fee of an
order awaiting payment pays it.

The file is read whole before anything is written (``parse_statement``): a malformed one is refused with the
line and element at fault (``StatementInvalid``) and changes nothing. It is parsed with ``defusedxml`` when
installed; otherwise any DTD is refused (no ``<!DOCTYPE``, so no entity can be declared or expanded).
Versions ``camt.053.001.02`` and later are read (``urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN``):
the elements used here kept their place, except the entry status (``Sts`` or ``Sts/Cd``) and the debtor's name
(``RltdPties/Dbtr/Nm`` or ``RltdPties/Dbtr/Pty/Nm``), both read.

Then, in one transaction (``statement_reconcile``): a statement already imported (the same account and
statement ``Id``, or the same file) is refused (``StatementAlreadyImported``); every transaction
(``Ntry/NtryDtls/TxDtls``, or the entry itself) is stored with its outcome. A booked euro credit whose
reference and amount match an order awaiting payment is recorded through ``payment_record`` (method transfer,
reference: the bank's ``AcctSvcrRef``), as the platform; an entry already reconciled (the same bank reference)
never pays again; the rest is listed for an operator (``BankStatementEntry.Outcome``).
"""

from __future__ import annotations

import datetime
import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.parsers import expat

from django.db import transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, NotPermitted
from core.roles import BACK_OFFICE, Role, role_of

from .models import BankStatement, BankStatementEntry, Order, Payment
from .payment_services import payment_record
from .payments import read_transfer_reference, transfer_reference
from .services import User, system_user

try:  # pragma: no cover - whichever is installed
    from defusedxml.ElementTree import fromstring as _safe_fromstring  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover
    _safe_fromstring = None

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$")
MAX_BYTES = 10 * 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class StatementInvalid(DomainError):
    code = "statement_invalid"
    status = 400
    default_message = _("This file is not a camt.053 bank statement.")


class StatementAlreadyImported(DomainError):
    code = "statement_already_imported"
    status = 409
    default_message = _("This statement was already imported: nothing was paid again.")


# --- reading the file ------------------------------------------------------------------------------------


@dataclass
class ParsedTransaction:
    entry_ref: str
    amount: Decimal
    currency: str
    credit: bool
    booked: bool
    reversal: bool
    booked_on: datetime.date | None
    remittance: str
    end_to_end_id: str
    debtor: str


@dataclass
class ParsedStatement:
    statement_id: str
    account_iban: str
    created_on: datetime.datetime | None
    transactions: list[ParsedTransaction] = field(default_factory=list)


@dataclass
class ParsedFile:
    namespace: str
    message_id: str
    statements: list[ParsedStatement]


class _Reader:
    """Navigates the parsed tree in the file's namespace and names the line of every element it blames."""

    def __init__(self, namespace: str, lines: dict[int, int]) -> None:
        self.ns = namespace
        self.lines = lines

    def q(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{part}" for part in path.split("/"))

    def find(self, element: ET.Element, path: str) -> ET.Element | None:
        return element.find(self.q(path))

    def findall(self, element: ET.Element, path: str) -> list[ET.Element]:
        return element.findall(self.q(path))

    def text(self, element: ET.Element, path: str) -> str:
        found = self.find(element, path)
        return (found.text or "").strip() if found is not None else ""

    def texts(self, element: ET.Element, path: str) -> list[str]:
        return [
            (found.text or "").strip() for found in self.findall(element, path) if (found.text or "").strip()
        ]

    def fail(self, element: ET.Element, where: str, problem: Any) -> StatementInvalid:
        line = self.lines.get(id(element), "?")
        message = _("Line %(line)s, element %(element)s: %(problem)s") % {
            "line": line,
            "element": where,
            "problem": problem,
        }
        return StatementInvalid(message, line=line, element=where)

    def required(self, element: ET.Element, path: str, where: str) -> ET.Element:
        found = self.find(element, path)
        if found is None:
            raise self.fail(element, where, _("%(child)s is missing.") % {"child": path})
        return found

    def amount(self, element: ET.Element, where: str) -> tuple[Decimal, str]:
        text = (element.text or "").strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.fail(element, where, _("%(text)r is not an amount.") % {"text": text}) from None
        if not value.is_finite() or value < 0 or value.as_tuple().exponent < -5:  # type: ignore[operator]
            raise self.fail(element, where, _("%(text)r is not an amount.") % {"text": text})
        currency = element.get("Ccy", "")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.fail(element, where, _("the currency (attribute Ccy) is missing."))
        return value, currency


class _DtdRefused(Exception):
    pass


def _refuse_dtd(*args: Any) -> None:
    raise _DtdRefused()


def _parse_xml(content: bytes) -> tuple[ET.Element, dict[int, int]]:
    """The root element and the line of every element (to name it in an error), read by expat directly:
    a DTD (``<!DOCTYPE``), hence any entity declaration, is refused before anything is expanded."""
    if _DTD.search(content):
        raise StatementInvalid(_("The file declares a DTD or entities (<!DOCTYPE>): refused."))
    if _safe_fromstring is not None:
        try:
            _safe_fromstring(content)
        except ET.ParseError:
            pass  # reported with its line below
        except Exception as error:  # defusedxml's DTDForbidden, EntitiesForbidden...
            raise StatementInvalid(_("The file was refused: %(error)s") % {"error": error}) from None
    parser = expat.ParserCreate(namespace_separator="}")
    lines: dict[int, int] = {}
    stack: list[ET.Element] = []
    roots: list[ET.Element] = []

    def qualified(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        element = ET.Element(qualified(name), {qualified(k): v for k, v in attrs.items()})
        lines[id(element)] = parser.CurrentLineNumber
        if stack:
            stack[-1].append(element)
        else:
            roots.append(element)
        stack.append(element)

    def end(name: str) -> None:
        stack.pop()

    def data(text: str) -> None:
        if stack:
            element = stack[-1]
            if len(element):
                last = element[-1]
                last.tail = (last.tail or "") + text
            else:
                element.text = (element.text or "") + text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    try:
        parser.Parse(content, True)
    except _DtdRefused:
        raise StatementInvalid(_("The file declares a DTD or entities (<!DOCTYPE>): refused.")) from None
    except expat.ExpatError as error:
        raise StatementInvalid(
            _("Line %(line)s, column %(column)s: the file is not well-formed XML.")
            % {"line": error.lineno, "column": error.offset + 1},
            line=error.lineno,
        ) from None
    return roots[0], lines


def parse_statement(content: bytes) -> ParsedFile:
    """Read a camt.053 file whole, or refuse it (``StatementInvalid``) naming the line and the element."""
    if len(content) > MAX_BYTES:
        raise StatementInvalid(_("The file is larger than 10 MB."))
    root, lines = _parse_xml(content)
    namespace, _sep, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document" or not NAMESPACE.match(namespace):
        found = f"{local} ({namespace or _('no namespace')})"
        raise StatementInvalid(
            _("Line %(line)s: the root element is %(found)s, not a camt.053.001 Document.")
            % {"line": lines.get(id(root), 1), "found": found}
        )
    if int(NAMESPACE.match(namespace).group(1)) < 2:  # type: ignore[union-attr]
        raise StatementInvalid(_("camt.053.001.01 is not supported; version 02 or later is."))
    r = _Reader(namespace, lines)
    report = r.required(root, "BkToCstmrStmt", "Document")
    message_id = r.text(report, "GrpHdr/MsgId")
    statements_xml = r.findall(report, "Stmt")
    if not statements_xml:
        raise r.fail(report, "BkToCstmrStmt", _("the file holds no statement (Stmt)."))
    statements = [_statement(r, stmt, index) for index, stmt in enumerate(statements_xml, 1)]
    return ParsedFile(namespace=namespace, message_id=message_id[:35], statements=statements)


def _statement(r: _Reader, stmt: ET.Element, index: int) -> ParsedStatement:
    where = f"Stmt[{index}]"
    statement_id = r.text(stmt, "Id")
    if not statement_id:
        raise r.fail(stmt, where, _("%(child)s is missing.") % {"child": "Id"})
    created = r.text(stmt, "CreDtTm")
    parsed = ParsedStatement(
        statement_id=statement_id[:35],
        account_iban=r.text(stmt, "Acct/Id/IBAN").replace(" ", "").upper()[:34],
        created_on=parse_datetime(created) if created else None,
    )
    for number, entry in enumerate(r.findall(stmt, "Ntry"), 1):
        parsed.transactions += _entry(r, entry, f"{where}/Ntry[{number}]", statement_id, number)
    return parsed


def _entry(
    r: _Reader, entry: ET.Element, where: str, statement_id: str, number: int
) -> list[ParsedTransaction]:
    amount, currency = r.amount(r.required(entry, "Amt", where), f"{where}/Amt")
    indicator = r.text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise r.fail(
            entry, f"{where}/CdtDbtInd", _("CRDT or DBIT expected, not %(text)r.") % {"text": indicator}
        )
    status = r.text(entry, "Sts/Cd") or r.text(entry, "Sts")
    booked_text = r.text(entry, "BookgDt/Dt") or r.text(entry, "BookgDt/DtTm")[:10]
    booked_on = parse_date(booked_text) if booked_text else None
    if booked_text and booked_on is None:
        raise r.fail(entry, f"{where}/BookgDt", _("%(text)r is not a date.") % {"text": booked_text})
    entry_ref = r.text(entry, "AcctSvcrRef") or r.text(entry, "NtryRef")
    credit, booked, reversal = (
        indicator == "CRDT",
        status == "BOOK",
        r.text(entry, "RvslInd").lower() == "true",
    )
    details = [tx for dtls in r.findall(entry, "NtryDtls") for tx in r.findall(dtls, "TxDtls")]
    if not details:
        ref = entry_ref or f"{statement_id}/{number}"
        return [
            ParsedTransaction(
                entry_ref=ref[:140],
                amount=amount,
                currency=currency,
                remittance="",
                end_to_end_id="",
                debtor="",
                credit=credit,
                booked=booked,
                reversal=reversal,
                booked_on=booked_on,
            )
        ]
    transactions = []
    for index, tx in enumerate(details, 1):
        tx_where = f"{where}/NtryDtls/TxDtls[{index}]"
        tx_amount_element = r.find(tx, "Amt")
        if tx_amount_element is None:  # (an Element with no children is falsy: no ``or`` here)
            tx_amount_element = r.find(tx, "AmtDtls/TxAmt/Amt")
        if tx_amount_element is not None:
            tx_amount, tx_currency = r.amount(tx_amount_element, f"{tx_where}/Amt")
        elif len(details) == 1:
            tx_amount, tx_currency = amount, currency
        else:
            raise r.fail(tx, tx_where, _("%(child)s is missing.") % {"child": "Amt"})
        end_to_end = r.text(tx, "Refs/EndToEndId")
        if end_to_end.upper() == "NOTPROVIDED":
            end_to_end = ""
        own_ref = r.text(tx, "Refs/AcctSvcrRef")
        if own_ref:
            ref = own_ref
        elif entry_ref:
            ref = entry_ref if len(details) == 1 else f"{entry_ref}/{index}"
        else:
            ref = end_to_end or f"{statement_id}/{number}/{index}"
        remittance = " ".join([*r.texts(tx, "RmtInf/Ustrd"), *r.texts(tx, "RmtInf/Strd/CdtrRefInf/Ref")])
        debtor = r.text(tx, "RltdPties/Dbtr/Nm") or r.text(tx, "RltdPties/Dbtr/Pty/Nm")
        transactions.append(
            ParsedTransaction(
                entry_ref=ref[:140],
                amount=tx_amount,
                currency=tx_currency,
                remittance=remittance,
                end_to_end_id=end_to_end[:35],
                debtor=debtor[:140],
                credit=credit,
                booked=booked,
                reversal=reversal,
                booked_on=booked_on,
            )
        )
    return transactions


# --- reconciling ---------------------------------------------------------------------------------------


@dataclass
class Reconciliation:
    statements: list[BankStatement]

    @property
    def entries(self) -> list[BankStatementEntry]:
        return [entry for statement in self.statements for entry in statement.entries.all()]

    @property
    def matched(self) -> int:
        return sum(1 for entry in self.entries if entry.outcome == BankStatementEntry.Outcome.MATCHED)


def statement_reconcile(*, content: bytes, actor: User, filename: str = "") -> Reconciliation:
    """Import a camt.053 file and pay the orders its transfers settle (see the module's docstring)."""
    if role_of(actor) != Role.ANS_OPERATOR:
        raise NotPermitted(_("Bank statements are imported by ANS operators."))
    parsed = parse_statement(content)
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        earlier = BankStatement.objects.filter(sha256=digest).first()
        if earlier is not None:
            raise _already(earlier)
        statements = []
        platform = system_user()
        for item in parsed.statements:
            earlier = BankStatement.objects.filter(
                account_iban=item.account_iban, statement_id=item.statement_id
            ).first()
            if earlier is not None:
                raise _already(earlier)
            statement = BankStatement.objects.create(
                statement_id=item.statement_id,
                account_iban=item.account_iban,
                created_on=item.created_on,
                message_id=parsed.message_id,
                namespace=parsed.namespace[-20:],
                filename=filename[:255],
                sha256=digest,
                uploaded_by=actor,
            )
            for tx in item.transactions:
                _reconcile(statement, tx, platform)
            statements.append(statement)
    return Reconciliation(statements=statements)


def _already(earlier: BankStatement) -> StatementAlreadyImported:
    from core.formats import format_date

    message = _("Statement %(id)s was already imported on %(date)s: nothing was paid again.") % {
        "id": earlier.statement_id,
        "date": format_date(earlier.uploaded_at),
    }
    return StatementAlreadyImported(message, statement=earlier.pk)


def _reconcile(statement: BankStatement, tx: ParsedTransaction, platform: User) -> BankStatementEntry:
    Outcome = BankStatementEntry.Outcome
    order_id = read_transfer_reference(f"{tx.remittance} {tx.end_to_end_id}")
    entry = BankStatementEntry(
        statement=statement,
        entry_ref=tx.entry_ref,
        amount=tx.amount,
        currency=tx.currency,
        credit=tx.credit and not tx.reversal,
        booked_on=tx.booked_on,
        remittance=tx.remittance,
        end_to_end_id=tx.end_to_end_id,
        debtor=tx.debtor,
        transfer_reference=transfer_reference(order_id) if order_id is not None else "",
    )
    order = Order.objects.filter(pk=order_id).first() if order_id is not None else None
    entry.order = order
    entry.outcome = _outcome(tx, order)
    if entry.outcome == Outcome.MATCHED:
        assert order is not None
        try:
            entry.payment = payment_record(
                order=order,
                actor=platform,
                amount=tx.amount,
                method=Payment.Method.TRANSFER,
                reference=tx.entry_ref[:100],
            )
        except DomainError:  # changed meanwhile (paid, cancelled): for an operator to look at
            entry.outcome = Outcome.NOT_AWAITING
    entry.save()
    return entry


def _outcome(tx: ParsedTransaction, order: Order | None) -> str:
    Outcome = BankStatementEntry.Outcome
    if not tx.credit or tx.reversal:
        return Outcome.DEBIT
    if not tx.booked:
        return Outcome.NOT_BOOKED
    if tx.currency != "EUR":
        return Outcome.OTHER_CURRENCY
    already = BankStatementEntry.objects.filter(entry_ref=tx.entry_ref, outcome=Outcome.MATCHED).exists()
    if already or Payment.objects.filter(method=Payment.Method.TRANSFER, reference=tx.entry_ref).exists():
        return Outcome.ALREADY_IMPORTED
    if order is None:
        return Outcome.UNKNOWN_REFERENCE
    if order.state != Order.State.AWAITING_PAYMENT:
        paid = Payment.objects.filter(order=order).exists()
        return Outcome.ALREADY_PAID if paid else Outcome.NOT_AWAITING
    if order.fee is None or tx.amount != order.fee:
        return Outcome.WRONG_AMOUNT
    return Outcome.MATCHED


def statements_visible_to(actor: User) -> QuerySet[BankStatement]:
    """ANS operators and auditors see the imported statements; nobody else."""
    if role_of(actor) in BACK_OFFICE and role_of(actor) != Role.AUTHORITY_OPERATOR:
        return BankStatement.objects.all()
    return BankStatement.objects.none()
