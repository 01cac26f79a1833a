"""e2e_install.py - `make install` and `make uninstall` into a DESTDIR:
the binary, the man page and the three completion scripts land where
each tool looks, with their modes, the installed binary runs, the man
page renders, and uninstall removes exactly what install put there."""

import os
import re
import shutil
import stat
import subprocess

from harness import REPO

FILES = {
    "usr/bin/contree": 0o755,
    "usr/share/man/man1/contree.1": 0o644,
    "usr/share/bash-completion/completions/contree": 0o644,
    "usr/share/zsh/site-functions/_contree": 0o644,
    "usr/share/fish/vendor_completions.d/contree.fish": 0o644,
}


def make(t, *args):
    p = subprocess.run(["make", "-s", "-C", REPO, *args], capture_output=True,
                       timeout=120, env=dict(os.environ, MAKEFLAGS=""))
    assert p.returncode == 0, "make %s: %s" % (" ".join(args),
                                               p.stderr.decode())
    return p


def tree(d):
    out = []
    for top, dirs, files in os.walk(d):
        out += [os.path.relpath(os.path.join(top, f), d) for f in files]
    return sorted(out)


def test_install_uninstall_destdir(t):
    # install must not rebuild the binary under the other tests' feet
    q = subprocess.run(["make", "-q", "-C", REPO, "contree"],
                       capture_output=True)
    assert q.returncode == 0, "./contree is out of date: run make first"
    dest = os.path.join(t.tmp, "dest")
    os.umask(0o077)         # modes must not depend on the umask
    make(t, "install", "DESTDIR=" + dest, "PREFIX=/usr")
    assert tree(dest) == sorted(FILES), tree(dest)
    for rel, mode in FILES.items():
        st = os.stat(os.path.join(dest, rel))
        assert stat.S_IMODE(st.st_mode) == mode, (rel, oct(st.st_mode))
    binary = os.path.join(dest, "usr/bin/contree")
    r = subprocess.run([binary, "--version"], capture_output=True)
    assert r.returncode == 0 and r.stdout.startswith(b"contree"), r
    with open(os.path.join(REPO, "contree.1"), "rb") as f, \
            open(os.path.join(dest, "usr/share/man/man1/contree.1"), "rb") as g:
        assert f.read() == g.read()
    for shell, rel in (("bash", "usr/share/bash-completion/completions/contree"),
                       ("zsh", "usr/share/zsh/site-functions/_contree"),
                       ("fish", "usr/share/fish/vendor_completions.d/contree.fish")):
        want = t.run("completion", shell)
        assert want.code == 0 and want.out, want
        with open(os.path.join(dest, rel), "rb") as f:
            assert f.read() == want.out, shell
    if shutil.which("mandoc"):
        m = subprocess.run(["mandoc", "-Tascii", os.path.join(
            dest, "usr/share/man/man1/contree.1")], capture_output=True)
        assert m.returncode == 0, m.stderr
        text = re.sub(r".\x08", "", m.stdout.decode())    # overstrike
        assert "NAME" in text and "SYNOPSIS" in text, text[:300]
        assert "contree" in text
    make(t, "uninstall", "DESTDIR=" + dest, "PREFIX=/usr")
    assert tree(dest) == [], tree(dest)


def test_install_prefix_and_mandir(t):
    dest = os.path.join(t.tmp, "dest")
    make(t, "install", "DESTDIR=" + dest, "PREFIX=/opt/ct",
         "MANPREFIX=/opt/man")
    got = tree(dest)
    assert "opt/ct/bin/contree" in got, got
    assert "opt/man/man1/contree.1" in got, got
    assert "opt/ct/share/zsh/site-functions/_contree" in got, got
    make(t, "uninstall", "DESTDIR=" + dest, "PREFIX=/opt/ct",
         "MANPREFIX=/opt/man")
    assert tree(dest) == [], tree(dest)
