#!/bin/sh
# jsoncorpus.sh - run tests/jsonparse over JSONTestSuite's test_parsing:
# every y_ file must be accepted (exit 0), every n_ file rejected (exit
# 1), and an i_ file may go either way but must not crash or hang.
#
# Corpus: $JSONTESTSUITE (the JSONTestSuite directory, or its
# test_parsing directory), else ../shared/corpora/JSONTestSuite next to
# the repository; without either the check is skipped with a note.
# Binary: $JSONPARSE, else tests/jsonparse.
# Last line: "jsoncorpus: N passed, N failed"; exit 1 on any failure.

repo=$(cd "$(dirname "$0")/.." && pwd)
suite=${JSONTESTSUITE:-$(dirname "$repo")/shared/corpora/JSONTestSuite}
[ -d "$suite/test_parsing" ] && suite=$suite/test_parsing
bin=${JSONPARSE:-$repo/tests/jsonparse}
pass=0
fail=0

if [ ! -x "$bin" ]; then
	echo "jsoncorpus: $bin: not built" >&2
	echo "jsoncorpus: 0 passed, 1 failed"
	exit 1
fi
set -- "$suite"/*.json
if [ ! -e "$1" ] && [ -z "${JSONTESTSUITE:-}" ]; then
	# a plain clone has no ../shared: say so, do not fail
	echo "jsoncorpus: skipped: no corpus in $suite (set JSONTESTSUITE to the JSONTestSuite directory)"
	echo "jsoncorpus: 0 passed, 0 failed"
	exit 0
elif [ ! -e "$1" ]; then
	echo "jsoncorpus: no corpus in $suite" >&2
	echo "jsoncorpus: 0 passed, 1 failed"
	exit 1
fi

for f do
	timeout 10 "$bin" "$f" </dev/null >/dev/null 2>&1
	rc=$?
	name=${f##*/}
	case $name:$rc in
	y_*:0 | n_*:1 | i_*:0 | i_*:1)
		pass=$((pass + 1))
		;;
	*)
		fail=$((fail + 1))
		case $rc in
		124) what="hung (killed after 10s)" ;;
		0) what="accepted" ;;
		1) what="rejected" ;;
		*) what="exit status $rc" ;;
		esac
		echo "FAIL jsoncorpus: $name: $what" >&2
		;;
	esac
done
echo "jsoncorpus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
