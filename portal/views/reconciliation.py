"""Bank-statement reconciliation in the back office: ANS operators upload the bank's camt.053 statement and
see what it paid and what is left to review; the auditor reads the statements (``orders.reconciliation``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.roles import Role
from core.web import for_roles
from orders.models import BankStatementEntry
from orders.reconciliation import (
    StatementAlreadyImported,
    StatementInvalid,
    statement_reconcile,
    statements_visible_to,
)
from registry.models import Account

MATCHED = BankStatementEntry.Outcome.MATCHED


@for_roles(Role.ANS_OPERATOR, Role.AUDITOR)
def reconcile(request: HttpRequest, account: Account) -> HttpResponse:
    error = ""
    earlier = None
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("statement")
        if upload is None:
            error, status = _("Choose the bank's statement file (camt.053, XML)."), 400
        else:
            try:
                result = statement_reconcile(
                    content=upload.read(), actor=request.user, filename=upload.name or ""
                )
            except StatementAlreadyImported as refused:
                error, status = refused.message, 409
                earlier = refused.extra.get("statement")
            except StatementInvalid as refused:
                error, status = refused.message, 400
            else:
                entries = result.entries
                paid = sum(1 for entry in entries if entry.outcome == MATCHED)
                review = len(entries) - paid
                paid_text = ngettext("%(n)s order paid", "%(n)s orders paid", paid) % {"n": paid}
                review_text = ngettext("%(n)s entry to review", "%(n)s entries to review", review) % {
                    "n": review
                }
                messages.success(
                    request,
                    _("Statement imported: %(paid)s, %(review)s.")
                    % {"paid": paid_text, "review": review_text},
                )
                return redirect("portal:reconcile-statement", pk=result.statements[0].pk)
    statements = (
        statements_visible_to(request.user)
        .annotate(
            entry_count=Count("entries"),
            matched_count=Count("entries", filter=Q(entries__outcome=MATCHED)),
            review_count=Count("entries", filter=~Q(entries__outcome=MATCHED)),
        )
        .order_by("-uploaded_at", "-id")
    )
    page = Paginator(statements, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "error": error,
        "earlier": earlier,
        "may_upload": account.role == Role.ANS_OPERATOR,
    }
    return render(request, "portal/backoffice/reconcile.html", context, status=status)


@for_roles(Role.ANS_OPERATOR, Role.AUDITOR)
def statement(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    found = get_object_or_404(statements_visible_to(request.user), pk=pk)
    entries = list(found.entries.select_related("order", "payment"))
    context = {
        "statement": found,
        "matched": [entry for entry in entries if entry.outcome == MATCHED],
        "review": [entry for entry in entries if entry.outcome != MATCHED],
    }
    return render(request, "portal/backoffice/reconcile_statement.html", context)
