"""Request-body framing the way the legacy deployment saw it.

In production the legacy Django sat behind nginx, which buffers a request
body (to disk when large) and forwards it with a Content-Length. Django's WSGI
handler ignores bodies that arrive without Content-Length (it reads zero
bytes), so a chunked upload sent straight to gunicorn would look empty. This
wrapper spools such bodies to a temporary file (in memory only while small)
and sets CONTENT_LENGTH, so the stand-in behaves like nginx + Django.

The /__test__/ fixture routes are left alone: they read the raw stream
themselves to report exactly what arrived.
"""
import tempfile

SPOOL_IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024


def spool_chunked_bodies(app):
    def wrapper(environ, start_response):
        if (
            not environ.get("CONTENT_LENGTH")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            and not environ.get("PATH_INFO", "").startswith("/__test__/")
        ):
            source = environ["wsgi.input"]
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
            size = 0
            while True:
                block = source.read(CHUNK)
                if not block:
                    break
                spool.write(block)
                size += len(block)
            spool.seek(0)
            environ["wsgi.input"] = spool
            environ["CONTENT_LENGTH"] = str(size)
        return app(environ, start_response)

    return wrapper
