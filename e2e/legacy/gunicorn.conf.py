"""gunicorn settings shared by run.sh.

- A hook handing the parsed request headers (repeats and order kept) to the
  /__test__/echo fixture.
- The legacy origin's framing of `204 No Content`: it sent the response's body
  anyway, with its `Content-Length` (legacy `delete/` answers 204 with a 40-byte
  JSON body). Current gunicorn drops such a body (RFC 9110); the stand-in lets it
  through, so a client or proxy that reuses the connection meets the stray bytes
  exactly as it does in front of the real legacy.
"""
from gunicorn.http import wsgi


def _omits_body(method, status):
    return method == "HEAD" or status == 304 or (status is not None and 100 <= status < 200)


def _forbids_content_length(status):
    return status is not None and 100 <= status < 200


wsgi.Response._response_omits_body = staticmethod(_omits_body)
wsgi.Response._response_forbids_content_length = staticmethod(_forbids_content_length)


def pre_request(worker, req):
    from testsupport import rawheaders

    rawheaders.remember(req.uri, req.headers)
