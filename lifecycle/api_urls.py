"""Lifecycle routes under /api/v1/ (included by config/api_urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, api_cards, api_codes, api_policies, api_status

router = SimpleRouter()
router.register("cards", api_cards.CardViewSet, basename="card")

urlpatterns = [
    *router.urls,
    path("cards/<int:card_id>/opposition/", api.CardOppositionView.as_view(), name="card-opposition"),
    path("cards/<int:card_id>/activation/", api.CardActivationView.as_view(), name="card-activation"),
    path(
        "cards/<int:card_id>/activation/challenge/",
        api.CardActivationChallengeView.as_view(),
        name="card-activation-challenge",
    ),
    path(
        "cards/<int:card_id>/codes-reissue/",
        api_codes.CardCodesReissueView.as_view(),
        name="card-codes-reissue",
    ),
    path(
        "cards/<int:card_id>/unblock-requests/",
        api_codes.CardUnblockRequestView.as_view(),
        name="card-unblock",
    ),
    path(
        "unblock-requests/<int:request_id>/", api_codes.UnblockRequestView.as_view(), name="unblock-request"
    ),
    path(
        "unblock-requests/<int:request_id>/response/",
        api_codes.UnblockResponseView.as_view(),
        name="unblock-response",
    ),
    # The token is POSTed in the body (never in a URL); the old form with it in the path answers 410.
    path("renewal-links/preview/", api.RenewalLinkPreviewView.as_view(), name="renewal-link-preview"),
    path("renewal-links/confirm/", api.RenewalLinkConfirmView.as_view(), name="renewal-link"),
    path("renewal-links/<str:token>/", api.RenewalLinkLegacyView.as_view(), name="renewal-link-legacy"),
    path("shipping-batches/", api.ShippingBatchListView.as_view(), name="shipping-batch-list"),
    path(
        "shipping-batches/<int:batch_id>/",
        api.ShippingBatchDetailView.as_view(),
        name="shipping-batch-detail",
    ),
    # Relying parties (integrator scope card-status): what the national directory publishes of a card.
    path("card-status/", api_status.CardStatusListView.as_view(), name="card-status-list"),
    path("card-status/<path:number>", api_status.CardStatusView.as_view(), name="card-status"),
    path("auto-renewal-policies/", api.AutoRenewalPolicyListView.as_view(), name="auto-renewal-policy-list"),
    path(
        "auto-renewal-policies/<str:profession>/",
        api.AutoRenewalPolicyView.as_view(),
        name="auto-renewal-policy",
    ),
    path("policies/", api_policies.IssuancePolicyListView.as_view(), name="issuance-policy-list"),
    path(
        "policies/<str:card_type>/<str:trigger>/",
        api_policies.IssuancePolicyView.as_view(),
        name="issuance-policy",
    ),
    path(
        "policies/<str:card_type>/<str:trigger>/<str:profession>/",
        api_policies.IssuancePolicyProfessionView.as_view(),
        name="issuance-policy-profession",
    ),
]
