#!/bin/sh
# make bench: numbers for the notes (design.md §4 budgets); never
# pass/fail.  Each part prints its own lines.
cd "$(dirname "$0")/.." || exit 2
bin=${CONTREE_BIN:-./contree}

echo "== start-up: contree --version and session list (no network)"
python3 - "$bin" <<'PY'
import os, resource, statistics, subprocess, sys, tempfile, time
binary = os.path.abspath(sys.argv[1])
home = tempfile.mkdtemp()
env = {"HOME": home, "PATH": os.environ.get("PATH", ""),
       "CONTREE_TOKEN": "x", "CONTREE_URL": "http://127.0.0.1:9"}
for args in (["--version"], ["session", "list"]):
    walls = []
    for _ in range(200):
        t0 = time.perf_counter()
        subprocess.run([binary, *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("%-14s median %.2f ms (incl. fork/exec from Python), "
          "peak RSS of any child so far %d KiB"
          % (" ".join(args), statistics.median(walls) * 1e3, rss))
PY
echo
echo "== binary size"
ls -l "$bin" | awk '{print "contree: " $5 " bytes (dynamic, not stripped; make static for the budgeted build)"}'
echo
if [ -x tests/bench_store ]; then
	echo "== session log"
	tests/bench_store
	echo
fi
if [ -f tests/bench_run.sh ]; then
	echo "== run"
	sh tests/bench_run.sh 20
	echo
fi
if [ -f tests/bench_transfer.sh ]; then
	echo "== transfer"
	sh tests/bench_transfer.sh
fi
