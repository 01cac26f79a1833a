#!/bin/sh
# make demo: a tour of contree.  With no account configured it starts the
# bundled fake ConTree API (tests/fakeapi.py) on 127.0.0.1 and points a
# throw-away HOME at it; with an account (auth.ini, or CONTREE_TOKEN and
# CONTREE_URL) it uses that account and DEMO_IMAGE (default
# tag:ubuntu:latest).  Every command is echoed before it runs.
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
bin=$top/contree
image=${DEMO_IMAGE:-tag:ubuntu:latest}
home=${CONTREE_HOME:-${XDG_CONFIG_HOME:-$HOME/.config}/contree}
fakepid=

cleanup() {
	[ -n "$fakepid" ] && kill "$fakepid" 2>/dev/null
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -z "${CONTREE_TOKEN:-}" ] && [ ! -f "$home/auth.ini" ]; then
	tmp=$(mktemp -d) || exit 2
	python3 tests/fakeapi.py --port 0 >"$tmp/fake.out" 2>"$tmp/fake.err" &
	fakepid=$!
	i=0
	until grep -q 'listening on' "$tmp/fake.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $fakepid 2>/dev/null; then
			echo "demo: the fake API did not start:" >&2
			cat "$tmp/fake.err" >&2
			exit 1
		fi
		sleep 0.1
	done
	url=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/fake.out")
	echo "# no account configured: using the bundled fake API at $url"
	echo "# credentials from the environment alone, as in CI:"
	export HOME="$tmp" CONTREE_TOKEN=test-token CONTREE_URL="$url"
	unset CONTREE_HOME XDG_CONFIG_HOME CONTREE_PROFILE CONTREE_SESSION
	mkdir -p "$tmp/work/demo" && cd "$tmp/work/demo" || exit 2
fi
# One session for the whole tour, as agents do with -S.
export CONTREE_SESSION=demo-$$

# Echo a command as it would be typed: words quoted where needed.
show() {
	printf '\n$ contree'
	for w in "$@"; do
		case $w in
		*[!A-Za-z0-9_@%+=:,./-]*|'') printf " '%s'" "$(printf '%s' "$w" |
			sed "s/'/'\\\\''/g")" ;;
		*) printf ' %s' "$w" ;;
		esac
	done
	printf '\n'
}

c() {
	show "$@"
	"$bin" "$@"
	st=$?
	[ $st -eq 0 ] || printf '(exit status %d)\n' $st
	return 0
}

c --version
c images
c use "$image"
c run -- uname -a
c run -s 'echo "hello from run 1" > /tmp/greeting; cat /tmp/greeting'
c run cat /tmp/greeting
c session show
c session branch experiment
c session checkout experiment
c run -s 'echo "changed on experiment" > /tmp/greeting'
c cat /tmp/greeting
c session checkout main
c cat /tmp/greeting
c session rollback -2
c run -s 'cat /tmp/greeting || echo "no greeting yet: rolled back"'
c session show
c ls /etc
c cat /etc/os-release
c -f json session branch
c session list
echo
echo "# done"
