"""WSGI entry point (gunicorn `legacy_site.wsgi:application`)."""
import os

from django.core.wsgi import get_wsgi_application

from legacy_site.chunked import spool_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_site.settings")

application = spool_chunked_bodies(get_wsgi_application())
