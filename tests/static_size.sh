#!/bin/sh
# static_size.sh - where the bytes of the static binary go: the sources
# compiled one by one with `make static`'s flags (from the Makefile,
# passed in by `make static-size`), linked unstripped with a map, and the
# kept bytes (code, data, tables) summed per source file, per musl
# member and per BearSSL member.  Numbers only, never pass/fail.
# Usage (through make): make static-size [N=30]
: "${MUSLCC:?}" "${STATIC_CFLAGS:?}" "${BEARSSL_A:?}" "${SRC:?}"
cd "$(dirname "$0")/.." || exit 2
w=$(mktemp -d) || exit 2
trap 'rm -rf "$w"' EXIT
trap 'exit 130' INT TERM
objcopy -R .eh_frame "$BEARSSL_A" "$w/libbearssl.a" || exit 1
# without -flto: the map can then name each source file (so "stripped"
# below is ~1.3 KB more than make static's whole-program build)
cf=$(echo " $STATIC_CFLAGS " | sed 's/ -flto[^ ]*//g')
objs=
for c in $SRC; do
	o=$w/$(basename "$c" .c).o
	# shellcheck disable=SC2086
	$MUSLCC $WFLAGS $cf -c -o "$o" "$c" || exit 1
	objs="$objs $o"
done
# shellcheck disable=SC2086
# make static's link flags, less -s (the map needs the symbols)
ldf=$(echo " ${STATIC_LDFLAGS:--static -no-pie -Wl,--gc-sections} " |
    sed 's/ -s / /')
# shellcheck disable=SC2086
$MUSLCC $ldf -Wl,-Map="$w/map" -o "$w/contree" \
    $objs "$w/libbearssl.a" || exit 1
strip -o "$w/stripped" "$w/contree"
echo "stripped: $(wc -c <"$w/stripped") bytes"
python3 - "$w/map" "${N:-30}" <<'PY'
import collections, re, sys
size = collections.Counter()
pending = None
started = False
for line in open(sys.argv[1]):
    if line.startswith("Linker script and memory map"):
        started = True
        continue
    if not started:
        continue
    m = re.match(r"^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
    if m:
        sec, addr, n, f = m.groups()
    else:
        m1 = re.match(r"^ (\.\S+)$", line)
        m2 = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
        if m1:
            pending = m1.group(1)
            continue
        if not (m2 and pending):
            pending = None
            continue
        sec, (addr, n, f) = pending, m2.groups()
        pending = None
    if int(addr, 16) == 0 or sec.startswith((".debug", ".comment", ".note",
                                             ".bss", ".tbss")):
        continue
    f = re.sub(r".*/", "", f)
    m = re.match(r"lib(c|bearssl)\.a\((.*)\)", f)
    key = (("musl" if m.group(1) == "c" else "BearSSL") + " " + m.group(2)
           ) if m else "ours " + f
    size[key] += int(n, 16)
part = collections.Counter()
for k, n in size.items():
    part[k.split()[0]] += n
print("linked bytes: " + ", ".join("%s %.1f KB" % (k, n / 1000)
                                   for k, n in part.most_common()))
print("(strings are merged: all string literals count for the first file)")
for k, n in size.most_common(int(sys.argv[2])):
    print("%7d  %s" % (n, k))
PY
