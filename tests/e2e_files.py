"""e2e_files.py - uploads through files.c: `file cp`, `file edit` and
`run -F` share one upload path and the local upload cache (cli.md §7.10,
§9.2.3, §9.14-9.16); `cp` leaves no temporary file behind when a signal
ends it, and names the file it could not write (§9.13)."""

import glob
import hashlib
import os
import signal
import subprocess
import time

from harness import ok, fails, rows

S = ("-S", "files")


def start(t):
    ok(t.run(*S, "use", "tag:ubuntu:latest"))


def file_reqs(t):
    """(method, path) of every request about uploaded files."""
    return [(q["method"], q["path"]) for q in t.fake.requests()
            if "/v1/files" in q["path"]]


def cache_text(t):
    p = os.path.join(t.home, ".config", "contree", "cli", "uploads")
    with open(p, encoding="utf-8") as f:
        return f.read()


def sources(t):
    """{uuid: source} from `file ls`."""
    return {x["uuid"]: x["source"] for x in rows(ok(t.run("-f", "json",
                                                          "file", "ls")))}


# ---- the upload cache ------------------------------------------------------------

def test_file_cp_reuses_upload_cache(t):
    start(t)
    src = t.write("app.py", "print('cached')\n")
    t.fake.clear_requests()
    r = ok(t.run(*S, "file", "cp", src, "/app/app.py"))
    sha = hashlib.sha256(b"print('cached')\n").hexdigest()
    assert file_reqs(t) == [("GET", "/v1/files/" + sha),
                            ("POST", "/v1/files")], file_reqs(t)
    assert "Uploaded" in r.stderr, r
    # the same unchanged file again: the cache answers, nothing is sent
    t.fake.clear_requests()
    r = ok(t.run(*S, "file", "cp", src, "/app/again.py"))
    assert file_reqs(t) == [], file_reqs(t)
    assert "Reusing" in r.stderr and "next run" in r.stderr, r
    assert src in cache_text(t)


def test_run_and_file_cp_share_the_cache(t):
    start(t)
    src = t.write("shared.txt", "one cache\n")
    ok(t.run(*S, "run", "-F", src + ":/srv/shared.txt", "true"))
    t.fake.clear_requests()
    ok(t.run(*S, "file", "cp", src, "/srv/copy.txt"))
    assert file_reqs(t) == [], file_reqs(t)
    # and the other way round
    other = t.write("other.txt", "cp first\n")
    ok(t.run(*S, "file", "cp", other, "/srv/other.txt"))
    t.fake.clear_requests()
    r = ok(t.run(*S, "run", "-F", other + ":/o.txt", "cat", "/o.txt"))
    assert r.out == b"cp first\n", r
    assert file_reqs(t) == [], file_reqs(t)


def test_file_ls_shows_source_of_file_cp(t):
    start(t)
    t.write("rel/up.txt", "staged, not run\n")
    # a relative SRC is remembered by its absolute path
    ok(t.run(*S, "file", "cp", "rel/up.txt", "/up.txt", cwd=t.tmp))
    src = os.path.join(t.tmp, "rel", "up.txt")
    got = sources(t)
    assert list(got.values()) == [src], got
    r = ok(t.run("-f", "json", "file", "ls", "-q"))
    assert [x["source"] for x in rows(r)] == [src], r
    # without "." segments and doubled slashes (".." stays: symlinks)
    t.write("rel/two.txt", "2\n")
    ok(t.run(*S, "file", "cp", "./rel//./two.txt", "/two.txt", cwd=t.tmp))
    two = os.path.join(t.tmp, "rel", "two.txt")
    assert sorted(sources(t).values()) == sorted([src, two]), sources(t)


def test_cache_invalidated_by_mtime_and_size(t):
    start(t)
    src = t.write("data.txt", "version 1\n")
    ok(t.run(*S, "file", "cp", src, "/d.txt"))
    sha1 = hashlib.sha256(b"version 1\n").hexdigest()
    # a new mtime, same content: hashed and looked up again, not sent
    later = time.time() + 10
    os.utime(src, (later, later))
    t.fake.clear_requests()
    ok(t.run(*S, "file", "cp", src, "/d.txt"))
    assert file_reqs(t) == [("GET", "/v1/files/" + sha1)], file_reqs(t)
    # then unchanged again: the cache learnt the new mtime
    t.fake.clear_requests()
    ok(t.run(*S, "file", "cp", src, "/d.txt"))
    assert file_reqs(t) == [], file_reqs(t)
    # new content of another size, mtime put back: uploaded
    with open(src, "w") as f:
        f.write("version 2, longer\n")
    os.utime(src, (later, later))
    t.fake.clear_requests()
    ok(t.run(*S, "file", "cp", src, "/d.txt"))
    sha2 = hashlib.sha256(b"version 2, longer\n").hexdigest()
    assert file_reqs(t) == [("GET", "/v1/files/" + sha2),
                            ("POST", "/v1/files")], file_reqs(t)
    posts = t.fake.requests("POST", "/v1/files")
    assert posts[0]["body"] == b"version 2, longer\n"
    # one entry per host path, naming the new content
    lines = [l for l in cache_text(t).splitlines()[1:] if l.endswith(src)]
    assert len(lines) == 1 and lines[0].split("\t")[1] == sha2, lines


def test_cache_entry_too_old_is_checked_again(t):
    start(t)
    src = t.write("old.txt", "old entry\n")
    ok(t.run(*S, "file", "cp", src, "/o.txt"))
    p = os.path.join(t.home, ".config", "contree", "cli", "uploads")
    lines = cache_text(t).splitlines()
    f = lines[1].split("\t")
    f[5] = str(int(time.time()) - 91 * 86400)      # recorded 91 days ago
    with open(p, "w") as fh:
        fh.write("\n".join([lines[0], "\t".join(f)]) + "\n")
    t.fake.clear_requests()
    ok(t.run(*S, "file", "cp", src, "/o.txt"))
    assert file_reqs(t) == [("GET", "/v1/files/" + f[1])], file_reqs(t)


def test_file_edit_uses_the_upload_path(t):
    start(t)
    src = t.write("hosts.new", "127.0.0.1 edited\n")
    ok(t.run(*S, "file", "cp", src, "/x"))
    tmpdir = os.path.join(t.tmp, "edit-tmp")
    os.makedirs(tmpdir)
    ed = t.write("ed.sh", "#!/bin/sh\ncat %s > \"$1\"\n" % src, mode=0o755)
    t.fake.clear_requests()
    r = ok(t.run(*S, "file", "edit", "/etc/hosts",
                 env={"TMPDIR": tmpdir, "EDITOR": ed}))
    # the content is known to the server: found by its hash, not sent
    sha = hashlib.sha256(b"127.0.0.1 edited\n").hexdigest()
    assert file_reqs(t) == [("GET", "/v1/files/" + sha)], file_reqs(t)
    assert "Reusing" in r.stderr and "/etc/hosts" in r.stderr, r
    assert tmpdir not in r.stderr, r
    # the temporary file is gone: the cache does not remember it
    assert tmpdir not in cache_text(t)
    assert os.listdir(tmpdir) == []


# ---- cp: signals and full disks ----------------------------------------------------

def interrupted_cp(t, sig):
    """Start `cp` of a download that stalls half-way; send sig once the
    partial file has data.  -> (Popen, dest, stderr)"""
    blob = os.urandom(1 << 20)
    t.fake.add_image({"/data/big": blob}, tag="files:sig")
    ok(t.run(*S, "use", "tag:files:sig"))
    t.fake.fault(path="/download$", kind="stall", delay=30)
    dest = os.path.join(t.tmp, "out.bin")
    p = subprocess.Popen([t.binary(), *S, "cp", "/data/big", dest],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=t.env(), cwd=t.home)
    deadline = time.time() + 20
    while time.time() < deadline:
        tmp = glob.glob(dest + ".contree-*")
        if tmp and os.path.getsize(tmp[0]) > 0:
            break
        time.sleep(0.05)
    else:
        p.kill()
        raise AssertionError("no partial download: %r" % (p.communicate(),))
    start = time.time()
    p.send_signal(sig)
    out, err = p.communicate(timeout=20)
    assert time.time() - start < 10, "the download went on after the signal"
    assert glob.glob(dest + ".contree-*") == [], os.listdir(t.tmp)
    assert not os.path.exists(dest)
    return p, err


def test_sigterm_during_cp_removes_the_partial_file(t):
    p, err = interrupted_cp(t, signal.SIGTERM)
    assert p.returncode == -signal.SIGTERM, (p.returncode, err)


def test_sigint_during_cp_removes_the_partial_file(t):
    p, err = interrupted_cp(t, signal.SIGINT)
    assert p.returncode == 130, (p.returncode, err)
    assert b"User interrupted" in err, err


def test_cp_full_disk_names_the_file(t):
    if not os.path.exists("/dev/full"):
        return
    t.fake.add_image({"/data/f": os.urandom(200000)}, tag="files:full")
    ok(t.run(*S, "use", "tag:files:full"))
    r = fails(t.run(*S, "cp", "/data/f", "/dev/full"))
    assert "/dev/full" in r.stderr and "No space left" in r.stderr, r
    assert r.stderr.count("[ERROR]") == 1, r
