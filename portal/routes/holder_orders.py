"""The holder's order pages (included by portal/urls.py under the portal namespace): ordering a first card,
submitting a draft, ordering again after a rejection."""

from __future__ import annotations

from django.urls import URLPattern, path

from portal.views import holder, holder_orders

urlpatterns: list[URLPattern] = [
    path("orders/new/", holder_orders.order_new, name="order-new"),
    path("orders/<int:pk>/submit/", holder.order_submit, name="order-submit"),
    path("orders/<int:pk>/again/", holder_orders.order_again, name="order-again"),
]
