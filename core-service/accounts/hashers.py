from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class TunedArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id tuned for a 2-core machine: OWASP's minimum profile
    (19 MiB, t=2, p=1) keeps a login near 20 ms instead of Django's
    default 100 MiB / p=8, which alone would eat the 100 ms budget.
    Stored hashes carry their parameters, so raising them later re-hashes
    on next login (Django's must_update)."""

    algorithm = "argon2"

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_COST_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM
