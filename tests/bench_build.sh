#!/bin/sh
# bench_build.sh - numbers for `contree build` against the fake API (never
# pass/fail): a 10-step Dockerfile (ENV, WORKDIR, 3 COPYs of 20 files,
# 5 RUNs), built cold and then fully cached: wall time, client CPU (user
# + sys of the contree process), requests and spawns.
# Usage: sh tests/bench_build.sh   (CONTREE_BIN picks the binary)
cd "$(dirname "$0")/.." || exit 2
exec python3 - <<'PY'
import os, resource, subprocess, sys, time
sys.path.insert(0, "tests")
from harness import T

t = T("bench_build")
try:
    t.start_fake(delay=0)
    root = os.path.join(t.tmp, "ctx")
    for d in ("a", "b", "c"):
        os.makedirs(os.path.join(root, d))
        for i in range(20):
            with open(os.path.join(root, d, "f%02d.txt" % i), "w") as f:
                f.write("%s %d\n" % (d, i) * 100)
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write("FROM alpine:3.19\nENV N=1\nWORKDIR /\n"
                "COPY a /a\nRUN cat /a/* | wc -l > /na\n"
                "COPY b /b\nRUN cat /b/* | wc -l > /nb\n"
                "COPY c /c\nRUN cat /c/* | wc -l > /nc\n"
                "RUN echo done > /done\n")

    def one(label, *extra):
        t.fake.clear_requests()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([t.binary(), "-f", "json", "build", *extra, root],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=t.env(), cwd=t.home)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit("build failed: %r" % p.stderr)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rq = t.fake.requests()
        spawns = sum(1 for q in rq if q["method"] == "POST" and
                     q["path"].endswith("/instances"))
        ups = sum(1 for q in rq if q["method"] == "POST" and
                  q["path"].endswith("/files"))
        print("build, 10 steps, %-12s wall %7.1f ms, client CPU %6.2f ms, "
              "%3d requests (%d spawns, %d uploads)"
              % (label + ":", wall * 1000, cpu * 1000, len(rq), spawns, ups))

    one("cold")
    one("cached")
    one("--no-cache", "--no-cache")
finally:
    t.close()
PY
