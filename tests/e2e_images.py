"""e2e_images.py - images, images import, tag (cli.md §8, §9.4-9.6), the
time expressions of §9.4.1, paging (§8, api.md §5.1), and the
lead-owned file commands: ls, cat, cp, file ls (§9.11-9.13, §9.16)."""

import json
import re
import os
import subprocess
import threading

S = ("-S", "i1")


def rows(r):
    return [json.loads(x) for x in r.out.splitlines() if x.strip()]


def start(t, image="tag:alpine:3.19"):
    r = t.run(*S, "use", image)
    assert r.code == 0, r


# ---- images -------------------------------------------------------------------

def test_images_default_lists_tagged(t):
    r = t.run("images")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["UUID", "TAG", "CREATED_AT"], lines
    tags = {l.split()[1] for l in lines[1:]}
    assert {"ubuntu:latest", "alpine:3.19"} <= tags, tags
    q = t.fake.requests("GET", "/v1/images")[-1]["query"]
    assert q["tagged"] == ["1"] and q["offset"] == ["0"], q
    assert q["limit"] == ["1000"], q        # min(1000, 3000 + 1)


def test_images_filters_and_all(t):
    t.fake.add_image({"/x": "1"})            # untagged
    r = t.run("-f", "json", "images", "--prefix", "ubu")
    assert r.code == 0 and [x["tag"] for x in rows(r)] == ["ubuntu:latest"], r
    assert t.fake.requests("GET", "/v1/images")[-1]["query"]["tag"] == ["ubu"]
    r = t.run("-f", "json", "images", "-a")
    assert any(x["tag"] == "" for x in rows(r)), r   # null tag -> ""
    assert "tagged" not in t.fake.requests("GET", "/v1/images")[-1]["query"]
    # options before `list` are kept (the cli.md fix)
    r = t.run("-f", "json", "images", "--prefix", "alp", "list")
    assert [x["tag"] for x in rows(r)] == ["alpine:3.19"], r


def test_images_paging_and_limit_warning(t):
    t.fake.seed_images(2500)
    t.fake.clear_requests()
    r = t.run("-f", "json", "images")
    assert r.code == 0, r
    got = rows(r)
    assert len(got) == 2504, len(got)
    assert len({x["uuid"] for x in got}) == len(got)
    offs = [q["query"]["offset"][0] for q in t.fake.requests("GET", "/v1/images")]
    # pages 1-3 in parallel (e2e_pages.py): 3,001 images need 4 pages
    assert sorted(offs) == ["0", "1000", "2000", "3000"], offs
    t.fake.clear_requests()
    r1 = t.run("-f", "json", "images", env={"CONTREE_CONCURRENCY": "1"})
    assert r1.out == r.out, r1
    offs = [q["query"]["offset"][0] for q in t.fake.requests("GET", "/v1/images")]
    assert offs == ["0", "1000", "2000"], offs
    r = t.run("-f", "csv", "images", "--limit", "10")
    assert r.code == 0 and len(r.out.split(b"\r\n")) == 12, r   # header + 10 + ""
    assert "[WARNING]" in r.stderr and "--limit=10" in r.stderr, r.stderr
    assert t.fake.requests("GET", "/v1/images")[-1]["query"]["limit"] == ["11"]


def test_images_time_window(t):
    r = t.run("images", "--since", "2025-06-01", "--until", "1d")
    assert r.code == 0, r
    q = t.fake.requests("GET", "/v1/images")[-1]["query"]
    assert q["since"] == ["2025-06-01T00:00:00Z"], q
    assert q["until"][0].endswith("Z") and q["until"][0] > "2025", q
    r = t.run("images", "--since", "20250601 10:30")
    q = t.fake.requests("GET", "/v1/images")[-1]["query"]
    assert r.code == 0 and q["since"] == ["2025-06-01T10:30:00Z"], (r, q)
    r = t.run("images", "--since", "2025-02-30")
    assert r.code == 2 and "invalid date" in r.stderr, r
    assert r.stderr.startswith("usage: contree images ") and \
        "\ncontree images: error: argument --since: " in r.stderr, r


def test_images_closed_pipe_is_quiet(t):
    t.fake.seed_images(3000)
    p = subprocess.run("'%s' images -a | head -1" % t.binary(), shell=True,
                       capture_output=True, env=t.env(), cwd=t.home)
    assert p.returncode == 0 and p.stdout.startswith(b"UUID"), p
    assert b"error" not in p.stderr.lower(), p.stderr


def test_images_api_error(t):
    t.fake.fault(path="/v1/images$", kind="status", status=403, count=1)
    r = t.run("images")
    assert r.code == 1, r
    assert "[ERROR] API 403" in r.stderr, r.stderr


# ---- image references, tag ---------------------------------------------------------

def test_use_resolves_exact_tag_over_prefix(t):
    exact = t.fake.add_image({"/a": "1"}, tag="base")["uuid"]
    t.fake.add_image({"/b": "1"}, tag="base-longer")
    r = t.run(*S, "use", "tag:base")
    assert r.code == 0, r
    r = t.run("-f", "json", *S, "use")
    assert rows(r)[0]["current_image"] == exact, r
    r = t.run(*S, "use", "no-such-tag")
    assert r.code == 1 and "no image with tag no-such-tag" in r.stderr, r


def test_tag_and_untag(t):
    start(t)
    img = t.fake.image_uuid("alpine:3.19")
    r = t.run(*S, "tag", "team/my.base:v1")
    assert r.code == 0 and r.out == b"", r
    p = t.fake.requests("PATCH")[-1]
    assert p["path"] == "/v1/images/%s/tag" % img and \
        p["json"] == {"tag": "team/my.base:v1"}, p
    r = t.run(*S, "tag", "-U", img, "team/my.base:v1")
    assert r.code == 0, r
    d = t.fake.requests("DELETE")[-1]
    assert d["query"] == {"tag": ["team/my.base:v1"]}, d
    # a tag needing escapes reaches the server intact (the cli.md fix)
    r = t.run(*S, "tag", "-U", img, "a b&c=d")
    d = t.fake.requests("DELETE")[-1]
    assert d["query"] == {"tag": ["a b&c=d"]}, d
    r = t.run(*S, "tag", "a", "b", "c")
    assert r.code == 2, r
    # a usage error: usage line, then "contree tag: error: ..." (cli.md §1)
    assert r.stderr.startswith("usage: contree tag ") and \
        "\ncontree tag: error: " in r.stderr, r
    r = t.run("-S", "nobody", "tag", "x")
    assert r.code == 1 and "no active session" in r.stderr.lower(), r


# ---- images import -------------------------------------------------------------------

def test_import_normalises_and_waits(t):
    r = t.run("-f", "json", "images", "import", "alpine:{3.18,3.20}",
              "ghcr.io/o/i:t", "x/y?tag=custom")
    assert r.code == 0, r
    bodies = [q["json"] for q in t.fake.requests("POST", "/v1/images/import")]
    assert [b["registry"]["url"] for b in bodies] == [
        "docker://docker.io/library/alpine:3.18",
        "docker://docker.io/library/alpine:3.20",
        "docker://ghcr.io/o/i:t",
        "docker://docker.io/x/y:latest"], bodies
    assert [b["tag"] for b in bodies] == ["alpine:3.18", "alpine:3.20",
                                         "o/i:t", "custom"], bodies
    assert all("credentials" not in b and "timeout" not in b for b in bodies)
    got = rows(r)
    assert len(got) == 4 and all(x["status"] == "SUCCESS" and x["image"] for x in got), got
    assert list(got[0])[-1] == "error", got


def test_import_credentials_and_failure(t):
    r = t.run("images", "import", "--username", "u", "--password", "secret",
              "-t", "30", "registry.invalid/busybox")
    assert r.code == 1, r
    b = t.fake.requests("POST", "/v1/images/import")[-1]["json"]
    assert b["registry"]["credentials"] == {"username": "u", "password": "secret"}
    assert b["timeout"] == 30, b
    assert "user:u, password ***" in r.stderr and "sec" not in r.stderr, r.stderr
    assert "FAILED" in r.stdout, r


# ---- ls / cat / cp -----------------------------------------------------------------------

def test_ls_default_and_json(t):
    img = t.fake.add_image({"/etc/hosts": "127.0.0.1 localhost\n",
                            "/etc/ssl/cert": "x"}, tag="fs:1")["uuid"]
    start(t, "tag:fs:1")
    r = t.run(*S, "ls", "/etc")
    assert r.code == 0 and r.stdout.startswith("total "), r
    assert "hosts" in r.stdout and "ssl" in r.stdout, r
    q = t.fake.requests("GET", "/v1/inspect/%s/list" % img)[-1]["query"]
    assert q == {"path": ["/etc"], "text": ["1"]}, q
    r = t.run("-f", "json", *S, "ls", "/etc/")
    got = {x["path"]: x for x in rows(r)}
    assert got["hosts"]["type"] == "-" and got["ssl"]["type"] == "d", got
    assert list(got["hosts"])[-1] == "type", got
    r = t.run(*S, "ls", "/nope")
    # what was not found, and where (issue 11), not the server's JSON
    assert r.code == 1 and re.match(
        r"\[ERROR\] ls: /nope: not found in image [0-9a-f]{8}\.\.\.\n$",
        r.stderr), r


def test_ls_cat_relative_to_cwd(t):
    t.fake.add_image({"/srv/app/main.py": "print(1)\n"}, tag="fs:2")
    start(t, "tag:fs:2")
    assert t.run(*S, "cd", "/srv").code == 0
    r = t.run(*S, "cat", "app/../app/main.py")
    assert r.code == 0 and r.out == b"print(1)\n", r
    q = t.fake.requests("GET", "/download")[-1]["query"]
    assert q["path"] == ["/srv/app/main.py"], q
    r = t.run(*S, "ls")
    assert r.code == 0 and "app" in r.stdout, r


def test_cat_binary_and_errors(t):
    blob = bytes(range(256)) * 4
    t.fake.add_image({"/bin/blob": blob}, tag="fs:3")
    start(t, "tag:fs:3")
    r = t.run(*S, "cat", "/bin/blob")          # not a terminal: bytes as is
    assert r.code == 0 and r.out == blob, r
    r = t.run(*S, "cat", "/missing")
    assert r.code == 1 and re.match(
        r"\[ERROR\] cat: /missing: not found in image [0-9a-f]{8}\.\.\.\n$",
        r.stderr), r
    r = t.run("-f", "json", *S, "cat", "/bin/blob")
    assert r.code == 0 and "[WARNING]" in r.stderr, r
    r = t.run("-S", "none", "cat", "/x")
    assert r.code == 1 and "no active session" in r.stderr.lower(), r
    # the server's 422 says which: a directory where a file is wanted,
    # a file where a directory is
    for args, what in ((("cat", "/bin"), "/bin: not a regular file"),
                       (("cp", "/bin", os.path.join(t.tmp, "b")),
                        "/bin: not a regular file"),
                       (("ls", "/bin/blob"), "/bin/blob: not a directory")):
        r = t.run(*S, *args)
        assert r.code == 1 and re.match(
            r"\[ERROR\] %s: %s in image [0-9a-f]{8}\.\.\.\n$"
            % (args[0], what), r.stderr), r
    assert not os.path.exists(os.path.join(t.tmp, "b"))


def test_empty_image_reference_is_refused(t):
    """An unset $IMAGE must not pick an image: the tag filter of an
    empty name matches them all."""
    start(t, "tag:alpine:3.19")
    before = t.run(*S, "session", "show", "-a").stdout
    t.fake.clear_requests()
    for args in (("use", ""), ("use", "tag:"), ("tag", "", "x:1"),
                 ("run", "--use", "", "--", "true"),
                 ("explore", "--from", "tag:", "true")):
        r = t.run(*S, *args)
        assert r.code == 1 and "empty image reference" in r.stderr \
            and r.stderr.count("\n") == 1, (args, r)
    assert not t.fake.requests("GET", "/v1/images"), t.fake.requests()
    assert not t.fake.requests("POST"), t.fake.requests()
    assert t.run(*S, "session", "show", "-a").stdout == before


def test_cp_downloads_atomically(t):
    blob = os.urandom(3 << 20)
    t.fake.add_image({"/data/big": blob}, tag="fs:4")
    start(t, "tag:fs:4")
    dest = os.path.join(t.tmp, "out.bin")
    r = t.run(*S, "cp", "/data/big", dest)
    assert r.code == 0, r
    assert open(dest, "rb").read() == blob
    assert "[INFO] Downloaded 3.0 MiB" in r.stderr, r.stderr
    # a directory as DEST is a clear error, not a network error
    r = t.run(*S, "cp", "/data/big", t.tmp)
    assert r.code == 1 and "is a directory" in r.stderr, r
    # a broken download leaves the old file alone and no temp file behind
    with open(dest, "wb") as f:
        f.write(b"old")
    t.fake.fault(path="/download$", kind="truncate", count=-1)
    r = t.run(*S, "cp", "/data/big", dest, env={"CONTREE_RETRY_SCALE": "0.001"})
    assert r.code == 1, r
    assert open(dest, "rb").read() == b"old"
    assert sorted(os.listdir(t.tmp)) == ["out.bin"], os.listdir(t.tmp)


def test_cp_writes_through_special_dest(t):
    # DEST is "created or truncated": a symlink or a FIFO (/dev/stdout)
    # is written through, never replaced by a regular file
    blob = os.urandom(100000)
    t.fake.add_image({"/data/f": blob}, tag="fs:5")
    start(t, "tag:fs:5")
    real = os.path.join(t.tmp, "real.bin")
    with open(real, "wb") as f:
        f.write(b"old contents that are longer" * 10000)
    link = os.path.join(t.tmp, "link.bin")
    os.symlink(real, link)
    r = t.run(*S, "cp", "/data/f", link)
    assert r.code == 0, r
    assert os.path.islink(link), "symlink replaced"
    assert open(real, "rb").read() == blob
    fifo = os.path.join(t.tmp, "fifo")
    os.mkfifo(fifo)
    got = []
    th = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    th.start()
    r = t.run(*S, "cp", "/data/f", fifo)
    th.join(30)
    assert r.code == 0, r
    assert got == [blob], len(got[0]) if got else got
    assert "[INFO] Downloaded 97.7 KiB" in r.stderr, r.stderr
    import stat
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(t.tmp)) == ["fifo", "link.bin", "real.bin"], \
        os.listdir(t.tmp)


# ---- file ls ---------------------------------------------------------------------------

def test_file_ls_shows_upload_source(t):
    start(t)
    src = t.write("up.txt", "payload\n")
    r = t.run(*S, "run", "-F", src + ":/tmp/up.txt", "cat", "/tmp/up.txt")
    assert r.code == 0 and r.out == b"payload\n", r
    r = t.run("-f", "json", "file", "ls")
    got = rows(r)
    assert len(got) == 1 and got[0]["source"] == src, got
    assert list(got[0])[-1] == "source", got
    r = t.run("-f", "json", "file", "ls", "-q")
    assert list(rows(r)[0]) == ["uuid", "sha256", "source"], r
    r = t.run("file", "ls", "--since", "2025-13-01")
    assert r.code == 2, r


def test_full_disk_on_stdout_is_an_error(t):
    """Output that cannot be written (ENOSPC) is a one-line error and exit
    1, never silent success; a closed pipe stays quiet (above)."""
    start(t)
    for args in (["images"], ["-f", "json", "images"], ["--help"], ["-v"],
                 ["images", "--help"], [*S, "cat", "/etc/os-release"],
                 [*S, "run", "echo", "hi"], ["-f", "json", *S, "run", "true"]):
        with open("/dev/full", "w") as full:
            p = subprocess.run([t.binary(), *args], stdout=full,
                               stderr=subprocess.PIPE, env=t.env(),
                               cwd=t.home, stdin=subprocess.DEVNULL)
        err = p.stderr.decode()
        assert p.returncode == 1, (args, p.returncode, err)
        assert err.count("\n") == 1 and "No space left" in err, (args, err)


def test_inspect_cache(t):
    """cli.md §7.10: JSON listings and file contents are cached per
    (image, path) forever; the server-formatted text listing is not."""
    img = t.fake.add_image({"/etc/motd": "hello\n"}, tag="fs:5")["uuid"]
    start(t, "tag:fs:5")
    t.fake.clear_requests()
    for _ in range(2):
        r = t.run(*S, "cat", "/etc/motd")
        assert r.code == 0 and r.out == b"hello\n", r
        r = t.run("-f", "json", *S, "ls", "/etc")
        assert r.code == 0 and rows(r)[0]["path"] == "motd", r
        r = t.run(*S, "ls", "/etc")
        assert r.code == 0 and "motd" in r.stdout, r
    paths = [(q["path"], q["query"].get("text")) for q in t.fake.requests("GET")]
    assert paths.count(("/v1/inspect/%s/download" % img, None)) == 1, paths
    assert paths.count(("/v1/inspect/%s/list" % img, None)) == 1, paths
    assert paths.count(("/v1/inspect/%s/list" % img, ["1"])) == 2, paths
    d = os.path.join(t.home, ".config", "contree", "cli", "inspect", img)
    assert all(os.stat(os.path.join(d, f)).st_mode & 0o777 == 0o600
               for f in os.listdir(d)), os.listdir(d)
    # errors are not cached
    r = t.run(*S, "cat", "/etc/none")
    r = t.run(*S, "cat", "/etc/none")
    assert r.code == 1 and len(t.fake.requests("GET", "/download")) == 3
