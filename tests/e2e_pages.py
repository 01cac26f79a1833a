"""e2e_pages.py - listings fetch the pages after the first in parallel
(api.c api_list_pages, api.md §5.1, issue 15): CONTREE_CONCURRENCY jobs at
most, each on its own kept-alive connection; the output, the limit
semantics and the failures are those of the sequential walk that
CONTREE_CONCURRENCY=1 still does.

The fake holds 4 images of its own; seed_images(n) adds n."""

import os
import signal
import subprocess
import time

FAST = {"CONTREE_RETRY_SCALE": "0.01"}


def conc(n, **kw):
    e = {"CONTREE_CONCURRENCY": str(n)}
    e.update(FAST)
    e.update(kw)
    return e


def pages(t):
    """The log of GET /v1/images: [(offset, limit, inflight, conn, t)]."""
    return [(int(e["query"]["offset"][0]), int(e["query"]["limit"][0]),
             e["inflight"], e["conn"], e["t0"])
            for e in t.fake.admin("GET", "requests")
            if e["method"] == "GET" and e["path"].endswith("/v1/images")]


def listing(t, n, *args):
    t.fake.clear_requests()
    r = t.run("-f", "json", "images", "-a", *args, env=conc(n))
    return r, pages(t)


def slow(t, delay, count=-1, query=None):
    spec = {"path": "/v1/images$", "kind": "slow", "delay": delay,
            "count": count}
    if query:
        spec["query"] = query
    t.fake.admin("POST", "fault", spec)


def test_parallel_output_is_the_sequential_output(t):
    t.fake.seed_images(3500)                        # 3,504 in all
    slow(t, 0.2)
    for args in (("--limit", "100000"), (), ("--limit", "3503"),
                 ("--limit", "3504"), ("--limit", "2000")):
        r1, log1 = listing(t, 1, *args)
        r8, log8 = listing(t, 8, *args)
        assert r1.code == 0 and r8.code == 0, (r1, r8)
        assert r8.out == r1.out, args
        assert r8.stderr == r1.stderr, (args, r1.stderr, r8.stderr)
        want = min(3504, int(args[1]) if args else 3000)
        assert len(r8.out.splitlines()) == want, (args, len(r8.out.splitlines()))
        assert len(set(r8.out.splitlines())) == want
        # truncation is told exactly as before
        assert ("Output truncated" in r8.stderr) == (want < 3504), r8.stderr
        # one after the other on one connection at 1
        assert [p[0] for p in log1] == [0, 1000, 2000, 3000][:len(log1)], log1
        # (one connection carries one request at a time; inflight may
        # count a killed job's request of the run before, still asleep)
        assert len({p[3] for p in log1}) == 1, log1
    # at 8: the first page alone, then the others at once: page 1 on
    # the same connection, the rest from 7 jobs on connections of their
    # own (page 3 short, the rest empty: past the end)
    r8, log8 = listing(t, 8, "--limit", "100000")
    offs = [p[0] for p in log8]
    assert offs[0] == 0 and all(p[1] == 1000 for p in log8), log8
    assert {0, 1000, 2000, 3000} <= set(offs), offs
    assert max(offs) <= 3000 + 7 * 1000, offs       # <= w - 1 past the end
    assert len(offs) == len(set(offs)), offs        # each page once
    rest = [p for p in log8 if p[0] in (1000, 2000, 3000)]
    assert max(p[2] for p in rest) >= 2, log8       # overlapping requests
    assert [p[3] for p in log8 if p[0] == 1000] == [log8[0][3]], log8
    jobs = {p[3] for p in log8[1:] if p[0] != 1000}
    assert log8[0][3] not in jobs and 2 <= len(jobs) <= 7, log8
    assert log8[0][4] < min(p[4] for p in log8[1:]), log8
    # the default limit (3,000) needs 4 pages: this process and 2 jobs
    r8, log8 = listing(t, 8)
    assert sorted(p[0] for p in log8) == [0, 1000, 2000, 3000], log8
    assert len({p[3] for p in log8}) == 3, log8
    assert "--limit=3000" in r8.stderr, r8.stderr


def test_jobs_keep_their_connection_and_the_window(t):
    """CONTREE_CONCURRENCY=2 for 5 pages: this process fetches pages 0
    and 1, one job the rest over one kept-alive connection; never more
    than 2 pages ahead, so at most one request past the short page."""
    t.fake.seed_images(4296)                        # 4,300: pages 0-3 full
    slow(t, 0.1)
    r1, _ = listing(t, 1, "--limit", "100000")
    r, log = listing(t, 2, "--limit", "100000")
    assert r.code == 0 and r.out == r1.out, r
    assert len(r.out.splitlines()) == 4300
    offs = sorted(p[0] for p in log)
    assert offs[:5] == [0, 1000, 2000, 3000, 4000], offs
    assert offs[5:] in ([], [5000]), offs
    conns = {}
    for p in log:
        conns.setdefault(p[3], []).append(p[0])
    assert sorted(conns.pop(log[0][3])) == [0, 1000], log
    assert len(conns) == 1, log
    assert sorted(list(conns.values())[0])[:3] == [2000, 3000, 4000], log
    assert max(p[2] for p in log) <= 2, log


def test_short_or_empty_final_page_stops(t):
    t.fake.seed_images(2996)                        # exactly 3,000
    for n in (1, 2, 8):
        r, log = listing(t, n, "--limit", "100000")
        assert r.code == 0 and len(r.out.splitlines()) == 3000, r
        assert "truncated" not in r.stderr, r.stderr
        offs = sorted(p[0] for p in log)
        # page 3 (offset 3000) is empty: the end; jobs stop within w - 1
        assert offs[:4] == [0, 1000, 2000, 3000], (n, offs)
        assert max(offs) <= 3000 + (n - 1) * 1000, (n, offs)
    # exactly the limit: no warning, the empty page says so
    r, log = listing(t, 8, "--limit", "3000")
    assert r.code == 0 and "truncated" not in r.stderr, r
    assert sorted(p[0] for p in log) == [0, 1000, 2000, 3000], log
    # one more than the limit: the warning
    t.fake.seed_images(1)
    r, log = listing(t, 8, "--limit", "3000")
    assert r.code == 0 and "Output truncated at --limit=3000" in r.stderr, r
    assert len(r.out.splitlines()) == 3000


def test_a_failing_page_fails_the_listing(t):
    t.fake.seed_images(3500)
    results = []
    for n in (1, 8):
        t.fake.admin("DELETE", "faults")
        t.fake.admin("POST", "fault", {"path": "/v1/images$", "kind": "status",
                                       "status": 500, "count": -1,
                                       "query": "offset=2000"})
        r, log = listing(t, n, "--limit", "100000")
        assert r.code == 1, r
        assert "[ERROR] API 500" in r.stderr, r.stderr
        # the retry loop ran on the failing page
        assert [p[0] for p in log].count(2000) > 1, log
        results.append(r)
    r1, r8 = results
    assert r8.stderr == r1.stderr, (r1.stderr, r8.stderr)
    # the pages before the failure were shown, in order, as before
    assert r8.out == r1.out and len(r8.out.splitlines()) == 2000, r8
    # a malformed page: the same message both ways
    out = []
    for n in (1, 8):
        t.fake.admin("DELETE", "faults")
        t.fake.admin("POST", "fault", {"path": "/v1/images$",
                                       "kind": "badjson", "count": -1,
                                       "query": "offset=1000"})
        r, _ = listing(t, n, "--limit", "100000")
        assert r.code == 1 and "malformed reply to GET /images" in r.stderr, r
        out.append(r.stderr)
    assert out[0] == out[1], out


def test_one_page_is_one_request(t):
    t.fake.seed_images(200)
    for args in ((), ("--limit", "5"), ("--limit", "999")):
        t.fake.clear_requests()
        r = t.run("-L", "debug", "images", "-a", *args, env=conc(8))
        assert r.code == 0, r
        log = pages(t)
        assert len(log) == 1 and log[0][0] == 0, (args, log)
        assert r.stderr.count("opening connection") == 1, r.stderr
    # two pages needed at most (file ls, --limit 1000): no jobs either
    t.fake.seed_images(1000)
    r = t.run("-L", "debug", "images", "-a", "--limit", "1000",
              env=conc(8))
    assert r.code == 0 and "Output truncated" in r.stderr, r
    assert [p[0] for p in pages(t)][-2:] == [0, 1000], pages(t)
    assert r.stderr.count("opening connection") == 1, r.stderr


def kids_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(k) for k in f.read().split()]
    except OSError:
        return []


def interrupt(t, group):
    t.fake.seed_images(9000)
    slow(t, 0.5, count=1)                           # the first page
    slow(t, 30, query="offset=[1-9]")               # the rest: hang
    p = subprocess.Popen([t.binary(), "images", "-a", "--limit", "100000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=t.env(conc(4)),
                         cwd=t.home, start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline and len(pages(t)) < 5:
        time.sleep(0.05)
    kids = kids_of(p.pid)
    assert len(kids) == 3, (kids, pages(t))     # and page 1 here
    began = time.time()
    if group:
        os.killpg(p.pid, signal.SIGINT)     # as a terminal's Ctrl-C
    else:
        p.send_signal(signal.SIGINT)        # the parent only
    out, err = p.communicate(timeout=20)
    assert time.time() - began < 5, "jobs went on after Ctrl-C"
    assert p.returncode == 130, (p.returncode, err)
    assert err == b"[ERROR] interrupted\n", err     # as the sequential walk
    for k in kids:                          # reaped, not left running
        assert not os.path.exists("/proc/%d" % k), k


def test_ctrl_c_stops_the_jobs(t):
    interrupt(t, True)


def test_ctrl_c_to_the_parent_alone(t):
    interrupt(t, False)


def test_over_tls(t):
    """Each job makes a TLS connection of its own (tls.c: one engine per
    process), resuming the session of the parent's connection."""
    t.start_fake(tls=True)
    t.fake.seed_images(3500)
    slow(t, 0.1)        # no job fetches every page before the others start
    ca = {"CONTREE_CA_FILE": t.fake.ca_file}
    t.fake.clear_requests()
    r1 = t.run("-f", "json", "images", "-a", "--limit", "100000",
               env=conc(1, **ca))
    log1 = pages(t)
    t.fake.clear_requests()
    r8 = t.run("-L", "debug", "-f", "json", "images", "-a", "--limit",
               "100000", env=conc(8, **ca))
    log8 = pages(t)
    assert r1.code == 0 and r8.code == 0, (r1, r8)
    assert r8.out == r1.out and len(r8.out.splitlines()) == 3504
    assert len({p[3] for p in log1}) == 1, log1
    jobs = len({p[3] for p in log8}) - 1
    assert jobs > 1, log8
    # one full handshake: the jobs resume the session they inherited.
    # A job still connecting when the listing reached its end is killed
    # (jobs_free): it may have resumed without its request reaching the
    # fake, or be killed before it printed anything; so every job the
    # fake saw resumed, and no job connected without resuming.
    err = r8.stderr
    opened = err.count("opening connection ") - 1   # the parent's
    resumed = err.count("TLS session with localhost resumed")
    assert err.count("TLS handshake with localhost done") == 1, err
    assert jobs <= resumed <= opened, (jobs, resumed, opened, err)


# ---- review2: fork failing (EAGAIN) ----------------------------------------

NOFORK_C = """#include <errno.h>
#include <unistd.h>
pid_t fork(void) { errno = EAGAIN; return -1; }
"""


NOPIPE_C = """#include <errno.h>
#include <unistd.h>
int pipe(int p[2]) { (void)p; errno = EMFILE; return -1; }
"""


def nofork(t, code=NOFORK_C):
    """A preload library whose fork() always fails with EAGAIN (the
    process limit reached), or None where it cannot be made; with
    code=NOPIPE_C, pipe() fails (EMFILE) instead."""
    name = "nofork" if code == NOFORK_C else "nopipe"
    src = os.path.join(t.tmp, name + ".c")
    lib = os.path.join(t.tmp, name + ".so")
    with open(src, "w") as fh:
        fh.write(code)
    if subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src]).returncode:
        return None
    return lib


def preload(lib):
    """The environment that preloads lib (an ASan build lets it come
    before its runtime)."""
    return {"LD_PRELOAD": lib, "ASAN_OPTIONS": "verify_asan_link_order=0"}


def fetched_here(t, *lib_src):
    """images -a at concurrency 8 with fork or pipe failing (a preload
    library from lib_src): the same output as at 1, every page asked
    for once.  The pages' log."""
    lib = nofork(t, *lib_src)
    assert lib
    t.fake.seed_images(3500)                        # 3,504 in all
    r1, log1 = listing(t, 1, "--limit", "100000")
    t.fake.clear_requests()
    r8 = t.run("-f", "json", "images", "-a", "--limit", "100000",
               env=conc(8, **preload(lib)))
    log8 = pages(t)
    assert r1.code == 0 and r8.code == 0, r8
    assert r8.out == r1.out and r8.stderr == r1.stderr, r8.stderr
    assert len(r8.out.splitlines()) == 3504
    assert sorted(p[0] for p in log8) == [0, 1000, 2000, 3000], log8
    return log8


def test_listing_without_fork_is_fetched_here(t):
    log8 = fetched_here(t)
    # on one connection (no job started)
    assert len({p[3] for p in log8}) == 1, log8


def test_listing_without_pipe_is_fetched_here(t):
    fetched_here(t, NOPIPE_C)
