"""gunicorn settings shared by run.sh: a hook handing the parsed request
headers (repeats and order kept) to the /__test__/echo fixture."""


def pre_request(worker, req):
    from testsupport import rawheaders

    rawheaders.remember(req.uri, req.headers)
