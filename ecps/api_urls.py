"""e-CPS routes under /api/v1/ (included by config/api_urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("ecps/", api.EcpsListView.as_view(), name="ecps-list"),
    path("ecps/sign-ins/", api.SignInEventListView.as_view(), name="ecps-sign-in-list"),
    path("ecps/relying-parties/", api.RelyingPartyListView.as_view(), name="ecps-relying-party-list"),
    path("ecps/<int:ecps_id>/", api.EcpsDetailView.as_view(), name="ecps-detail"),
    path("ecps/<int:ecps_id>/opposition/", api.EcpsOppositionView.as_view(), name="ecps-opposition"),
    path("ecps/<int:ecps_id>/suspension/", api.EcpsSuspensionView.as_view(), name="ecps-suspension"),
]
