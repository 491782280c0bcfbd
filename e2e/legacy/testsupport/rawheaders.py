"""The request headers exactly as gunicorn parsed them.

WSGI folds repeated headers into one comma-joined value and loses the order,
so gunicorn's `pre_request` hook (gunicorn.conf.py) stores the parsed list
here, per worker thread, for /__test__/echo. No Django imports: the hook runs
inside gunicorn.
"""
import threading

_local = threading.local()


def remember(uri, headers):
    _local.value = (uri, [(name, value) for name, value in headers])


def recall(uri):
    value = getattr(_local, "value", None)
    if value is None or value[0] != uri:
        return None
    return value[1]
