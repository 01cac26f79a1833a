"""e2e_http.py - the HTTP layer and retry policy (http.c, api.c) against
the fake API, driven through tests/apitool (no dependence on contree.c).

CONTREE_RETRY_SCALE=0.01 (a test hook of api.c) shrinks the back-off
sleeps; the WARNING lines still name the unscaled delay."""

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import threading

import harness

APITOOL = os.path.join(harness.REPO, "tests", "apitool")


def api(t, *args, env=None, stdin=None, timeout=60, url=None):
    """Run tests/apitool against t.fake; returns a harness.Result."""
    if not os.access(APITOOL, os.X_OK):
        raise AssertionError("tests/apitool not built (make tests/apitool)")
    e = {"CONTREE_URL": url or t.fake.url, "CONTREE_TOKEN": t.fake.token,
         "CONTREE_RETRY_SCALE": "0.01"}
    if t.fake.project:
        e["CONTREE_PROJECT"] = t.fake.project
    if getattr(t.fake, "ca_file", None):
        e["CONTREE_CA_FILE"] = t.fake.ca_file
    e.update(env or {})
    argv = [APITOOL] + [str(a) for a in args]
    try:
        p = subprocess.run(argv, input=stdin,
                           stdin=subprocess.DEVNULL if stdin is None else None,
                           capture_output=True, env=t.env(e), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("apitool %s: no exit after %ss" % (args, timeout))
    return harness.Result(argv, p.returncode, p.stdout, p.stderr)


def body_json(r):
    """JSON body printed by apitool after its 'status N' line."""
    lines = r.stdout.split("\n", 1)
    assert lines[0].startswith("status "), "no status line: %r" % r.stdout
    return json.loads(lines[1])


def warnings(r):
    return [l for l in r.stderr.splitlines() if l.startswith("[WARNING]")]


def stats(r):
    m = re.search(r"conns (\d+) reqs (\d+)", r.stderr)
    assert m, "no stats in %r" % r.stderr
    return int(m.group(1)), int(m.group(2))


def spawn_body(t, cmd="echo hi"):
    return json.dumps({"image": "tag:alpine:3.19", "command": cmd,
                       "shell": True})


def op_count(t):
    r = t.fake.call("GET", "/v1/operations", query={"limit": 1000})
    return len(r.json)


# --------------------------------------------------------------- basics

def test_keepalive_one_connection(t):
    r = api(t, "-s", "-r", "5", "-q", "limit=2", "/images")
    assert r.code == 0, r.stderr
    conns, reqs = stats(r)
    assert (conns, reqs) == (1, 5), "want 1 connection for 5 requests: %r" % r.stderr
    reqs = t.fake.requests("GET", "/v1/images")
    assert len(reqs) == 5, reqs
    h = reqs[0]["headers"]
    assert h["authorization"] == "Bearer test-token", h
    assert h["user-agent"].startswith("contree-cli/0.6.0 "), h
    assert "gzip" not in h.get("accept-encoding", ""), h
    assert "project" not in h, "JWT profiles send no Project: %r" % h
    assert reqs[0]["query"] == {"limit": ["2"]}, reqs[0]


def test_iam_project_header(t):
    t.start_fake(project="proj-1")
    r = api(t, "/images")
    assert r.code == 0, r.stderr
    h = t.fake.requests("GET", "/v1/images")[0]["headers"]
    assert h.get("project") == "proj-1", h


def test_path_prefix_kept(t):
    t.start_fake(prefix="/sandboxes")
    r = api(t, "-q", "limit=1", "/images")
    assert r.code == 0, r.stderr
    paths = [q["path"] for q in t.fake.requests("GET")]
    assert "/sandboxes/v1/images" in paths, paths


def test_query_values_encoded(t):
    val = "a b/c:d+e&f=g%h"
    r = api(t, "-q", "tag=" + val, "-q", "limit=5", "/images")
    assert r.code == 0, r.stderr
    q = t.fake.requests("GET", "/v1/images")[0]["query"]
    assert q["tag"] == [val], q


def test_api_error_message(t):
    r = api(t, "/operations/00000000-0000-0000-0000-000000000000")
    assert r.code == 1
    # the server's message, not its JSON (issue 11)
    assert "error: API 404 Not Found: operation not found\n" in r.stderr, \
        r.stderr
    assert not warnings(r), "4xx must not be retried: %r" % r.stderr


def test_bad_urls_refused(t):
    for url, msg in (("ftp://127.0.0.1/", "unsupported scheme"),
                     ("127.0.0.1:1/x", "no scheme"),
                     ("http://:80/", "no host"),
                     ("http://[::1/", "IPv6")):
        r = api(t, "/images", url=url)
        assert r.code == 1 and msg in r.stderr, (url, r.stderr)


def test_connect_refused_short_retry_names_url(t):
    # a refused connection is almost always a wrong URL: a few seconds of
    # retries (0.5, 1, 2 s), then an error that names the URL
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = "http://127.0.0.1:%d" % port
    r = api(t, "-s", "/images", url=url)
    assert r.code == 1
    assert "Network error: cannot connect to 127.0.0.1 port %d" % port in r.stderr, r.stderr
    assert "refused" in r.stderr, r.stderr
    assert "(is the URL %s right?)" % url in r.stderr, r.stderr
    w = warnings(r)
    delays = [re.search(r"retrying in ([\d.]+) s", l).group(1) for l in w]
    assert delays == ["0.5", "1", "2"], w


def test_debug_trace_redacts_secrets(t):
    r = api(t, "-L", "debug", "-q", "limit=1", "/images")
    assert r.code == 0, r.stderr
    assert "> GET /v1/images?limit=1 HTTP/1.1" in r.stderr, r.stderr
    assert "> Authorization: <redacted>" in r.stderr, r.stderr
    assert "< HTTP/1.1 200" in r.stderr, r.stderr
    assert '< {"images"' in r.stderr, "body shown: %r" % r.stderr
    assert "test-token" not in r.stderr, "token leaked into the log"


def test_token_never_logged_on_errors(t):
    t.fake.fault(path="/v1/images$", kind="status", status=500, count=2)
    r = api(t, "-L", "debug", "/images", env={"CONTREE_TOKEN": "s3cr3t-T0ken"},
            url=t.fake.url)
    assert "s3cr3t-T0ken" not in r.stderr and "s3cr3t-T0ken" not in r.stdout


# -------------------------------------------------------------- retries

def test_5xx_then_success(t):
    for st in (500, 502, 503):
        t.fake.fault(path="/v1/images$", kind="status", status=st)
    r = api(t, "-s", "/images")
    assert r.code == 0, r.stderr
    w = warnings(r)
    assert len(w) == 3, w
    assert "API 500" in w[0] and "retrying in 1 s" in w[0], w
    assert "API 502" in w[1] and "retrying in 2 s" in w[1], w
    assert "API 503" in w[2] and "retrying in 4 s" in w[2], w
    assert stats(r) == (1, 4), r.stderr


def test_501_not_retried(t):
    t.fake.fault(path="/v1/images$", kind="status", status=501)
    r = api(t, "/images")
    assert r.code == 1 and "API 501" in r.stderr and not warnings(r), r.stderr


def test_429_retry_after_honoured(t):
    t.fake.fault(path="/v1/images$", kind="status", status=429, retry_after=3)
    r = api(t, "/images")
    assert r.code == 0, r.stderr
    w = warnings(r)
    assert len(w) == 1 and "API 429" in w[0] and "retrying in 3 s" in w[0], w


def test_retry_after_capped(t):
    t.fake.fault(path="/v1/images$", kind="status", status=503,
                 retry_after=100000)
    r = api(t, "/images")
    assert r.code == 0, r.stderr
    w = warnings(r)
    assert len(w) == 1 and "retrying in 60 s" in w[0], w


def test_gives_up_after_8_attempts(t):
    t.fake.fault(path="/v1/images$", kind="status", status=503, count=-1)
    r = api(t, "-s", "/images")
    assert r.code == 1
    assert "error: API 503 Service Unavailable" in r.stderr, r.stderr
    assert len(warnings(r)) == 7, r.stderr
    assert stats(r)[1] == 8, r.stderr


def test_noretry_flag_single_attempt(t):
    t.fake.fault(path="/v1/images$", kind="status", status=503, count=-1)
    r = api(t, "-1", "-s", "/images")
    assert r.code == 1 and not warnings(r) and stats(r)[1] == 1, r.stderr


def test_dropped_connection_retried(t):
    t.fake.fault(path="/v1/images$", kind="drop")
    r = api(t, "/images")
    assert r.code == 0, r.stderr
    w = warnings(r)
    assert len(w) == 1 and "Network error" in w[0], w


def test_truncated_body_retried(t):
    t.fake.fault(path="/v1/images$", kind="truncate")
    r = api(t, "/images")
    assert r.code == 0, r.stderr
    w = warnings(r)
    assert len(w) == 1 and "before the end of the body" in w[0], w
    assert "images" in body_json(r)


def test_timeout_not_retried(t):
    t.fake.fault(path="/v1/images$", kind="slow", delay=5)
    r = api(t, "-t", "500", "/images")
    assert r.code == 1
    assert "Network timeout: no answer from %s in 0.5 s" % t.fake.url in r.stderr, r.stderr
    assert not warnings(r), "a timeout is not retried: %r" % r.stderr


# --------------------------------------------- spawn/import: NOREPLAY

def test_lost_spawn_not_resent(t):
    t.fake.fault(path="/v1/instances$", method="POST", kind="lose")
    r = api(t, "-n", "-X", "POST", "-d", spawn_body(t), "/instances")
    assert r.code == 1
    assert "may have been processed" in r.stderr, r.stderr
    assert not warnings(r), r.stderr
    assert len(t.fake.requests("POST", "/v1/instances")) == 1
    assert op_count(t) == 1, "exactly one operation must exist"


def test_spawn_500_not_resent(t):
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=500)
    r = api(t, "-n", "-X", "POST", "-d", spawn_body(t), "/instances")
    assert r.code == 1 and "API 500" in r.stderr, r.stderr
    assert len(t.fake.requests("POST", "/v1/instances")) == 1


def test_spawn_truncated_answer_not_resent(t):
    t.fake.fault(path="/v1/instances$", method="POST", kind="truncate")
    r = api(t, "-n", "-X", "POST", "-d", spawn_body(t), "/instances")
    assert r.code == 1, r.stdout
    assert len(t.fake.requests("POST", "/v1/instances")) == 1
    assert op_count(t) == 1


def test_spawn_429_and_503_retry_after_resent(t):
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=429)
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=503,
                 retry_after=1)
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=425,
                 retry_after=1)
    r = api(t, "-n", "-X", "POST", "-d", spawn_body(t), "/instances")
    assert r.code == 0, r.stderr
    assert len(warnings(r)) == 3, r.stderr
    assert op_count(t) == 1


def test_spawn_503_without_retry_after_not_resent(t):
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=503)
    r = api(t, "-n", "-X", "POST", "-d", spawn_body(t), "/instances")
    assert r.code == 1 and "API 503" in r.stderr and not warnings(r), r.stderr


def test_spawn_dropped_before_processing_is_not_resent(t):
    # the client cannot tell "dropped before" from "lost after": no resend
    t.fake.fault(path="/v1/instances$", method="POST", kind="drop")
    r = api(t, "-n", "-X", "POST", "-d", spawn_body(t), "/instances")
    assert r.code == 1 and not warnings(r), r.stderr
    assert op_count(t) == 0


def test_spawn_fresh_connection_after_idle(t):
    # NOREPLAY requests never go out on a connection idle for over 1 s
    r = api(t, "-s", "-n", "-r", "2", "-w", "1200", "-X", "POST", "-d",
            spawn_body(t), "/instances")
    assert r.code == 0, r.stderr
    assert stats(r) == (2, 2), r.stderr


# ---------------------------------------------------- upload / download

def test_upload_content_length(t):
    data = os.urandom(300000)
    path = t.write("blob", data)
    r = api(t, "-U", path)
    assert r.code == 0, r.stderr
    js = body_json(r)
    assert js["sha256"] == hashlib.sha256(data).hexdigest(), js
    req = t.fake.requests("POST", "/v1/files")[0]
    assert req["headers"].get("content-length") == str(len(data)), req["headers"]
    assert req["headers"].get("content-type") == "application/octet-stream"


def test_upload_chunked_from_pipe(t):
    data = os.urandom(200000)
    r = api(t, "-U", "-", stdin=data)
    assert r.code == 0, r.stderr
    assert body_json(r)["sha256"] == hashlib.sha256(data).hexdigest()
    req = t.fake.requests("POST", "/v1/files")[0]
    assert req["headers"].get("transfer-encoding") == "chunked", req["headers"]


def test_upload_empty_file(t):
    path = t.write("empty", b"")
    r = api(t, "-U", path)
    assert r.code == 0, r.stderr
    assert body_json(r)["sha256"] == hashlib.sha256(b"").hexdigest()


def test_upload_retry_resends_whole_body(t):
    data = os.urandom(100000)
    path = t.write("blob", data)
    t.fake.fault(path="/v1/files$", method="POST", kind="status", status=503)
    t.fake.fault(path="/v1/files$", method="POST", kind="lose")
    r = api(t, "-U", path)
    assert r.code == 0, r.stderr
    # the loss happens on the kept-alive connection, so it is taken for a
    # stale connection and re-sent at once without a warning
    assert len(warnings(r)) == 1, r.stderr
    reqs = t.fake.requests("POST", "/v1/files")
    assert len(reqs) == 3, len(reqs)
    assert all(q["body"] == data for q in reqs), "every attempt sends it all"
    assert body_json(r)["sha256"] == hashlib.sha256(data).hexdigest()


def _image_with(t, content):
    img = t.fake.add_image({"/data/blob.bin": content}, tag="dl:test")
    return img["uuid"]


def test_download_to_file(t):
    content = os.urandom(1 << 20)
    uuid = _image_with(t, content)
    out = os.path.join(t.tmp, "out.bin")
    r = api(t, "-q", "path=/data/blob.bin", "-O", out,
            "/inspect/%s/download" % uuid)
    assert r.code == 0, r.stderr
    with open(out, "rb") as f:
        assert f.read() == content


def test_download_truncated_retried_and_rewound(t):
    content = os.urandom(300000)
    uuid = _image_with(t, content)
    t.fake.fault(path="/download$", kind="truncate")
    out = os.path.join(t.tmp, "out.bin")
    r = api(t, "-q", "path=/data/blob.bin", "-O", out,
            "/inspect/%s/download" % uuid)
    assert r.code == 0, r.stderr
    assert len(warnings(r)) == 1, r.stderr
    with open(out, "rb") as f:
        got = f.read()
    assert got == content, "rewound file: %d bytes, want %d" % (len(got), len(content))


def test_download_404(t):
    uuid = _image_with(t, b"x")
    r = api(t, "-q", "path=/nope", "-O", os.path.join(t.tmp, "o"),
            "/inspect/%s/download" % uuid)
    assert r.code == 1 and "API 404" in r.stderr, r.stderr


# --------------------------------------------------------------- events

def _events(r):
    out = []
    for line in r.stdout.splitlines():
        if line == "fallback":
            out.append(("fallback", None))
            continue
        typ, _, data = line.partition(" ")
        out.append((typ, json.loads(data) if typ != "sse_error" else data))
    return out


def test_events_follow_to_completion(t):
    op = t.fake.spawn(command="echo hello", shell=True)
    r = api(t, "-E", op)
    assert r.code == 0, r.stderr
    ev = _events(r)
    assert ev and ev[-1][0] == "completion", ev
    ids = [e[1]["id"] for e in ev]
    assert ids == sorted(set(ids)), "ids in order, no repeats: %r" % ids
    req = t.fake.requests("GET", "/v1/operations/%s/events" % op)[0]
    assert req["query"].get("follow") == ["1"], req
    assert req["headers"].get("accept") == "text/event-stream"


def test_events_resume_after_sse_error(t):
    op = t.fake.spawn(command="echo a; echo b; echo c", shell=True)
    t.fake.wait_op(op)
    t.fake.fault(path="/events$", kind="sse_error", after=2)
    r = api(t, "-E", op)
    assert r.code == 0, r.stderr
    ev = _events(r)
    ids = [e[1]["id"] for e in ev]
    assert ev[-1][0] == "completion" and ids == list(range(len(ids))), ids
    reqs = t.fake.requests("GET", "/v1/operations/%s/events" % op)
    assert len(reqs) >= 2, reqs
    assert reqs[1]["headers"].get("last-event-id") == "1", reqs[1]["headers"]


def test_events_resume_after_cut(t):
    op = t.fake.spawn(command="echo a; echo b", shell=True)
    t.fake.wait_op(op)
    t.fake.fault(path="/events$", kind="sse_cut", after=1)
    r = api(t, "-E", op)
    assert r.code == 0, r.stderr
    ev = _events(r)
    ids = [e[1]["id"] for e in ev]
    assert ev[-1][0] == "completion" and ids == list(range(len(ids))), ids


def test_events_404_falls_back(t):
    op = t.fake.spawn(command="true", shell=True)
    for st in (404, 405, 406, 400):
        t.fake.fault(path="/events$", kind="status", status=st)
        r = api(t, "-E", op)
        assert r.code == 0 and r.stdout.strip() == "fallback", (st, r.stdout, r.stderr)


def test_events_425_then_stream(t):
    # still running at the 425, so the client must reconnect (a finished
    # operation may end the wait without its stream: api.md §4.5 step 3)
    op = t.fake.spawn(command="sleep 3; echo x", shell=True)
    t.fake.fault(path="/events$", kind="status", status=425, retry_after=1)
    r = api(t, "-E", op)
    assert r.code == 0, r.stderr
    assert _events(r)[-1][0] == "completion"


def test_events_403_fatal(t):
    op = t.fake.spawn(command="true", shell=True)
    t.fake.fault(path="/events$", kind="status", status=403)
    r = api(t, "-E", op)
    assert r.code == 1 and "API 403" in r.stderr, r.stderr


# ---------------------------------------------------------------- proxy

class _Proxy:
    """A tiny forward proxy: absolute-form requests and CONNECT tunnels.
    Records the first line of each request."""

    def __init__(self):
        self.lines = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _one(self, c):
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(4096)
            if not d:
                c.close()
                return
            head += d
        line = head.split(b"\r\n", 1)[0].decode()
        self.lines.append(line)
        method, target, _ = line.split(" ", 2)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up = socket.create_connection(("127.0.0.1", int(port)))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                up.sendall(rest)
        else:
            m = re.match(r"http://([^/:]+):(\d+)(/.*)", target)
            up = socket.create_connection(("127.0.0.1", int(m.group(2))))
            up.sendall(head.replace(target.encode(), m.group(3).encode(), 1))
        threading.Thread(target=self._pipe, args=(up, c), daemon=True).start()
        self._pipe(c, up)


def test_http_proxy_used_and_no_proxy(t):
    p = _Proxy()
    t.fake  # start it
    r = api(t, "/images", env={"http_proxy": "127.0.0.1:%d" % p.port})
    assert r.code == 0, r.stderr
    assert p.lines and p.lines[0].startswith("GET http://127.0.0.1:%d/v1/images"
                                              % t.fake.port), p.lines
    n = len(p.lines)
    r = api(t, "/images", env={"HTTP_PROXY": "http://127.0.0.1:%d" % p.port,
                               "NO_PROXY": "example.com,127.0.0.1"})
    assert r.code == 0, r.stderr
    assert len(p.lines) == n, "NO_PROXY host went through the proxy"


def test_proxy_refused_connection(t):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = api(t, "-1", "/images", env={"http_proxy": "http://127.0.0.1:%d" % port})
    assert r.code == 1 and "cannot connect to 127.0.0.1 port %d" % port in r.stderr, r.stderr


def early_server(ctx=None, delay=0.3):
    """Answers 413 as soon as it has the request head, without reading the
    body, then closes.  Returns the port."""
    import time
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)

    def serve():
        c, _ = s.accept()
        if ctx:
            c = ctx.wrap_socket(c, server_side=True)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += c.recv(4096)
        body = b'{"error": "too big", "status": 413}'
        c.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(body) + body)
        time.sleep(delay)
        c.close()
        s.close()

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def test_early_answer_to_upload(t):
    # a server that refuses a big upload before reading it: the user sees
    # its answer, not "broken pipe"
    path = t.write("big", os.urandom(20 << 20))
    t.fake
    port = early_server()
    r = api(t, "-U", path, url="http://127.0.0.1:%d" % port)
    assert r.code == 1, r.stdout
    assert "API 413 Payload Too Large" in r.stderr, r.stderr
