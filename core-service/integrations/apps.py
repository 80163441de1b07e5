from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Core's outbound calls to other services (the ai service's client, its check command)."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
