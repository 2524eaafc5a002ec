from django.apps import AppConfig


class EcpsConfig(AppConfig):
    name = "ecps"
    verbose_name = "e-CPS"
