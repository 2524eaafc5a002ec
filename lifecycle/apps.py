from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Card lifecycle"

    def ready(self) -> None:
        # codes, helpdesk: the two-person approvals of the codes re-issue and the unblock. Issue 16: the
        # registry drives the cards; policies, registry_driven and struck_off connect their own receivers
        # when imported (registry.signals.extraction_merged, in the import's transaction; Authority's
        # post_save).
        from django.db.models.signals import post_migrate

        from . import codes, helpdesk, policies, registry_driven, struck_off  # noqa: F401

        post_migrate.connect(policies.policies_ensure_all, sender=self, dispatch_uid="lifecycle_policies")
        codes.register_approvals()
        helpdesk.register_approvals()
