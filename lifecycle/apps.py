from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Card lifecycle"

    def ready(self) -> None:
        from . import codes, helpdesk  # the two-person approvals of the codes re-issue and the unblock

        codes.register_approvals()
        helpdesk.register_approvals()
