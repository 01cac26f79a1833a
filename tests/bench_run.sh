#!/bin/sh
# bench_run.sh - numbers for `contree run` against the fake API (never
# pass/fail; design.md §4 budget: `run -- true` under 10 ms of client time,
# 2 requests without files).
#   1. `run -- true`, N times: median wall time, median client CPU
#      (user+sys of the contree process), requests per run;
#   2. `run -F DIR:/data -- true` with a 200 MB directory (200 x 1 MiB),
#      first time (hash + lookup + upload) and second time (upload cache).
# Usage: sh tests/bench_run.sh [N]   (CONTREE_BIN picks the binary)
cd "$(dirname "$0")/.." || exit 2
N=${1:-30}
exec python3 - "$N" <<'EOF'
import os, resource, statistics, subprocess, sys, time
sys.path.insert(0, "tests")
from harness import T

n = int(sys.argv[1])
t = T("bench_run")
try:
    t.start_fake(delay=0)
    S = ("-S", "bench")
    assert t.run(*S, "use", "tag:alpine:3.19").code == 0

    def one(*args):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([t.binary(), *S, *args], stdin=subprocess.DEVNULL,
                           capture_output=True, env=t.env(), cwd=t.home)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if p.returncode != 0:
            raise SystemExit("run failed: %r" % p.stderr)
        return wall, cpu

    one("run", "--", "true")            # warm up (fake, page cache)
    walls, cpus, reqs = [], [], []
    for _ in range(n):
        t.fake.clear_requests()
        w, c = one("run", "--", "true")
        walls.append(w)
        cpus.append(c)
        reqs.append(len(t.fake.requests()))
    print("run -- true (%d runs): median wall %.1f ms, median client CPU %.2f ms, "
          "requests per run %s" % (n, statistics.median(walls) * 1000,
                                   statistics.median(cpus) * 1000,
                                   "/".join(str(x) for x in sorted(set(reqs)))))
    last = [(q["method"], q["path"]) for q in t.fake.requests()]
    print("  requests: %s" % ", ".join("%s %s" % x for x in last))

    d = os.path.join(t.tmp, "big")
    os.makedirs(d)
    for i in range(200):
        with open(os.path.join(d, "f%03d.bin" % i), "wb") as f:
            f.write(os.urandom(1 << 20))
    for label in ("first", "second"):
        t.fake.clear_requests()
        w, c = one("run", "-F", d + ":/data", "--", "true")
        rq = t.fake.requests()
        posts = sum(1 for q in rq if q["method"] == "POST" and q["path"].endswith("/files"))
        looks = sum(1 for q in rq if q["method"] == "GET" and "/v1/files/" in q["path"])
        print("run -F 200MB dir (%s): wall %.2f s, client CPU %.2f s, %d requests "
              "(%d lookups, %d uploads)" % (label, w, c, len(rq), looks, posts))
finally:
    t.close()
EOF
