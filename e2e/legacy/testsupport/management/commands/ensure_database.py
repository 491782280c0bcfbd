"""ensure_database: create the configured PostgreSQL database if it is missing.

Connects to the server's `postgres` maintenance database with the same host,
port and user as the app, so `migrate` can run on a fresh cluster. Waits a
little for the server to accept connections (run.sh may start right after it).
"""
import time

import psycopg
from psycopg import sql
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the configured database if it does not exist."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the server")

    def handle(self, *args, **opts):
        db = settings.DATABASES["default"]
        params = dict(
            dbname="postgres",
            user=db["USER"],
            host=db["HOST"],
            port=db["PORT"],
            autocommit=True,
            connect_timeout=5,
        )
        if db.get("PASSWORD"):
            params["password"] = db["PASSWORD"]

        deadline = time.monotonic() + opts["wait"]
        while True:
            try:
                conn = psycopg.connect(**params)
                break
            except psycopg.OperationalError as e:
                if time.monotonic() >= deadline:
                    raise CommandError(f"cannot reach PostgreSQL at {db['HOST']}:{db['PORT']}: {e}")
                time.sleep(0.5)

        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (db["NAME"],)
            ).fetchone()
            if exists:
                self.stdout.write(f"database {db['NAME']} exists")
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            except psycopg.errors.DuplicateDatabase:
                pass  # created concurrently
            self.stdout.write(f"created database {db['NAME']}")
