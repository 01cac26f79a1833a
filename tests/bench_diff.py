"""bench_diff.py - make bench: contree diff of two images of 1,000 files
in 10 directories that differ in three files, cold (empty inspect cache)
and warm; wall time, CPU, peak RSS and requests.  Never pass/fail."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

T0 = 1700000000
t = harness.T("bench_diff")
try:
    files = {"/d%02d/f%03d" % (i // 100, i): {"text": "x%d\n" % i,
                                              "mtime": T0}
             for i in range(1000)}
    a = t.fake.add_image(files, tag="b:1")["uuid"]
    t.fake.add_image({"/d03/f300": {"text": "changed\n", "mtime": T0 + 1},
                      "/d07/new": {"text": "n\n", "mtime": T0 + 1}},
                     tag="b:2", parent=a, delete=["/d09/f999"])
    timer = ["/usr/bin/time", "-f", "%M KiB, %U+%S s CPU"] \
        if os.path.exists("/usr/bin/time") else []
    for label in ("cold", "warm"):
        t.fake.clear_requests()
        t0 = time.perf_counter()
        p = subprocess.run(timer + [os.path.abspath(t.binary()), "diff",
                                    "b:1", "b:2"],
                           capture_output=True, env=t.env(), cwd=t.home)
        wall = time.perf_counter() - t0
        print("diff 1,000 files, 3 changed, %s cache: %.1f ms wall, %s, "
              "%d requests%s" % (label, wall * 1e3,
                                 p.stderr.decode().strip() or "n/a",
                                 len(t.fake.requests()),
                                 "" if p.returncode == 0 else " (FAILED)"))
finally:
    t.close()
