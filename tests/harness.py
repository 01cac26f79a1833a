"""harness.py - end-to-end test harness: a fresh fake ConTree API and a
fresh $HOME for every test, and a way to run the contree binary.

    def test_something(t):
        t.fake            # fake API server, started on first use, stopped after
        t.fake.url        # "http://127.0.0.1:PORT" (+ prefix); token "test-token"
        t.home            # $HOME of the contree process; auth.ini in
                          # $HOME/.config/contree unless t.noauth() came first
        r = t.run("images", "-a", stdin=b"...", env={"X": "1"}, cwd=None,
                  timeout=60)
        r.code, r.out, r.err (bytes), r.stdout, r.stderr (str)
        t.fake.requests(method=None, path=None)  # [{method, path, query,
                          # headers, body, json}]  (path: exact, or a suffix
                          # of the logged path so "/v1/x" matches a prefix)
        t.fake.clear_requests()
        t.fake.fault(path=REGEX, method=None, count=1, kind="status",
                     status=503, retry_after=None, delay=0)
        t.fake.admin(method, path, obj=None)      # raw admin call -> JSON
        t.fake.seed_images(n)
        t.fake.image_tree(uuid)                   # {path: bytes} (files)

More:
    t.start_fake(tls=False, tls_cert=None, tls_key=None, prefix="",
                 project=None, delay=None, seed_images=0, chroot=None,
                 token="test-token", host=None, args=())
        custom fake; call before first use of t.fake.  tls=True makes a CA
        and a localhost certificate with openssl (t.fake.ca_file).  With
        project=P the auth.ini profile is `type = iam` with `project = P`.
    t.fake.call(method, path, body=None, headers=None, query=None, auth=True,
                timeout=30) -> Resp(status, reason, headers, body, json)
        one raw request ("/v1/..." - the prefix is added); body: dict/list
        -> JSON, bytes -> raw.
    t.fake.config(**kw), t.fake.image_meta(uuid), t.fake.add_image(files,
    tag=None, parent=None), t.fake.wait_op(uuid), t.fake.spawn(**body),
    t.fake.image_uuid(tag), t.fake.state()
    t.tmp (scratch dir), t.write(name, data) -> path

Runs get a clean environment: HOME=t.home, PATH, LANG=C.UTF-8, TZ=UTC, plus
env= (a None value removes a key).  cwd=None runs in t.home.  stdin=None
gives /dev/null; other input comes from a file (see T.run).  The binary is $CONTREE_BIN or ./contree of the repo root.
"""

import base64
import http.client
import json
import os
import select
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
FAKE = os.path.join(TESTS, "fakeapi.py")
TOKEN = "test-token"


class Result:
    """Outcome of one contree run."""

    def __init__(self, args, code, out, err):
        self.args, self.code, self.out, self.err = args, code, out, err

    @property
    def stdout(self):
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self):
        return self.err.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "<contree %s: exit %s, stdout %r, stderr %r>" % (
            " ".join(self.args), self.code, self.stdout[:300], self.stderr[:300])


class Resp:
    """A raw HTTP answer from the fake (Fake.call)."""

    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = \
            status, reason, headers, body

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.body[:300])


def make_certs(d):
    """A test CA and a certificate for localhost/127.0.0.1 signed by it.
    Returns (ca, cert, key)."""
    def ossl(*a):
        subprocess.run(("openssl",) + a, check=True, capture_output=True)
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr = os.path.join(d, "srv.key"), os.path.join(d, "srv.csr")
    cert, ext = os.path.join(d, "srv.pem"), os.path.join(d, "srv.ext")
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca, "-days", "30",
         "-subj", "/CN=contree test CA")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "30", "-extfile", ext)
    return ca, cert, key


class Fake:
    """One fake API server process (tests/fakeapi.py)."""

    def __init__(self, workdir, tls=False, tls_cert=None, tls_key=None,
                 prefix="", project=None, delay=None, seed_images=0,
                 chroot=None, token=TOKEN, host=None, args=()):
        self.token = token
        self.project = project
        self.prefix = prefix.rstrip("/")
        if self.prefix and not self.prefix.startswith("/"):
            self.prefix = "/" + self.prefix
        self.ca_file = None
        if tls and not tls_cert:
            self.ca_file, tls_cert, tls_key = make_certs(workdir)
        self.tls = bool(tls_cert)
        # Imported rather than run as a script so its bytecode is cached;
        # -S skips site-packages (stdlib only) for a faster start.
        cmd = [sys.executable, "-S", "-c",
               "import sys; sys.path.insert(0, %r); import fakeapi; "
               "fakeapi.main(sys.argv[1:])" % TESTS,
               "--port", "0", "--token", token, "--state-dir", workdir]
        if tls_cert:
            cmd += ["--tls-cert", tls_cert, "--tls-key", tls_key or tls_cert]
        if self.prefix:
            cmd += ["--prefix", self.prefix]
        if project:
            cmd += ["--project", project]
        if delay is not None:
            cmd += ["--delay", str(delay)]
        if seed_images:
            cmd += ["--seed-images", str(seed_images)]
        if chroot is False:
            cmd += ["--no-chroot"]
        cmd += list(args)
        self.log = os.path.join(workdir, "fake.log")
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self._logf, stdin=subprocess.DEVNULL)
        line = b""
        deadline = time.monotonic() + 30
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self.stop()
                raise AssertionError("fake did not start: " + self.log_tail())
            b = os.read(self.proc.stdout.fileno(), 256)
            if not b:
                self.stop()
                raise AssertionError("fake exited: " + self.log_tail())
            line += b
        words = line.decode().split()
        if words[:2] != ["listening", "on"]:
            self.stop()
            raise AssertionError("fake said %r" % line)
        u = urllib.parse.urlsplit(words[2])
        self.scheme, self.port = u.scheme, u.port
        self.host = host or ("localhost" if self.tls else "127.0.0.1")
        self.url = "%s://%s:%d%s" % (self.scheme, self.host, self.port, self.prefix)

    def log_tail(self, n=2000):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self._logf.close()

    # -- raw HTTP ------------------------------------------------------------
    def conn(self, timeout=30):
        """A new connection to the fake (TLS verification off)."""
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port,
                                               timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, headers=None, query=None, auth=True,
             timeout=30, conn=None):
        """One request; path "/v1/..." gets the prefix added."""
        if path.startswith("/v1"):
            path = self.prefix + path
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(
                query, doseq=True)
        h = {}
        if auth:
            h["Authorization"] = "Bearer " + self.token
            if self.project:
                h["Project"] = self.project
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = conn or self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Resp(r.status, r.reason,
                        {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if conn is None:
                c.close()

    def admin(self, method, path, obj=None):
        """Raw admin call; returns the parsed JSON answer."""
        if not path.startswith("/_admin"):
            path = "/_admin/" + path.lstrip("/")
        body = json.dumps(obj).encode() if obj is not None else None
        r = self.call(method, path, body=body, auth=False,
                      headers={"Content-Type": "application/json"} if body else None)
        if r.status != 200:
            raise AssertionError("admin %s %s: %d %r" % (method, path, r.status,
                                                          r.body[:300]))
        return r.json

    # -- admin helpers ---------------------------------------------------------
    def requests(self, method=None, path=None):
        out = []
        for e in self.admin("GET", "requests"):
            if method and e["method"] != method.upper():
                continue
            if path and not (e["path"] == path or e["path"].endswith(path)):
                continue
            body = base64.b64decode(e["body_b64"])
            try:
                js = json.loads(body) if body else None
            except ValueError:
                js = None
            out.append({"method": e["method"], "path": e["path"],
                        "query": e["query"], "headers": e["headers"],
                        "body": body, "json": js})
        return out

    def clear_requests(self):
        self.admin("DELETE", "requests")

    def fault(self, path=".*", method=None, count=1, kind="status", status=503,
              retry_after=None, delay=0, after=None, message=None):
        spec = {"path": path, "method": method, "count": count, "kind": kind,
                "status": status, "retry_after": retry_after, "delay": delay}
        if after is not None:
            spec["after"] = after
        if message is not None:
            spec["message"] = message
        return self.admin("POST", "fault", spec)["id"]

    def config(self, **kw):
        return self.admin("POST", "config", kw)

    def state(self):
        return self.admin("GET", "state")

    def seed_images(self, n):
        return self.admin("POST", "seed", {"n": n})

    def image_meta(self, uuid):
        return self.admin("GET", "image/%s/tree" % uuid)

    def image_tree(self, uuid):
        return {p: base64.b64decode(e["content_b64"])
                for p, e in self.image_meta(uuid).items() if e["type"] == "file"}

    def add_image(self, files, tag=None, parent=None, delete=None):
        """files: {path: text | bytes | {type, text, content_b64, host_path,
        mode, uid, gid, target}} -> image record."""
        spec = {}
        for p, v in files.items():
            if isinstance(v, str):
                v = {"text": v}
            elif isinstance(v, bytes):
                v = {"content_b64": base64.b64encode(v).decode()}
            spec[p] = v
        return self.admin("POST", "image", {"files": spec, "tag": tag,
                                            "parent": parent,
                                            "delete": delete or []})

    # -- API helpers -----------------------------------------------------------
    def image_uuid(self, tag):
        r = self.call("GET", "/v1/images", query={"tag": tag, "limit": 1000})
        for i in r.json["images"]:
            if i["tag"] == tag:
                return i["uuid"]
        raise AssertionError("no image tagged %s" % tag)

    def spawn(self, **body):
        """POST /v1/instances; image defaults to tag:alpine:3.19."""
        body.setdefault("image", "tag:alpine:3.19")
        r = self.call("POST", "/v1/instances", body)
        if r.status not in (200, 201, 202):
            raise AssertionError("spawn: %r" % r)
        return r.json["uuid"]

    def wait_op(self, op, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            r = self.call("GET", "/v1/operations/" + op)
            if r.status != 200:
                raise AssertionError("wait %s: %r" % (op, r))
            if r.json["status"] in ("SUCCESS", "FAILED", "CANCELLED"):
                return r.json
            if time.monotonic() > deadline:
                raise AssertionError("operation %s still %s" % (op, r.json["status"]))
            time.sleep(0.02)

    def executing(self, n=1, timeout=20):
        """Wait until at least n operations execute; their list."""
        deadline = time.monotonic() + timeout
        while True:
            ops = self.call("GET", "/v1/operations",
                            query={"status": "EXECUTING"}).json
            if len(ops) >= n:
                return ops
            if time.monotonic() > deadline:
                raise AssertionError("%d of %d operations executing"
                                     % (len(ops), n))
            time.sleep(0.05)

    def run_op(self, **body):
        return self.wait_op(self.spawn(**body))


class T:
    """Per-test context."""

    def __init__(self, name="test", workdir=None):
        self.name = name
        self.dir = workdir or tempfile.mkdtemp(prefix="contree-e2e-")
        self.home = os.path.join(self.dir, "home")
        self.tmp = os.path.join(self.dir, "tmp")
        os.makedirs(self.home)
        os.makedirs(self.tmp)
        self._fake = None
        self._noauth = False

    # -- fake ----------------------------------------------------------------
    def start_fake(self, **kw):
        if self._fake is not None:
            raise AssertionError("start_fake() after the fake was started")
        d = os.path.join(self.dir, "fake%d" % os.getpid())
        os.makedirs(d, exist_ok=True)
        self._fake = Fake(d, **kw)
        self._write_auth()
        return self._fake

    @property
    def fake(self):
        if self._fake is None:
            self.start_fake()
        return self._fake

    def noauth(self):
        """No auth.ini (call before the fake starts or the first run)."""
        self._noauth = True

    def _write_auth(self):
        if self._noauth:
            return
        d = os.path.join(self.home, ".config", "contree")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "auth.ini")
        if os.path.exists(path):
            return
        f = self._fake
        text = ("[DEFAULT]\nprofile = default\n\n[profile:default]\n"
                "token = %s\nurl = %s\n" % (f.token, f.url))
        text += ("type = iam\nproject = %s\n" % f.project) if f.project \
            else "type = jwt\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)

    # -- running contree -------------------------------------------------------
    @staticmethod
    def binary():
        return os.environ.get("CONTREE_BIN") or os.path.join(REPO, "contree")

    def env(self, extra=None):
        e = {"HOME": self.home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "LANG": "C.UTF-8", "TZ": "UTC"}
        for k, v in (extra or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def run(self, *args, stdin=None, env=None, cwd=None, timeout=60):
        if not self._noauth:
            self.fake  # a profile needs the fake's URL
        exe = self.binary()
        if not os.access(exe, os.X_OK):
            raise AssertionError("contree binary not found: %s (build it or set "
                                 "CONTREE_BIN)" % exe)
        argv = [exe] + [str(a) for a in args]
        # Input comes from a file, as with `contree run cat < file`: a
        # pipe written after the start would race contree's zero-timeout
        # check for ready input (cli.md §9.2.1), making tests flaky.
        src = subprocess.DEVNULL
        if stdin is not None:
            src = tempfile.TemporaryFile(dir=self.tmp)
            src.write(stdin.encode() if isinstance(stdin, str) else stdin)
            src.seek(0)
        try:
            p = subprocess.run(argv, stdin=src, capture_output=True,
                               env=self.env(env), cwd=cwd or self.home,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("contree %s: no exit after %ss"
                                 % (" ".join(map(str, args)), timeout))
        finally:
            if stdin is not None:
                src.close()
        return Result([str(a) for a in args], p.returncode, p.stdout, p.stderr)

    # -- files -----------------------------------------------------------------
    def write(self, name, data, mode=None):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def close(self, keep=False):
        if self._fake is not None:
            self._fake.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- assertions shared by the e2e files ----------------------------------------

def ok(r, what=""):
    """r exited 0; returns r."""
    assert r.code == 0, "%s: %r" % (what or " ".join(r.args), r)
    return r


def fails(r, text=None, code=1):
    """r exited with code and, if given, text is in its stderr."""
    assert r.code == code, "expected exit %d: %r" % (code, r)
    if text:
        assert text in r.stderr, "expected %r in stderr: %r" % (text, r)
    return r


def rows(r):
    """JSON Lines output -> list of dicts."""
    return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
