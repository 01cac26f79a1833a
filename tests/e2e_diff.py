"""e2e_diff.py - contree diff: what changed between two images (A/C/D
lines, -f rows, --path, -p patches, --exit-code, image references,
content comparison when only the mtime differs, the inspect cache)."""

import json
import os

from harness import fails, ok, rows

S = ("-S", "d1")
T0 = 1700000000          # a fixed mtime: equal metadata means equal files


def f(text, **kw):
    d = {"text": text, "mtime": T0}
    d.update(kw)
    return d


def base(t, tag="d:1"):
    return t.fake.add_image({
        "/app/keep.txt": f("same\n"),
        "/app/mod.txt": f("1\n2\n3\n"),
        "/app/old/x": f("x\n"),
        "/app/gone.txt": f("bye\n"),
        "/etc/motd": f("hello\n"),
    }, tag=tag)["uuid"]


RUN = ("cd /app && rm -rf old gone.txt && mkdir -p new/sub && "
       "echo hi > new/sub/f && printf '1\\nTWO\\n3\\n' > mod.txt && "
       "ln -s keep.txt link && chmod 600 keep.txt")

AFTER_RUN = """\
D /app/gone.txt
C /app/keep.txt
A /app/link
C /app/mod.txt
A /app/new/
A /app/new/sub/
A /app/new/sub/f
D /app/old/
D /app/old/x
"""


def session_after_run(t):
    base(t)
    ok(t.run(*S, "use", "tag:d:1"))
    ok(t.run(*S, "run", "-s", RUN))


def test_bare_diff_shows_what_the_last_run_changed(t):
    session_after_run(t)
    r = ok(t.run(*S, "diff"))
    assert r.stdout == AFTER_RUN and r.stderr == "", r
    r = fails(t.run(*S, "diff", "--exit-code"), code=1)
    assert r.stdout == AFTER_RUN and r.stderr == "", r
    # a cd entry on top does not hide the run: FROM is the newest
    # earlier *image*
    ok(t.run(*S, "cd", "/app"))
    assert ok(t.run(*S, "diff")).stdout == AFTER_RUN
    # the same with explicit references: @-N (N back), HEAD~N, a branch
    assert ok(t.run(*S, "diff", "@-2", "@")).stdout == AFTER_RUN
    assert ok(t.run(*S, "diff", "HEAD~2", "main")).stdout == AFTER_RUN
    # the other way round: added and deleted swap
    r = ok(t.run(*S, "diff", "@", "HEAD~2"))
    swap = {"A": "D", "D": "A", "C": "C"}
    want = "".join(swap[l[0]] + l[1:] + "\n" for l in AFTER_RUN.splitlines())
    assert r.stdout == want, r


def test_rows_in_every_format(t):
    session_after_run(t)
    got = {x["path"]: x for x in rows(ok(t.run("-f", "json", *S, "diff")))}
    assert list(got) == ["/app/gone.txt", "/app/keep.txt", "/app/link",
                         "/app/mod.txt", "/app/new", "/app/new/sub",
                         "/app/new/sub/f", "/app/old", "/app/old/x"], got
    assert got["/app/keep.txt"] == {
        "change": "C", "path": "/app/keep.txt", "type": "file", "size": 5,
        "mode": "600", "uid": 0, "gid": 0, "old_mode": "644"}, got
    assert got["/app/mod.txt"]["old_size"] == 6 and \
        got["/app/mod.txt"]["size"] == 8, got
    assert "old_mode" not in got["/app/mod.txt"], got
    assert got["/app/link"]["type"] == "symlink" and \
        got["/app/link"]["target"] == "keep.txt", got
    assert got["/app/new"]["type"] == "dir" and \
        got["/app/new"]["change"] == "A", got
    assert got["/app/old/x"]["change"] == "D" and \
        got["/app/old/x"]["size"] == 2, got
    r = ok(t.run("-f", "csv", *S, "diff"))
    lines = r.stdout.split("\r\n")
    assert lines[0].startswith("change,path,type,size,mode,uid,gid"), lines
    assert len([l for l in lines[1:] if l]) == 9, lines
    r = ok(t.run("-f", "json", *S, "diff", "-p", "--path", "/app/mod.txt"))
    (row,) = rows(r)
    assert row["patch"].startswith("--- a/app/mod.txt\n+++ b/app/mod.txt\n"
                                   "@@ -1,3 +1,3 @@\n 1\n-2\n+TWO\n 3\n"), row


def test_path_limits_both_sides(t):
    session_after_run(t)
    r = ok(t.run(*S, "diff", "--path", "/app/new"))
    assert r.stdout == "A /app/new/\nA /app/new/sub/\nA /app/new/sub/f\n", r
    r = ok(t.run(*S, "diff", "--path", "/app/old/"))
    assert r.stdout == "D /app/old/\nD /app/old/x\n", r
    r = ok(t.run(*S, "diff", "--path", "/etc"))
    assert r.stdout == "", r
    # relative to the session's working directory, as ls
    ok(t.run(*S, "cd", "/app/new"))
    r = ok(t.run(*S, "diff", "--path", "sub"))
    assert r.stdout == "A /app/new/sub/\nA /app/new/sub/f\n", r
    r = ok(t.run(*S, "diff", "--path", "../mod.txt"))
    assert r.stdout == "C /app/mod.txt\n", r
    fails(t.run(*S, "diff", "--path", "/nowhere"), "/nowhere: not found")


PATCH = """\
D /app/gone.txt
--- a/app/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
C /app/keep.txt
A /app/link
C /app/mod.txt
--- a/app/mod.txt
+++ b/app/mod.txt
@@ -1,3 +1,3 @@
 1
-2
+TWO
 3
A /app/new/
A /app/new/sub/
A /app/new/sub/f
--- /dev/null
+++ b/app/new/sub/f
@@ -0,0 +1 @@
+hi
D /app/old/
D /app/old/x
--- a/app/old/x
+++ /dev/null
@@ -1 +0,0 @@
-x
"""


def test_patch_text(t):
    session_after_run(t)
    r = ok(t.run(*S, "diff", "-p"))
    assert r.stdout == PATCH, r.stdout


def test_patch_hunks_binary_and_no_newline(t):
    a = t.fake.add_image({
        "/t/long": f("".join("line %d\n" % i for i in range(1, 31))),
        "/t/nonl": f("a\nb"),
        "/t/bin": {"content_b64": "AAECAw==", "mtime": T0},
    }, tag="p:1")["uuid"]
    long2 = ["line %d\n" % i for i in range(1, 31)]
    long2[1] = "second\n"
    long2[19] = "twentieth\n"
    long2.append("31\n")
    t.fake.add_image({
        "/t/long": f("".join(long2)),
        "/t/nonl": f("a\nc", mtime=T0 + 1),
        "/t/bin": {"content_b64": "AAECBA==", "mtime": T0 + 1},
    }, tag="p:2", parent=a)
    r = ok(t.run("diff", "-p", "tag:p:1", "tag:p:2"))
    assert r.stdout == (
        "C /t/bin\n"
        "Binary files a/t/bin and b/t/bin differ\n"
        "C /t/long\n"
        "--- a/t/long\n+++ b/t/long\n"
        "@@ -1,5 +1,5 @@\n line 1\n-line 2\n+second\n line 3\n line 4\n"
        " line 5\n"
        "@@ -17,7 +17,7 @@\n line 17\n line 18\n line 19\n-line 20\n"
        "+twentieth\n line 21\n line 22\n line 23\n"
        "@@ -28,3 +28,4 @@\n line 28\n line 29\n line 30\n+31\n"
        "C /t/nonl\n"
        "--- a/t/nonl\n+++ b/t/nonl\n"
        "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
        "+c\n\\ No newline at end of file\n"), r.stdout


def test_identical_images(t):
    base(t)
    ok(t.run(*S, "use", "tag:d:1"))
    for args in (["@", "@"], ["--exit-code", "@", "@"],
                 ["--exit-code", "tag:d:1", "d:1"]):
        r = ok(t.run(*S, "diff", *args))
        assert r.out == b"" and r.err == b"", (args, r)
    # a run that changes nothing gives the same image: nothing to show
    ok(t.run(*S, "run", "true"))
    r = t.run(*S, "diff", "--exit-code", "@-1")
    assert r.code == 0 and r.out == b"", r


def test_mtime_only_compares_contents(t):
    a = base(t)
    t.fake.add_image({"/app/keep.txt": f("same\n", mtime=T0 + 5),
                      "/app/mod.txt": f("1\n2\n4\n", mtime=T0 + 5)},
                     tag="d:2", parent=a)
    t.fake.clear_requests()
    r = fails(t.run("diff", "--exit-code", "tag:d:1", "tag:d:2"), code=1)
    assert r.stdout == "C /app/mod.txt\n", r        # same size, other bytes
    dl = [q["query"]["path"][0] for q in t.fake.requests("GET", "/download")]
    assert sorted(dl) == ["/app/keep.txt"] * 2 + ["/app/mod.txt"] * 2, dl
    # listings and contents are cached per image: nothing is fetched again
    # (only the tag lookups remain)
    t.fake.clear_requests()
    assert ok(t.run("diff", "tag:d:1", "tag:d:2")).stdout == r.stdout
    assert [q["path"] for q in t.fake.requests("GET")] == ["/v1/images"] * 2


def test_large_file_with_new_mtime_is_changed_without_download(t):
    big = os.path.join(t.tmp, "big")
    with open(big, "wb") as fh:
        fh.write(b"z" * ((8 << 20) + 1))
    a = t.fake.add_image({"/big": {"host_path": big, "mtime": T0}},
                         tag="b:1")["uuid"]
    t.fake.add_image({"/big": {"host_path": big, "mtime": T0 + 1}},
                     tag="b:2", parent=a)
    r = ok(t.run("diff", "-p", "b:1", "b:2"))
    assert r.stdout == "C /big\n", r
    assert "[WARNING] /big: larger than 8 MiB" in r.stderr, r
    assert t.fake.requests("GET", "/download") == []


def test_metadata_changes(t):
    a = t.fake.add_image({"/m/own": f("o\n"), "/m/ln": {
        "type": "symlink", "target": "/a", "mtime": T0},
        "/m/kind": f("k\n"), "/m/d": {"type": "dir", "mtime": T0}},
        tag="m:1")["uuid"]
    t.fake.add_image({"/m/own": f("o\n", uid=1000, gid=1000),
                      "/m/ln": {"type": "symlink", "target": "/b",
                                "mtime": T0},
                      "/m/kind": {"type": "symlink", "target": "xy",
                                  "mtime": T0},
                      "/m/d": {"type": "dir", "mode": "0700",
                               "mtime": T0 + 9}},
                     tag="m:2", parent=a)
    got = {x["path"]: x for x in rows(ok(t.run("-f", "json", "diff",
                                                "m:1", "m:2")))}
    assert set(got) == {"/m/own", "/m/ln", "/m/kind", "/m/d"}, got
    assert got["/m/own"]["old_uid"] == 0 and got["/m/own"]["uid"] == 1000 \
        and got["/m/own"]["old_gid"] == 0, got
    assert got["/m/ln"]["old_target"] == "/a" and \
        got["/m/ln"]["target"] == "/b", got
    assert got["/m/kind"]["old_type"] == "file" and \
        got["/m/kind"]["type"] == "symlink", got
    assert got["/m/d"]["old_mode"] == "755" and got["/m/d"]["mode"] == "700"
    assert "old_size" not in got["/m/d"], got


def test_unknown_images_and_bad_references(t):
    base(t)
    ok(t.run(*S, "use", "tag:d:1"))
    r = fails(t.run(*S, "diff", "nosuch:1"), "unknown image 'nosuch:1'")
    assert r.stderr.count("\n") == 1, r
    ghost = "0b9f6a1e-2c1d-4e7a-9a55-3f2f1c0d9e11"
    r = fails(t.run(*S, "diff", ghost), "unknown image '%s'" % ghost)
    assert r.stderr.count("\n") == 1, r
    fails(t.run(*S, "diff", "@", ghost), "unknown image '%s'" % ghost)
    fails(t.run(*S, "diff", "@-5"), "image reference '@-5'")
    # a session of one entry has nothing before it
    fails(t.run(*S, "diff"), "no image before")
    fails(t.run("-S", "none", "diff"), "No active session")
    fails(t.run(*S, "diff", "a", "b", "c"), code=2)


def test_closed_pipe_is_quiet(t):
    a = t.fake.add_image({"/many/%04d" % i: f("%d\n" % i)
                          for i in range(3000)}, tag="w:1")["uuid"]
    t.fake.add_image({}, tag="w:2", delete=["/many"], parent=a)
    import subprocess
    p = subprocess.run("'%s' diff w:1 w:2 | head -1" % t.binary(), shell=True,
                       capture_output=True, env=t.env(), cwd=t.home)
    assert p.stdout == b"D /many/\n" and p.stderr == b"", p


# ---- parallel listings (treediff.c): many directories, workers ----

def drop_cache(t):
    """Forget the inspect cache, so that the next diff lists again."""
    import shutil
    for root, dirs, _ in os.walk(t.home):
        if "inspect" in dirs:
            shutil.rmtree(os.path.join(root, "inspect"))
            dirs.remove("inspect")


def many_dirs(t, tag):
    """Two images of 240 files in 37 directories (/dI/sJ/fK), and 4
    more whose names sort around "s2/" (walk order is path order with a
    '/' after a directory's name), and the diff between them."""
    files = {"/d%d/s%d/f%d" % (n // 40, n // 8 % 5, n % 8): f("x%d\n" % n)
             for n in range(240)}
    files.update({"/d1/s2-x/g": f("g\n"), "/d1/s2.y/h/i": f("i\n"),
                  "/d1/s2 z/j": f("j\n")})
    a = t.fake.add_image(files, tag=tag + ":1")["uuid"]
    t.fake.add_image({
        "/d1/s2-x/g": f("G\n", mtime=T0 + 1),
        "/d1/s2.y/h/i2": f("i\n"),
        "/d1/s2 z/j": f("J\n", mtime=T0 + 1),
        "/d0/s0/f0": f("changed\n", mtime=T0 + 1),      # size
        "/d1/s2/f3": f("x59\n", mtime=T0 + 1),          # same bytes
        "/d2/s1/f1": f("y89\n", mtime=T0 + 1),          # other bytes
        "/d3/new/a/b/c": f("c\n"),
        "/d5/s0/f5": {"type": "symlink", "target": "f4", "mtime": T0},
    }, tag=tag + ":2", parent=a, delete=["/d4/s4"])
    return ("C /d0/s0/f0\nC /d1/s2 z/j\nC /d1/s2-x/g\nA /d1/s2.y/h/i2\n"
            "C /d2/s1/f1\nA /d3/new/\nA /d3/new/a/\n"
            "A /d3/new/a/b/\nA /d3/new/a/b/c\nD /d4/s4/\n" +
            "".join("D /d4/s4/f%d\n" % k for k in range(8)) +
            "C /d5/s0/f5\n")


def listings(t):
    """The fake's log of listing requests: (image, path, conn, t0, t1)."""
    out = []
    for e in t.fake.admin("GET", "requests"):
        if e["path"].endswith("/list"):
            out.append((e["path"].split("/")[-2], e["query"]["path"][0],
                        e["conn"], e["t0"], e.get("t1", 1e18)))
    return out


def overlap(log):
    return any(x[3] < y[4] and y[3] < x[4]
               for i, x in enumerate(log) for y in log[i + 1:])


def test_many_directories_listed_in_parallel(t):
    want = many_dirs(t, "m")
    # every listing takes 30 ms, as over a network: overlaps show
    t.fake.fault(path="/list$", method="GET", kind="slow", delay=0.03,
                 count=-1)
    seen = {}
    for conc in ("1", "8"):
        drop_cache(t)
        t.fake.clear_requests()
        r = fails(t.run("diff", "--exit-code", "m:1", "m:2",
                        env={"CONTREE_CONCURRENCY": conc}), code=1)
        assert r.stdout == want and r.stderr == "", (conc, r)
        log = listings(t)
        seen[conc] = sorted(x[:2] for x in log)
        # each directory of each side listed once: 41 in m:1, 40 in m:2
        # (/d4/s4 deleted) plus 3 added
        assert len(seen[conc]) == 41 + 40 + 3 == len(set(seen[conc])), log
        conns = {x[2] for x in log}
        if conc == "1":
            assert len(conns) == 1 and not overlap(log), log
        else:
            # workers in parallel, each keeping its connection alive
            assert 2 <= len(conns) <= 9 and overlap(log), log
            per = [sum(1 for x in log if x[2] == c) for c in conns]
            assert max(per) >= 4, per
    assert seen["1"] == seen["8"]
    # warm: every listing from the cache, no worker, no request
    t.fake.clear_requests()
    r = t.run("diff", "m:1", "m:2", env={"CONTREE_CONCURRENCY": "8"})
    assert r.code == 0 and r.stdout == want, r
    assert listings(t) == []
    # the rows are the same whatever the concurrency
    drop_cache(t)
    j8 = rows(ok(t.run("-f", "json", "diff", "m:1", "m:2")))
    drop_cache(t)
    j1 = rows(ok(t.run("-f", "json", "diff", "m:1", "m:2",
                       env={"CONTREE_CONCURRENCY": "1"})))
    assert j1 == j8 and len(j8) == want.count("\n"), j8


def test_small_diff_is_listed_by_one_process(t):
    session_after_run(t)
    t.fake.clear_requests()
    assert ok(t.run(*S, "diff")).stdout == AFTER_RUN
    log = listings(t)
    assert len(log) == 9 and len({x[2] for x in log}) == 1, log
    # one image on both sides: its root is looked at, nothing more
    drop_cache(t)
    t.fake.clear_requests()
    assert ok(t.run(*S, "diff", "--exit-code", "@", "@")).stdout == ""
    assert len(listings(t)) == 1


def strays(t, *args):
    """Processes of this test (its HOME) still running `contree diff
    ARGS` (workers left behind); other tests running on the machine at
    the same time are not counted."""
    want = ("\0".join(["diff", *args]) + "\0").encode()
    home = ("HOME=%s\0" % t.home).encode()
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                if not fh.read().endswith(want):
                    continue
            with open("/proc/%s/environ" % pid, "rb") as fh:
                if b"\0" + home in b"\0" + fh.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_failed_listing_fails_the_diff(t):
    many_dirs(t, "e")
    # one directory answers 500 on both sides, retries included
    t.fake.admin("POST", "fault", {"path": "/list$", "query": "path=/d2/s3$",
                                   "kind": "status", "status": 500,
                                   "count": -1})
    for conc in ("1", "8"):
        drop_cache(t)
        t.fake.clear_requests()
        r = fails(t.run("diff", "e:1", "e:2",
                        env={"CONTREE_CONCURRENCY": conc,
                             "CONTREE_RETRY_SCALE": "0.01"}), code=1)
        last = r.stderr.splitlines()[-1]
        assert last == "[ERROR] API 500 Internal Server Error: injected "\
            "fault", (conc, r)
        assert r.stdout == "", r
        tries = [x for x in listings(t) if x[1] == "/d2/s3"]
        assert len(tries) >= 8, tries
        assert strays(t, "e:1", "e:2") == []


def test_ctrl_c_stops_the_workers(t):
    import signal
    import subprocess
    import time
    many_dirs(t, "c")
    t.fake.fault(path="/list$", method="GET", kind="slow", delay=2,
                 count=-1)
    for group in (False, True):
        drop_cache(t)
        t.fake.clear_requests()
        p = subprocess.Popen([t.binary(), "diff", "c:1", "c:2"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=t.env(), cwd=t.home,
                             start_new_session=True)
        deadline = time.time() + 20
        busy = []
        while time.time() < deadline and len({x[2] for x in busy}) < 3:
            busy = [x for x in listings(t) if x[4] == 1e18]
            time.sleep(0.05)
        assert len({x[2] for x in busy}) >= 3, busy
        kids = open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read()
        assert len(kids.split()) >= 2, kids
        began = time.time()
        if group:
            os.killpg(p.pid, signal.SIGINT)     # a terminal's Ctrl-C
        else:
            p.send_signal(signal.SIGINT)        # the parent alone
        out, err = p.communicate(timeout=15)
        assert time.time() - began < 1.5, "workers went on after Ctrl-C"
        assert p.returncode == 130, (group, p.returncode, err)
        # as an interrupted request says it (api.c)
        assert err.decode().splitlines()[-1] == "[ERROR] interrupted", err
        assert out == b"", out
        for k in kids.split():
            assert not os.path.exists("/proc/" + k), k
        assert strays(t, "c:1", "c:2") == []


def test_mcp_diff_tool_lists_in_parallel_too(t):
    """The MCP server runs a diff inside a job: its listing workers are
    jobs of that job."""
    from e2e_mcp import Mcp, good
    want = many_dirs(t, "q")
    t.fake.fault(path="/list$", method="GET", kind="slow", delay=0.03,
                 count=-1)
    m = Mcp(t)
    m.init()
    t.fake.clear_requests()
    d = good(m.call("diff", {"from": "tag:q:1", "to": "tag:q:2",
                             "max_changes": 100}))
    got = "".join("%s %s%s\n" % (c["what"], c["path"],
                                 "/" if c["type"] == "dir" else "")
                  for c in d["changes"])
    assert got == want, got
    log = listings(t)
    assert len({x[2] for x in log}) >= 2 and overlap(log), log
    assert m.close() == 0


# ---- review2: fork failing (EAGAIN) ----------------------------------------

def listed_here(t, prefix, *lib_src):
    """diff at concurrency 8 with fork or pipe failing (a preload library
    from lib_src): the output of the one-process diff, every directory
    of each side listed once.  The listings' log."""
    from e2e_pages import nofork, preload
    lib = nofork(t, *lib_src)
    assert lib
    want = many_dirs(t, prefix)
    drop_cache(t)
    t.fake.clear_requests()
    r = fails(t.run("diff", "--exit-code", prefix + ":1", prefix + ":2",
                    env={"CONTREE_CONCURRENCY": "8", **preload(lib)}),
              code=1)
    assert r.stdout == want and r.stderr == "", r
    log = listings(t)
    assert len(log) == 41 + 40 + 3 == len({x[:2] for x in log}), log
    return log


def test_diff_without_fork_lists_here(t):
    log = listed_here(t, "nf")
    assert len({x[2] for x in log}) == 1, log


def test_diff_without_pipe_lists_here(t):
    from e2e_pages import NOPIPE_C
    listed_here(t, "np", NOPIPE_C)


def test_column_formats_keep_every_field_in_its_column(t):
    # rows with different fields (old_size on a C row, none on a D row,
    # target on a symlink, patch) all sit under one header
    import csv
    import io
    session_after_run(t)
    # table: the columns the rows have, each value under its name
    lines = ok(t.run("-f", "table", *S, "diff")).stdout.splitlines()
    assert lines[0].split() == ["CHANGE", "PATH", "TYPE", "SIZE", "MODE",
                                "UID", "GID", "TARGET", "OLD_SIZE",
                                "OLD_MODE"], lines
    col = {n: lines[0].index(n) for n in lines[0].split()}
    cell = {l.split()[1]: {n: l[i:].split(" ")[0] for n, i in col.items()}
            for l in lines[1:]}
    assert cell["/app/mod.txt"]["OLD_SIZE"] == "6" and \
        cell["/app/mod.txt"]["OLD_MODE"] == "", cell
    assert cell["/app/keep.txt"]["OLD_MODE"] == "644" and \
        cell["/app/link"]["TARGET"] == "keep.txt", cell
    for fmt, delim in (("csv", ","), ("tsv", "\t")):
        for extra in ((), ("-p",)):
            r = ok(t.run("-f", fmt, *S, "diff", *extra))
            got = list(csv.reader(io.StringIO(r.stdout, newline=""),
                                  delimiter=delim))
            head, body = got[0], got[1:]
            assert head[:7] == ["change", "path", "type", "size", "mode",
                                "uid", "gid"], head
            assert ("patch" in head) == bool(extra), head
            assert len(body) == 9 and all(len(x) == len(head)
                                          for x in body), got
            by = {x[head.index("path")]: dict(zip(head, x)) for x in body}
            mod = by["/app/mod.txt"]
            assert mod["size"] == "8" and mod["old_size"] == "6" and \
                mod["old_mode"] == "", mod
            assert by["/app/keep.txt"]["old_mode"] == "644" and \
                by["/app/keep.txt"]["old_size"] == "", by
            assert by["/app/link"]["target"] == "keep.txt", by
            assert by["/app/gone.txt"]["change"] == "D" and \
                by["/app/gone.txt"]["target"] == "", by
            if extra:
                assert mod["patch"].startswith("--- a/app/mod.txt\n"), mod


def test_odd_path_names_are_quoted(t):
    names = {"/q/new\nline": "n\n", "/q/tab\there": "t\n",
             "/q/back\\slash": "b\n", '/q/dq"x': "d\n",
             "/q/esc\x1b\x7f": "e\n", "/q/caf\u00e9": "c\n",
             "/q/cr\r\a\b\f\v": "r\n",
             "/q/d\tir/f": "f\n"}
    a = t.fake.add_image({"/q/keep": f("k\n")}, tag="q:1")["uuid"]
    t.fake.add_image(dict({"/q/keep": f("k\n"), "/q/b\tin": {
        "content_b64": "AAECAw==", "mtime": T0}},
        **{k: f(v) for k, v in names.items()}), tag="q:2", parent=a)
    r = ok(t.run("diff", "tag:q:1", "tag:q:2"))
    assert r.stdout == (
        'A "/q/b\\tin"\n'
        'A "/q/back\\\\slash"\n'
        "A /q/caf\u00e9\n"
        'A "/q/cr\\r\\a\\b\\f\\v"\n'
        'A "/q/d\\tir/"\n'
        'A "/q/d\\tir/f"\n'
        'A "/q/dq\\"x"\n'
        'A "/q/esc\\033\\177"\n'
        'A "/q/new\\nline"\n'
        'A "/q/tab\\there"\n'), r.stdout
    assert r.stdout.count("\n") == len(names) + 2, r.stdout
    r = ok(t.run("diff", "-p", "--path", "/q/new\nline", "tag:q:1",
                 "tag:q:2"))
    assert r.stdout == ('A "/q/new\\nline"\n--- /dev/null\n'
                        '+++ "b/q/new\\nline"\n@@ -0,0 +1 @@\n+n\n'), r.stdout
    r = ok(t.run("diff", "-p", "--path", "/q/b\tin", "tag:q:1", "tag:q:2"))
    assert r.stdout == ('A "/q/b\\tin"\n'
                        'Binary files /dev/null and "b/q/b\\tin" differ\n'), \
        r.stdout
    # deleted, and a directory: the slash inside the quotes
    r = ok(t.run("diff", "-p", "--path", "/q/d\tir", "tag:q:2", "tag:q:1"))
    assert r.stdout == ('D "/q/d\\tir/"\nD "/q/d\\tir/f"\n'
                        '--- "a/q/d\\tir/f"\n+++ /dev/null\n'
                        '@@ -1 +0,0 @@\n-f\n'), r.stdout
    # other formats carry the name as it is (their own escaping)
    got = [x["path"] for x in rows(ok(t.run("-f", "json", "diff", "tag:q:1",
                                            "tag:q:2")))]
    assert sorted(got) == sorted(list(names) + ["/q/d\tir", "/q/b\tin"]), got
