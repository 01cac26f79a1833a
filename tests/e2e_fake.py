"""e2e_fake.py - tests of the fake API server itself (raw HTTP, no contree
binary), so the other end-to-end tests can trust it.

Commands used in runs work in both execution modes of the fake (chroot with
busybox, or the plain host fallback): shell builtins, echo/cat/printf/sleep,
and paths relative to the working directory.
"""

import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import socket
import ssl
import tarfile
import time
import urllib.parse


ALPINE = "tag:alpine:3.19"


# ---------------------------------------------------------------- helpers --

def err_body(r, status):
    """Assert an error answer: that status and {"error": str, "status": N}."""
    assert r.status == status, "want %d, got %r" % (status, r)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    j = r.json
    assert isinstance(j, dict) and isinstance(j.get("error"), str) and \
        j.get("status") == status, "bad error body %r" % r.body
    return j["error"]


def decode(stream):
    if stream["encoding"] == "base64":
        return base64.b64decode(stream["value"])
    assert stream["encoding"] == "ascii", stream
    return stream["value"].encode()


def out_of(op):
    res = op["metadata"]["result"]
    return decode(res["stdout"]), decode(res["stderr"]), res["state"]["exit_code"]


def sse_read(resp):
    """Read a whole SSE body -> [frame dict], a frame being {id, event, data,
    comments}.  A broken chunked stream raises http.client.IncompleteRead
    (read(), unlike readline(), reports it)."""
    frames, cur = [], {"comments": []}
    for line in resp.read().decode().splitlines():
        if line == "":
            if set(cur) != {"comments"} or cur["comments"]:
                frames.append(cur)
            cur = {"comments": []}
        elif line.startswith(":"):
            cur["comments"].append(line[1:].strip())
        else:
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "data" and "data" in cur:
                cur["data"] += "\n" + v
            else:
                cur[k] = v
    return frames


def events(fake, op, headers=None, query=None, timeout=30):
    c = fake.conn(timeout)
    h = {"Authorization": "Bearer " + fake.token, "Accept": "text/event-stream"}
    h.update(headers or {})
    path = fake.prefix + "/v1/operations/%s/events" % op
    if query:
        path += "?" + urllib.parse.urlencode(query)
    c.request("GET", path, headers=h)
    r = c.getresponse()
    return c, r


def only_events(frames):
    return [f for f in frames if "event" in f and f["event"] != "sse_error"]


def upload(fake, data, chunked=False):
    h = {"Content-Type": "application/octet-stream"}
    body = data
    if chunked:
        # an iterable body without a length: http.client sends it chunked
        body = iter([data[:len(data) // 2], data[len(data) // 2:]])
    r = fake.call("POST", "/v1/files", body=body, headers=h)
    assert r.status == 201, r
    return r.json


def n_ops(fake):
    r = fake.call("GET", "/v1/operations", query={"limit": 1000})
    return len(r.json)


# ------------------------------------------------------------ basics/auth --

def test_whoami(t):
    f = t.fake
    assert f.url.startswith("http://127.0.0.1:"), f.url
    r = f.call("GET", "/v1/whoami")
    assert r.status == 200, r
    j = r.json
    for k in ("token_uuid", "token_expiration", "permissions", "limits",
              "operations_stat"):
        assert k in j, "whoami lacks %s: %r" % (k, j)
    assert j["permissions"]["list"] is True and j["permissions"]["spawn"] is True
    assert j["limits"]["instance_max_timeout"] > 0


def test_auth_401(t):
    f = t.fake
    err_body(f.call("GET", "/v1/images", auth=False), 401)
    err_body(f.call("GET", "/v1/images", auth=False,
                    headers={"Authorization": "Bearer wrong"}), 401)
    err_body(f.call("GET", "/v1/images", auth=False,
                    headers={"Authorization": "Basic " + f.token}), 401)
    r = f.call("GET", "/v1/whoami", auth=False)
    err_body(r, 401)
    assert "www-authenticate" in r.headers
    assert f.call("GET", "/v1/images").status == 200


def test_project_header(t):
    f = t.start_fake(project="proj-42")
    ini = open(os.path.join(t.home, ".config/contree/auth.ini")).read()
    assert "type = iam" in ini and "project = proj-42" in ini, ini
    err_body(f.call("GET", "/v1/whoami", headers={"Project": ""}), 403)
    r = f.call("GET", "/v1/whoami", auth=False,
               headers={"Authorization": "Bearer test-token"})
    err_body(r, 403)
    err_body(f.call("GET", "/v1/whoami", headers={"Project": "other"}), 403)
    assert f.call("GET", "/v1/whoami").status == 200


def test_prefix(t):
    f = t.start_fake(prefix="/sandboxes")
    assert f.url.endswith(":%d/sandboxes" % f.port), f.url
    assert f.call("GET", "/v1/whoami").status == 200
    # without the prefix the API is not there
    c = f.conn()
    c.request("GET", "/v1/whoami", headers={"Authorization": "Bearer test-token"})
    rr = c.getresponse()
    body = rr.read()
    assert rr.status == 404, (rr.status, body)
    logged = [q["path"] for q in f.requests()]
    assert "/sandboxes/v1/whoami" in logged and "/v1/whoami" in logged, logged
    r = f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true"})
    assert r.headers["location"] == "/sandboxes/v1/operations/" + r.json["uuid"]


def test_unknown_route_and_method(t):
    f = t.fake
    err_body(f.call("GET", "/v1/nothing"), 404)
    err_body(f.call("GET", "/v2/images"), 404)
    err_body(f.call("PUT", "/v1/images"), 405)
    err_body(f.call("GET", "/v1/images/import"), 405)
    err_body(f.call("GET", "/v1/operations/not-a-uuid"), 404)
    err_body(f.call("GET", "/v1/operations/00000000-0000-4000-8000-000000000000"),
             404)


def test_keepalive_and_chunked_request(t):
    f = t.fake
    c = f.conn()
    for _ in range(3):
        r = f.call("GET", "/v1/whoami", conn=c)
        assert r.status == 200
    sock = c.sock
    assert sock is not None, "connection was not kept alive"
    # hand-made chunked body with a chunk extension and a trailer
    s = socket.create_connection(("127.0.0.1", f.port))
    data = b"hello chunked world\n"
    req = (b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n"
           b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"6;ext=1\r\nhello \r\n" + b"%x\r\n" % (len(data) - 6) + data[6:] +
           b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
    s.sendall(req)
    resp = http.client.HTTPResponse(s)
    resp.begin()
    j = json.loads(resp.read())
    s.close()
    assert resp.status == 201, resp.status
    assert j["sha256"] == hashlib.sha256(data).hexdigest(), j
    assert j["size"] == len(data)


# ----------------------------------------------------------------- images --

def test_images_seeded_and_sorted(t):
    f = t.fake
    imgs = f.call("GET", "/v1/images").json["images"]
    tags = [i["tag"] for i in imgs]
    for want in ("ubuntu:latest", "alpine:3.19", "python:3.12-slim",
                 "busybox:latest"):
        assert want in tags, tags
    for i in imgs:
        assert set(i) >= {"uuid", "tag", "created_at", "operation_uuid"}, i
    keys = [(i["created_at"], i["uuid"]) for i in imgs]
    assert [k[0] for k in keys] == sorted([k[0] for k in keys], reverse=True), keys
    tree = f.image_tree(f.image_uuid("alpine:3.19"))
    assert b"ID=alpine" in tree["/etc/os-release"]
    assert "/etc/hosts" in tree


def test_images_paging(t):
    f = t.fake
    f.seed_images(2500)
    total = 2504
    seen, off = [], 0
    while True:
        r = f.call("GET", "/v1/images", query={"limit": 1000, "offset": off})
        assert r.status == 200, r
        page = r.json["images"]
        seen += page
        off += len(page)
        if len(page) < 1000:
            break
    assert len(seen) == total, len(seen)
    assert len({i["uuid"] for i in seen}) == total, "duplicates across pages"
    order = [(i["created_at"], i["uuid"]) for i in seen]
    assert order == sorted(order, key=lambda k: (k[0], [-ord(c) for c in k[1]]),
                           reverse=True), "not created_at desc, uuid asc"
    # stable: the same page twice is identical
    a = f.call("GET", "/v1/images", query={"limit": 7, "offset": 100}).json
    b = f.call("GET", "/v1/images", query={"limit": 7, "offset": 100}).json
    assert a == b and len(a["images"]) == 7
    assert a["images"] == [{k: v for k, v in i.items()} for i in seen[100:107]]
    r = f.call("GET", "/v1/images", query={"limit": 0})
    assert err_body(r, 400) == "limit must be between 1 and 1000"
    err_body(f.call("GET", "/v1/images", query={"limit": -1}), 400)
    err_body(f.call("GET", "/v1/images", query={"limit": "x"}), 400)
    err_body(f.call("GET", "/v1/images", query={"offset": -1}), 400)
    r = f.call("GET", "/v1/images", query={"limit": 5000})
    assert len(r.json["images"]) == 1000, "limit > 1000 must be capped"
    r = f.call("GET", "/v1/images", query={"limit": 10, "offset": total})
    assert r.json == {"images": []}
    r = f.call("GET", "/v1/images", query={"limit": 10, "offset": total - 3})
    assert len(r.json["images"]) == 3
    r = f.call("GET", "/v1/images")
    assert len(r.json["images"]) == 100, "default limit"


def test_images_filters(t):
    f = t.fake
    alpine = f.image_uuid("alpine:3.19")
    # an untagged image from a run
    op = f.run_op(image=alpine, command="echo x > new.txt", shell=True)
    new = op["result"]["image"]
    assert new and new != alpine
    everything = f.call("GET", "/v1/images").json["images"]
    assert new in [i["uuid"] for i in everything]
    for q in ({"tagged": "1"}, {"tagged": ""}):
        got = [i["uuid"] for i in f.call("GET", "/v1/images", query=q).json["images"]]
        assert new not in got and alpine in got, (q, got)
    got = [i["uuid"] for i in f.call("GET", "/v1/images",
                                      query={"tagged": "0"}).json["images"]]
    assert new in got, "tagged=0 is false"
    got = f.call("GET", "/v1/images", query={"tag": "alp"}).json["images"]
    assert [i["tag"] for i in got] == ["alpine:3.19"], got
    got = f.call("GET", "/v1/images", query={"tag": "python:3.12"}).json["images"]
    assert [i["tag"] for i in got] == ["python:3.12-slim"], got
    # form decoding: %3A is ':', '+' is a space
    r = f.call("GET", "/v1/images?tag=ubuntu%3Alatest")
    assert [i["tag"] for i in r.json["images"]] == ["ubuntu:latest"], r
    r = f.call("GET", "/v1/images?tag=ubuntu+latest")
    assert r.json["images"] == [], r
    got = f.call("GET", "/v1/images", query={"uuid": alpine}).json["images"]
    assert [i["uuid"] for i in got] == [alpine]
    got = f.call("GET", "/v1/images", query={"uuid": alpine[:8]}).json["images"]
    assert got == [], "uuid filter is exact"
    # time windows: seeded images are 1..4 days old, the run's image is new
    got = [i["uuid"] for i in f.call("GET", "/v1/images",
                                      query={"since": "1h"}).json["images"]]
    assert got == [new], got
    got = [i["tag"] for i in f.call("GET", "/v1/images",
                                     query={"since": "36h"}).json["images"]]
    assert got == [None, "ubuntu:latest"], got
    got = [i["tag"] for i in f.call("GET", "/v1/images",
                                     query={"until": "36h"}).json["images"]]
    assert got == ["alpine:3.19", "python:3.12-slim", "busybox:latest"], got
    got = f.call("GET", "/v1/images", query={"since": "3600"}).json["images"]
    assert [i["uuid"] for i in got] == [new], "integer seconds"
    got = f.call("GET", "/v1/images", query={"since": "2000-01-01T00:00:00+00:00",
                                              "until": "2000-01-02T00:00:00.5Z"})
    assert got.json == {"images": []}, got
    r = f.call("GET", "/v1/images?since=2000-01-01T00:00:00+00:00")  # raw '+'
    err_body(r, 400)
    got = f.call("GET", "/v1/images", query={"since": "2000-01-01T00:00:00.123456789Z"})
    assert len(got.json["images"]) == 5
    err_body(f.call("GET", "/v1/images", query={"since": "yesterday"}), 400)


def test_tags(t):
    f = t.fake
    alpine = f.image_uuid("alpine:3.19")
    ubuntu = f.image_uuid("ubuntu:latest")
    r = f.call("PATCH", "/v1/images/%s/tag" % alpine, {"tag": "my/base:1"})
    assert r.status == 200 and r.json["tag"] == "my/base:1" and r.json["uuid"] == alpine
    # the tag moves
    r = f.call("PATCH", "/v1/images/%s/tag" % ubuntu, {"tag": "my/base:1"})
    assert r.status == 200
    tags = {i["uuid"]: i["tag"] for i in f.call("GET", "/v1/images").json["images"]}
    assert tags[ubuntu] == "my/base:1" and tags[alpine] is None, tags
    err_body(f.call("PATCH", "/v1/images/%s/tag" % alpine, {"tag": "bad tag"}), 400)
    err_body(f.call("PATCH", "/v1/images/%s/tag" % alpine, {"tag": ""}), 400)
    err_body(f.call("PATCH", "/v1/images/%s/tag" % alpine, {}), 400)
    err_body(f.call("PATCH", "/v1/images/00000000-0000-4000-8000-000000000000/tag",
                    {"tag": "x:1"}), 404)
    err_body(f.call("DELETE", "/v1/images/%s/tag" % ubuntu,
                    query={"tag": "other:1"}), 404)
    r = f.call("DELETE", "/v1/images/%s/tag" % ubuntu, query={"tag": "my/base:1"})
    assert r.status == 204 and r.body == b"", r
    assert "content-length" not in r.headers or r.headers["content-length"] == "0"
    err_body(f.call("DELETE", "/v1/images/%s/tag" % ubuntu), 404)
    bb = f.image_uuid("busybox:latest")
    r = f.call("DELETE", "/v1/images/%s/tag" % bb)   # MCP form: no ?tag=
    assert r.status == 204
    r = f.call("GET", "/v1/images", query={"tag": "busybox"})
    assert r.json["images"] == []


def test_inspect_tag_redirect_and_record(t):
    f = t.fake
    py = f.image_uuid("python:3.12-slim")
    r = f.call("GET", "/v1/inspect/", query={"tag": "python:3.12-slim"})
    assert r.status == 302 and r.headers["location"] == py + "/", r
    err_body(f.call("GET", "/v1/inspect/", query={"tag": "python"}), 404)
    err_body(f.call("GET", "/v1/inspect/"), 400)
    r = f.call("GET", "/v1/inspect/%s/" % py)
    assert r.status == 200 and r.json["uuid"] == py and r.json["tag"] == \
        "python:3.12-slim", r
    r = f.call("GET", "/v1/inspect/%s" % py)
    assert r.status == 301 and r.headers["location"] == py + "/", r
    err_body(f.call("GET", "/v1/inspect/00000000-0000-4000-8000-000000000000/"), 404)


def test_inspect_list(t):
    f = t.fake
    img = f.image_uuid("alpine:3.19")
    r = f.call("GET", "/v1/inspect/%s/list" % img, query={"path": "/etc"})
    assert r.status == 200, r
    j = r.json
    assert j["path"] == "/etc"
    by = {e["path"]: e for e in j["files"]}
    h = by["hosts"]
    assert h["mode"] == 0o100644 and h["is_regular"] and not h["is_dir"], h
    assert h["size"] == len(f.image_tree(img)["/etc/hosts"])
    assert h["owner"] == "root" and h["uid"] == 0
    for k in ("size", "owner", "group", "uid", "gid", "mode", "mtime", "nlink",
              "is_dir", "is_regular", "is_symlink", "is_socket", "is_fifo",
              "symlink_to"):
        assert k in h, k
    r = f.call("GET", "/v1/inspect/%s/list" % img, query={"path": "/bin"})
    sh = {e["path"]: e for e in r.json["files"]}["sh"]
    assert sh["is_symlink"] and sh["symlink_to"] == "busybox" and \
        sh["mode"] == 0o120777, sh
    r = f.call("GET", "/v1/inspect/%s/list" % img, query={"path": "/"})
    names = [e["path"] for e in r.json["files"]]
    assert names == sorted(names) and "etc" in names and "tmp" in names, names
    tmp = {e["path"]: e for e in r.json["files"]}["tmp"]
    assert tmp["mode"] == 0o41777 and tmp["is_dir"], tmp
    r = f.call("GET", "/v1/inspect/%s/list" % img, query={"path": "/bin", "text": "1"})
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    lines = r.body.decode().splitlines()
    assert lines[0].startswith("total "), lines
    assert any(ln.startswith("lrwxrwxrwx") and ln.endswith("sh -> busybox")
               for ln in lines), lines
    r = f.call("GET", "/v1/inspect/%s/list?path=/etc&text=" % img)  # MCP form
    assert r.body.startswith(b"total "), r
    err_body(f.call("GET", "/v1/inspect/%s/list" % img, query={"path": "/nope"}), 404)
    err_body(f.call("GET", "/v1/inspect/%s/list" % img,
                    query={"path": "/etc/hosts"}), 422)
    err_body(f.call("GET", "/v1/inspect/%s/list" % img), 400)


def test_inspect_download(t):
    f = t.fake
    img = f.image_uuid("ubuntu:latest")
    r = f.call("GET", "/v1/inspect/%s/download" % img, query={"path": "/etc/os-release"})
    assert r.status == 200 and b"ID=ubuntu" in r.body, r
    assert r.headers["content-type"] == "application/octet-stream"
    assert int(r.headers["content-length"]) == len(r.body)
    r2 = f.call("HEAD", "/v1/inspect/%s/download" % img,
                query={"path": "/etc/os-release"})
    assert r2.status == 200 and r2.body == b"" and \
        r2.headers["content-length"] == str(len(r.body)), r2
    assert f.call("HEAD", "/v1/inspect/%s/download" % img,
                  query={"path": "/nope"}).status == 404
    err_body(f.call("GET", "/v1/inspect/%s/download" % img, query={"path": "/nope"}),
             404)
    err_body(f.call("GET", "/v1/inspect/%s/download" % img, query={"path": "/etc"}),
             422)
    # a big file through a symlink
    big = os.urandom(3 << 20)
    rec = f.add_image({"/data/big.bin": big,
                       "/data/link": {"type": "symlink", "target": "big.bin"}},
                      parent=img)
    r = f.call("GET", "/v1/inspect/%s/download" % rec["uuid"],
               query={"path": "/data/link"})
    assert r.status == 200 and r.body == big, (r.status, len(r.body))


def test_inspect_archive(t):
    f = t.fake
    img = f.image_uuid("alpine:3.19")
    r = f.call("GET", "/v1/inspect/%s/archive" % img, query={"path": "/etc"})
    assert r.status == 200 and r.headers["content-type"] == "application/x-tar", r
    assert r.headers.get("transfer-encoding") == "chunked"
    tf = tarfile.open(fileobj=io.BytesIO(r.body))
    names = tf.getnames()
    assert "etc" in names and "etc/hosts" in names, names
    assert all(not n.startswith("/") for n in names)
    assert tf.extractfile("etc/os-release").read() == \
        f.image_tree(img)["/etc/os-release"]
    assert r.body[257:265] == b"ustar\x0000", "POSIX (ustar/pax) header"
    r = f.call("GET", "/v1/inspect/%s/archive" % img, query={"path": "/"})
    names = tarfile.open(fileobj=io.BytesIO(r.body)).getnames()
    assert "bin/sh" in names and "etc/hosts" in names, names
    r = f.call("HEAD", "/v1/inspect/%s/archive" % img, query={"path": "/etc"})
    assert r.status == 200 and r.body == b""
    err_body(f.call("GET", "/v1/inspect/%s/archive" % img, query={"path": "/nope"}),
             404)
    assert f.call("HEAD", "/v1/inspect/%s/archive" % img,
                  query={"path": "/nope"}).status == 404


def test_gzip_only_when_asked(t):
    f = t.fake
    r = f.call("GET", "/v1/images")
    assert "content-encoding" not in r.headers and r.json["images"]
    r = f.call("GET", "/v1/images", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers
    r = f.call("GET", "/v1/images", headers={"Accept-Encoding": "gzip, deflate"})
    assert r.headers.get("content-encoding") == "gzip", r.headers
    assert json.loads(gzip.decompress(r.body))["images"]
    r = f.call("GET", "/v1/images", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in r.headers
    err = f.call("GET", "/v1/nothing", headers={"Accept-Encoding": "gzip"})
    assert err.status == 404 and json.loads(gzip.decompress(err.body))["status"] == 404
    img = f.image_uuid("alpine:3.19")
    gz = {"Accept-Encoding": "gzip"}
    r = f.call("GET", "/v1/inspect/%s/download" % img, headers=gz,
               query={"path": "/etc/os-release"})
    assert r.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(r.body) == f.image_tree(img)["/etc/os-release"]
    r = f.call("GET", "/v1/inspect/%s/archive" % img, headers=gz, query={"path": "/etc"})
    names = tarfile.open(fileobj=io.BytesIO(gzip.decompress(r.body))).getnames()
    assert "etc/hosts" in names
    j = f.run_op(command="echo zipped", shell=True)
    _, r = events(f, j["uuid"], headers=gz)
    assert r.getheader("Content-Encoding") == "gzip"
    text = gzip.decompress(r.read()).decode()
    assert "event: completion" in text and "zipped" in text
    f.config(gzip=False)
    r = f.call("GET", "/v1/images", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers


# ------------------------------------------------------------------ files --

def test_upload_dedup(t):
    f = t.fake
    data = b"some content\n" * 1000
    sha = hashlib.sha256(data).hexdigest()
    a = upload(f, data)
    assert a["sha256"] == sha and a["size"] == len(data) and a["uuid"], a
    b = upload(f, data, chunked=True)
    assert b["uuid"] == a["uuid"], "same content must give the same uuid"
    c = upload(f, data + b"x")
    assert c["uuid"] != a["uuid"]
    r = f.call("GET", "/v1/files/" + sha)
    assert r.status == 200 and r.json["uuid"] == a["uuid"] and \
        r.json["sha256"] == sha, r
    for k in ("size", "created_at", "updated_at"):
        assert k in r.json
    r = f.call("HEAD", "/v1/files/" + sha)
    assert r.status == 200 and r.body == b""
    missing = "0" * 64
    err_body(f.call("GET", "/v1/files/" + missing), 404)
    assert f.call("HEAD", "/v1/files/" + missing).status == 404
    err_body(f.call("GET", "/v1/files/xyz"), 400)
    lst = f.call("GET", "/v1/files").json["files"]
    assert [x["uuid"] for x in lst] == [c["uuid"], a["uuid"]], lst
    up = f.requests("POST", "/v1/files")
    assert up[1]["headers"].get("transfer-encoding") == "chunked"
    assert up[0]["body"] == data


def test_upload_large_streamed(t):
    f = t.fake
    blob = os.urandom(1 << 20) * 24
    c = f.conn(60)
    c.putrequest("POST", "/v1/files")
    c.putheader("Authorization", "Bearer test-token")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for i in range(0, len(blob), 1 << 20):
        piece = blob[i:i + (1 << 20)]
        c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    j = json.loads(r.read())
    assert r.status == 201 and j["sha256"] == hashlib.sha256(blob).hexdigest() and \
        j["size"] == len(blob), j
    logged = f.admin("GET", "requests")[-1]
    assert logged["body_size"] == len(blob) and \
        len(base64.b64decode(logged["body_b64"])) == 1 << 20


# ------------------------------------------------------------------- runs --

def test_run_executes_and_snapshots(t):
    f = t.fake
    alpine = f.image_uuid("alpine:3.19")
    r = f.call("POST", "/v1/instances", {
        "image": alpine, "shell": True,
        "command": "echo hello; echo oops >&2; echo data > out.txt; mkdir -p d/e"})
    assert r.status == 201 and r.json["status"] == "PENDING", r
    op = r.json["uuid"]
    assert r.headers["location"] == "/v1/operations/" + op
    j = f.wait_op(op)
    assert j["status"] == "SUCCESS" and j["kind"] == "instance", j
    out, err, code = out_of(j)
    assert (out, err, code) == (b"hello\n", b"oops\n", 0), (out, err, code)
    st = j["metadata"]["result"]["state"]
    assert st["timed_out"] is False and st["signal"] == -1
    new = j["result"]["image"]
    assert new and new != alpine and j["result_image_uuid"] == new
    assert j["metadata"]["image"] == alpine and j["metadata"]["command"].startswith("echo")
    tree = f.image_tree(new)
    assert tree["/root/out.txt"] == b"data\n", sorted(tree)
    meta = f.image_meta(new)
    assert meta["/root/d/e"]["type"] == "dir"
    assert "/root/out.txt" not in f.image_tree(alpine), "parent image changed"
    # the image record knows its operation; the next run sees the file
    rec = f.call("GET", "/v1/inspect/%s/" % new).json
    assert rec["operation_uuid"] == op and rec["tag"] is None
    j2 = f.run_op(image=new, command="cat", args=["out.txt"])
    assert out_of(j2)[0] == b"data\n"
    # unchanged run: result is the input image
    assert j2["result"]["image"] == new, j2["result"]
    f.config(snapshot_unchanged=True)
    j3 = f.run_op(image=new, command="true")
    assert j3["result"]["image"] not in (None, new)


def test_run_exec_and_shell_args(t):
    f = t.fake
    j = f.run_op(command="echo", args=["a b", "$HOME", "c"])
    assert out_of(j)[0] == b"a b $HOME c\n", out_of(j)
    j = f.run_op(command="printf '%s|'", args=["x y", "$HOME", "it's"], shell=True)
    assert out_of(j)[0] == b"x y|$HOME|it's|", out_of(j)
    # the CLI's -I mode: /bin/sh -s -- ARGS with the script on stdin
    script = base64.b64encode(b'echo "n=$# 1=$1 2=$2"\n').decode()
    j = f.run_op(command="/bin/sh", args=["-s", "--", "A", "B C"], shell=True,
                 stdin={"value": script, "encoding": "base64"})
    assert out_of(j)[0] == b"n=2 1=A 2=B C\n", out_of(j)
    ev = f.call("GET", "/v1/operations/%s/events" % j["uuid"]).body.decode()
    spawn = [json.loads(ln[6:]) for ln in ev.splitlines()
             if ln.startswith("data: ") and '"type":"spawn"' in ln][0]
    assert spawn["data"]["command"] == "/bin/sh" and \
        spawn["data"]["args"][0] == "-c", spawn


def test_run_stdin_env_cwd(t):
    f = t.fake
    j = f.run_op(command="cat", stdin={"value": base64.b64encode(b"in\x00put").decode(),
                                       "encoding": "base64"})
    assert out_of(j)[0] == b"in\x00put"
    j = f.run_op(command="cat", stdin={"value": "plain"})
    assert out_of(j)[0] == b"plain"
    j = f.run_op(command='echo "$FOO-$BAR"', shell=True,
                 env={"FOO": "1", "BAR": "two words"})
    assert out_of(j)[0] == b"1-two words\n"
    j = f.run_op(command='basename "$PWD"', shell=True, cwd="/tmp")
    assert out_of(j)[0] == b"tmp\n", out_of(j)
    j = f.run_op(command='basename "$PWD"', shell=True)
    assert out_of(j)[0] == b"root\n", "default cwd is /root"
    j = f.run_op(command="true", cwd="/does/not/exist")
    assert j["status"] == "FAILED" and "cwd" in j["error"], j
    j = f.run_op(command="no-such-command-xyz")
    assert j["status"] == "SUCCESS" and out_of(j)[2] == 127, j


def test_run_files_injected(t):
    f = t.fake
    data = b"#!/bin/sh\necho injected\n"
    u = upload(f, data)["uuid"]
    j = f.run_op(command="cat in.sh; cat ../../etc/os-release >/dev/null; echo done",
                 shell=True, cwd="/app/sub",
                 files={"/app/sub/in.sh": {"uuid": u, "mode": "0750", "uid": 1000,
                                           "gid": 1000},
                        "/opt/x/copy": {"uuid": u, "mode": "0o100644"},
                        "/etc/hosts": {"uuid": u, "mode": 420}})
    assert j["status"] == "SUCCESS", j
    assert out_of(j)[0] == data + b"done\n", out_of(j)
    meta = f.image_meta(j["result"]["image"])
    m = meta["/app/sub/in.sh"]
    assert (m["mode"], m["uid"], m["gid"]) == (0o750, 1000, 1000), m
    assert meta["/opt/x/copy"]["mode"] == 0o644
    assert meta["/app"]["type"] == "dir" and meta["/app"]["mode"] == 0o755
    assert base64.b64decode(meta["/etc/hosts"]["content_b64"]) == data
    r = f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true",
                                         "files": {"/x": {"uuid": u, "mode": "9z"}}})
    err_body(r, 400)
    r = f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true",
                                         "files": {"x": {"uuid": u}}})
    err_body(r, 400)
    r = f.call("POST", "/v1/instances", {
        "image": ALPINE, "command": "true",
        "files": {"/x": {"uuid": "00000000-0000-4000-8000-000000000000"}}})
    err_body(r, 404)


def test_run_disposable(t):
    f = t.fake
    before = len(f.call("GET", "/v1/images", query={"limit": 1000}).json["images"])
    j = f.run_op(command="echo hi > f.txt; echo ok", shell=True, disposable=True)
    assert j["status"] == "SUCCESS" and out_of(j)[0] == b"ok\n"
    assert j["result"]["image"] is None and j["result_image_uuid"] is None, j
    after = len(f.call("GET", "/v1/images", query={"limit": 1000}).json["images"])
    assert after == before


def test_run_exit_code_and_timeout(t):
    f = t.fake
    j = f.run_op(command="echo partial; exit 3", shell=True)
    assert j["status"] == "SUCCESS" and out_of(j)[2] == 3, j
    assert j["result"]["image"], "a non-zero exit still produces an image"
    j = f.run_op(command="echo before; sleep 20", shell=True, timeout=1)
    st = j["metadata"]["result"]["state"]
    assert j["status"] == "SUCCESS" and st["timed_out"] is True and \
        st["exit_code"] == 137 and st["signal"] == 9, j
    assert out_of(j)[0] == b"before\n"
    err_body(f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true",
                                              "timeout": 999999}), 400)
    err_body(f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true",
                                              "timeout": 0}), 400)


def test_run_truncation_and_base64(t):
    f = t.fake
    j = f.run_op(command='i=0; while [ $i -lt 100 ]; do echo 0123456789; '
                         'i=$((i+1)); done; echo e >&2', shell=True,
                 truncate_output_at=95)
    res = j["metadata"]["result"]
    assert res["stdout"]["truncated"] is True and res["stderr"]["truncated"] is False
    assert decode(res["stdout"]) == (b"0123456789\n" * 9)[:95]
    assert decode(res["stderr"]) == b"e\n"
    frames = sse_read(events(f, j["uuid"])[1])
    tr = [json.loads(x["data"]) for x in frames if x.get("event") == "truncated"]
    assert tr and tr[0]["data"] == {"stream": "stdout", "bytes_emitted": 95,
                                    "bytes_dropped": 1100 - 95}, tr
    outs = b"".join(decode(json.loads(x["data"])["data"]) for x in frames
                    if x.get("event") == "stdout")
    assert outs == decode(res["stdout"]), "events carry only what was kept"
    j = f.run_op(command=r"printf '\377\000\001abc'", shell=True)
    s = j["metadata"]["result"]["stdout"]
    assert s["encoding"] == "base64" and base64.b64decode(s["value"]) == \
        b"\xff\x00\x01abc", s
    j = f.run_op(command=r"printf 'tab\there\r\n'", shell=True)
    s = j["metadata"]["result"]["stdout"]
    assert s == {"value": "tab\there\r\n", "encoding": "ascii", "truncated": False}, s
    j = f.run_op(command="echo x", truncate_output_at=0, shell=True)
    s = j["metadata"]["result"]["stdout"]
    assert s["value"] == "" and s["truncated"] is True


def test_run_big_output(t):
    f = t.fake
    j = f.run_op(command="i=0; while [ $i -lt 3000 ]; do printf '%01000d\\n' $i; "
                         "i=$((i+1)); done", shell=True,
                 truncate_output_at=8 << 20)
    out = out_of(j)[0]
    assert len(out) == 3000 * 1001 and out.endswith(b"2999\n"), len(out)
    assert j["metadata"]["result"]["stdout"]["truncated"] is False


def test_run_validation(t):
    f = t.fake
    bad = [({"image": ALPINE}, 400), ({"command": "true"}, 400),
           ({"image": ALPINE, "command": ""}, 400),
           ({"image": ALPINE, "command": "true", "args": "x"}, 400),
           ({"image": ALPINE, "command": "true", "env": {"A": 1}}, 400),
           ({"image": ALPINE, "command": "true", "cwd": "rel"}, 400),
           ({"image": ALPINE, "command": "true", "shell": "yes"}, 400),
           ({"image": ALPINE, "command": "true",
             "stdin": {"value": "!!", "encoding": "base64"}}, 400),
           ({"image": "tag:nope:1", "command": "true"}, 404),
           ({"image": "alpine:3.19", "command": "true"}, 404),
           ({"image": "00000000-0000-4000-8000-000000000000", "command": "true"}, 404)]
    n = n_ops(f)
    for body, status in bad:
        err_body(f.call("POST", "/v1/instances", body), status)
    err_body(f.call("POST", "/v1/instances", body=b"{nope",
                    headers={"Content-Type": "application/json"}), 400)
    assert n_ops(f) == n, "rejected spawns created operations"
    j = f.run_op(command="true", env=None, args=None, cwd=None,
                 stdin={"value": ""}, files={})
    assert j["status"] == "SUCCESS", "explicit nulls are legal"


def test_preserve_env(t):
    f = t.fake
    j = f.run_op(command="true", env={"KEEP": "yes"}, preserve_env=True)
    img = j["result"]["image"]
    assert img, j
    j = f.run_op(image=img, command='echo "k=$KEEP"', shell=True)
    assert out_of(j)[0] == b"k=yes\n"
    j = f.run_op(command='echo "k=$KEEP"', shell=True)
    assert out_of(j)[0] == b"k=\n"


def test_exec_modes(t):
    """The documented per-mode behaviour: chroot shows the image's files at
    absolute paths; the fallback gives $ROOT and a cwd inside the tree."""
    f = t.fake
    mode = f.state()["exec_mode"]
    j = f.run_op(command='cat "$ROOT/etc/os-release"', shell=True)
    assert b"ID=alpine" in out_of(j)[0], (mode, out_of(j))
    if mode == "chroot":
        j = f.run_op(command="cat /etc/os-release; ls /bin/ls; id -u", shell=True,
                     uid=1000, gid=1000, cwd="/tmp")
        out = out_of(j)[0]
        assert b"ID=alpine" in out and b"/bin/ls\n" in out and \
            out.endswith(b"1000\n"), out
        j = f.run_op(command="touch /tmp/x; echo > /dev/null", shell=True)
        meta = f.image_meta(j["result"]["image"])
        assert "/tmp/x" in meta and "/bin/busybox" not in meta and \
            "/bin/ls" not in meta and "/dev/null" not in meta, sorted(meta)
    else:
        j = f.run_op(command='test -n "$ROOT" && basename "$PWD"', shell=True)
        assert out_of(j)[0] == b"root\n"


def test_fallback_mode(t):
    f = t.start_fake(chroot=False)
    assert f.state()["exec_mode"] in ("fallback", "chroot")
    assert f.state()["chroot"] is False
    j = f.run_op(command='echo "$ROOT" > where; cat ../etc/hostname', shell=True)
    assert j["status"] == "SUCCESS" and out_of(j)[0] == b"linuxkit\n", j
    tree = f.image_tree(j["result"]["image"])
    assert tree["/root/where"].strip(), "ROOT set in fallback mode"


def test_lifecycle_with_delay(t):
    f = t.start_fake(delay=1.5)
    r = f.call("POST", "/v1/instances", {"image": ALPINE, "command": "echo hi",
                                         "shell": True})
    assert r.status == 201 and r.json["status"] == "PENDING", r
    op = r.json["uuid"]
    seen = []
    while True:
        s = f.call("GET", "/v1/operations/" + op).json["status"]
        if not seen or seen[-1] != s:
            seen.append(s)
        if s in ("SUCCESS", "FAILED", "CANCELLED"):
            break
        time.sleep(0.01)
    order = ["PENDING", "ASSIGNED", "EXECUTING", "SUCCESS"]
    assert seen[-1] == "SUCCESS" and len(seen) >= 2, seen
    assert [s for s in order if s in seen] == seen, "out of order: %r" % seen
    lst = f.call("GET", "/v1/operations", query={"status": "SUCCESS"}).json
    assert [o["uuid"] for o in lst] == [op]


def test_cancel(t):
    f = t.fake
    op = f.spawn(command="echo started; sleep 30", shell=True)
    deadline = time.time() + 20
    while f.call("GET", "/v1/operations/" + op).json["status"] != "EXECUTING":
        assert time.time() < deadline
        time.sleep(0.02)
    r = f.call("DELETE", "/v1/operations/" + op)
    assert r.status == 202 and r.body == b"", r
    j = f.wait_op(op, timeout=10)
    assert j["status"] == "CANCELLED" and j["result"]["image"] is None, j
    assert err_body(f.call("DELETE", "/v1/operations/" + op), 409) == \
        "operation is not cancellable"
    err_body(f.call("DELETE", "/v1/operations/00000000-0000-4000-8000-000000000000"),
             404)
    frames = sse_read(events(f, op)[1])
    last = json.loads(frames[-1]["data"])
    assert last["type"] == "completion" and last["data"]["status"] == "CANCELLED"
    # cancelling while PENDING
    f.config(delay=30)
    op2 = f.spawn(command="true")
    assert f.call("DELETE", "/v1/operations/" + op2).status == 202
    assert f.wait_op(op2, timeout=10)["status"] == "CANCELLED"
    f.config(permissions={"cancel": False}, delay=0)
    op3 = f.spawn(command="sleep 5", shell=True)
    err_body(f.call("DELETE", "/v1/operations/" + op3), 403)


def test_operations_list(t):
    f = t.fake
    ops = [f.spawn(command="true") for _ in range(3)]
    for o in ops:
        f.wait_op(o)
    r = f.call("GET", "/v1/operations")
    assert r.status == 200 and isinstance(r.json, list), "bare array"
    assert [o["uuid"] for o in r.json] == ops[::-1]
    s = r.json[0]
    for k in ("uuid", "kind", "status", "error", "created_at", "duration"):
        assert k in s, s
    assert isinstance(s["duration"], float)
    r = f.call("GET", "/v1/operations", query={"limit": 2, "offset": 1})
    assert [o["uuid"] for o in r.json] == ops[::-1][1:3]
    assert f.call("GET", "/v1/operations", query={"status": "EXECUTING"}).json == []
    assert f.call("GET", "/v1/operations", query={"kind": "image_import"}).json == []
    assert len(f.call("GET", "/v1/operations", query={"kind": "instance"}).json) == 3
    err_body(f.call("GET", "/v1/operations", query={"status": "DONE"}), 400)
    err_body(f.call("GET", "/v1/operations", query={"kind": "x"}), 400)
    err_body(f.call("GET", "/v1/operations", query={"limit": 0}), 400)
    assert f.call("GET", "/v1/operations", query={"until": "1h"}).json == []


def test_import(t):
    f = t.fake
    r = f.call("POST", "/v1/images/import", {
        "registry": {"url": "docker://docker.io/library/alpine:3.20",
                     "credentials": {"username": "u", "password": "s3cret"}},
        "tag": "alpine:3.20", "timeout": 300})
    assert r.status == 201 and set(r.json) == {"uuid"}, r
    assert r.headers["location"] == "/v1/operations/" + r.json["uuid"]
    j = f.wait_op(r.json["uuid"])
    assert j["status"] == "SUCCESS" and j["kind"] == "image_import", j
    assert j["result"]["tag"] == "alpine:3.20" and j["result"]["image"]
    assert j["metadata"]["registry"]["credentials"]["password"] == "<MASKED>"
    assert f.image_uuid("alpine:3.20") == j["result"]["image"]
    assert b"ID=alpine" in f.image_tree(j["result"]["image"])["/etc/os-release"]
    r = f.call("POST", "/v1/images/import", {
        "registry": {"url": "docker://registry.invalid/x/y:1"}, "tag": "y:1"})
    j = f.wait_op(r.json["uuid"])
    assert j["status"] == "FAILED" and j["error"] and j["result"]["image"] is None
    err_body(f.call("POST", "/v1/images/import", {"registry": {}}), 400)
    err_body(f.call("POST", "/v1/images/import",
                    {"registry": {"url": "docker://a/b:1"}, "tag": "bad tag"}), 400)
    f.config(permissions={"import": False})
    err_body(f.call("POST", "/v1/images/import",
                    {"registry": {"url": "docker://a/b:1"}}), 403)


def test_permissions_and_failures(t):
    f = t.fake
    f.config(permissions={"spawn": False})
    assert f.call("GET", "/v1/whoami").json["permissions"]["spawn"] is False
    err_body(f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true"}),
             403)
    assert f.run_op(command="true", disposable=True)["status"] == "SUCCESS"
    f.config(permissions={"spawn": True, "list": False})
    err_body(f.call("GET", "/v1/images"), 403)
    f.config(permissions={"list": True}, fail_ops=1, fail_error="OOM killed")
    j = f.run_op(command="true")
    assert j["status"] == "FAILED" and j["error"] == "OOM killed", j
    assert j["metadata"]["result"] is None
    assert f.run_op(command="true")["status"] == "SUCCESS"


# -------------------------------------------------------------------- SSE --

def test_sse_replay_and_resume(t):
    f = t.fake
    j = f.run_op(command="echo out; echo err >&2; exit 4", shell=True)
    c, r = events(f, j["uuid"])
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    assert r.getheader("Cache-Control") == "no-cache"
    assert r.getheader("Transfer-Encoding") == "chunked"
    frames = sse_read(r)
    evs = [json.loads(x["data"]) for x in frames]
    ids = [int(x["id"]) for x in frames]
    assert ids == list(range(len(frames))), ids
    assert [e["id"] for e in evs] == ids
    assert all(x["event"] == e["type"] for x, e in zip(frames, evs))
    types = [e["type"] for e in evs]
    assert types[0] == "init" and types[-1] == "completion" and \
        types.index("spawn") < types.index("exit"), types
    ex = [e for e in evs if e["type"] == "exit"][0]
    assert ex["spid"] == 1 and ex["data"]["code"] == 4
    comp = evs[-1]["data"]
    assert comp["status"] == "SUCCESS" and comp["result_image_uuid"] == \
        j["result_image_uuid"] and "duration_ms" in comp
    assert [e["spid"] for e in evs if e["type"] in ("init", "completion")] == [0, 0]
    # resume: only ids after Last-Event-Id
    _, r = events(f, j["uuid"], headers={"Last-Event-Id": "2"})
    again = sse_read(r)
    assert [int(x["id"]) for x in again] == ids[3:], again
    _, r = events(f, j["uuid"], headers={"Last-Event-ID": str(ids[-1])},
                  query={"follow": "1"})
    assert sse_read(r) == [], "nothing after completion"
    _, r = events(f, j["uuid"], query={"spid": "1"})
    sp = [json.loads(x["data"]) for x in sse_read(r)]
    assert all(e["spid"] == 1 or e["type"] == "completion" for e in sp)
    assert sp[-1]["type"] == "completion"
    err_body(f.call("GET", "/v1/operations/00000000-0000-4000-8000-000000000000/events"),
             404)


def test_sse_follow_keepalive(t):
    f = t.fake
    f.config(keepalive=0.1)
    op = f.spawn(command="echo a; sleep 1; echo b", shell=True)
    _, r = events(f, op, query={"follow": "1"})
    frames = sse_read(r)
    kinds = [x.get("event") for x in frames]
    assert kinds[-1] == "completion", kinds
    assert any("keepalive" in x["comments"] for x in frames), "no keepalive"
    outs = [json.loads(x["data"])["data"]["value"] for x in frames
            if x.get("event") == "stdout"]
    assert "".join(outs) == "a\nb\n", outs
    # follow from a fresh PENDING operation (delay) still gets everything
    f.config(delay=0.6)
    op = f.spawn(command="echo late", shell=True)
    _, r = events(f, op, query={"follow": ""})
    ev = only_events(sse_read(r))
    assert ev[0]["event"] == "init" and ev[-1]["event"] == "completion"
    # without follow, a running operation's replay ends early
    op = f.spawn(command="sleep 1", shell=True)
    _, r = events(f, op)
    ev = only_events(sse_read(r))
    assert not ev or ev[-1]["event"] != "completion"


def test_sse_faults(t):
    f = t.fake
    j = f.run_op(command="echo 1; echo 2", shell=True)
    op = j["uuid"]
    f.fault(path="/events$", kind="sse_error", after=2, message="log source gone")
    _, r = events(f, op)
    frames = sse_read(r)
    assert [x.get("id") for x in frames[:2]] == ["0", "1"], frames
    assert frames[-1].get("event") == "sse_error" and "id" not in frames[-1] and \
        frames[-1]["data"] == "log source gone", frames
    assert frames[-2]["comments"] and "event" not in frames[-2], \
        "a comment precedes the error frame"
    _, r = events(f, op, headers={"Last-Event-Id": "1"})
    rest = sse_read(r)
    assert rest[0]["id"] == "2" and rest[-1]["event"] == "completion"
    f.fault(path="/events$", kind="sse_cut", after=1)
    _, r = events(f, op)
    try:
        sse_read(r)
        broke = False
    except (http.client.IncompleteRead, http.client.HTTPException, OSError):
        broke = True
    assert broke, "sse_cut must break the chunked stream"
    f.fault(path="/events$", kind="status", status=425, retry_after=1)
    r = f.call("GET", "/v1/operations/%s/events" % op)
    err_body(r, 425)
    assert r.headers["retry-after"] == "1"


# ----------------------------------------------------------------- faults --

def test_fault_status(t):
    f = t.fake
    f.fault(path="^/v1/whoami$", count=2, status=503, retry_after=3)
    for _ in range(2):
        r = f.call("GET", "/v1/whoami")
        err_body(r, 503)
        assert r.headers["retry-after"] == "3"
    assert f.call("GET", "/v1/whoami").status == 200
    f.fault(path="/v1/instances", method="POST", status=429)
    n = n_ops(f)
    err_body(f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true"}),
             429)
    assert n_ops(f) == n, "a status fault must not process the request"
    f.fault(path="/v1/images$", method="POST", status=500)  # method mismatch
    assert f.call("GET", "/v1/images").status == 200
    assert len(f.admin("GET", "faults")) == 1
    f.admin("DELETE", "faults")
    assert f.admin("GET", "faults") == []
    f.fault(path="whoami", count=-1, status=502)
    for _ in range(3):
        err_body(f.call("GET", "/v1/whoami"), 502)


def test_fault_drop_and_lose(t):
    f = t.fake
    n = n_ops(f)
    f.fault(path="/v1/instances", kind="drop")
    try:
        f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true"})
        raise AssertionError("drop answered")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass
    assert n_ops(f) == n, "drop must not process"
    f.fault(path="/v1/instances", kind="lose")
    try:
        f.call("POST", "/v1/instances", {"image": ALPINE, "command": "echo lost",
                                         "shell": True})
        raise AssertionError("lose answered")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass
    lst = f.call("GET", "/v1/operations").json
    assert len(lst) == n + 1, "lose must process the request"
    j = f.wait_op(lst[0]["uuid"])
    assert out_of(j)[0] == b"lost\n"


def test_fault_truncate_badjson_stall(t):
    f = t.fake
    f.fault(path="/v1/images$", kind="truncate")
    c = f.conn()
    c.request("GET", "/v1/images", headers={"Authorization": "Bearer test-token"})
    r = c.getresponse()
    try:
        r.read()
        raise AssertionError("truncated body read completely")
    except http.client.IncompleteRead as e:
        assert len(e.partial) > 0 and e.expected > 0
    f.fault(path="/v1/images$", kind="badjson")
    r = f.call("GET", "/v1/images")
    assert r.status == 200
    try:
        json.loads(r.body)
        raise AssertionError("badjson is valid JSON: %r" % r.body)
    except ValueError:
        pass
    f.fault(path="/v1/whoami", kind="slow", delay=1.5)
    try:
        f.call("GET", "/v1/whoami", timeout=0.3)
        raise AssertionError("slow answered within the client timeout")
    except (socket.timeout, TimeoutError):
        pass
    assert f.call("GET", "/v1/whoami").status == 200
    f.fault(path="/v1/whoami", kind="stall", delay=4)
    c = f.conn(2)
    c.request("GET", "/v1/whoami", headers={"Authorization": "Bearer test-token"})
    r = c.getresponse()
    assert r.status == 200, "headers arrive before the stall"
    try:
        r.read()
        raise AssertionError("stalled body arrived")
    except (socket.timeout, TimeoutError):
        pass


def test_request_log(t):
    f = t.fake
    f.clear_requests()
    f.call("GET", "/v1/images?tag=a+b&tagged=1&x=%2F")
    f.call("POST", "/v1/instances", {"image": ALPINE, "command": "true"},
           headers={"X-Custom": "v"})
    f.admin("GET", "faults")
    logs = f.requests()
    assert [(q["method"], q["path"]) for q in logs] == \
        [("GET", "/v1/images"), ("POST", "/v1/instances")], logs
    assert logs[0]["query"] == {"tag": ["a b"], "tagged": ["1"], "x": ["/"]}
    h = logs[1]["headers"]
    assert h["x-custom"] == "v" and h["authorization"] == "Bearer test-token"
    assert logs[1]["json"] == {"image": ALPINE, "command": "true"}
    assert f.requests(method="post")[0]["path"] == "/v1/instances"
    assert len(f.requests(path="/v1/images")) == 1
    f.clear_requests()
    assert f.requests() == []


def test_seed_flag_and_admin_image(t):
    f = t.start_fake(seed_images=10000)
    n, off = 0, 0
    while True:
        page = f.call("GET", "/v1/images", query={"tag": "seed/", "limit": 1000,
                                                   "offset": off}).json["images"]
        n += len(page)
        off += len(page)
        if len(page) < 1000:
            break
    assert n == 10000, n
    rec = f.add_image({"/hello.txt": "hi\n", "/d": {"type": "dir", "mode": "0700"}},
                      tag="custom:1")
    assert rec["tag"] == "custom:1"
    meta = f.image_meta(rec["uuid"])
    assert meta["/d"]["mode"] == 0o700 and meta["/hello.txt"]["size"] == 3


def test_tls(t):
    f = t.start_fake(tls=True)
    assert f.url.startswith("https://localhost:"), f.url
    ctx = ssl.create_default_context(cafile=f.ca_file)
    c = http.client.HTTPSConnection("localhost", f.port, context=ctx, timeout=10)
    c.request("GET", "/v1/whoami", headers={"Authorization": "Bearer test-token"})
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["permissions"]
    # an untrusting client fails the handshake; the server keeps serving
    try:
        c2 = http.client.HTTPSConnection("localhost", f.port, timeout=10,
                                         context=ssl.create_default_context())
        c2.request("GET", "/v1/whoami")
        c2.getresponse()
        raise AssertionError("TLS with an unknown CA succeeded")
    except ssl.SSLError:
        pass
    assert f.call("GET", "/v1/whoami").status == 200


# ---------------------------------------------------------------- harness --

def test_harness_run_env(t):
    """t.run: clean environment, HOME, auth.ini, stdin, exit status."""
    script = t.write("fakebin", "#!/bin/sh\n"
                     "env | sort\n"
                     "cat \"$HOME/.config/contree/auth.ini\"\n"
                     "cat > \"$HOME/stdin.copy\"\n"
                     "pwd >&2\n"
                     "exit 7\n", mode=0o755)
    os.environ["CONTREE_BIN"] = script
    os.environ["SHOULD_NOT_LEAK"] = "1"
    r = t.run("x", stdin=b"piped", env={"EXTRA": "1"})
    assert r.code == 7, r
    envs = dict(ln.split("=", 1) for ln in r.stdout.splitlines()
                if "=" in ln and not ln.startswith(("token", "url", "type",
                                                    "profile")))
    assert "SHOULD_NOT_LEAK" not in envs
    assert envs["HOME"] == t.home and envs["LANG"] == "C.UTF-8" and \
        envs["TZ"] == "UTC" and envs["EXTRA"] == "1", envs
    assert "url = %s\n" % t.fake.url in r.stdout and "token = test-token" in \
        r.stdout and "type = jwt" in r.stdout and "[profile:default]" in r.stdout
    assert open(os.path.join(t.home, "stdin.copy"), "rb").read() == b"piped"
    assert r.stderr.strip() == os.path.realpath(t.home)
    mode = os.stat(os.path.join(t.home, ".config/contree/auth.ini")).st_mode
    assert mode & 0o777 == 0o600


def test_harness_noauth(t):
    script = t.write("fakebin", "#!/bin/sh\nls -a \"$HOME\"\n", mode=0o755)
    os.environ["CONTREE_BIN"] = script
    t.noauth()
    r = t.run()
    assert r.code == 0 and ".config" not in r.stdout, r
    assert t._fake is None, "noauth runs do not start a fake"
