"""`python manage.py check_ai`: can core reach the ai service with its
service token? Prints the ai's health, or exits 1 with the reason."""

from django.core.management.base import BaseCommand, CommandError

from integrations.ai import AiClient, AiUnavailable


class Command(BaseCommand):
    help = "Call the ai service's internal health route with the service token."

    def add_arguments(self, parser):
        parser.add_argument("--request-id", help="X-Request-ID to send (default: a new one)")

    def handle(self, *args, **options):
        try:
            health = AiClient().health(request_id=options.get("request_id"))
        except AiUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(health.model_dump_json())
