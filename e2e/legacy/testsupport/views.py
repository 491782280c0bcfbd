"""Fixture endpoints used to check the gateway's proxying (routed only when
LEGACY_TEST_ENDPOINTS=1). They are plain Django views: no authentication, no
CSRF, no slash redirects, and the echo body is hashed while streaming."""
import hashlib
import json
import time
from http.cookies import Morsel

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import rawheaders

CHUNK = 64 * 1024


def _headers_from_environ(environ):
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append([key[5:].replace("_", "-").lower(), value])
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append([key.replace("_", "-").lower(), value])
    return headers


def _stream_body(environ):
    """Yield the raw request body: Content-Length bytes, or up to the end of a
    chunked body (gunicorn terminates wsgi.input for those)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        remaining = int(length)
        while remaining > 0:
            block = stream.read(min(CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    elif environ.get("wsgi.input_terminated"):
        while True:
            block = stream.read(CHUNK)
            if not block:
                break
            yield block


@csrf_exempt
def echo(request):
    environ = request.environ
    digest = hashlib.sha256()
    length = 0
    for block in _stream_body(environ):
        digest.update(block)
        length += len(block)

    raw = rawheaders.recall(environ.get("RAW_URI"))
    if raw is not None:
        headers = [[name.lower(), value] for name, value in raw]
    else:
        headers = _headers_from_environ(environ)

    return JsonResponse(
        {
            "method": request.method,
            "path": request.path,
            "raw_uri": environ.get("RAW_URI", request.get_full_path()),
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "remote_addr": environ.get("REMOTE_ADDR"),
            "body_sha256": digest.hexdigest(),
            "body_length": length,
        }
    )


class _RawCookie(Morsel):
    """A Set-Cookie value sent verbatim (Django would reorder attributes and
    add Expires next to Max-Age)."""

    def __init__(self, name, raw):
        super().__init__()
        self.set(name, raw.split(";", 1)[0].split("=", 1)[1], "")
        self._raw = raw

    def OutputString(self, attrs=None):
        return self._raw

    def output(self, attrs=None, header="Set-Cookie:"):
        return f"{header} {self._raw}".strip()


def cookies(request):
    response = JsonResponse({"cookies": ["a", "b", "c"]})
    for raw in ("a=1; Path=/", "b=2; Path=/; HttpOnly", "c=3; Path=/; Max-Age=60"):
        name = raw.split("=", 1)[0]
        response.cookies[name] = _RawCookie(name, raw)
    return response


def redirect(request):
    return HttpResponseRedirect("/__test__/echo?from=redirect")


def slow(request):
    try:
        ms = int(request.GET.get("ms", "0"))
    except ValueError:
        return JsonResponse({"error": "ms must be an integer"}, status=400)
    if ms < 0:
        return JsonResponse({"error": "ms must be >= 0"}, status=400)
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms})


@csrf_exempt
def status(request):
    try:
        code = int(request.GET.get("code", "200"))
    except ValueError:
        return JsonResponse({"error": "code must be an integer"}, status=400)
    if not 200 <= code <= 599:
        return JsonResponse({"error": "code must be within 200..599"}, status=400)
    if code in (204, 304):
        return HttpResponse(status=code)  # no body allowed
    return HttpResponse(
        json.dumps({"status": code}), status=code, content_type="application/json"
    )
