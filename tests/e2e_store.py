"""e2e_store.py - a hand-edited or damaged session log through the binary
(design.md §3): a record with a valid checksum but bad fields, a corrupt
line in the middle, CRLF line ends and a torn last line are skipped with
one warning naming the file and line; the commands keep working and the
next change rewrites the log without them."""

import os
import zlib

from harness import ok, rows

IMG_FILES = {"/etc/hosts": "127.0.0.1 localhost\n", "/srv/x": "x"}


def log_path(t, profile="default"):
    return os.path.join(t.home, ".config", "contree", "cli", "sessions",
                        profile + ".log")


def sess_path(t, key, profile="default"):
    """The log of one session (store.c: <index>.d/<key as %XX>.log)."""
    name = "".join(chr(c) if chr(c).isascii() and (chr(c).isalnum() or
                   chr(c) in "_-" or (chr(c) == "." and i)) else "%%%02X" % c
                   for i, c in enumerate(key.encode()))
    return log_path(t, profile) + ".d/" + name + ".log"


def record(*fields):
    """One log line as store.c documents it, with a correct CRC-32."""
    line = "\t".join(str(f).replace("\\", "\\\\").replace("\t", "\\t")
                     .replace("\n", "\\n") for f in fields)
    return ("%s\t%08x\n" % (line, zlib.crc32(line.encode()) & 0xffffffff)
            ).encode()


def lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def start(t, key):
    """A session with one entry on an image that has files; its log."""
    img = t.fake.add_image(IMG_FILES, tag="st:1")["uuid"]
    ok(t.run("-S", key, "use", img))
    return img, sess_path(t, key)


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def warnings(r):
    return [x for x in r.stderr.splitlines() if "WARNING" in x]


def test_oversized_image_does_not_crash_ls(t):
    # the crash: a valid checksum and a 60-character image field made
    # `ls` overflow the 37-byte image buffer of cmd_fs.c
    img, path = start(t, "big")
    n = len(lines(path))
    append(path, record("entry", 2, "big", 1, 1700000000, "", "run",
                        "a" * 60, "", "boom"))
    r = ok(t.run("-S", "big", "ls", "/etc"))
    assert "hosts" in r.stdout, r
    w = warnings(r)
    assert len(w) == 1 and "%s:%d:" % (path, n + 1) in w[0], r.stderr
    assert "image is not a UUID" in w[0], w
    r = ok(t.run("-f", "json", "-S", "big", "session", "show", "-a"))
    got = rows(r)
    assert [x["image"] for x in got] == [img], got
    assert len(warnings(r)) == 1, r.stderr


def test_bad_records_skipped_rest_kept(t):
    img, path = start(t, "sk")
    other = t.fake.image_uuid("ubuntu:latest")
    bad = [
        record("entry", 2, "sk", 1, 1700000000, "", "run",
               img.upper(), "", "uppercase image"),
        record("entry", 3, "sk", 99, 1700000000, "", "run", img, "",
               "parent that does not exist"),
        record("branch", "sk", "b", 77),
        record("checkout", "sk", "nosuch", 1700000000),
        record("entry", 4, "k" * 2000, 0, 1700000000, "main", "use", img,
               "", "key too long"),
        record("entry", 5, "sk", 1, 99999999999999, "", "run", img, "",
               "time out of range"),
        b"garbage in the middle\n",
    ]
    n = len(lines(path))
    append(path, b"".join(bad))
    append(path, record("entry", 6, "sk", 1, 1700000001, "", "use", other,
                        "", "good after bad"))
    r = ok(t.run("-f", "json", "-S", "sk", "session", "show", "-a"))
    got = rows(r)
    assert [x["image"] for x in got] == [img, other], got
    w = warnings(r)
    assert len(w) == len(bad), r.stderr
    for i, x in enumerate(w):
        assert "%s:%d:" % (path, n + 1 + i) in x, (i, x)
    # the next change rewrites the log without them; then no warnings
    ok(t.run("-S", "sk", "env", "A=1"))
    assert not any(ln.startswith(b"garbage") for ln in lines(path))
    r = ok(t.run("-f", "json", "-S", "sk", "session", "show", "-a"))
    assert [x["image"] for x in rows(r)] == [img, other], r
    assert warnings(r) == [], r.stderr
    r = ok(t.run("-f", "json", "-S", "sk", "env"))
    assert rows(r) == [{"key": "A", "value": "1"}], r


def test_crlf_log(t):
    img, path = start(t, "cr")
    ok(t.run("-S", "cr", "cd", "/srv"))
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data.replace(b"\n", b"\r\n"))
    r = ok(t.run("-f", "json", "-S", "cr", "session", "show", "-a"))
    assert len(rows(r)) == 2 and warnings(r) == [], r
    r = ok(t.run("-S", "cr", "ls"))
    assert "x" in r.stdout and warnings(r) == [], r
    ok(t.run("-S", "cr", "cd", "/etc"))
    r = ok(t.run("-f", "json", "-S", "cr", "session", "show", "-a"))
    assert len(rows(r)) == 3, r


def test_torn_last_line_warns_once(t):
    img, path = start(t, "tn")
    n = len(lines(path))
    append(path, record("entry", 2, "tn", 1, 1700000000, "", "cd", img,
                        "", "/srv")[:-9])
    r = ok(t.run("-S", "tn", "ls"))
    w = warnings(r)
    assert len(w) == 1 and "%s:%d:" % (path, n + 1) in w[0], r.stderr
    assert "incomplete" in w[0], w
    r = ok(t.run("-S", "tn", "cd", "/etc"))
    assert len(warnings(r)) == 1, r.stderr
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n") and b"\tcd\t" in data.split(b"\n")[-2], data
    r = ok(t.run("-f", "json", "-S", "tn", "session", "show", "-a"))
    assert len(rows(r)) == 2 and warnings(r) == [], r


def test_stale_tmp_of_dead_process_removed(t):
    img, path = start(t, "tm")
    dead = path + ".tmp.999999999.abcdef"
    live = path + ".tmp.%d.abcdef" % os.getpid()
    for p in (dead, live):
        with open(p, "w") as f:
            f.write("contree-log 1\n")
    ok(t.run("-S", "tm", "cd", "/srv"))
    assert not os.path.exists(dead)
    assert os.path.exists(live)
    os.unlink(live)
