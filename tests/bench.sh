#!/bin/sh
# make bench: numbers for the notes (design.md §4 budgets); never
# pass/fail.  Each part prints its own lines.
cd "$(dirname "$0")/.." || exit 2
bin=${CONTREE_BIN:-./contree}

echo "== start-up: contree --version and session list (no network)"
python3 - "$bin" <<'PY'
import os, statistics, subprocess, sys, tempfile, time
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
    # RSS through GNU time: a child forked from Python would report
    # Python's own pages as its peak
    rss = "n/a (no /usr/bin/time)"
    if os.path.exists("/usr/bin/time"):
        p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, *args],
                           env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        rss = p.stderr.decode().strip().splitlines()[-1] + " KiB"
    print("%-14s median %.2f ms wall (incl. fork/exec from Python), "
          "peak RSS %s" % (" ".join(args), statistics.median(walls) * 1e3, rss))
PY
echo
echo "== shell: peak RSS of an idle contree shell at its prompt (a pty)"
python3 - "$bin" <<'PY'
import os, pty, select, sys, tempfile, time
binary = os.path.abspath(sys.argv[1])
home = tempfile.mkdtemp()
env = {"HOME": home, "PATH": os.environ.get("PATH", ""), "TERM": "xterm",
       "CONTREE_TOKEN": "x", "CONTREE_URL": "http://127.0.0.1:9"}
pid, fd = pty.fork()
if pid == 0:
    os.execve(binary, [binary, "-S", "bench", "shell"], env)
out, end = b"", time.time() + 10
while b"$ " not in out and time.time() < end:
    if select.select([fd], [], [], 0.2)[0]:
        out += os.read(fd, 4096)
time.sleep(0.2)
with open("/proc/%d/status" % pid) as f:
    hwm = [l.split()[1] for l in f if l.startswith("VmHWM")]
os.write(fd, b"\x04")
os.waitpid(pid, 0)
print("idle shell: peak RSS %s KiB" % (hwm[0] if hwm else "n/a"))
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
if [ -f tests/bench_explore.sh ]; then
	echo "== explore"
	sh tests/bench_explore.sh
	echo
fi
if [ -f tests/bench_transfer.sh ]; then
	echo "== transfer"
	sh tests/bench_transfer.sh
fi
if [ -f tests/bench_diff.py ]; then
	echo
	echo "== diff"
	CONTREE_BIN=$bin python3 tests/bench_diff.py
fi
if [ -f tests/bench_mcp.py ]; then
	echo
	echo "== mcp"
	CONTREE_BIN=$bin python3 tests/bench_mcp.py
fi
if [ -f tests/bench_build.sh ]; then
	echo
	echo "== build"
	CONTREE_BIN=$bin sh tests/bench_build.sh
fi
