from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health
from ecps.provider import EcpsDiscoveryView
from portal.views import auth as portal_auth

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("ping", health.ping, name="ping"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
    path("pki/", include("pki.urls")),
    path("accounts/login/", portal_auth.SignInView.as_view(), name="login"),
    path("accounts/logout/", portal_auth.SignOutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("ecps/", include("ecps.urls")),
    # The OpenID Connect provider: the e-CPS's own authorize and introspection views come first.
    path("o/", include("ecps.provider_urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    # The discovery document at the issuer's root too (OpenID Connect Discovery 1.0 §4, RFC 8414 §3).
    path(".well-known/openid-configuration", EcpsDiscoveryView.as_view(), name="oidc-discovery"),
    path(".well-known/oauth-authorization-server", EcpsDiscoveryView.as_view(), name="oauth-discovery"),
    path("", include("portal.urls")),
]

# The site's error answers (config.errors): the portal's pages in every mode, JSON under /api/.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.health.not_found"
handler500 = "config.errors.server_error"
