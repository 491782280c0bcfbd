#!/usr/bin/env python3
"""Smoke check of a running legacy stand-in (stdlib + PyJWT from the venv).

    LEGACY_URL=http://127.0.0.1:8011 JWT_SECRET=... .venv/bin/python smoke.py

Exercises every endpoint once, the legacy quirks, token claims and (when
LEGACY_TEST_ENDPOINTS=1 on the server) the /__test__/ fixtures. Exits non-zero
on the first failed expectation.
"""
import hashlib
import http.client
import json
import os
import sys
import uuid
from urllib.parse import urlsplit

import jwt

BASE = os.environ.get("LEGACY_URL", "http://127.0.0.1:8011")
SECRET = os.environ["JWT_SECRET"]
_u = urlsplit(BASE)


def request(method, path, body=None, headers=None, token=None):
    conn = http.client.HTTPConnection(_u.hostname, _u.port, timeout=60)
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.headers, data


def js(data):
    return json.loads(data) if data else None


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(path, filename, content, token=None, fields=None):
    body, hdrs = multipart(fields or {}, {"file": (filename, content)})
    return request("POST", path, body, hdrs, token)


def check(cond, what, detail=""):
    if not cond:
        print(f"FAIL {what} {detail}")
        sys.exit(1)
    print(f"ok   {what}")


def main():
    run = uuid.uuid4().hex[:8]
    user = "smoke_" + run  # file names are global across users: make this run's unique
    pw = "s3cret-pass"

    # accounts
    s, _, d = request("POST", "/api/accounts/register/", {"username": user, "email": f"{user}@x.org", "password": pw, "password2": pw})
    check(s == 201 and js(d) == {"detail": "User created successfully"}, "register 201", d)
    s, _, d = request("POST", "/api/accounts/register/", {"username": user, "password": pw, "password2": pw})
    check(s == 400 and js(d) == {"username": ["A user with that username already exists."]}, "register duplicate 400", d)
    s, _, d = request("POST", "/api/accounts/register/", {"username": user + "x", "password": pw, "password2": "other"})
    check(s == 400 and js(d) == {"non_field_errors": ["Passwords do not match"]}, "register mismatch 400", d)
    s, _, d = request("POST", "/api/accounts/register/", {"username": user + "y", "email": "bad", "password": pw, "password2": pw})
    check(s == 400 and js(d) == {"email": ["Enter a valid email address."]}, "register bad email 400", d)
    s, _, d = request("POST", "/api/accounts/login/", {"username": user, "password": "wrong"})
    check(s == 401 and js(d) == {"detail": "No active account found with the given credentials"}, "login 401", d)
    s, _, d = request("POST", "/api/accounts/login/", {"username": user, "password": pw})
    check(s == 200 and set(js(d)) == {"access", "refresh"}, "login 200", d)
    access, refresh = js(d)["access"], js(d)["refresh"]
    claims = jwt.decode(access, SECRET, algorithms=["HS256"])
    check(set(claims) == {"token_type", "exp", "iat", "jti", "user_id"} and claims["token_type"] == "access"
          and isinstance(claims["user_id"], int) and len(claims["jti"]) == 32, "access claims", claims)
    rclaims = jwt.decode(refresh, SECRET, algorithms=["HS256"])
    check(rclaims["token_type"] == "refresh", "refresh claims", rclaims)
    s, _, d = request("GET", "/api/accounts/user/", token=access)
    check(s == 200 and js(d) == {"id": claims["user_id"], "username": user, "email": f"{user}@x.org"}, "user 200", d)
    s, _, d = request("GET", "/api/accounts/user/")
    check(s == 401 and js(d) == {"detail": "Authentication credentials were not provided."}, "user 401", d)
    s, _, d = request("GET", "/api/accounts/user/", token="garbage")
    check(s == 401 and js(d)["code"] == "token_not_valid", "user bad token 401", d)
    s, _, d = request("POST", "/api/accounts/token/refresh/", {"refresh": refresh})
    check(s == 200 and set(js(d)) == {"access", "refresh"} and js(d)["refresh"] != refresh, "refresh rotates", d)
    s, _, d = request("POST", "/api/accounts/token/refresh/", {"refresh": refresh})
    check(s == 200, "old refresh still works (no blacklist app)", d)
    s, _, d = request("POST", "/api/accounts/token/refresh/", {"refresh": "nope"})
    check(s == 401 and js(d) == {"detail": "Token is invalid or expired", "code": "token_not_valid"}, "refresh invalid 401", d)
    s, h, _ = request("GET", "/api/accounts/user")
    check(s == 301 and h["Location"] == "/api/accounts/user/", "GET without slash 301")

    # anonymous cutter
    csv_body = b"Name,Age,City\nAlice,30,New York\nBob,25,San Francisco\nCarol,41,NY\n"
    s, _, d = upload("/api/list_cutter/csv_cutter/", "example.csv", csv_body)
    check(s == 200 and js(d)["columns"] == ["Name", "Age", "City"] and js(d)["file_path"].startswith("/"), "csv_cutter 200", d)
    cut_path = js(d)["file_path"]
    s, _, d = upload("/csv_cutter/", "dup.csv", "\ufeffa,a,,b\n1,2,3,4\n".encode())
    check(s == 200 and js(d)["columns"] == ["a", "a.1", "Unnamed: 2", "b"], "csv_cutter pandas-like names (root mount)", d)
    s, _, d = upload("/api/list_cutter/csv_cutter/", "bad.csv", b"\xff\xfeA,B\n")
    check(s == 400 and js(d)["error"].startswith("Could not read CSV file: 'utf-8' codec can't decode"), "csv_cutter bad utf-8 400", d)
    body, hdrs = multipart({"x": "1"}, {})
    s, _, d = request("POST", "/api/list_cutter/csv_cutter/", body, hdrs)
    check(s == 400 and js(d) == {"error": "No file uploaded"}, "csv_cutter no file 400", d)
    s, _, d = request("POST", "/api/list_cutter/csv_cutter/", b"", token="garbage")
    check(s == 401, "invalid token on AllowAny endpoint 401", d)

    def export(filters, columns=("Name", "City")):
        return request("POST", "/api/list_cutter/export_csv/", {"columns": list(columns), "file_path": cut_path, "filters": filters})

    s, h, d = export({"Age": ">= 30"})
    check(s == 200 and h["Content-Type"] == "text/csv" and h["Content-Disposition"] == 'attachment; filename="filtered.csv"'
          and d == b"Name,City\nAlice,New York\nCarol,NY", "export >= (unquoted, no trailing newline)", d)
    for filters, cut, what in [
        ({"City": "IN ('NY', \"New York\")"}, b"Name,City\nAlice,New York\nCarol,NY", "export IN"),
        ({"Age": "BETWEEN 25 AND 30"}, b"Name,City\nAlice,New York\nBob,San Francisco", "export BETWEEN"),
        ({"Age": "between 25 and 30"}, b"Name,City", "lowercase 'and' drops every row"),
        ({"Age": "= 030"}, b"Name,City", "= is a string comparison"),
        ({"City": "!= 'NY'"}, b"Name,City\nAlice,New York\nBob,San Francisco", "export !="),
        ({"Name": "bogus"}, b"Name,City", "bad filter drops rows silently"),
    ]:
        s, _, d = export(filters)
        check(s == 200 and d == cut, what, d)
    s, _, d = export({}, columns=())
    check(s == 400 and js(d) == {"error": "No columns provided."}, "export no columns 400", d)
    s, h, _ = request("POST", "/api/list_cutter/export_csv/", {"columns": ["a"], "file_path": "/etc/passwd"})
    check(s == 500, "export non-.csv path 500 (NotImplementedError)")

    # authenticated files
    s, _, d = upload("/api/list_cutter/upload/", "example.csv", csv_body)
    check(s == 401, "upload without token 401", d)
    s, _, d = upload("/api/list_cutter/upload/", "example.csv", csv_body, token=access)
    up = js(d)
    check(s == 200 and up["message"] == "File uploaded successfully" and up["file_path"].endswith("/uploads/" + up["file_name"]), "upload 200", d)
    a_id = up["file_id"]
    s, _, d = upload("/api/list_cutter/upload/", "example.csv", csv_body, token=access)
    check(js(d)["file_name"] != up["file_name"], "upload unique name", d)
    s, _, d = request("GET", "/api/list_cutter/list_saved_files/", token=access)
    files = js(d)["files"]
    check(s == 200 and len(files) == 2 and set(files[0]) == {"file_id", "file_name", "file_path", "uploaded_at", "system_tags", "user_tags", "metadata"}
          and files[0]["system_tags"] == ["uploaded"] and files[0]["metadata"] is None and files[0]["uploaded_at"].endswith("Z"), "list_saved_files", d)
    s, h, d = request("GET", f"/api/list_cutter/download/{up['file_name']}/")
    check(s == 200 and d == csv_body and "attachment" in h["Content-Disposition"], "download (no auth)", h)
    s, _, d = request("GET", "/api/list_cutter/download/nope.csv/")
    check(s == 404 and js(d) == {"error": "File not found"}, "download 404", d)
    s, _, d = request("GET", f"/media/uploads/{up['file_name']}")
    check(s == 200 and d == csv_body, "media served publicly (DEBUG)")

    s, _, d = request("GET", f"/api/list_cutter/fetch_saved_file/{a_id}/", token=access)
    f = js(d)
    check(s == 200 and f["rowCount"] == 3 and f["columns"] == ["Name", "Age", "City"] and f["content"] == csv_body.decode()
          and f["size"] == len(csv_body) and f["type"] == "text/csv" and list(f) == ["name", "file_id", "file_name", "file_path", "size", "type", "content", "rowCount", "columns"],
          "fetch_saved_file", d)
    s, _, d = request("GET", "/api/list_cutter/fetch_saved_file/nope/", token=access)
    check(s == 500 and js(d) == {"error": "Error fetching file data."}, "fetch_saved_file unknown 500", d)
    s, h, _ = request("GET", f"/api/list_cutter/fetch_saved_file/{a_id}", token=access)
    check(s == 301, "fetch_saved_file without slash 301")

    # generated files and lineage: A (upload) -> B -> C
    meta = json.dumps({"generated_file_details": {"source_file": up["file_name"], "columns": ["Name"], "column_filters": {"Name": None}, "original_file_id": a_id}})
    s, _, d = upload("/api/list_cutter/save_generated_file/", "b.csv", b"Name\nAlice", token=access,
                     fields={"file_name": f"cut_b_{run}.csv", "metadata": meta, "original_file_id": a_id})
    check(s == 201 and js(d)["message"] == "File saved successfully.", "save_generated_file 201", d)
    b_id = js(d)["file_id"]
    s, _, d = upload("/api/list_cutter/save_generated_file/", "c.csv", b"Name\nAlice", token=access,
                     fields={"file_name": f"cut_c_{run}.csv", "metadata": meta, "original_file_id": b_id})
    c_id = js(d)["file_id"]
    s, _, d = upload("/api/list_cutter/save_generated_file/", "x.csv", b"Name\n", token=access,
                     fields={"file_name": f"orphan_{run}.csv", "metadata": "{}"})
    check(s == 400 and js(d) == {"error": "Original file ID must be included in the request."}, "save_generated_file w/o original 400", d)
    s, _, d = upload("/api/list_cutter/save_generated_file/", "x.csv", b"Name\n", token=access,
                     fields={"file_name": f"ghost_{run}.csv", "metadata": "{}", "original_file_id": "ghost"})
    check(s == 500 and "ghost" in js(d)["error"], "save_generated_file unknown original 500", d)
    s, _, d = upload("/api/list_cutter/save_generated_file/", "x.csv", b"Name\n", token=access, fields={"metadata": "{}"})
    check(s == 400 and js(d) == {"error": "No file or filename provided."}, "save_generated_file no file_name 400", d)
    s, _, d = upload("/api/list_cutter/save_generated_file/", "x.csv", b"Name\n", token=access, fields={"file_name": f"nometa_{run}.csv"})
    check(s == 500, "save_generated_file without metadata 500")
    s, _, d = request("GET", "/api/list_cutter/list_saved_files/", token=access)
    names = [x["file_name"] for x in js(d)["files"]]
    check(f"orphan_{run}.csv" in names and f"ghost_{run}.csv" in names, "400/500 after save kept the files", names)
    gen = [x for x in js(d)["files"] if x["file_id"] == b_id][0]
    check(gen["metadata"] == meta and gen["system_tags"] == ["generated"], "generated metadata is the posted string", gen)

    s, _, d = request("GET", f"/api/list_cutter/fetch_file_lineage/{c_id}/", token=access)
    lin = js(d)
    check(s == 200 and [n["file_id"] for n in lin["nodes"]] == [b_id, c_id, a_id]
          and lin["edges"] == [{"source": b_id, "target": c_id, "type": "CUT_TO"},
                               {"source": a_id, "target": b_id, "type": "CUT_TO"},
                               {"source": b_id, "target": c_id, "type": "CUT_TO"}], "lineage of C (ancestors)", d)
    s, _, d = request("GET", f"/api/list_cutter/fetch_file_lineage/{a_id}/", token=access)
    lin = js(d)
    check({n["file_id"] for n in lin["nodes"]} == {a_id, b_id, c_id}
          and {(e["source"], e["target"], e["type"]) for e in lin["edges"]} == {(b_id, a_id, "CUT_FROM"), (c_id, b_id, "CUT_FROM")},
          "lineage of A (descendants)", d)
    s, _, d = request("GET", f"/api/list_cutter/fetch_file_lineage/{b_id}/", token=access)
    lin = js(d)
    check({(e["source"], e["target"], e["type"]) for e in lin["edges"]} == {(a_id, b_id, "CUT_TO"), (c_id, b_id, "CUT_FROM")}, "lineage of B (both sides, no siblings)", d)
    s, _, d = request("GET", "/api/list_cutter/fetch_file_lineage/unknown/", token=access)
    check(s == 200 and js(d) == {"nodes": [], "edges": []}, "lineage unknown id is empty", d)

    # update_tags: int converter
    s, _, d = request("PATCH", f"/api/list_cutter/update_tags/{a_id}/", {"user_tags": ["x"]}, token=access)
    check(s == 404 and not d.startswith(b"{"), "update_tags with uuid 404 at the router", d[:60])
    s, _, d = request("PATCH", "/api/list_cutter/update_tags/7/", {"user_tags": ["x"]}, token=access)
    check(s == 404 and js(d) == {"error": "File not found."}, "update_tags int 404 from the view", d)

    # delete
    s, _, d = request("DELETE", f"/api/list_cutter/delete/{a_id}/", token=access)
    check(s == 204, "delete 204", d)
    s, _, d = request("DELETE", f"/api/list_cutter/delete/{a_id}/", token=access)
    check(s == 404 and js(d) == {"error": "File not found."}, "delete again 404", d)
    s, _, d = request("GET", f"/api/list_cutter/fetch_file_lineage/{c_id}/", token=access)
    check(len(js(d)["edges"]) == 3, "lineage edges survive a delete (as in Neo4j)", d)

    # another user can read the first user's file (unscoped)
    other = "smoke_" + uuid.uuid4().hex[:8]
    request("POST", "/api/accounts/register/", {"username": other, "password": pw, "password2": pw})
    otok = js(request("POST", "/api/accounts/login/", {"username": other, "password": pw})[2])["access"]
    s, _, d = request("GET", f"/api/list_cutter/fetch_saved_file/{b_id}/", token=otok)
    check(s == 200, "fetch_saved_file is not user-scoped")
    s, _, d = request("DELETE", f"/api/list_cutter/delete/{b_id}/", token=otok)
    check(s == 404, "delete is user-scoped")

    # fixtures
    s, _, _ = request("GET", "/__test__/status?code=200")
    if s == 404:
        print("skip /__test__/ (LEGACY_TEST_ENDPOINTS not set)")
        return
    s, _, d = request("GET", "/__test__/status?code=503")
    check(s == 503 and js(d) == {"status": 503}, "status fixture")
    s, h, _ = request("GET", "/__test__/redirect")
    check(s == 302 and h["Location"] == "/__test__/echo?from=redirect", "redirect fixture")
    s, h, _ = request("GET", "/__test__/cookies")
    check(h.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly", "c=3; Path=/; Max-Age=60"], "cookies fixture", h.get_all("Set-Cookie"))
    s, _, d = request("GET", "/__test__/slow?ms=150")
    check(s == 200 and js(d) == {"slept_ms": 150}, "slow fixture")

    size = 20 * 1024 * 1024
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256(block * 20).hexdigest()
    conn = http.client.HTTPConnection(_u.hostname, _u.port, timeout=120)
    conn.putrequest("POST", "/__test__/echo?x=1&y=%20z")
    conn.putheader("Content-Length", str(size))
    conn.putheader("X-Forwarded-For", "1.2.3.4")
    conn.putheader("X-Forwarded-For", "5.6.7.8")
    conn.putheader("X-Request-Id", "req-123")
    conn.endheaders()
    for _ in range(20):
        conn.send(block)
    resp = conn.getresponse()
    e = json.loads(resp.read())
    check(resp.status == 200 and e["body_length"] == size and e["body_sha256"] == digest, "echo 20 MB sha256")
    check(e["method"] == "POST" and e["query"] == "x=1&y=%20z" and e["path"] == "/__test__/echo", "echo method/path/query", e)
    check([v for n, v in e["headers"] if n == "x-forwarded-for"] == ["1.2.3.4", "5.6.7.8"]
          and ["x-request-id", "req-123"] in e["headers"] and any(n == "host" for n, _ in e["headers"]), "echo repeated headers", e["headers"])

    conn = http.client.HTTPConnection(_u.hostname, _u.port, timeout=60)
    conn.putrequest("PUT", "/__test__/echo/")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for part in (b"hello ", b"chunked ", b"world"):
        conn.send(b"%x\r\n%s\r\n" % (len(part), part))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    e = json.loads(resp.read())
    check(e["body_length"] == 19 and e["body_sha256"] == hashlib.sha256(b"hello chunked world").hexdigest(), "echo chunked body", e)


if __name__ == "__main__":
    main()
    print("all good")
