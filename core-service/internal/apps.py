from django.apps import AppConfig


class InternalConfig(AppConfig):
    name = "internal"
    default_auto_field = "django.db.models.BigAutoField"
