"""e2e_build.py - `contree build` against the fake, which really runs
every step (cli.md §9.3, issue 12): multi-step builds, the layer cache
(an identical second build spawns nothing; a changed COPY source re-runs
from its step), .dockerignore, variables, USER, failing steps, malformed
Dockerfiles, the context boundary and Ctrl-C."""

import hashlib
import os
import select
import signal
import subprocess
import time

from harness import fails, ok, rows

BASE = "alpine:3.19"


def ctx(t, files, name="ctx"):
    """A build context under t.tmp with files {relpath: text|bytes}."""
    root = os.path.join(t.tmp, name)
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    os.makedirs(root, exist_ok=True)
    return root


def build(t, root, *args, fmt="json", env=None):
    return t.run("-f", fmt, "build", *args, root, env=env)


def spawns(t):
    return t.fake.requests("POST", "/v1/instances")


def tree(t, image):
    return t.fake.image_tree(image)


def result(r):
    got = rows(r)
    assert len(got) == 1 and set(got[0]) == {"image", "tag", "session"}, r
    return got[0]


def session_key(root):
    real = os.path.realpath(root)
    return "build:" + hashlib.sha256(real.encode()).hexdigest()[:16]


def test_multi_step_build_and_full_cache(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s\n"
                      "# a comment\n"
                      "ENV GREETING=hello\n"
                      "WORKDIR /app\n"
                      "COPY app.txt ./\n"
                      "RUN cat app.txt > copy.txt && \\\n"
                      "    echo \"$GREETING\" > greet.txt\n"
                      "RUN for f in a b; do echo $f; done > loop.txt\n"
                      "CMD [\"sh\"]\n" % BASE,
        "app.txt": "payload\n",
    })
    r = ok(build(t, root, "--tag", "demo:1"))
    row = result(r)
    assert row["tag"] == "demo:1" and row["session"] == session_key(root), row
    files = tree(t, row["image"])
    assert files["/app/app.txt"] == b"payload\n", sorted(files)
    assert files["/app/copy.txt"] == b"payload\n"
    assert files["/app/greet.txt"] == b"hello\n"
    # $f is the sandbox shell's, not substituted on the client
    assert files["/app/loop.txt"] == b"a\nb\n", files["/app/loop.txt"]
    assert "[1/7] FROM %s" % BASE in r.stderr, r.stderr
    assert "[6/7] RUN for f in a b" in r.stderr, r.stderr
    assert "CMD is not executed" in r.stderr and "[WARNING]" in r.stderr, r
    assert t.fake.image_uuid("demo:1") == row["image"]
    n = len(spawns(t))
    assert n == 2, n
    # each RUN's request: shell form, cwd, env, the COPY's file
    req = spawns(t)[0]["json"]
    assert req["shell"] is True and req["cwd"] == "/app", req
    assert req["env"]["GREETING"] == "hello" and req["truncate_output_at"] == 65536
    assert req["timeout"] == 600 and req["hostname"] == "linuxkit", req
    assert list(req["files"]) == ["/app/app.txt"], req["files"]
    assert "files" not in spawns(t)[1]["json"]
    # an identical second build spawns nothing and uploads nothing
    t.fake.clear_requests()
    r2 = ok(build(t, root))
    assert result(r2)["image"] == row["image"], (r2, row)
    assert spawns(t) == [], spawns(t)
    assert t.fake.requests("POST", "/v1/files") == []
    assert r2.stderr.count("CACHED") == 2, r2.stderr
    # --no-cache runs everything again
    t.fake.clear_requests()
    ok(build(t, root, "--no-cache"))
    assert len(spawns(t)) == 2


def test_changed_copy_source_reruns_from_that_step(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s\nRUN echo one > /one\nCOPY src.txt /src.txt\n"
                      "RUN cat /src.txt > /out\nRUN echo three > /three\n"
                      % BASE,
        "src.txt": "v1\n",
    })
    first = result(ok(build(t, root)))
    assert len(spawns(t)) == 3
    t.fake.clear_requests()
    with open(os.path.join(root, "src.txt"), "w") as f:
        f.write("v2 longer\n")
    r = ok(build(t, root))
    second = result(r)
    cmds = [q["json"]["command"] for q in spawns(t)]
    assert cmds == ["cat /src.txt > /out", "echo three > /three"], cmds
    assert "[2/5] RUN echo one > /one ... CACHED" in r.stderr, r.stderr
    assert tree(t, second["image"])["/out"] == b"v2 longer\n"
    assert second["image"] != first["image"]
    # the layers are branches of the build session
    s = t.run("-f", "json", "-S", session_key(root), "session", "branch")
    names = [x.get("name") or x.get("branch") for x in rows(s)]
    assert sum(1 for n in names if n and n.startswith("layer:")) == 5, s
    # the history follows the chain: the re-run step's parent is the
    # cached layer it started from
    h = rows(t.run("-f", "json", "-S", session_key(root), "session", "show"))
    by = {e["id"]: e for e in h}
    new = [e for e in h if e["title"] == "cat /src.txt > /out"][-1]
    assert by[new["parent_id"]]["title"] == "echo one > /one", h


def test_dockerignore(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s\nCOPY . /ctx/\nRUN ls -R /ctx > /list\n" % BASE,
        ".dockerignore": "# comment\n*.log\nsecret/\n!secret/public.txt\n"
                         "**/*.tmp\ndocs\n",
        "a.txt": "a", "b.log": "b", "sub/c.log": "c", "sub/d.tmp": "d",
        "sub/e.txt": "e", "secret/key": "k", "secret/public.txt": "p",
        "docs/x.md": "x", ".hidden": "h", "node_modules/m.js": "m",
    })
    row = result(ok(build(t, root)))
    got = sorted(p for p in tree(t, row["image"]) if p.startswith("/ctx/"))
    assert got == ["/ctx/Dockerfile", "/ctx/a.txt", "/ctx/secret/public.txt",
                   "/ctx/sub/c.log", "/ctx/sub/e.txt"], got
    # ignored files are never uploaded
    sent = [q["body"] for q in t.fake.requests("POST", "/v1/files")]
    assert b"k" not in sent and b"b" not in sent and b"h" not in sent, sent
    # named directly, an ignored file is an error, not a silent copy
    root2 = ctx(t, {"Dockerfile": "FROM %s\nCOPY secret/key /k\n" % BASE,
                    ".dockerignore": "secret\n", "secret/key": "k"}, "ctx2")
    fails(build(t, root2), "excluded by .dockerignore")


def test_globs_chown_chmod_and_dest_rules(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s\nWORKDIR /w\n"
                      "COPY *.txt dst/\n"
                      "COPY --chown=7:8 --chmod=0600 one.txt /one\n"
                      "COPY [\"dir\", \"/d\"]\n"
                      "ADD tool.sh /bin2/\n" % BASE,
        "one.txt": "1", "two.txt": "2", "three.md": "3",
        "dir/x/y.txt": "y", "tool.sh": "#!/bin/sh\n",
    })
    os.chmod(os.path.join(root, "tool.sh"), 0o755)
    r = ok(build(t, root))
    row = result(r)
    # files copied after the last RUN are committed by a final no-op step
    assert spawns(t)[-1]["json"]["command"] == ":", spawns(t)
    assert "RUN : " not in r.stderr
    files = spawns(t)[-1]["json"]["files"]
    assert sorted(files) == ["/bin2/tool.sh", "/d/x/y.txt", "/one",
                             "/w/dst/one.txt", "/w/dst/two.txt"], files
    assert files["/one"]["uid"] == 7 and files["/one"]["gid"] == 8
    assert files["/one"]["mode"] == "0600"
    assert files["/bin2/tool.sh"]["mode"] == "0755"
    assert files["/w/dst/two.txt"]["uid"] == 0
    assert tree(t, row["image"])["/d/x/y.txt"] == b"y"


def test_args_and_substitution(t):
    root = ctx(t, {
        "Dockerfile": "ARG BASE=%s\nFROM $BASE\n"
                      "ARG A=1 B=2\nARG C\n"
                      "ENV P=/opt/${APP:-app} Q=\"two words\" R='$A'\n"
                      "ENV OLD old form $A\n"
                      "RUN mkdir -p $P\n"
                      "WORKDIR $P\n"
                      "RUN echo \"$A $B $C|$Q|$R|\\$|$OLD\" > vars\n" % BASE,
    })
    r = ok(build(t, root, "--build-arg", "C=three", "--build-arg", "UNUSED=x"))
    row = result(r)
    files = tree(t, row["image"])
    assert files["/opt/app/vars"] == b"1 2 three|two words|$A|$|old form 1\n", files.get(
        "/opt/app/vars")
    assert "UNUSED" in r.stderr and "[WARNING]" in r.stderr, r
    fails(build(t, root, "--build-arg", "NOEQUALS"), "--build-arg")


def test_later_from_resets_the_stage(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s AS one\nENV X=1\nWORKDIR /tmp\nARG Y=2\n"
                      "RUN echo stage1 > /s1\n"
                      "FROM %s\nRUN echo \"[$X][$Y]\" > /s2; pwd > /pwd\n"
                      % (BASE, BASE),
    })
    row = result(ok(build(t, root)))
    files = tree(t, row["image"])
    assert files["/s2"] == b"[][]\n" and "/s1" not in files, files.get("/s2")
    assert spawns(t)[-1]["json"].get("cwd") is None


def test_user(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s\n"
                      "RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd"
                      " && echo 'grp:x:3456:' >> /etc/group\n"
                      "USER app\nRUN id -u > /tmp/u; id -g >> /tmp/u; echo $HOME >> /tmp/u\n"
                      "USER app:grp\nRUN id -g > /tmp/g\n"
                      "USER 42:43\nRUN id -u > /tmp/n; id -g >> /tmp/n\n" % BASE,
    })
    row = result(ok(build(t, root)))
    files = tree(t, row["image"])
    reqs = [q["json"] for q in spawns(t)]
    assert (reqs[1]["uid"], reqs[1]["gid"]) == (1234, 2345), reqs[1]
    assert (reqs[2]["uid"], reqs[2]["gid"]) == (1234, 3456), reqs[2]
    assert (reqs[3]["uid"], reqs[3]["gid"]) == (42, 43), reqs[3]
    assert reqs[1]["env"]["HOME"] == "/home/app"
    assert "uid" not in reqs[0]
    if files.get("/tmp/u"):     # chroot mode runs as that user
        assert files["/tmp/u"] == b"1234\n2345\n/home/app\n", files["/tmp/u"]
        assert files["/tmp/g"] == b"3456\n" and files["/tmp/n"] == b"42\n43\n"
    bad = ctx(t, {"Dockerfile": "FROM %s\nUSER nobody-here\nRUN true\n" % BASE},
              "bad")
    fails(build(t, bad), "no user 'nobody-here'")


def test_failing_step_stops_the_build(t):
    root = ctx(t, {
        "Dockerfile": "FROM %s\nRUN echo before\n"
                      "RUN echo visible-output; echo to-stderr >&2; exit 3\n"
                      "RUN echo never > /never\n" % BASE,
    })
    r = fails(build(t, root), "build failed: step 3/4 RUN echo visible-output")
    assert "exited with code 3" in r.stderr, r
    assert "visible-output" in r.stderr and "to-stderr" in r.stderr, r
    assert r.out == b"", r
    cmds = [q["json"]["command"] for q in spawns(t)]
    assert len(cmds) == 2 and "never" not in " ".join(cmds), cmds
    # the successful step is cached; the failed one runs again
    t.fake.clear_requests()
    fails(build(t, root))
    assert len(spawns(t)) == 1


def test_malformed_dockerfiles(t):
    cases = [
        ("FROM %s\nFROBNICATE x\n" % BASE, "Dockerfile:2: unknown instruction 'FROBNICATE'"),
        ("RUN true\n", "the first instruction other than ARG must be FROM"),
        ("FROM %s\nRUN true\nCOPY --from=builder /a /b\n" % BASE,
         "Dockerfile:3: COPY --from is not supported"),
        ("FROM %s\nCOPY --link a /b\n" % BASE, "unsupported option '--link'"),
        # found before anything runs: the first RUN is not spawned
        ("FROM %s\nRUN true\nRUN --mount=type=cache make\n" % BASE,
         "RUN option '--mount=type=cache' is not supported"),
        ("FROM %s\nCOPY onlyone\n" % BASE, "SOURCE... DEST"),
        ("FROM %s\nENV A=\"open\n" % BASE, "unterminated"),
        ("FROM %s\nWORKDIR ${X\n" % BASE, "unterminated ${"),
    ]
    for i, (text, msg) in enumerate(cases):
        root = ctx(t, {"Dockerfile": text}, "m%d" % i)
        r = fails(build(t, root), msg)
        assert r.stderr.count("[ERROR]") == 1, r
    assert spawns(t) == []
    fails(t.run("build", os.path.join(t.tmp, "nowhere")), "is not a directory")
    fails(t.run("build", "--dockerfile", os.path.join(t.tmp, "nofile"), t.tmp),
          "is not a file")


def test_context_boundary(t):
    outside = ctx(t, {"secret.txt": "s"}, "ctx-sibling")
    root = ctx(t, {"Dockerfile": "FROM %s\nCOPY ../ctx-sibling/secret.txt /s\n"
                   % BASE}, "ctx")
    fails(build(t, root), "outside the build context")
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "link"))
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write("FROM %s\nCOPY link /s\n" % BASE)
    fails(build(t, root), "outside the build context")
    # a directory holding a link out: refused too, never uploaded
    os.makedirs(os.path.join(root, "d"))
    os.rename(os.path.join(root, "link"), os.path.join(root, "d", "link"))
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write("FROM %s\nCOPY d /d\n" % BASE)
    fails(build(t, root), "outside the build context")
    assert t.fake.requests("POST", "/v1/files") == [] and spawns(t) == []


def test_from_import_and_exec_form(t):
    root = ctx(t, {"Dockerfile": "FROM example.org/team/tool:7\n"
                   "RUN [\"sh\", \"-c\", \"echo exec > /e\"]\n"})
    r = t.run("-f", "json", "build", root)
    imp = t.fake.requests("POST", "/v1/images/import")
    assert len(imp) == 1, imp
    body = imp[0]["json"]
    assert body["registry"]["url"] == "docker://example.org/team/tool:7", body
    assert body["tag"] == "example.org/team/tool:7" and body["timeout"] == 600
    ok(r)
    req = spawns(t)[0]["json"]
    assert req["command"] == "sh" and req["args"] == ["-c", "echo exec > /e"]
    assert req["shell"] is False
    assert tree(t, result(r)["image"])["/e"] == b"exec\n"
    # the second time the tag resolves: no import
    t.fake.clear_requests()
    ok(t.run("build", root))
    assert t.fake.requests("POST", "/v1/images/import") == []
    # an import that fails fails the build
    t.fake.config(import_fail="broken")
    bad = ctx(t, {"Dockerfile": "FROM broken/image:1\nRUN true\n"}, "bad")
    fails(t.run("build", bad), "build failed: step 1/2 FROM broken/image:1")


def test_cached_layer_whose_image_is_gone_is_rebuilt(t):
    root = ctx(t, {"Dockerfile": "FROM %s\nRUN echo a > /a\n" % BASE})
    first = result(ok(build(t, root)))
    # the server lost the layer's image
    t.fake.admin("DELETE", "/_admin/image/" + first["image"])
    t.fake.clear_requests()
    r = ok(build(t, root))
    assert len(spawns(t)) == 1, r
    assert "gone" in r.stderr, r


def test_every_format_has_one_row(t):
    root = ctx(t, {"Dockerfile": "FROM %s\nRUN true\n" % BASE})
    for fmt in ("json", "csv", "tsv", "table", "plain", "toml", "json-pretty",
                "default"):
        r = ok(build(t, root, "--tag", "x:1", fmt=fmt))
        assert "x:1" in r.stdout and session_key(root) in r.stdout, (fmt, r)
        assert "CACHED" not in r.stdout and "[2/2]" not in r.stdout


def test_ctrl_c_mid_step(t):
    root = ctx(t, {"Dockerfile": "FROM %s\nRUN echo a > /a\n"
                   "RUN echo started; sleep 30\nRUN echo after\n" % BASE})
    t.fake  # started before the build
    p = subprocess.Popen([t.binary(), "build", root], env=t.env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=t.home)
    # until the step's output has been streamed (not a fixed second)
    os.set_blocking(p.stderr.fileno(), False)
    seen = b""
    deadline = time.time() + 30
    while time.time() < deadline and b"\nstarted\n" not in b"\n" + seen:
        if select.select([p.stderr], [], [], 0.2)[0]:
            seen += os.read(p.stderr.fileno(), 65536) or b""
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    err = seen + err
    assert p.returncode == 130, (p.returncode, err)
    assert b"\nstarted\n" in b"\n" + err, err          # streamed live
    op = spawns(t)[1]
    ops = t.fake.requests("DELETE")
    assert ops and ops[0]["path"].startswith("/v1/operations/"), ops
    # the finished step's cache is intact: the next build starts at 3/4
    t.fake.clear_requests()
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write("FROM %s\nRUN echo a > /a\nRUN echo quick\nRUN echo after\n"
                % BASE)
    r = ok(t.run("build", root))
    assert "[2/4] RUN echo a > /a ... CACHED" in r.stderr, r
    assert len(spawns(t)) == 2, op


test_ctrl_c_mid_step.timeout = 90


class Origin:
    """A local HTTP origin for ADD <url>: serves self.files with an ETag
    and Last-Modified, answers 304 to a matching If-None-Match, logs
    (path, If-None-Match, status)."""

    def __init__(self):
        import http.server
        import threading
        origin = self
        self.files, self.log = {}, []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                data = origin.files.get(self.path)
                inm = self.headers.get("If-None-Match")
                if data is None:
                    origin.log.append((self.path, inm, 404))
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/moved":
                    origin.log.append((self.path, inm, 302))
                    self.send_response(302)
                    self.send_header("Location", data.decode())
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
                if inm == etag:
                    origin.log.append((self.path, inm, 304))
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                origin.log.append((self.path, inm, 200))
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Sat, 05 Dec 2026 10:00:00 GMT")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_add_url_streams_and_revalidates(t):
    o = Origin()
    try:
        big = bytes(range(256)) * 12288            # 3 MiB, streamed
        o.files["/dl/tool.txt"] = b"tool v1\n"
        o.files["/big.bin"] = big
        o.files["/moved"] = (o.url + "/dl/tool.txt").encode()
        root = ctx(t, {"Dockerfile": "FROM %s\n"
                       "ADD %s/dl/tool.txt /opt/\n"
                       "ADD --chmod=0755 %s/big.bin /opt/big\n"
                       "ADD %s/moved /opt/moved.txt\n"
                       "RUN cat /opt/tool.txt > /opt/seen\n"
                       % (BASE, o.url, o.url, o.url)})
        row = result(ok(build(t, root)))
        files = tree(t, row["image"])
        assert files["/opt/tool.txt"] == b"tool v1\n"
        assert files["/opt/seen"] == b"tool v1\n"
        assert files["/opt/big"] == big and files["/opt/moved.txt"] == b"tool v1\n"
        req = spawns(t)[0]["json"]
        assert req["files"]["/opt/big"]["mode"] == "0755", req["files"]
        assert req["files"]["/opt/tool.txt"]["mode"] == "0644"
        ups = t.fake.requests("POST", "/v1/files")
        assert len(ups) == 3, len(ups)
        # streamed: chunked, not a whole file with a length
        assert all("chunked" in (u["headers"].get("Transfer-Encoding") or
                                 u["headers"].get("transfer-encoding") or "")
                   for u in ups), [u["headers"] for u in ups]
        # second build: conditional GETs answered 304, nothing sent again
        o.log.clear()
        t.fake.clear_requests()
        r = ok(build(t, root))
        assert [x[2] for x in o.log] == [304, 304, 302, 304], o.log
        assert all(x[1] for x in o.log if x[2] == 304), o.log
        assert spawns(t) == [] and t.fake.requests("POST", "/v1/files") == []
        assert "CACHED" in r.stderr
        # a changed origin file: fetched, uploaded, the RUN runs again
        o.files["/dl/tool.txt"] = b"tool v2\n"
        t.fake.clear_requests()
        row = result(ok(build(t, root)))
        assert tree(t, row["image"])["/opt/seen"] == b"tool v2\n"
        assert len(spawns(t)) == 1
        # an origin error fails the build with the URL and the status
        bad = ctx(t, {"Dockerfile": "FROM %s\nADD %s/nothing /x\n"
                      % (BASE, o.url)}, "bad")
        fails(build(t, bad), "HTTP 404")
    finally:
        o.close()


def test_ctrl_c_during_from_import_cancels_it(t):
    root = ctx(t, {"Dockerfile": "FROM example.org/slow/img:1\nRUN true\n"})
    t.fake.config(delay=20.0)
    p = subprocess.Popen([t.binary(), "build", root], env=t.env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=t.home)
    deadline = time.time() + 30
    while time.time() < deadline and not t.fake.requests("POST",
                                                         "/v1/images/import"):
        time.sleep(0.1)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, err)
    dels = [q["path"] for q in t.fake.requests("DELETE")]
    assert len(dels) == 1 and dels[0].startswith("/v1/operations/"), dels
    op = dels[0].rsplit("/", 1)[1]
    rec = t.fake.call("GET", "/v1/operations/" + op).json
    assert rec["kind"] == "image_import", rec
    assert spawns(t) == []


test_ctrl_c_during_from_import_cancels_it.timeout = 90
