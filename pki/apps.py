from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "pki"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            ca_approvals,
            checks,  # noqa: F401  (registers the deploy checks)
        )

        ca_approvals.register()  # the CA operations a second person approves
