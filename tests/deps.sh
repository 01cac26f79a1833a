#!/bin/sh
# Install what building and testing contree need, only when missing.
# Debian/Ubuntu: apt-get; Alpine: apk.  Does nothing when all is there.
need=
have() { command -v "$1" >/dev/null 2>&1; }
# The official MCP TypeScript SDK for e2e_mcp.py, into the test tree
# (tests/mcp-client/node_modules: git-ignored, never committed).
npm_client() {
	d=$(dirname "$0")/mcp-client
	[ -d "$d/node_modules/@modelcontextprotocol/sdk" ] && return 0
	echo "deps: npm install in $d"
	(cd "$d" && npm install --no-audit --no-fund --loglevel=error)
}
if [ -f /etc/alpine-release ]; then
	[ -f /usr/include/bearssl.h ] || need="$need bearssl-dev"
	have cc || need="$need build-base"
	have python3 || need="$need python3"
	have openssl || need="$need openssl"
	have mandoc || need="$need mandoc"
	have groff || need="$need groff"
	have zsh || need="$need zsh"
	have fish || need="$need fish"
	have npm || need="$need nodejs npm"
	[ -z "$need" ] && { npm_client; exit; }
	echo "deps: apk add$need"
	apk add --no-cache $need && npm_client
	exit
fi
[ -f /usr/include/bearssl.h ] || need="$need libbearssl-dev"
have cc || need="$need gcc libc6-dev"
have make || need="$need make"
have python3 || need="$need python3"
have openssl || need="$need openssl"
have mandoc || need="$need mandoc"
have groff || need="$need groff-base"
have zsh || need="$need zsh"            # completion script tests
have fish || need="$need fish"
have npm || need="$need nodejs npm"     # the MCP client of e2e_mcp.py
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh ||
	need="$need busybox-static"
have musl-gcc || need="$need musl-tools"            # make static
have objcopy || need="$need binutils"               # make static
[ -x /usr/bin/time ] || need="$need time"           # make bench
have dpkg-buildpackage || need="$need dpkg-dev"     # make deb, pkg-test
# libFuzzer and clang are only for `make fuzz`; not installed here.
[ -z "$need" ] && { npm_client; exit; }
if ! have apt-get; then
	echo "deps: missing:$need (no apt-get or apk here; install them by hand)" >&2
	exit 1
fi
echo "deps: apt-get install$need"
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
${sudo:-} apt-get update -qq && ${sudo:-} apt-get install -y -qq $need &&
	npm_client
