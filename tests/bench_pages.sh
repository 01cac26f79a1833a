#!/bin/sh
# bench_pages.sh - listing 2,500 images (`contree images -a`: 3 pages of
# 1,000 and the default limit of 3,000, so 4 pages may be needed) against
# the fake, with CONTREE_CONCURRENCY=1 (one page after the other on one
# connection) and 8 (the first page, then the rest from jobs in
# parallel), at once and with every page request delayed 20 ms in the
# fake (a slow fault), which is what a real network and server add;
# then 10,004 images (--limit 10000: 11 pages) with the delay.  Per
# case: median wall and client CPU (the jobs included: they are reaped
# children) of RUNS runs, the requests and connections the fake saw, and
# the fake's own CPU per run (it is Python: the pages it serves at once
# share one core, so its CPU bounds the wall of C=8 here).  Numbers for the notes, never pass/fail; with $BENCH_ROWS
# set, rows for make bench's table.
# Usage: sh tests/bench_pages.sh [RUNS]
cd "$(dirname "$0")/.." || exit 2
[ -x ./contree ] || [ -n "$CONTREE_BIN" ] || { echo "no ./contree"; exit 2; }
exec python3 - "${1:-15}" <<'PY'
import os, statistics, sys, time
sys.path.insert(0, "tests")
from harness import T

runs = int(sys.argv[1])
t = T("bench_pages")
rows = os.environ.get("BENCH_ROWS")


def once(conc, args):
    env = t.env({"CONTREE_CONCURRENCY": conc})
    null = os.open(os.devnull, os.O_RDWR)
    io = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
          (os.POSIX_SPAWN_DUP2, null, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(t.binary(), [t.binary(), "images", "-a", *args],
                         env, file_actions=io)
    _, st, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    os.close(null)
    if st != 0:
        raise SystemExit("contree images -a failed: status %d" % st)
    # rusage of a waited-for child includes the children it reaped
    return wall * 1e3, (ru.ru_utime + ru.ru_stime) * 1e3


def fake_cpu():
    """CPU ms the fake has used so far (Python: one core at a time)."""
    with open("/proc/%d/stat" % t.fake.proc.pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) * 1e3 / os.sysconf("SC_CLK_TCK")


def case(total, args, delay):
    """C=1 and C=8 runs taken in turns, so that a busy machine weighs on
    both alike."""
    t.fake.admin("DELETE", "faults")
    if delay:
        t.fake.fault(path="/v1/images$", kind="slow", delay=delay / 1e3,
                     count=-1)
    m = {c: {"wall": [], "cpu": [], "fake": [], "log": None}
         for c in ("1", "8")}
    for c in m:
        once(c, args)                                   # warm up
    for _ in range(runs):
        for c in m:
            t.fake.clear_requests()
            f0 = fake_cpu()
            w, u = once(c, args)
            time.sleep(delay / 1e3 * 2)     # killed jobs' requests end
            m[c]["fake"].append(fake_cpu() - f0)
            m[c]["wall"].append(w)
            m[c]["cpu"].append(u)
            m[c]["log"] = [e for e in t.fake.admin("GET", "requests")
                           if e["path"].endswith("/v1/images")]
    out = {}
    for c, v in m.items():
        wall = statistics.median(v["wall"])
        cpu = statistics.median(v["cpu"])
        conns = len({e["conn"] for e in v["log"]})
        print("list %d images, C=%s, %d ms/request: wall median %6.1f ms,"
              " client CPU median %5.1f ms, %d requests on %d connections"
              " (fake CPU %.0f ms)" % (total, c, delay, wall, cpu,
                                       len(v["log"]), conns,
                                       statistics.mean(v["fake"])))
        out[c] = wall, cpu, conns
    return out


try:
    res = {}
    t.fake.seed_images(2500)                            # 2,504 in all
    for delay in (0, 20):
        for c, v in case(2504, [], delay).items():
            res[2504, delay, c] = v
    t.fake.seed_images(7500)                            # 10,004
    for c, v in case(10004, ["--limit", "10000"], 20).items():
        res[10004, 20, c] = v
    for n in (2504, 10004):
        print("list %d images, 20 ms/request: wall C=1 / C=8 = %.2fx"
              % (n, res[n, 20, "1"][0] / res[n, 20, "8"][0]))
    if rows:
        with open(rows, "a") as f:
            f.write("list 2,500 images, C=1: client CPU\t%.1f\t<50\tms\n"
                    % res[2504, 0, "1"][1])
            # one connection at 1; at 8 the first one and 2 jobs' (the
            # limit of 3,000 asks for pages 1-3)
            f.write("list 2,500 images, C=1: connections\t%d\t=1\t\n"
                    % res[2504, 0, "1"][2])
            f.write("list 2,500 images, C=8: connections\t%d\t<4\t\n"
                    % res[2504, 0, "8"][2])
            for n, name in ((2504, "2,500"), (10004, "10,000")):
                f.write("list %s images, 20 ms/request: wall C=1 / C=8"
                        "\t%.2f\t-\tx\n"
                        % (name, res[n, 20, "1"][0] / res[n, 20, "8"][0]))
finally:
    t.close()
PY
