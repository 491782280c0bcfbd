"""Test-only: waits the milliseconds written in LEGACY_DELAY_FILE (when it exists)
before every answer except the /__test__/ fixtures, so a test can make the legacy
side slow without restarting it (the workers share nothing else)."""
import time

from django.conf import settings


class DelayMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/__test__/"):
            try:
                with open(settings.DELAY_FILE) as fh:
                    ms = int(fh.read().strip() or "0")
            except (OSError, ValueError):
                ms = 0
            if ms > 0:
                time.sleep(ms / 1000)
        return self.get_response(request)
