#!/bin/sh
# Run every test program; each ends with "<name>: N passed, N failed".
# Prints the sum as the last line and fails if anything failed.
cd "$(dirname "$0")/.." || exit 2
log=$(mktemp) || exit 2
trap 'rm -f "$log"' EXIT INT TERM
status=0
for t in tests/unit_*; do
	case $t in *.c|*.h|*.o) continue ;; esac
	[ -x "$t" ] || continue
	out=$("./$t" 2>&1); rc=$?
	printf '%s\n' "$out"
	last=$(printf '%s\n' "$out" | tail -n 1)
	case $last in
	*" passed, "*" failed") printf '%s\n' "$last" >>"$log"
		[ $rc -eq 0 ] || status=1 ;;
	*) echo "$t: 0 passed, 1 failed (exit $rc, no summary)" |
		tee -a "$log"; status=1 ;;
	esac
done
for t in tests/jsoncorpus.sh; do
	[ -f "$t" ] || continue
	out=$(sh "$t" 2>&1); rc=$?
	printf '%s\n' "$out" | tail -n 20
	last=$(printf '%s\n' "$out" | tail -n 1)
	case $last in
	*" passed, "*" failed") printf '%s\n' "$last" >>"$log"
		[ $rc -eq 0 ] || status=1 ;;
	*) echo "$t: 0 passed, 1 failed (exit $rc)" | tee -a "$log"; status=1 ;;
	esac
done
python3 tests/e2e.py "$@" >"$log.e2e" 2>&1; rc=$?
cat "$log.e2e"
last=$(tail -n 1 "$log.e2e")
rm -f "$log.e2e"
case $last in
*" passed, "*" failed") printf '%s\n' "$last" >>"$log"
	[ $rc -eq 0 ] || status=1 ;;
*) echo "e2e: 0 passed, 1 failed (exit $rc)" | tee -a "$log"; status=1 ;;
esac
awk '/^[^ ]*: [0-9]+ passed, [0-9]+ failed/ {
	p += $(NF-3); f += $(NF-1) }
	END { printf "%d passed, %d failed\n", p, f }' "$log"
exit $status
