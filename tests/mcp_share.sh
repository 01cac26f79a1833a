#!/bin/sh
# mcp_share.sh - the MCP server's share of the static binary: the
# sources linked with `make static`'s flags twice, with and without
# mcp.c and cmd_mcp.c (a stub stands in for the two entry points the
# command table names), and the loaded bytes (text + data, `size`)
# subtracted; the stripped files are page-aligned, so their difference
# is given only for reference.  Numbers only, never pass/fail.
# Usage (through make): make mcp-share
: "${MUSLCC:?}" "${STATIC_CFLAGS:?}" "${BEARSSL_A:?}" "${SRC:?}"
cd "$(dirname "$0")/.." || exit 2
w=$(mktemp -d) || exit 2
trap 'rm -rf "$w"' EXIT
trap 'exit 130' INT TERM
objcopy -R .eh_frame "$BEARSSL_A" "$w/libbearssl.a" || exit 1
cat >"$w/stub.c" <<'STUB'
struct ctx;
int cmd_mcp(struct ctx *c) { (void)c; return 0; }
int cmd_mcp_config(struct ctx *c) { (void)c; return 0; }
STUB
without=
for c in $SRC; do
	case $c in mcp.c|cmd_mcp.c) ;; *) without="$without $c" ;; esac
done
# shellcheck disable=SC2086
$MUSLCC $WFLAGS $STATIC_CFLAGS -static -no-pie -s -Wl,--gc-sections \
    -o "$w/with" $SRC "$w/libbearssl.a" || exit 1
# shellcheck disable=SC2086
$MUSLCC $WFLAGS $STATIC_CFLAGS -static -no-pie -s -Wl,--gc-sections \
    -o "$w/without" $without "$w/stub.c" "$w/libbearssl.a" || exit 1
loaded() { size "$1" | awk 'NR == 2 { print $1 + $2 }'; }
a=$(loaded "$w/with") b=$(loaded "$w/without")
echo "with the MCP server: $a loaded bytes, $(wc -c <"$w/with") stripped"
echo "without (stub):      $b loaded bytes, $(wc -c <"$w/without") stripped"
echo "the MCP server's share: $((a - b)) bytes"
