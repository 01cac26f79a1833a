"""bench_mcp.py - make bench: `contree mcp` against design.md §4: CPU from
start to the initialize and tools/list answers, idle RSS, and 8
concurrent `run` calls against the wall of one.  Never pass/fail."""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

INIT = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": "2025-06-18",
                              "capabilities": {},
                              "clientInfo": {"name": "b", "version": "1"}}})
LIST = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})


def start(t):
    return subprocess.Popen([os.path.abspath(t.binary()), "mcp"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=t.env(),
                            cwd=t.home)


def ask(p, line):
    p.stdin.write(line.encode() + b"\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())


def cpu_of(p):
    """CPU seconds of child p, which must be the only one that ends."""
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_utime + ru.ru_stime


t = harness.T("bench_mcp")
try:
    t.fake
    cpu_init, cpu_list, wall_list = [], [], []
    for i in range(40):
        # initialize only, then exit: its CPU; initialize + tools/list
        p = start(t)
        ask(p, INIT)
        p.stdin.close()
        cpu_init.append(cpu_of(p))
        t0 = time.perf_counter()
        p = start(t)
        ask(p, INIT)
        r = ask(p, LIST)
        wall_list.append(time.perf_counter() - t0)
        assert len(r["result"]["tools"]) >= 18
        p.stdin.close()
        cpu_list.append(cpu_of(p))
    base = []
    for i in range(40):
        p = subprocess.Popen([os.path.abspath(t.binary()), "--version"],
                             stdout=subprocess.DEVNULL, env=t.env())
        base.append(cpu_of(p))
    print("baseline, contree --version: median %.2f ms CPU (exec, start-up)"
          % (statistics.median(base) * 1e3))
    print("start to initialize answer (and exit): median %.2f ms CPU"
          % (statistics.median(cpu_init) * 1e3))
    print("start to tools/list answer (and exit): median %.2f ms CPU, "
          "%.2f ms wall" % (statistics.median(cpu_list) * 1e3,
                            statistics.median(wall_list) * 1e3))
    p = start(t)
    ask(p, INIT)
    ask(p, LIST)
    time.sleep(0.3)
    with open("/proc/%d/status" % p.pid) as f:
        st = dict(line.split(":", 1) for line in f)
    print("idle after tools/list: RSS %s, peak %s" % (
        st["VmRSS"].strip(), st["VmHWM"].strip()))
    img = t.fake.image_uuid("alpine:3.19")
    t.fake.config(delay=1.0)

    def runs(n):
        t0 = time.perf_counter()
        for k in range(n):
            p.stdin.write((json.dumps({
                "jsonrpc": "2.0", "id": 100 + k, "method": "tools/call",
                "params": {"name": "run", "arguments": {
                    "command": "echo %d" % k, "image": img}}}) + "\n").encode())
        p.stdin.flush()
        for _ in range(n):
            m = json.loads(p.stdout.readline())
            assert not m["result"].get("isError"), m
        return time.perf_counter() - t0
    one = min(runs(1) for _ in range(3))
    eight = min(runs(8) for _ in range(2))
    print("run (fake takes 1 s): one %.2f s, 8 concurrent %.2f s wall "
          "(%.2fx; budget 1.5x)" % (one, eight, eight / one))
    p.stdin.close()
    p.wait()
finally:
    t.close()
