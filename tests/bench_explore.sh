#!/bin/sh
# bench_explore.sh - numbers for `contree explore` against the fake API
# (never pass/fail; design.md §4 budget: explore with 8 commands within
# 1.5x the wall time of one command alone).  Each command is `sleep 1`
# on a fake whose operations take at least 0.3 s more (queue, start):
#   1. one `run -s 'sleep 1'`;
#   2. 8 such runs one after the other;
#   3. `explore` with the 8 commands;
# each with its wall time, client CPU (user+sys of contree and its
# children) and requests.
# Usage: sh tests/bench_explore.sh   (CONTREE_BIN picks the binary)
cd "$(dirname "$0")/.." || exit 2
exec python3 - <<'PY'
import resource, subprocess, sys, time
sys.path.insert(0, "tests")
from harness import T

t = T("bench_explore")
try:
    t.start_fake(delay=0.3)
    S = ("-S", "bench")
    assert t.run(*S, "use", "tag:alpine:3.19").code == 0
    CMD = "sleep 1"

    def one(*args):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([t.binary(), *S, *args], stdin=subprocess.DEVNULL,
                           capture_output=True, env=t.env(), cwd=t.home)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + \
            (after.ru_stime - before.ru_stime)
        if p.returncode != 0:
            raise SystemExit("failed: %r" % p.stderr)
        return wall, cpu

    def measure(label, runs):
        t.fake.clear_requests()
        wall = cpu = 0.0
        for args in runs:
            w, c = one(*args)
            wall += w
            cpu += c
        n = len(t.fake.requests())
        print("%-30s wall %.2f s, client CPU %.1f ms, %d requests"
              % (label, wall, cpu * 1000, n))
        return wall

    one("run", "-s", "true")            # warm up
    w1 = measure("run (1 command)", [("run", "-s", CMD)])
    w8 = measure("8 runs one after the other", [("run", "-s", CMD)] * 8)
    we = measure("explore (8 commands)", [("explore", *[CMD] * 8)])
    print("explore of 8 / one run: %.2fx; 8 sequential runs / explore: %.1fx"
          % (we / w1, w8 / we))
finally:
    t.close()
PY
