#!/bin/sh
# make bench: every budget of design.md §4 and issue 15, measured, in one
# table at the end (what, measured, budget, ok/over); the parts' own
# detailed lines come first.  Numbers for the notes: the exit status does
# not depend on them.
#
# A line of the table is one call, anywhere before the table is printed:
#     row NAME MEASURED BUDGET UNIT
# MEASURED is a number, or - (not measured yet); BUDGET is <N (at most),
# >N (at least), =N (exactly) or - (no budget: shown as "info").  A NAME
# given twice keeps its first place and its last measured value, so
# every budget is declared below with "-" and filled in by the part that
# measures it.  A program (Python, C) adds a line by appending
#     NAME<TAB>MEASURED<TAB>BUDGET<TAB>UNIT<LF>
# to the file named by $BENCH_ROWS.  grab pulls a number out of a part's
# printed output (sed pattern with one \(...\)); it gives - if absent.
cd "$(dirname "$0")/.." || exit 2
bin=${CONTREE_BIN:-./contree}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
BENCH_ROWS=$tmp/rows
export BENCH_ROWS CONTREE_BIN="$bin"

row() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_ROWS"
}

part() {   # part NAME command...: run, show and keep the output
	name=$1
	shift
	"$@" 2>&1 | tee "$tmp/$name.out"
}

grab() {   # grab NAME PATTERN
	v=$(sed -n "s/$2/\\1/p" "$tmp/$1.out" 2>/dev/null | head -n 1)
	echo "${v:--}"
}

# ---- every budget, in table order (design.md §4, issue 15)
row "baseline: /bin/true (dynamic), median wall" - - ms
row "contree --version: median wall" - "<2" ms
row "contree --version: median CPU" - - ms
row "contree --version: peak RSS" - "<2" MB
row "session list: median wall" - "<2" ms
row "session list: median CPU" - - ms
row "session list: peak RSS" - "<2" MB
row "static: contree --version: median wall" - "<2" ms
row "static: contree --version: median CPU" - - ms
row "static: contree --version: peak RSS" - "<2" MB
row "static: session list: median wall" - "<2" ms
row "static: session list: median CPU" - - ms
row "static: session list: peak RSS" - "<2" MB
row "shell: idle RSS" - - MB
row "run -- true: client CPU (median)" - "<10" ms
row "run -- true: requests" - "=2" ""
row "run -F 200 MB (200 files), first: wall" - - s
row "run -F 200 MB (200 files), first: client CPU" - - s
row "images -a, 2,500 images, C=1: client CPU" - "<50" ms
row "images -a, 2,500 images, C=1: connections" - "=1" ""
row "upload over loopback, plain" - ">500" MB/s
row "download over loopback, plain" - ">500" MB/s
row "upload over loopback, TLS" - ">200" MB/s
row "download over loopback, TLS" - ">200" MB/s
row "upload, plain: client CPU rate" - - MB/s
row "download, plain: client CPU rate" - - MB/s
row "upload, TLS: client CPU rate" - - MB/s
row "download, TLS: client CPU rate" - - MB/s
row "upload of 1 GB: peak RSS" - "<4" MB
row "cat of 1 GB: peak RSS" - "<4" MB
row "cp of 1 GB: peak RSS" - "<4" MB
row "store, 1M entries/1,000 sessions: open one, CPU" - "<5" ms
row "store, 1M entries/1,000 sessions: open one, RSS" - "<4" MB
row "store, 1M entries/1,000 sessions: session list" - "<20" ms
row "store: open a session of 100,000 entries" - "<50" ms
row "store: one 100,000-entry log, single-file engine" - "<50" ms
row "explore, 8 commands: wall / one command" - "<1.5" x
row "run -F 2,000 files (200 MB): client CPU" - - s
row "mcp: start to first tools/list, CPU" - "<5" ms
row "mcp: idle RSS" - "<3" MB
row "mcp: 8 concurrent runs: wall / one run" - "<1.5" x
# sizes in KiB (1024 bytes), as the RSS rows are in MiB: design.md's
# "400 KB" read as 409,600 bytes; the byte counts are printed above
# the table
row "static binary (make static), stripped" - "<440" KiB
row "static binary without the MCP server" - "<400" KiB
row "static binary: the MCP server's share" - "<40" KiB

echo "== binary size"
ls -l "$bin" | awk '{print "contree: " $5 " bytes (as built by make)"}'
static=
if command -v musl-gcc >/dev/null 2>&1 &&
    make -s static STATIC_OUT="$tmp/contree-static" >"$tmp/static.log" 2>&1
then
	static=$tmp/contree-static
	n=$(wc -c <"$static")
	echo "make static: $n bytes"
	row "static binary (make static), stripped" \
	    "$(awk -v n="$n" 'BEGIN { printf "%.1f", n / 1024 }')" "<440" KiB
	# the same linked without mcp.c and cmd_mcp.c (tests/nomcp.c)
	if make -s static-nomcp NOMCP_OUT="$tmp/contree-nomcp" \
	    >>"$tmp/static.log" 2>&1; then
		m=$(wc -c <"$tmp/contree-nomcp")
		echo "make static-nomcp: $m bytes; the MCP server's share:" \
		    "$((n - m)) bytes"
		row "static binary without the MCP server" \
		    "$(awk -v n="$m" 'BEGIN { printf "%.1f", n / 1024 }')" \
		    "<400" KiB
		row "static binary: the MCP server's share" \
		    "$(awk -v n="$((n - m))" 'BEGIN { printf "%.1f", n / 1024 }')" \
		    "<40" KiB
	else
		echo "make static-nomcp: failed"
	fi
else
	echo "make static: not built (no musl-gcc, or it failed)"
fi
echo
echo "== start-up: contree --version and session list (no network)"
python3 - "$bin" $static <<'PY'
import os, statistics, subprocess, sys, tempfile, time
home = tempfile.mkdtemp()
env = {"HOME": home, "PATH": os.environ.get("PATH", ""),
       "CONTREE_TOKEN": "x", "CONTREE_URL": "http://127.0.0.1:9"}
rows = open(os.environ["BENCH_ROWS"], "a")
null = os.open(os.devnull, os.O_RDWR)
io = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
      (os.POSIX_SPAWN_DUP2, null, 2)]
for binary, args, name in (
        ("/bin/true", [], "baseline: /bin/true (dynamic)"),
        (sys.argv[1], ["--version"], "contree --version"),
        (sys.argv[1], ["session", "list"], "session list"),
        (sys.argv[-1], ["--version"], "static: contree --version"),
        (sys.argv[-1], ["session", "list"], "static: session list"))[
        :5 if len(sys.argv) > 2 else 3]:
    walls, cpus = [], []
    for _ in range(200):
        # posix_spawn and wait4: less of Python's own time in the wall
        # clock, and the CPU of this child alone
        t0 = time.perf_counter()
        pid = os.posix_spawn(binary, [binary, *args], env, file_actions=io)
        ru = os.wait4(pid, 0)[2]
        walls.append(time.perf_counter() - t0)
        cpus.append(ru.ru_utime + ru.ru_stime)
    # RSS through GNU time: a child forked from Python would report
    # Python's own pages as its peak
    rss, kib = "n/a (no /usr/bin/time)", None
    if os.path.exists("/usr/bin/time"):
        p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, *args],
                           env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        kib = int(p.stderr.decode().strip().splitlines()[-1])
        rss = "%d KiB" % kib
    med = statistics.median(walls) * 1e3
    cpu = statistics.median(cpus) * 1e3
    print("%-26s median %.2f ms wall (spawned from Python), %.2f ms "
          "CPU, peak RSS %s" % (name, med, cpu, rss))
    if binary == "/bin/true":   # the machine's own fork+exec+ld.so cost
        rows.write("%s, median wall\t%.2f\t-\tms\n" % (name, med))
        continue
    rows.write("%s: median wall\t%.2f\t<2\tms\n" % (name, med))
    rows.write("%s: median CPU\t%.2f\t-\tms\n" % (name, cpu))
    if kib is not None:
        rows.write("%s: peak RSS\t%.1f\t<2\tMB\n" % (name, kib / 1024))
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
if hwm:
    with open(os.environ["BENCH_ROWS"], "a") as rows:
        rows.write("shell: idle RSS\t%.1f\t-\tMB\n" % (int(hwm[0]) / 1024))
PY
echo
if [ -x tests/bench_store ]; then
	echo "== session log"
	part store tests/bench_store
	row "store: one 100,000-entry log, single-file engine" \
	    "$(grab store '.*open 100,000-entry log.*CPU median \([0-9.]*\) ms.*')" \
	    "<50" ms
	echo
	echo "== session store at scale (1,000,000 entries, 1,000 sessions)"
	part scale tests/bench_store -p
	row "store, 1M entries/1,000 sessions: open one, CPU" "$(grab scale \
	    '.*read one session .*CPU  *\([0-9.]*\) ms.*')" "<5" ms
	row "store, 1M entries/1,000 sessions: open one, RSS" "$(grab scale \
	    '.*read one session .*peak RSS  *\([0-9.]*\) MB.*')" "<4" MB
	row "store, 1M entries/1,000 sessions: session list" "$(grab scale \
	    '.*session list (1,000.*wall  *\([0-9.]*\) ms.*')" "<20" ms
	row "store: open a session of 100,000 entries" "$(grab scale \
	    '.*the 100,000-entry session .*wall  *\([0-9.]*\) ms.*')" "<50" ms
	echo
fi
if [ -f tests/bench_run.sh ]; then
	echo "== run"
	part run sh tests/bench_run.sh 20
	row "run -- true: client CPU (median)" \
	    "$(grab run '.*median client CPU \([0-9.]*\) ms.*')" "<10" ms
	row "run -- true: requests" \
	    "$(grab run '.*requests per run \([0-9]*\)$')" "=2" ""
	row "run -F 200 MB (200 files), first: wall" \
	    "$(grab run '.*dir (first): wall \([0-9.]*\) s.*')" - s
	row "run -F 200 MB (200 files), first: client CPU" \
	    "$(grab run '.*dir (first): wall.*client CPU \([0-9.]*\) s.*')" - s
	echo
fi
if [ -f tests/bench_explore.sh ]; then
	echo "== explore"
	part explore sh tests/bench_explore.sh
	row "explore, 8 commands: wall / one command" \
	    "$(grab explore '^explore of 8 \/ one run: \([0-9.]*\)x.*')" "<1.5" x
	echo
fi
if [ -f tests/bench_transfer.sh ]; then
	echo "== transfer"
	part transfer sh tests/bench_transfer.sh
	for l in "upload plain (length)/upload over loopback, plain" \
	    "download plain/download over loopback, plain" \
	    "upload TLS (length)/upload over loopback, TLS" \
	    "download TLS/download over loopback, TLS"; do
		pat=$(printf '%s' "${l%%/*}" | sed 's/[()]/./g')
		row "${l#*/}" "$(grab transfer "^$pat  *[0-9.]* s  *\([0-9.]*\) MB\/s.*")" \
		    "$(case $l in *TLS) echo ">200" ;; *) echo ">500" ;; esac)" MB/s
		# the server is Python: the client's own rate, for the notes
		c=${l#*/} c=${c%% over*}${c##*loopback}
		row "$c: client CPU rate" "$(grab transfer \
		    "^$pat .*client CPU  *[0-9.]* s ( *\([0-9.]*\) MB\/s).*")" - MB/s
	done
	row "upload of 1 GB: peak RSS" "$(grab transfer \
	    '^upload plain .length.*peak RSS  *\([0-9.]*\) MB$')" "<4" MB
	row "images -a, 2,500 images, C=1: client CPU" "$(grab transfer \
	    '^contree images -a (C=1):.* s wall, \([0-9.]* s user, [0-9.]*\) s sys.*' |
	    awk '$1 != "-" { printf "%.0f", ($1 + $4) * 1000; next } { print }')" \
	    "<50" ms
	row "images -a, 2,500 images, C=1: connections" "$(grab transfer \
	    '^contree images -a (C=1):.* \([0-9]*\) connections.*')" "=1" ""
	row "cat of 1 GB: peak RSS" "$(grab transfer \
	    '^cat [0-9]* MB .*peak RSS  *\([0-9.]*\) MB.*')" "<4" MB
	row "cp of 1 GB: peak RSS" "$(grab transfer \
	    '^cp [0-9]* MB .*peak RSS  *\([0-9.]*\) MB.*')" "<4" MB
	row "run -F 2,000 files (200 MB): client CPU" "$(grab transfer \
	    '^run -F .*C=8 .*client CPU  *\([0-9.]*\) s.*')" - s
fi
if [ -f tests/bench_pages.sh ]; then
	echo
	echo "== listing pages in parallel"
	row "list 2,500 images, C=8: client CPU" - "<50" ms
	part pages sh tests/bench_pages.sh
	row "list 2,500 images, C=8: client CPU" "$(grab pages \
	    '^list .* C=8, 0 ms.*client CPU median  *\([0-9.]*\) ms.*')" "<50" ms
fi
if [ -f tests/bench_diff.py ]; then
	echo
	echo "== diff"
	python3 tests/bench_diff.py
fi
if [ -f tests/bench_mcp.py ]; then
	echo
	echo "== mcp"
	part mcp env CONTREE_BIN="$bin" python3 tests/bench_mcp.py
	row "mcp: start to first tools/list, CPU" "$(grab mcp \
	    '^start to tools.list answer.*median \([0-9.]*\) ms CPU.*')" "<5" ms
	row "mcp: idle RSS" "$(grab mcp '^idle after.*RSS \([0-9]*\) kB,.*' |
	    awk '$1 != "-" { printf "%.1f", $1 / 1024; next } { print }')" "<3" MB
	row "mcp: 8 concurrent runs: wall / one run" "$(grab mcp \
	    '^run .* wall (\([0-9.]*\)x;.*')" "<1.5" x
fi
if [ -f tests/bench_build.sh ]; then
	echo
	echo "== build"
	CONTREE_BIN=$bin sh tests/bench_build.sh
fi

# ---- the table
echo
cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "== budgets, $(date -u +%Y-%m-%d), $(uname -sm), ${cpu:-unknown CPU}," \
    "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo ?) CPUs"
awk -F '\t' '
	!($1 in pos) { pos[$1] = ++n; name[n] = $1 }
	{ i = pos[$1]; budget[i] = $3; unit[i] = $4
	  if ($2 != "-" || !(i in val)) val[i] = $2 }
	END {
		printf "%-56s %12s %12s  %s\n", "what", "measured", "budget", ""
		for (i = 1; i <= n; i++) {
			b = budget[i]; v = val[i]; op = substr(b, 1, 1)
			lim = substr(b, 2) + 0
			if (v == "-") st = "not measured"
			else if (b == "-") st = "info"
			else if (op == "<") st = v + 0 < lim ? "ok" : "OVER"
			else if (op == ">") st = v + 0 > lim ? "ok" : "OVER"
			else if (op == "=") st = v + 0 == lim ? "ok" : "OVER"
			else st = "?"
			u = unit[i] == "" ? "" : " " unit[i]
			printf "%-56s %12s %12s  %s\n", name[i],
			    v == "-" ? "-" : v u, b == "-" ? "-" : b u, st
		}
	}' "$BENCH_ROWS"
