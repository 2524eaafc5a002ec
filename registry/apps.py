from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_code_tables(sender, using="default", **kwargs) -> None:
    # The code tables are reference data, not test data: a flush (TransactionTestCase teardown) empties
    # them and then emits post_migrate, so they are restored here as well as by the data migration.
    from .codes import sync_code_tables

    sync_code_tables()


class RegistryConfig(AppConfig):
    name = "registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_sync_code_tables, sender=self, dispatch_uid="registry_code_tables")
        from . import account_audit  # operator role changes into the audit log

        account_audit.connect()
        from . import forced_import  # a forced full import needs a second operator's approval

        forced_import.register()
