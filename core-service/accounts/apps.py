from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rest_framework_simplejwt import state

        from accounts.tokens import KidTokenBackend

        # simplejwt builds its backend from settings; ours adds `kid` to the
        # header so JWKS verifiers can rotate keys.
        state.token_backend = KidTokenBackend.from_state(state.token_backend)
