#!/bin/sh
# static_smoke.sh [BINARY] - the static binary alone in an empty root
# directory: no libc, no /etc, no /dev, no DNS; only the binary, a CA
# file and a config dir.  Against fakes on the host's loopback (one over
# plain HTTP, two over HTTPS: an ECDSA and an RSA certificate chain, both
# for IP 127.0.0.1): --version, no CA -> a clear TLS error, use + run +
# images over HTTPS with auth.ini, the same over HTTP with the
# environment.  Needs root (chroot) or unprivileged user namespaces
# (unshare -r), python3 and openssl.  Exit 0 when every check passed.
# $jail is a command prefix, split into words on purpose (mktemp paths
# hold no blanks):
# shellcheck disable=SC2086
cd "$(dirname "$0")/.." || exit 2
bin=${1:-./contree}
failed=0 checks=0 pids=
w=$(mktemp -d) || exit 2
root=$w/root

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "static_smoke: $*" >&2
	exit 1
}

check() {   # check WHAT STATUS: count a check, say which failed
	checks=$((checks + 1))
	if [ "$2" -ne 0 ]; then
		failed=$((failed + 1))
		echo "static_smoke: FAIL: $1" >&2
		sed 's/^/    /' "$w/out" "$w/err" >&2
	fi
}

[ -x "$bin" ] || die "no binary $bin (make static)"
PATH=$PATH:/usr/sbin:/sbin
chroot=$(command -v chroot) || die "no chroot(8)"
if [ "$(id -u)" -eq 0 ]; then
	jail="$chroot $root"
elif unshare -r true 2>/dev/null; then
	jail="$(command -v unshare) -r $chroot $root"
else
	die "cannot chroot: run as root or allow unprivileged user namespaces"
fi

# A CA and a server certificate for 127.0.0.1 signed by it: KIND is
# "ec" (P-256) or "rsa" (2048 bits).
certs() {
	d=$w/$1
	mkdir -p "$d"
	if [ "$1" = ec ]; then
		set -- -newkey ec -pkeyopt ec_paramgen_curve:P-256
	else
		set -- -newkey rsa:2048
	fi
	openssl req -x509 "$@" -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
	    -days 30 -subj "/CN=contree smoke CA" >/dev/null 2>&1 &&
	openssl req "$@" -nodes -keyout "$d/srv.key" -out "$d/srv.csr" \
	    -subj "/CN=127.0.0.1" >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
	    >"$d/srv.ext" &&
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" \
	    -CAkey "$d/ca.key" -CAcreateserial -out "$d/srv.pem" -days 30 \
	    -extfile "$d/srv.ext" >/dev/null 2>&1 || die "openssl failed"
}

# Start a fake (extra args: its TLS certificate and key); sets url.
nfake=0
fake() {
	nfake=$((nfake + 1))
	n=$w/fake$nfake
	mkdir -p "$n"
	python3 tests/fakeapi.py --port 0 --state-dir "$n" "$@" \
	    >"$n.out" 2>"$n.err" &
	pids="$pids $!"
	i=0
	until grep -q 'listening on' "$n.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 150 ] || die "the fake did not start: $(cat "$n.err")"
		sleep 0.1
	done
	url=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$n.out")
}

# Run a command (the jailed binary: $jail /contree ...) with a bare
# environment, CONTREE_HOME=/cfg, and VAR=value words first.
run() {
	env -i HOME=/cfg CONTREE_HOME=/cfg TZ=UTC "$@" >"$w/out" 2>"$w/err" \
	    </dev/null
}

mkdir -p "$root/cfg" || exit 2
cp "$bin" "$root/contree" || exit 2
certs ec
certs rsa
cat "$w/ec/ca.pem" "$w/rsa/ca.pem" >"$root/ca.pem"

run $jail /contree --version
check "--version" $?
grep -q '^contree' "$w/out"
check "--version says contree" $?

fake --tls-cert "$w/ec/srv.pem" --tls-key "$w/ec/srv.key"
ecurl=$url
case $ecurl in https://127.0.0.1:*) ;; *) die "fake url $ecurl" ;; esac
fake --tls-cert "$w/rsa/srv.pem" --tls-key "$w/rsa/srv.key"
rsaurl=$url
fake
plainurl=$url

# auth.ini for the HTTPS fake: the config dir path
printf '[DEFAULT]\nprofile = default\n\n[profile:default]\ntoken = test-token\nurl = %s\ntype = jwt\n' \
    "$ecurl" >"$root/cfg/auth.ini"
chmod 600 "$root/cfg/auth.ini"

# No CA file in an empty root: refused, and said why.
run $jail /contree images
st=$?
[ $st -ne 0 ] && grep -q 'no trusted CA certificates' "$w/err"
check "https without a CA fails with a clear message (status $st)" $?

run SSL_CERT_FILE=/ca.pem $jail /contree -S tls use tag:alpine:3.19
check "https: use tag:alpine:3.19" $?
run SSL_CERT_FILE=/ca.pem $jail /contree -S tls run -- echo hello tls
check "https: run" $?
[ "$(cat "$w/out")" = "hello tls" ]
check "https: run output" $?
run SSL_CERT_FILE=/ca.pem $jail /contree images
check "https: images" $?
grep -q 'alpine' "$w/out"
check "https: images lists alpine" $?
run SSL_CERT_FILE=/ca.pem CONTREE_URL="$rsaurl" $jail /contree images
check "https (RSA chain): images" $?
grep -q 'alpine' "$w/out"
check "https (RSA chain): images lists alpine" $?

run CONTREE_TOKEN=test-token CONTREE_URL="$plainurl" $jail /contree \
    -S plain use tag:busybox:latest
check "http: use tag:busybox:latest" $?
run CONTREE_TOKEN=test-token CONTREE_URL="$plainurl" $jail /contree \
    -S plain run -- echo hello plain
check "http: run" $?
[ "$(cat "$w/out")" = "hello plain" ]
check "http: run output" $?
run CONTREE_TOKEN=test-token CONTREE_URL="$plainurl" $jail /contree images
check "http: images" $?
grep -q 'busybox' "$w/out"
check "http: images lists busybox" $?

echo "static_smoke: $((checks - failed)) passed, $failed failed"
[ $failed -eq 0 ]
