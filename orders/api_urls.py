from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import TRANSITION_VIEWS, OrderViewSet
from .api_payments import (
    InvoiceView,
    OnlinePaymentConfirmView,
    OnlinePaymentStartView,
    PaymentViewSet,
    RecordPaymentView,
)
from .api_waivers import FeeWaiverView

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("payments", PaymentViewSet, basename="payment")

urlpatterns = [
    *router.urls,
    path("orders/<str:pk>/record_payment/", RecordPaymentView.as_view(), name="order-record-payment"),
    path("orders/<str:pk>/invoice/", InvoiceView.as_view(), name="order-invoice"),
    path("orders/<str:pk>/fee_waiver/", FeeWaiverView.as_view(), name="order-fee-waiver"),
    path("orders/<str:pk>/online_payment/", OnlinePaymentStartView.as_view(), name="order-online-payment"),
    path(
        "orders/<str:pk>/online_payment/confirm/",
        OnlinePaymentConfirmView.as_view(),
        name="order-online-payment-confirm",
    ),
    *(
        path(f"orders/<str:pk>/{name}/", view.as_view(), name=f"order-{name.replace('_', '-')}")
        for name, view in TRANSITION_VIEWS.items()
    ),
]
