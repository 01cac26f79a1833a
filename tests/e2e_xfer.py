"""e2e_xfer.py - transfers at scale (issue 15): uploads of `run -F` and
`file cp` run in parallel up to CONTREE_CONCURRENCY (overlapping requests
seen by the fake; none with 1), one failing upload among many is named and
nothing unconfirmed is remembered, dedup still holds; `cat` and `cp` of a
200 MB file keep a flat peak RSS; the binary check on a terminal looks at
the first block; `auth list` probes profiles in parallel."""

import hashlib
import os
import pty
import re
import select
import subprocess
import sys

from harness import ok, fails, rows

S = ("-S", "xfer")
FILE_RE = r"/v1/files/[0-9a-f]{64}$"


def start(t, image="tag:ubuntu:latest"):
    ok(t.run(*S, "use", image))


def make_tree(t, name, n, content=lambda i: "file %d\n" % i):
    """n files under tmp/name (two levels); -> the directory."""
    d = os.path.join(t.tmp, name)
    for i in range(n):
        t.write(os.path.join(name, "d%d" % (i % 3), "f%03d.txt" % i),
                content(i))
    return d


def file_log(t):
    """The fake's log entries about uploaded files (with inflight)."""
    return [e for e in t.fake.admin("GET", "requests")
            if "/v1/files" in e["path"]]


def cache_lines(t):
    p = os.path.join(t.home, ".config", "contree", "cli", "uploads")
    if not os.path.exists(p):
        return []
    with open(p, encoding="utf-8") as f:
        return [l.split("\t") for l in f.read().splitlines()[1:]]


# ---- parallel uploads ----------------------------------------------------------

def test_uploads_overlap_up_to_concurrency(t):
    start(t)
    d = make_tree(t, "par", 16)
    # each lookup takes a while, so parallel ones must overlap
    t.fake.fault(path=FILE_RE, method="GET", kind="slow", delay=0.2,
                 count=-1)
    t.fake.clear_requests()
    r = ok(t.run(*S, "run", "-F", d + ":/src", "cat", "/src/d1/f004.txt",
                 env={"CONTREE_CONCURRENCY": "4"}))
    assert r.out == b"file 4\n", r
    log = file_log(t)
    gets = [e for e in log if e["method"] == "GET"]
    posts = [e for e in log if e["method"] == "POST"]
    assert len(gets) == 16 and len(posts) == 16, [e["path"] for e in log]
    most = max(e["inflight"] for e in log)
    assert 2 <= most <= 4, [e["inflight"] for e in log]
    # every file reached the run's image with its own content
    spawn = t.fake.requests("POST", "/v1/instances")[-1]["json"]
    assert len(spawn["files"]) == 16, spawn["files"]
    # and all 16 are remembered: nothing is sent the second time
    assert len(cache_lines(t)) == 16, cache_lines(t)
    t.fake.clear_requests()
    ok(t.run(*S, "run", "-F", d + ":/src", "true"))
    assert file_log(t) == [], file_log(t)


def test_concurrency_one_is_sequential(t):
    start(t)
    d = make_tree(t, "seq", 12, lambda i: "sequential %d\n" % i)
    t.fake.fault(path=FILE_RE, method="GET", kind="slow", delay=0.05,
                 count=-1)
    t.fake.clear_requests()
    ok(t.run(*S, "run", "-F", d + ":/src", "true",
             env={"CONTREE_CONCURRENCY": "1"}))
    log = file_log(t)
    assert len(log) == 24, [e["path"] for e in log]
    assert max(e["inflight"] for e in log) == 1, [e["inflight"] for e in log]


def test_one_failing_upload_among_many(t):
    start(t)
    d = make_tree(t, "fail", 20, lambda i: "fails maybe %d\n" % i)
    # the third upload to arrive is refused (400: not retried)
    t.fake.fault(path=r"/v1/files$", method="POST", kind="status",
                 status=400, after=None, count=1)
    t.fake.clear_requests()
    r = fails(t.run(*S, "run", "-F", d + ":/src", "true",
                    env={"CONTREE_CONCURRENCY": "8"}))
    # one error, naming a file of the directory
    errs = [l for l in r.stderr.splitlines() if "[ERROR]" in l]
    assert len(errs) == 1, r.stderr
    m = re.search(r"uploading (\S+): API 400", errs[0])
    assert m and m.group(1).startswith(d), errs
    bad = open(m.group(1), "rb").read()
    # no run was started
    assert t.fake.requests("POST", "/v1/instances") == []
    # the named file is not on the server; everything remembered is
    sha = hashlib.sha256(bad).hexdigest()
    assert t.fake.call("GET", "/v1/files/" + sha).status == 404
    lines = cache_lines(t)
    assert all(l[6] != m.group(1) for l in lines), lines
    for l in lines:
        got = t.fake.call("GET", "/v1/files/" + l[1])
        assert got.status == 200 and got.json["uuid"] == l[0], (l, got)
    # the next run sends only what is missing (the failed file at
    # least; one sent but not confirmed is found by its hash), and works
    t.fake.clear_requests()
    r = ok(t.run(*S, "run", "-F", d + ":/src", "cat", "/src/d0/f000.txt"))
    assert r.out == b"fails maybe 0\n", r
    posts = t.fake.requests("POST", "/v1/files")
    assert bad in [p["body"] for p in posts], posts
    assert len(posts) <= 20 - len(lines), (len(posts), len(lines))
    assert len(cache_lines(t)) == 20


def test_dedup_in_parallel(t):
    start(t)
    # 12 files, 3 contents; one content already on the server
    d = make_tree(t, "dup", 12, lambda i: "content %d\n" % (i % 3))
    known = b"content 0\n"
    up = t.fake.call("POST", "/v1/files", body=known,
                     headers={"Content-Type": "application/octet-stream"})
    assert up.status == 201, up
    t.fake.clear_requests()
    ok(t.run(*S, "run", "-F", d + ":/src", "true",
             env={"CONTREE_CONCURRENCY": "8"}))
    posts = t.fake.requests("POST", "/v1/files")
    assert sorted(p["body"] for p in posts) == [b"content 1\n",
                                                b"content 2\n"], posts
    gets = [e for e in file_log(t) if e["method"] == "GET"]
    assert len(gets) == 3, [g["path"] for g in gets]
    spawn = t.fake.requests("POST", "/v1/instances")[-1]["json"]
    uuids = {}
    for path, spec in spawn["files"].items():
        i = int(path[-7:-4])
        uuids.setdefault(i % 3, set()).add(spec["uuid"])
    assert all(len(v) == 1 for v in uuids.values()), uuids
    assert uuids[0] == {up.json["uuid"]}, uuids


def test_big_files_hashed_in_parallel(t):
    # enough bytes that hashing is split among workers too
    start(t)
    d = os.path.join(t.tmp, "big")
    os.makedirs(d)
    want = {}
    for i in range(4):
        data = hashlib.sha256(b"%d" % i).digest() * (100000 + i)
        with open(os.path.join(d, "b%d" % i), "wb") as f:
            f.write(data)
        want["/big/b%d" % i] = hashlib.sha256(data).hexdigest()
    t.fake.clear_requests()
    ok(t.run(*S, "run", "-F", d + ":/big", "true"))
    gets = sorted(e["path"][-64:] for e in file_log(t)
                  if e["method"] == "GET")
    assert gets == sorted(want.values()), gets
    by_sha = {l[1]: l[6] for l in cache_lines(t)}
    assert sorted(by_sha) == sorted(want.values()), by_sha


# ---- flat memory -----------------------------------------------------------------

BIG = 200 << 20


def big_file(t):
    """A 200 MB sparse file with marks at a few offsets -> (path, sha)."""
    p = os.path.join(t.tmp, "big.bin")
    with open(p, "wb") as f:
        f.truncate(BIG)
        for off in (0, 1 << 20, 77777777, BIG - 32):
            f.seek(off)
            f.write(b"mark %d\n" % off)
    return p, sha_of(p)


def sha_of(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# Peak RSS of the command run from a small fresh Python: the child's
# ru_maxrss also counts the pages of the process that started it (fork
# or vfork before exec), so this is an upper bound: less than 4 MB more
# for a 200 MB file than for a 256 KB one shows memory does not follow
# the file (the budget of 4 MB is measured in tests/bench_transfer.sh
# with /usr/bin/time).
PEAK = """import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    rc = subprocess.call(sys.argv[2:], stdout=out, stdin=subprocess.DEVNULL)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak(t, out, *args):
    p = subprocess.run([sys.executable, "-S", "-c", PEAK, out, t.binary(),
                        *args], capture_output=True, env=t.env(), cwd=t.home,
                       timeout=120)
    rc, kb = p.stdout.split()
    return int(rc), int(kb), p.stderr


def cached(t):
    cache = os.path.join(t.home, ".config", "contree", "cli", "inspect")
    return sum(os.path.getsize(os.path.join(dp, f))
               for dp, _, fs in os.walk(cache) for f in fs)


def baseline(t, out):
    """Peak RSS of `cat` of a 256 KB file: what a run costs anyway (under
    AddressSanitizer its shadow memory alone is ~24 MB, so only the
    growth with the file's size says something)."""
    t.fake.add_image({"/data/small": os.urandom(256 << 10)}, tag="xfer:small")
    start(t, "tag:xfer:small")
    rc, kb, err = peak(t, out, *S, "cat", "/data/small")
    assert rc == 0, err
    os.unlink(out)
    return kb


def test_cat_and_cp_of_200mb_flat_memory(t):
    path, sha = big_file(t)
    t.fake.add_image({"/data/big": {"host_path": path}}, tag="xfer:big")
    out = os.path.join(t.tmp, "cat.out")
    base = baseline(t, out)
    start(t, "tag:xfer:big")
    rc, kb, err = peak(t, out, *S, "cat", "/data/big")
    assert rc == 0, err
    assert kb - base < 4 * 1024, \
        "cat peak RSS %d KB, %d KB for 256 KB" % (kb, base)
    assert os.path.getsize(out) == BIG and sha_of(out) == sha
    os.unlink(out)
    # too big for the local cache: nothing of it kept
    assert cached(t) < (256 << 10) + (1 << 20), cached(t)
    dest = os.path.join(t.tmp, "cp.out")
    rc, kb, err = peak(t, os.devnull, *S, "cp", "/data/big", dest)
    assert rc == 0, err
    assert kb - base < 4 * 1024, \
        "cp peak RSS %d KB, cat of 256 KB %d KB" % (kb, base)
    assert sha_of(dest) == sha
    assert os.listdir(t.tmp) == ["big.bin", "cp.out"] or \
        sorted(os.listdir(t.tmp)) == ["big.bin", "cp.out"], os.listdir(t.tmp)


def test_cat_broken_stream(t):
    data = os.urandom(3 << 20)
    t.fake.add_image({"/data/r": data}, tag="xfer:r")
    start(t, "tag:xfer:r")
    env = {"CONTREE_RETRY_SCALE": "0.001"}
    # broken before anything reached stdout (a terminal holds the first
    # block back, a pipe does not): a pipe cannot take bytes back
    t.fake.fault(path="/download$", kind="truncate", count=1)
    r = t.run(*S, "cat", "/data/r", env=env)
    assert r.code == 1 and "not retried" in r.stderr, r
    assert 0 < len(r.out) < len(data) and data.startswith(r.out), len(r.out)
    # a failure before the body is retried as before
    t.fake.fault(path="/download$", kind="status", status=503, count=1)
    r = ok(t.run(*S, "cat", "/data/r", env=env))
    assert r.out == data
    # small files come from the cache the second time
    small = b"small and cached\n"
    t.fake.add_image({"/s": small}, tag="xfer:s")
    start(t, "tag:xfer:s")
    assert ok(t.run(*S, "cat", "/s")).out == small
    t.fake.clear_requests()
    assert ok(t.run(*S, "cat", "/s")).out == small
    assert t.fake.requests("GET", "/download") == []


def cat_on_pty(t, path):
    """cat PATH with stdout on a terminal -> (status, output bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([t.binary(), *S, "cat", path], stdin=subprocess.DEVNULL,
                         stdout=slave, stderr=subprocess.PIPE, env=t.env(),
                         cwd=t.home)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            b = os.read(master, 1 << 16)
        except OSError:
            break
        if not b:
            break
        out += b
    err = p.stderr.read()
    p.wait(30)
    os.close(master)
    return p.returncode, out.replace(b"\r\n", b"\n"), err


def test_binary_check_on_a_terminal_looks_at_the_first_block(t):
    text = b"".join(b"line %06d \xc3\xbc\n" % i for i in range(20000))
    binary = b"\x00\xff\xfe" + os.urandom(300000)
    late = b"a" * (1 << 20) + b"\xff\x00"        # binary after 1 MiB
    t.fake.add_image({"/t": text, "/b": binary, "/late": late},
                     tag="xfer:tty")
    start(t, "tag:xfer:tty")
    rc, out, err = cat_on_pty(t, "/t")
    assert rc == 0 and out == text, (rc, len(out), err)
    rc, out, err = cat_on_pty(t, "/b")
    assert rc == 1 and out == b"" and b"is binary" in err, (rc, out[:50], err)
    # only the first block is looked at: the rest is written as is
    rc, out, err = cat_on_pty(t, "/late")
    assert rc == 0 and len(out) >= len(late) - 2, (rc, len(out), err)
    # not a terminal: no check at all
    assert ok(t.run(*S, "cat", "/b")).out == binary


# ---- auth list probes in parallel --------------------------------------------------

def test_auth_list_probes_in_parallel(t):
    f = t.fake
    names = ["p%d" % i for i in range(5)]
    d = os.path.join(t.home, ".config", "contree")
    text = "[DEFAULT]\nprofile = p0\n\n"
    for n in names:
        text += "[profile:%s]\ntoken = %s\nurl = %s\ntype = jwt\n\n" % (
            n, f.token if n != "p3" else "wrong-token", f.url)
    with open(os.path.join(d, "auth.ini"), "w") as fh:
        fh.write(text)
    f.fault(path=r"/v1/", kind="slow", delay=1, count=-1)
    f.clear_requests()
    r = ok(t.run("-f", "json", "auth", "list",
                 env={"CONTREE_CONCURRENCY": "8"}))
    log = [e for e in f.admin("GET", "requests")]
    assert len(log) == 5, [e["path"] for e in log]
    assert max(e["inflight"] for e in log) >= 2, [e["inflight"] for e in log]
    # in the profiles' order, each with its own answer
    got = [(x["name"], x["status"]) for x in rows(r)]
    assert got == [(n, "ok" if n != "p3" else got[3][1]) for n in names], got
    assert got[3][1] in ("inactive", "error"), got
    # one at a time with 1
    f.clear_requests()
    r2 = ok(t.run("-f", "json", "auth", "list",
                  env={"CONTREE_CONCURRENCY": "1"}))
    # no overlap (each probe takes 1 s; the request log's start and end
    # times, not `inflight`, which can still count the last answer of
    # the run before while the server thread finishes it)
    log = sorted(f.admin("GET", "requests"), key=lambda e: e["t0"])
    assert len(log) == 5, log
    assert all(b["t0"] > a["t1"] - 0.5 for a, b in zip(log, log[1:])), \
        [(e["t0"], e["t1"]) for e in log]
    assert r2.stdout == r.stdout


def test_ctrl_c_stops_every_upload_worker(t):
    import signal
    import time
    start(t)
    d = make_tree(t, "intr", 16, lambda i: "interrupted %d\n" % i)
    t.fake.fault(path=FILE_RE, method="GET", kind="slow", delay=20,
                 count=-1)
    t.fake.clear_requests()
    p = subprocess.Popen([t.binary(), *S, "run", "-F", d + ":/src", "true"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=t.env(), cwd=t.home)
    deadline = time.time() + 20
    while time.time() < deadline and len(file_log(t)) < 4:
        time.sleep(0.05)
    kids = open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()
    assert len(kids) >= 2, kids
    began = time.time()
    p.send_signal(signal.SIGINT)        # the parent only, not the group
    out, err = p.communicate(timeout=15)
    assert time.time() - began < 10, "workers went on after Ctrl-C"
    assert p.returncode == 130, (p.returncode, err)
    assert b"User interrupted" in err, err
    for k in kids:                      # reaped, not left running
        assert not os.path.exists("/proc/" + k), k
    assert t.fake.requests("POST", "/v1/instances") == []
