"""Demo accounts for `make run`: one staff user, one reader. Idempotent."""

from django.core.management.base import BaseCommand

from accounts.models import User

DEMO_USERS = [
    {"email": "admin@gaji.local", "username": "gaji_admin", "password": "GajiAdmin123", "is_staff": True},
    {"email": "reader@gaji.local", "username": "demo_reader", "password": "GajiReader123", "is_staff": False},
]


class Command(BaseCommand):
    help = "Create the demo staff user and demo reader if they do not exist."

    def handle(self, *args, **options):
        for spec in DEMO_USERS:
            user = User.objects.filter(email=spec["email"]).first()
            if user is None:
                user = User.objects.create_user(
                    email=spec["email"],
                    username=spec["username"],
                    password=spec["password"],
                    is_staff=spec["is_staff"],
                    is_superuser=spec["is_staff"],
                )
                state = "created"
            else:
                state = "exists"
            role = "staff " if spec["is_staff"] else "reader"
            self.stdout.write(f"  demo {role}  {spec['email']} / {spec['password']}  ({state})")
