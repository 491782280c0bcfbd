"""seed_user --username U --password P [--email E] [--staff]

Creates the user or, when it exists, resets its password, email (if given) and
flags. Safe to run on every start of the dev stack.
"""
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update a user (idempotent), e.g. the dev admin."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default=None)
        parser.add_argument(
            "--staff",
            action="store_true",
            help="mark the user is_staff and is_superuser (the admin flag the migration maps to is_admin)",
        )

    def handle(self, *args, **opts):
        user, created = User.objects.get_or_create(username=opts["username"])
        user.set_password(opts["password"])
        if opts["email"] is not None:
            user.email = User.objects.normalize_email(opts["email"])
        user.is_active = True
        user.is_staff = opts["staff"]
        user.is_superuser = opts["staff"]
        user.save()
        self.stdout.write(
            f"{'created' if created else 'updated'} user {user.username} (id {user.id}, staff={user.is_staff})"
        )
