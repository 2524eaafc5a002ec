from django.urls import path

from .views import approvals, auth, backoffice, codes, holder, manager, payment, production, renewal

app_name = "portal"

urlpatterns = [
    path("", auth.home, name="home"),
    # Holder (card pages are shared with structure managers for their staff)
    path("cards/", holder.cards, name="cards"),
    path("cards/<int:pk>/", holder.card_detail, name="card"),
    path("cards/<int:pk>/declare/", holder.card_declare, name="card-declare"),
    path("cards/<int:pk>/codes/", codes.card_codes, name="card-codes"),
    path("cards/<int:pk>/activate/", renewal.card_activate, name="card-activate"),
    path("renew/", renewal.renew, name="renew"),  # the token after "#", posted by the page's script
    path("renew/decline/", renewal.renew_decline, name="renew-decline"),  # the token after "#", as above
    path("renew/<str:token>/", renewal.renew_legacy, name="renew-legacy"),
    path("orders/", holder.orders, name="orders"),
    path("orders/<int:pk>/", holder.order_detail, name="order"),
    path("orders/<int:pk>/cancel/", holder.order_cancel, name="order-cancel"),
    path("orders/<int:pk>/decline-renewal/", renewal.order_decline_renewal, name="order-decline-renewal"),
    path("orders/<int:pk>/pay/", payment.order_pay, name="order-pay"),
    path("orders/<int:pk>/paid/", payment.order_paid, name="order-paid"),
    path("orders/<int:pk>/invoice/", payment.invoice, name="invoice"),
    path("messages/", holder.inbox, name="messages"),
    path("messages/read-all/", holder.messages_read_all, name="messages-read-all"),
    path("messages/<int:pk>/read/", holder.message_read, name="message-read"),
    # Structure manager
    path("structure/", manager.structure, name="structure"),
    path("structure/order/", manager.structure_order, name="structure-order"),
    # Operators
    path("backoffice/", backoffice.queue, name="queue"),
    path("backoffice/overdue/", backoffice.overdue, name="overdue"),
    path("backoffice/orders/<int:pk>/", backoffice.order_detail, name="bo-order"),
    path("backoffice/orders/<int:pk>/approve/", backoffice.order_approve, name="bo-approve"),
    path("backoffice/orders/<int:pk>/reject/", backoffice.order_reject, name="bo-reject"),
    path("backoffice/orders/<int:pk>/payment/", backoffice.order_record_payment, name="bo-payment"),
    path("backoffice/orders/<int:pk>/cancel/", backoffice.order_cancel, name="bo-cancel"),
    path("backoffice/orders/<int:pk>/fee-waiver/", backoffice.order_fee_waiver, name="bo-fee-waiver"),
    path("backoffice/orders/<int:pk>/requeue/", backoffice.order_requeue, name="bo-requeue"),
    path("backoffice/holders/", backoffice.holders, name="bo-holders"),
    path("backoffice/holders/<int:pk>/", backoffice.holder, name="bo-holder"),
    path("backoffice/production/", production.production, name="production"),
    path("backoffice/shipping/", production.shipping, name="shipping"),
    path("backoffice/imports/", production.imports, name="imports"),
    path("backoffice/imports/<int:pk>/rejects/", production.import_rejects, name="import-rejects"),
    path("backoffice/codes/", codes.help_desk, name="bo-codes"),
    path("backoffice/cards/<int:pk>/codes/", codes.card_help_desk, name="bo-card-codes"),
    path("backoffice/cards/<int:pk>/codes/reissue/", codes.card_reissue, name="bo-card-reissue"),
    path("backoffice/cards/<int:pk>/codes/unblock/", codes.card_unblock, name="bo-card-unblock"),
    path("backoffice/unblock-requests/<int:pk>/", codes.unblock_request, name="bo-unblock"),
    path("backoffice/unblock-requests/<int:pk>/response/", codes.unblock_reveal, name="bo-unblock-reveal"),
    path("backoffice/approvals/", approvals.approval_list, name="approvals"),
    path("backoffice/approvals/<int:pk>/", approvals.approval_detail, name="approval"),
    path("backoffice/approvals/<int:pk>/approve/", approvals.approval_approve, name="approval-approve"),
    path("backoffice/approvals/<int:pk>/reject/", approvals.approval_reject, name="approval-reject"),
    path("backoffice/approvals/<int:pk>/cancel/", approvals.approval_cancel, name="approval-cancel"),
]

# One module per area (portal/routes/), each adding its pages under the same namespace.
from .routes import dashboard, holder_orders, legal, operators, payments, policies, structure  # noqa: E402

for _area in (holder_orders, payments, structure, operators, dashboard, legal, policies):
    urlpatterns += _area.urlpatterns

from .routes import webhooks as _webhooks  # noqa: E402 - ANS's webhook pages (issue 16)

urlpatterns += _webhooks.urlpatterns
