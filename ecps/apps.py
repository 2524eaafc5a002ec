from django.apps import AppConfig
from django.conf import settings

from . import keys


class EcpsConfig(AppConfig):
    name = "ecps"
    verbose_name = "e-CPS"

    def ready(self) -> None:
        # The OpenID Connect provider's signing key when the environment gives none (settings import no app).
        keys.provide(settings.OAUTH2_PROVIDER, settings.CPX_OIDC_KEY_FILE)
