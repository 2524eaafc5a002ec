from django.apps import AppConfig
from django.conf import settings


class EcpsConfig(AppConfig):
    name = "ecps"
    verbose_name = "e-CPS"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django_fsm.signals import post_transition

        from cards.models import Card

        from . import keys, signals, struck_off  # noqa: F401 (struck_off: its import receiver)

        # The OpenID Connect provider's signing key when the environment gives none (settings import no app).
        keys.provide(settings.OAUTH2_PROVIDER, settings.CPX_OIDC_KEY_FILE)
        post_transition.connect(signals.card_transitioned, sender=Card, dispatch_uid="ecps_card_opposed")
        user_logged_out.connect(signals.signed_out, dispatch_uid="ecps_signed_out")
