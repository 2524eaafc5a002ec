"""Portal routes of payments: the development provider's checkout, providers' notifications, bank-statement
reconciliation (included by portal/urls.py under the portal namespace; order-pay, order-paid and invoice are
declared there)."""

from __future__ import annotations

from django.urls import URLPattern, path

from ..views import devpay, payment, reconciliation

urlpatterns: list[URLPattern] = [
    path("dev-payments/<str:reference>/", devpay.checkout, name="devpay-checkout"),
    path("payments/notify/", payment.payment_notify, name="payment-notify"),
    path("backoffice/reconciliation/", reconciliation.reconcile, name="reconcile"),
    path("backoffice/reconciliation/<int:pk>/", reconciliation.statement, name="reconcile-statement"),
]
