"""Routes under /o/ served by the e-CPS before django-oauth-toolkit's own (config/urls.py includes this
first): passkey-gated authorization, introspection for a token's own client and resource servers,
userinfo with header tokens only, a discovery document that says what the provider does, RP-initiated
logout, and no self-service clients nor device flow."""

from django.urls import path, re_path

from . import provider

urlpatterns = [
    path("authorize/", provider.EcpsAuthorizationView.as_view(), name="ecps-authorize"),
    path("introspect/", provider.EcpsIntrospectTokenView.as_view(), name="ecps-introspect"),
    path("userinfo/", provider.EcpsUserInfoView.as_view(), name="ecps-userinfo"),
    path("logout/", provider.EcpsLogoutView.as_view(), name="ecps-logout"),
    re_path(
        r"^\.well-known/(openid-configuration/?|oauth-authorization-server)$",
        provider.EcpsDiscoveryView.as_view(),
        name="ecps-discovery",
    ),
    re_path(
        r"^(applications|authorized_tokens|device|device-confirm|device-authorization|register)(/.*)?$",
        provider.not_offered,
    ),
]
