"""bench_diff.py - make bench: contree diff of two images of 10,000 files
in 111 directories (10 x 10 x 100) that differ in three files, at
CONTREE_CONCURRENCY=1 and 8, with an empty inspect cache (cold) and a
full one (warm).  The fake answers in microseconds; a real server is a
network round trip away, so the cold runs are repeated with every
listing delayed by DELAY (the fake's `slow` fault).  Wall time, client
CPU and peak RSS (/usr/bin/time: the parent and its reaped workers),
requests, connections.  Never pass/fail.

    python3 tests/bench_diff.py [DELAY_MS]     (default 20)
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

T0 = 1700000000
DELAY = (float(sys.argv[1]) if len(sys.argv) > 1 else 20.0) / 1000


def drop_cache(home):
    for root, dirs, _ in os.walk(home):
        for d in list(dirs):
            if d == "inspect":
                shutil.rmtree(os.path.join(root, d))
                dirs.remove(d)


def one(t, timer, conc, label):
    t.fake.clear_requests()
    t0 = time.perf_counter()
    p = subprocess.run(timer + [os.path.abspath(t.binary()), "diff",
                                "b:1", "b:2"],
                       capture_output=True, env=t.env(
                           {"CONTREE_CONCURRENCY": str(conc)}), cwd=t.home)
    wall = time.perf_counter() - t0
    log = t.fake.admin("GET", "requests")
    conns = len({e.get("conn") for e in log})
    lines = p.stdout.decode().count("\n")
    print("diff 10,000 files, 3 changed, conc %d, %s: %.0f ms wall, %s, "
          "%d requests, %d connections%s"
          % (conc, label, wall * 1e3,
             p.stderr.decode().strip().splitlines()[-1] if p.stderr else "n/a",
             len(log), conns,
             "" if p.returncode == 0 and lines == 3 else
             " (FAILED %d: %r)" % (p.returncode, p.stderr[-300:])))


t = harness.T("bench_diff")
try:
    files = {"/d%d/s%d/f%03d" % (i // 1000, i // 100 % 10, i % 100):
             {"text": "x%d\n" % i, "mtime": T0} for i in range(10000)}
    a = t.fake.add_image(files, tag="b:1")["uuid"]
    t.fake.add_image({"/d3/s0/f000": {"text": "changed\n", "mtime": T0 + 1},
                      "/d7/s7/new": {"text": "n\n", "mtime": T0 + 1}},
                     tag="b:2", parent=a, delete=["/d9/s9/f099"])
    timer = ["/usr/bin/time", "-f", "%M KiB, %U+%S s CPU"] \
        if os.path.exists("/usr/bin/time") else []
    for conc in (1, 8):
        drop_cache(t.home)
        one(t, timer, conc, "cold, no delay")
        one(t, timer, conc, "warm")
    fid = t.fake.fault(path="/list$", method="GET", kind="slow", delay=DELAY,
                       count=-1)
    for conc in (1, 8):
        drop_cache(t.home)
        one(t, timer, conc, "cold, %g ms per listing" % (DELAY * 1e3))
    t.fake.admin("DELETE", "faults")
finally:
    t.close()
