#!/bin/sh
# packaging.sh - both packages build from the tree and hold what `make
# install` puts there.  debian/: dpkg-buildpackage -us -uc -b in a copy of
# the tree (DEB_BUILD_OPTIONS=nocheck: CI ran `make test` already), then
# the .deb's files and modes, its dependencies, and the binary unpacked
# from it runs.  packaging/alpine/APKBUILD: its prepare, build and package
# functions run here with abuild's variables (no Alpine needed; check()
# is `make test` again).  Last line "packaging: N passed, N failed".
cd "$(dirname "$0")/.." || exit 2
failed=0 checks=0
w=$(mktemp -d) || exit 2
trap 'rm -rf "$w"' EXIT
trap 'exit 130' INT TERM
ver=$(sed -n 's/^#define VERSION "\(.*\)"$/\1/p' util.h)

check() {   # check WHAT STATUS
	checks=$((checks + 1))
	if [ "$2" -ne 0 ]; then
		failed=$((failed + 1))
		echo "packaging: FAIL: $1" >&2
	fi
}

# the tree as committed plus uncommitted changes, without build products
copy() {
	mkdir -p "$1"
	if [ -d .git ] || [ -f .git ]; then
		git ls-files -co --exclude-standard | tar -T - -cf - |
		    tar -C "$1" -xf -
	else
		tar --exclude=./.git -cf - . | tar -C "$1" -xf -
	fi
}

FILES="usr/bin/contree
usr/share/bash-completion/completions/contree
usr/share/fish/vendor_completions.d/contree.fish
usr/share/zsh/site-functions/_contree"

# ---- Debian
copy "$w/deb/contree"
(cd "$w/deb/contree" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us \
    -uc -b) >"$w/deb.log" 2>&1
st=$?
check "dpkg-buildpackage (log below)" $st
[ $st -eq 0 ] || tail -n 30 "$w/deb.log" >&2
deb=$w/deb/contree_${ver}_$(dpkg --print-architecture 2>/dev/null).deb
[ -f "$deb" ]
check "the .deb is contree_${ver}_ARCH.deb (version from util.h)" $?
dpkg-deb -c "$deb" >"$w/list" 2>&1
for f in $FILES usr/share/man/man1/contree.1.gz \
    usr/share/doc/contree/copyright; do
	grep -q " \./$f\$" "$w/list"
	check "the .deb has /$f" $?
done
grep -q '^-rwxr-xr-x root/root .* \./usr/bin/contree$' "$w/list"
check "/usr/bin/contree is 0755 root:root" $?
[ "$(grep -c '^-rw-r--r-- root/root' "$w/list")" -eq \
    "$(grep -c '^-' "$w/list" | awk '{print $1 - 1}')" ]
check "every other file is 0644 root:root" $?
dpkg-deb -f "$deb" Depends | grep -q 'libbearssl0'
check "Depends names libbearssl0 (dpkg-shlibdeps)" $?
dpkg-deb -x "$deb" "$w/debroot" && "$w/debroot/usr/bin/contree" --version |
    grep -q "^contree-cli/$ver "
check "the packaged binary runs and says $ver" $?
if command -v mandoc >/dev/null 2>&1; then
	zcat "$w/debroot/usr/share/man/man1/contree.1.gz" | mandoc -Tlint \
	    -W warning >/dev/null 2>&1
	check "the packaged man page lints clean" $?
fi

# ---- Alpine, as abuild would run it
copy "$w/apk/tree"
(
	set -e
	startdir=$w/apk/tree/packaging/alpine
	srcdir=$w/apk/src pkgdir=$w/apk/pkg
	# shellcheck disable=SC2034  # read by the APKBUILD
	CFLAGS="-Os" LDFLAGS=""
	default_prepare() { :; }
	# shellcheck disable=SC1091,SC2154
	. "$startdir/APKBUILD"
	builddir=$srcdir/$pkgname-$pkgver
	[ "$pkgver" = "$ver" ] || { echo "pkgver $pkgver != $ver"; exit 1; }
	mkdir -p "$srcdir" "$pkgdir"
	cd "$startdir"
	prepare
	cd "$builddir"
	build
	package
) >"$w/apk.log" 2>&1
st=$?
check "APKBUILD prepare, build, package (pkgver = $ver)" $st
[ $st -eq 0 ] || tail -n 30 "$w/apk.log" >&2
for f in $FILES usr/share/man/man1/contree.1; do
	[ -f "$w/apk/pkg/$f" ]
	check "the APKBUILD package has /$f" $?
done
[ -f "$w/apk/src/contree-$ver/contree.c" ] &&
    [ ! -e "$w/apk/src/contree-$ver/packaging" ] &&
    [ ! -e "$w/apk/src/contree-$ver/debian" ]
check "the APKBUILD copies the sources, not the packaging" $?

echo "packaging: $((checks - failed)) passed, $failed failed"
[ $failed -eq 0 ]
