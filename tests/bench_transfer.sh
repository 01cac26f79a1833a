#!/bin/sh
# bench_transfer.sh - transfer benchmarks of the HTTP/TLS layer (numbers
# for the notes, never pass/fail):
#   * upload and download of SIZE_MB (default 1024) over loopback, plain
#     and TLS: seconds, MB/s and peak RSS of the client;
#   * requests and connections used to list 2,500 images (contree images
#     against the fake, if ./contree exists; else apitool paging);
#   * with ./contree against the fake: peak RSS of cat, cp and file cp of
#     a SIZE_MB file, and run -F of 2,000 files (TREE_MB, default 200)
#     with CONTREE_CONCURRENCY=1 and 8: wall and client CPU (workers
#     included) of the uploads alone (the fake refuses the run itself).
# The transfer server is a small Python sink/source (below) so that the
# client is what gets measured, not the fake's storage.
# Usage: sh tests/bench_transfer.sh [SIZE_MB]
cd "$(dirname "$0")/.." || exit 2
SIZE_MB=${1:-${BENCH_SIZE_MB:-1024}}
[ -x tests/apitool ] || make tests/apitool >/dev/null || exit 2
tmp=$(mktemp -d) || exit 2
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cat >"$tmp/srv.py" <<'EOF'
import socket, ssl, sys, threading
size = int(sys.argv[1])
ctx = None
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
zeros = memoryview(bytes(1 << 20))

def readline(c, buf):
    while b"\n" not in buf:
        d = c.recv(65536)
        if not d:
            raise EOFError
        buf += d
    line, _, rest = buf.partition(b"\n")
    return line.rstrip(b"\r"), rest

def serve(c):
    if ctx:
        c = ctx.wrap_socket(c, server_side=True)
    buf = b""
    big = bytearray(1 << 20)
    try:
        while True:
            line, buf = readline(c, buf)
            method, target = line.split()[:2]
            hdrs = {}
            while True:
                line, buf = readline(c, buf)
                if not line:
                    break
                k, _, v = line.partition(b":")
                hdrs[k.strip().lower()] = v.strip()
            got = 0
            if b"content-length" in hdrs:
                n = int(hdrs[b"content-length"])
                got = min(n, len(buf)); buf = buf[got:]
                mv = memoryview(big)
                while got < n:
                    k = c.recv_into(mv, min(len(big), n - got))
                    if not k:
                        raise EOFError
                    got += k
            elif hdrs.get(b"transfer-encoding") == b"chunked":
                while True:
                    line, buf = readline(c, buf)
                    n = int(line.split(b";")[0], 16)
                    while len(buf) < n + 2:
                        d = c.recv(1 << 20)
                        if not d:
                            raise EOFError
                        buf += d
                    buf = buf[n + 2:]
                    got += n
                    if n == 0:
                        break
            if method == b"POST":
                body = b'{"uuid": "00000000-0000-0000-0000-000000000000", "size": %d}' % got
                c.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          b"Content-Length: %d\r\n\r\n" % size)
                left = size
                while left:
                    k = min(left, len(zeros))
                    c.sendall(zeros[:k])
                    left -= k
    except (EOFError, OSError, ValueError):
        pass
    c.close()

while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost >/dev/null 2>&1 || exit 2

bytes=$((SIZE_MB * 1024 * 1024))
# a real (not sparse) file, in the page cache
dd if=/dev/urandom of="$tmp/up.bin" bs=1048576 count="$SIZE_MB" \
	2>/dev/null || exit 2
cat "$tmp/up.bin" >/dev/null

start() {   # start [tls]: sets $port and adds the server to $pids
	rm -f "$tmp/port"
	if [ "$1" = tls ]; then
		python3 "$tmp/srv.py" "$bytes" "$tmp/cert.pem" "$tmp/key.pem" \
			>"$tmp/port" 2>/dev/null &
	else
		python3 "$tmp/srv.py" "$bytes" >"$tmp/port" 2>/dev/null &
	fi
	pids="$pids $!"
	i=0
	while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	port=$(cat "$tmp/port")
}

# The server is Python, so wall-clock numbers are often the server's
# limit; "client CPU" is the rate the client alone could sustain.
measure() {   # measure LABEL URL apitool-args...
	label=$1 url=$2
	shift 2
	CONTREE_URL=$url CONTREE_TOKEN=t CONTREE_CA_FILE="$tmp/cert.pem" \
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" tests/apitool -1 "$@" \
		>/dev/null 2>"$tmp/err" || { echo "$label: FAILED: $(cat "$tmp/err")"; return; }
	read -r secs usr sys rss <"$tmp/time"
	awk -v l="$label" -v s="$secs" -v u="$usr" -v y="$sys" -v r="$rss" \
	    -v b="$bytes" 'BEGIN {
		mb = b / 1048576; c = u + y
		printf "%-24s %6.2f s %6.0f MB/s  client CPU %5.2f s (%5.0f MB/s)  peak RSS %5.1f MB\n",
		    l, s, (s > 0 ? mb / s : 0), c, (c > 0 ? mb / c : 0), r / 1024 }'
}

echo "transfer of $SIZE_MB MB over loopback"
start plain
measure "upload plain (length)" "http://127.0.0.1:$port" -U "$tmp/up.bin"
measure "upload plain (chunked)" "http://127.0.0.1:$port" -U - <"$tmp/up.bin"
measure "download plain" "http://127.0.0.1:$port" -O /dev/null /x
start tls
measure "upload TLS (length)" "https://localhost:$port" -U "$tmp/up.bin"
measure "download TLS" "https://localhost:$port" -O /dev/null /x

# Listing 2,500 images: requests and connections.
echo "listing 2,500 images"
python3 tests/fakeapi.py --seed-images 2500 >"$tmp/fake" 2>/dev/null &
pids="$pids $!"
i=0
while ! grep -q listening "$tmp/fake" 2>/dev/null && [ $i -lt 600 ]; do
	sleep 0.05; i=$((i + 1))
done
url=$(sed -n 's/listening on //p' "$tmp/fake")
admin() {
	python3 -c 'import sys, urllib.request as u
r = u.Request(sys.argv[1] + sys.argv[2], method=sys.argv[3])
print(u.urlopen(r).read().decode())' "$url" "$@"
}
if [ -x ./contree ]; then
	mkdir -p "$tmp/home/.config/contree"
	printf '[DEFAULT]\nprofile = default\n\n[profile:default]\ntoken = test-token\nurl = %s\ntype = jwt\n' \
		"$url" >"$tmp/home/.config/contree/auth.ini"
	admin /_admin/requests DELETE >/dev/null
	# one fetcher (CONTREE_CONCURRENCY=1): bench_pages.sh measures C=8
	HOME=$tmp/home CONTREE_CONCURRENCY=1 \
	    /usr/bin/time -f '%e s wall, %U s user, %S s sys, peak RSS %M KB' \
		./contree -L debug images -a >"$tmp/out" 2>"$tmp/err"
	rows=$(grep -c . "$tmp/out")
	reqs=$(grep -c '^\[DEBUG\] > GET ' "$tmp/err")
	conns=$(grep -c '^\[DEBUG\] opening connection' "$tmp/err")
	echo "contree images -a (C=1): $rows lines of output, $reqs requests," \
		"$conns connections ($(tail -n 1 "$tmp/err"))"
fi
# the same through apitool: pages of 1000 on one kept-alive connection
CONTREE_URL=$url /usr/bin/time -f '%e s wall, %U s user' -o "$tmp/time" \
	tests/apitool -s -r 3 -q limit=1000 /images >/dev/null 2>"$tmp/err"
echo "apitool 3 pages of 1000: $(grep conns "$tmp/err"), $(cat "$tmp/time")"

# Flat memory and parallel uploads, through contree against the fake.
[ -x ./contree ] || exit 0
echo "contree against the fake: cat, cp, file cp of $SIZE_MB MB; run -F of 2,000 files"
python3 - "$SIZE_MB" "${TREE_MB:-200}" <<'PY'
import os, subprocess, sys, time
sys.path.insert(0, "tests")
from harness import T, ok
size_mb, tree_mb = int(sys.argv[1]), int(sys.argv[2])
t = T("bench")

def fake_cpu():
    """CPU seconds the fake has used so far (it is Python: one core)."""
    with open("/proc/%d/stat" % t.fake.proc.pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

def timed(label, args, env=None, out=subprocess.DEVNULL):
    f0 = fake_cpu()
    p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", t.binary(),
                        *args], env=t.env(env), cwd=t.home, stdout=out,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    w, u, s, m = p.stderr.decode().split()[-4:]
    print("%-34s %6.2f s wall  client CPU %5.2f s  fake CPU %5.2f s  "
          "peak RSS %5.1f MB%s"
          % (label, float(w), float(u) + float(s), fake_cpu() - f0,
             int(m) / 1024,
             "" if p.returncode in (0, 1) else "  (status %d)" % p.returncode))
try:
    big = os.path.join(t.tmp, "big.bin")
    with open(big, "wb") as f:
        f.truncate(size_mb << 20)
    t.fake.add_image({"/data/big": {"host_path": big}}, tag="bench:big")
    ok(t.run("-S", "b", "use", "tag:bench:big"))
    timed("cat %d MB > /dev/null" % size_mb, ["-S", "b", "cat", "/data/big"])
    timed("cp %d MB" % size_mb, ["-S", "b", "cp", "/data/big",
                                 os.path.join(t.tmp, "cp.out")])
    os.unlink(os.path.join(t.tmp, "cp.out"))
    with open(big, "r+b") as f:
        f.write(b"new content")      # not known to the server
    timed("file cp %d MB" % size_mb, ["-S", "b", "file", "cp", big, "/big"])
    os.unlink(big)
    d = os.path.join(t.tmp, "tree")
    nfiles, per = 2000, (tree_mb << 20) // 2000
    names = [os.path.join(d, "d%02d" % (i % 40), "f%04d" % i)
             for i in range(nfiles)]
    for n in names:
        os.makedirs(os.path.dirname(n), exist_ok=True)
        with open(n, "wb") as f:
            f.write(os.urandom(per))
    t.fake.fault(path="/v1/instances$", method="POST", kind="status",
                 status=400, count=-1)
    for conc in ("1", "8"):
        cache = os.path.join(t.home, ".config", "contree", "cli", "uploads")
        if os.path.exists(cache):
            os.unlink(cache)
        mark = b"%s %d" % (conc.encode(), time.time_ns())
        for n in names:             # content the server has not seen
            with open(n, "r+b") as f:
                f.write(mark)
        timed("run -F %d MB in 2,000 files, C=%s" % (tree_mb, conc),
              ["-S", "b", "run", "-F", d + ":/src", "true"],
              env={"CONTREE_CONCURRENCY": conc})
finally:
    t.close()
PY
