#!/usr/bin/env python3
"""e2e.py - run the end-to-end tests (tests/e2e_*.py, functions test_*).

    python3 tests/e2e.py [-v] [-k] [-j N] [PATTERN...]

PATTERN keeps the tests whose id (`e2e_fake.test_upload_dedup`) contains it
as a substring (any of several patterns).  Each test runs in its own process
(its own process group, so a hung test and its fake are killed together),
up to N at a time (default 4, or $E2E_JOBS).  Time limit per test: 120 s, or
the function attribute `timeout`, or $E2E_TIMEOUT.

Output: `ok   ID (secs)` or `FAIL ID: message (file:line)` per test, then
`e2e: N passed, N failed`; exit 1 on any failure.  -v adds each failing
test's traceback and the tail of its fake's log; -k keeps the temp dirs.
"""

import glob
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

TESTS = os.path.dirname(os.path.abspath(__file__))
MARK = "E2E-RESULT: "


def discover():
    """[(module, function, timeout)] in file and definition order."""
    sys.path.insert(0, TESTS)
    out, broken = [], []
    for path in sorted(glob.glob(os.path.join(TESTS, "e2e_*.py"))):
        mod = os.path.basename(path)[:-3]
        try:
            m = importlib.import_module(mod)
        except Exception as e:
            broken.append((mod, "import failed: %s: %s" % (type(e).__name__, e)))
            continue
        fns = [(getattr(f, "__code__").co_firstlineno, n, f)
               for n, f in vars(m).items()
               if n.startswith("test_") and callable(f) and hasattr(f, "__code__")]
        for _, n, f in sorted(fns):
            out.append((mod, n, getattr(f, "timeout", None)))
    return out, broken


def run_one(mod, name, keep):
    """Child side: run one test, print the result line, exit 0/1."""
    sys.path.insert(0, TESTS)
    import harness
    t = harness.T("%s.%s" % (mod, name))
    ok, msg = False, ""
    try:
        fn = getattr(importlib.import_module(mod), name)
        fn(t)
        ok = True
    except BaseException as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = ""
        for fr in reversed(tb):
            if os.path.basename(fr.filename).startswith("e2e_"):
                where = " (%s:%d)" % (os.path.basename(fr.filename), fr.lineno)
                break
        if isinstance(e, AssertionError):
            msg = str(e) or ("assertion failed: " + (tb[-1].line or "?"))
        else:
            msg = "%s: %s" % (type(e).__name__, e)
        msg = " | ".join(msg.splitlines()) + where
        traceback.print_exc()
        if t._fake is not None:
            sys.stderr.write("--- fake log tail ---\n%s\n" % t._fake.log_tail())
    finally:
        try:
            t.close(keep=keep)
        except Exception:
            pass
    sys.stdout.write("\n" + MARK + ("ok" if ok else "FAIL " + msg) + "\n")
    sys.stdout.flush()
    os._exit(0 if ok else 1)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--one"]:
        return run_one(args[1], args[2], args[3:4] == ["keep"])
    verbose = keep = False
    jobs = int(os.environ.get("E2E_JOBS") or 4)
    pats = []
    while args:
        a = args.pop(0)
        if a == "-v":
            verbose = True
        elif a == "-k":
            keep = True
        elif a == "-j":
            jobs = int(args.pop(0))
        else:
            pats.append(a)
    tests, broken = discover()
    tests = [x for x in tests
             if not pats or any(p in "%s.%s" % (x[0], x[1]) for p in pats)]
    default_to = float(os.environ.get("E2E_TIMEOUT") or 120)
    lock = threading.Lock()
    counts = {"passed": 0, "failed": 0}
    queue = list(tests)

    def report(ok, line, detail=""):
        with lock:
            counts["passed" if ok else "failed"] += 1
            print(line, flush=True)
            if detail and verbose:
                print(detail, flush=True)

    for mod, msg in broken:
        if not pats or any(p in mod for p in pats):
            report(False, "FAIL %s: %s" % (mod, msg))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                mod, name, to = queue.pop(0)
            tid = "%s.%s" % (mod, name)
            to = float(to or default_to)
            cmd = [sys.executable, os.path.abspath(__file__), "--one", mod, name]
            if keep:
                cmd.append("keep")
            t0 = time.monotonic()
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                out, err = p.communicate(timeout=to)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(p.pid, sig)
                    except OSError:
                        pass
                    try:
                        out, err = p.communicate(timeout=3)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            secs = time.monotonic() - t0
            text = out.decode("utf-8", "replace")
            res = [ln[len(MARK):] for ln in text.splitlines() if ln.startswith(MARK)]
            detail = err.decode("utf-8", "replace").rstrip()
            if timed_out:
                report(False, "FAIL %s: timed out after %ds" % (tid, to), detail)
            elif res and res[-1] == "ok" and p.returncode == 0:
                report(True, "ok   %s (%.2fs)" % (tid, secs))
            elif res and res[-1].startswith("FAIL "):
                report(False, "FAIL %s: %s" % (tid, res[-1][5:]), detail)
            else:
                report(False, "FAIL %s: test process died (status %s)"
                       % (tid, p.returncode), detail)

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print("e2e: %d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
