#!/bin/sh
# make demo: a tour of contree.  With no account configured it starts the
# bundled fake ConTree API (tests/fakeapi.py) on 127.0.0.1 and points a
# throw-away HOME at it; with an account (auth.ini, or CONTREE_TOKEN and
# CONTREE_URL) it uses that account and DEMO_IMAGE (default
# tag:ubuntu:latest), after asking (DEMO_YES=1 answers yes).  Each step is
# narrated in one line and its command echoed before it runs; the tour
# stops at the first failure with a hint, and deletes its session at the
# end.
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
bin=$top/contree
image=${DEMO_IMAGE:-tag:ubuntu:latest}
home=${CONTREE_HOME:-${XDG_CONFIG_HOME:-$HOME/.config}/contree}
fakepid=

cleanup() {
	if [ -n "${CONTREE_SESSION:-}" ]; then
		"$bin" session delete -y "$CONTREE_SESSION" >/dev/null 2>&1
	fi
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
else
	echo "# your account is configured: this tour runs five short commands"
	echo "# in sandboxes there (a few seconds each), starting from $image."
	if [ "${DEMO_YES:-}" != 1 ]; then
		if [ ! -t 0 ]; then
			echo "demo: not a terminal; set DEMO_YES=1 to run it" >&2
			exit 1
		fi
		printf 'Go on? [y/N] '
		read -r answer || answer=
		case $answer in
		y|Y|yes) ;;
		*) echo "demo: nothing was run"; exit 0 ;;
		esac
	fi
fi
# One session for the whole tour, as agents do with -S.
export CONTREE_SESSION=demo-$$
step=0

# Echo a command as it would be typed: words quoted where needed.
show() {
	printf '$ contree'
	for w in "$@"; do
		case $w in
		*[!A-Za-z0-9_@%+=:,./-]*|'') printf " '%s'" "$(printf '%s' "$w" |
			sed "s/'/'\\\\''/g")" ;;
		*) printf ' %s' "$w" ;;
		esac
	done
	printf '\n'
}

# say "what this step shows" [hint on failure] -- contree arguments
say() {
	step=$((step + 1))
	what=$1
	hint=
	shift
	if [ "$1" != -- ]; then
		hint=$1
		shift
	fi
	shift
	printf '\n# %d. %s\n' $step "$what"
	show "$@"
	"$bin" "$@"
	st=$?
	if [ $st -ne 0 ]; then
		printf '\ndemo: step %d failed (exit status %d)\n' $step $st >&2
		[ -n "$hint" ] && printf 'hint: %s\n' "$hint" >&2
		exit 1
	fi
}

say "the version, as scripts see it" -- --version
say "images you can start from" -- images
say "start a session from $image" \
    "the image is missing: set DEMO_IMAGE=tag:NAME to one that 'contree images' lists, or import one: contree images import ubuntu:latest" \
    -- use "$image"
say "a first run: each run snapshots the sandbox into a new image" -- \
    run -- uname -a
say "a run that writes a file" -- \
    run -s 'echo "hello from run 1" > /tmp/greeting; cat /tmp/greeting'
say "the next run starts from that image: the file is there" -- \
    run cat /tmp/greeting
say "the history so far" -- session show
say "a branch to try something" -- session branch experiment
say "switch to it" -- session checkout experiment
say "change the file on the branch" -- \
    run -s 'echo "changed on experiment" > /tmp/greeting'
say "read it without a sandbox, through the API" -- cat /tmp/greeting
say "back on main, the file is as it was" -- session checkout main
say "read it again" -- cat /tmp/greeting
say "roll back two steps, to before the file existed" -- session rollback -2
say "a run from there does not see it" -- \
    run -s 'cat /tmp/greeting 2>/dev/null || echo "no greeting yet: rolled back"'
say "the history, with the branch point" -- session show
say "list a directory of the image" -- ls /etc
say "print a file of the image" -- cat /etc/os-release
say "the branches, as JSON for scripts" -- -f json session branch
say "the sessions of this profile" -- session list
echo
echo "# done: the session $CONTREE_SESSION is deleted on exit"
