"""Routes under /o/ served by the e-CPS before django-oauth-toolkit's own (config/urls.py includes this
first): passkey-gated authorization, introspection that knows revocations, and no self-service clients."""

from django.urls import path, re_path

from . import provider

urlpatterns = [
    path("authorize/", provider.EcpsAuthorizationView.as_view(), name="ecps-authorize"),
    path("introspect/", provider.EcpsIntrospectTokenView.as_view(), name="ecps-introspect"),
    re_path(
        r"^(applications|authorized_tokens|device|device-confirm|device-authorization)(/.*)?$",
        provider.not_offered,
    ),
]
