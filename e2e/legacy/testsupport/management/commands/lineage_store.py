"""Makes the schema match LEGACY_LINEAGE_STORE: with "metadata" (the Neo4j era)
the lineage table does not exist, so it is dropped after `migrate` made it.
Idempotent; run by run.sh after `migrate`."""
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection


class Command(BaseCommand):
    help = "Drop the lineage table when LEGACY_LINEAGE_STORE=metadata."

    def handle(self, *args, **options):
        if settings.LINEAGE_STORE == "metadata":
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS list_cutter_filerelationship")
