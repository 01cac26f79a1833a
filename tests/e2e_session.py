"""e2e_session.py - sessions (cli.md §7, §9.1, §9.14-9.18, §9.23, §9.24):
use, session and its subcommands, cd, env, file cp/edit, the session key,
concurrency and damaged logs."""

import hashlib
import json
import os
import pty
import re
import subprocess
import threading
import uuid
import zlib

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NO_SESSION = "No active session"


# ---- helpers ---------------------------------------------------------------

from harness import ok, fails, rows


def img(t, tag):
    return t.fake.image_uuid(tag)


def show(t, key, *extra):
    r = ok(t.run("-f", "json", "-S", key, "session", "show", "-a", *extra))
    return rows(r)


def log_path(t, profile="default"):
    return os.path.join(t.home, ".config", "contree", "cli", "sessions",
                        profile + ".log")


def sess_path(t, key, profile="default"):
    """The log of one session (store.c: <index>.d/<key as %XX>.log)."""
    name = "".join(chr(c) if chr(c).isascii() and (chr(c).isalnum() or
                   chr(c) in "_-" or (chr(c) == "." and i)) else "%%%02X" % c
                   for i, c in enumerate(key.encode()))
    return log_path(t, profile) + ".d/" + name + ".log"


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def add_record(t, *fields, profile="default"):
    """Append one record to the log as store.c documents it (for entries
    no command of this area can make, e.g. run-detached)."""
    line = "\t".join(esc(str(f)) for f in fields)
    line += "\t%08x\n" % (zlib.crc32(line.encode()) & 0xffffffff)
    path = sess_path(t, str(fields[2] if fields[0] == "entry" else fields[1]),
                     profile)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        line = "contree-log 1\n" + line
    with open(path, "a") as f:
        f.write(line)


def max_id(t):
    ids = [0]
    d = log_path(t) + ".d"
    for path in [log_path(t)] + [os.path.join(d, n) for n in os.listdir(d)]:
        with open(path) as f:
            for ln in f:
                p = ln.split("\t")
                if p[0] == "entry":
                    ids.append(int(p[1]))
                elif p[0] == "maxid":
                    ids.append(int(p[1]))
                elif p[0] == "sess":
                    ids.append(int(p[4]))
    return max(ids)


def add_entry(t, key, kind, image, parent, title="", op="", branch="main",
              when=1700000000):
    i = max_id(t) + 1
    add_record(t, "entry", i, key, parent, when, branch, kind, image, op, title)
    return i


def expected_key(dirname, profile, ppid):
    h = uuid.uuid5(uuid.NAMESPACE_OID, "%s_%d_notty" % (profile, ppid)).hex
    return "%s+%s" % (dirname, h[:8])


# ---- session key (cli.md §7.2) -----------------------------------------------

def test_key_vectors(t):
    # the documented vectors, by the documented formula
    assert uuid.uuid5(uuid.NAMESPACE_OID, "default_4242__dev_pts_3").hex[:8] \
        == "7521a664"
    assert uuid.uuid5(uuid.NAMESPACE_OID, "default_4242_notty").hex[:8] \
        == "bcf9056d"
    # ... and the same derivation by contree: parent = this process, stdin
    # not a terminal, directory myproj
    d = os.path.join(t.tmp, "myproj")
    os.makedirs(d)
    u = img(t, "ubuntu:latest")
    r = ok(t.run("use", u, stdin=b"", cwd=d))
    want = expected_key("myproj", "default", os.getpid())
    assert r.stdout == "export CONTREE_SESSION=%s\n" % want, r
    # the same key is used by later commands from the same place
    r = ok(t.run("-f", "json", "session", stdin=b"", cwd=d))
    assert rows(r)[0]["session_key"] == want, r
    # the profile is part of the name
    with open(os.path.join(t.home, ".config/contree/auth.ini"), "a") as f:
        f.write("[profile:other]\ntoken = %s\nurl = %s\ntype = jwt\n"
                % (t.fake.token, t.fake.url))
    r = ok(t.run("-p", "other", "use", u, stdin=b"", cwd=d))
    assert r.stdout.strip().endswith(
        expected_key("myproj", "other", os.getpid())), r


def test_key_root_dir_and_precedence(t):
    u = img(t, "alpine:3.19")
    r = ok(t.run("use", u, stdin=b"", cwd="/"))
    assert r.stdout.strip() == "export CONTREE_SESSION=" + \
        expected_key("session", "default", os.getpid()), r
    # -S beats CONTREE_SESSION, which beats the automatic key
    r = ok(t.run("-S", "flag", "use", u, env={"CONTREE_SESSION": "envkey"}))
    assert r.stdout.strip() == "export CONTREE_SESSION=flag", r
    r = ok(t.run("use", u, env={"CONTREE_SESSION": "envkey"}))
    assert r.stdout.strip() == "export CONTREE_SESSION=envkey", r
    # an empty CONTREE_SESSION is ignored
    d = os.path.join(t.tmp, "proj2")
    os.makedirs(d)
    r = ok(t.run("use", u, env={"CONTREE_SESSION": ""}, stdin=b"", cwd=d))
    assert r.stdout.strip().endswith(expected_key("proj2", "default",
                                                  os.getpid())), r
    # an empty -S is an error: -S "$KEY" with KEY unset must not move
    # another session (the Python client falls back, as for the env)
    before = t.run("-S", "envkey", "session", "show", "-a").stdout
    r = t.run("-S", "", "use", u, env={"CONTREE_SESSION": "envkey"})
    assert r.code == 2 and r.stdout == "" and r.stderr.endswith(
        "contree: error: argument -S/--session: empty session key\n"), r
    assert t.run("-S", "envkey", "session", "show", "-a").stdout == before


def test_key_quoted_for_eval_and_control_characters_refused(t):
    """use prints a line for eval: a key with a space, a quote or a ';'
    (from -S, the environment or a directory name) is quoted so that
    eval sets exactly it and runs nothing; a control character in a key
    (a newline from a directory name) is refused."""
    u = img(t, "alpine:3.19")
    mark = os.path.join(t.tmp, "ran")
    for key in ("my dir+1", "k;touch " + mark, "it's", "a\\b", "x$(id)",
                "plain-key_1.2+3"):
        r = ok(t.run("-S", key, "use", u))
        quoted = r.stdout != "export CONTREE_SESSION=%s\n" % key
        assert quoted == (key != "plain-key_1.2+3"), r
        got = subprocess.run(["sh", "-c", r.stdout.strip() +
                              '; printf %s "$CONTREE_SESSION"'],
                             capture_output=True, text=True).stdout
        assert got == key, (key, r.stdout, got)
    assert not os.path.exists(mark)
    # -S with one: a usage error; from the environment: refused where
    # the session log is opened (commands without a session still work)
    r = t.run("-S", "a\nb", "use", u)
    assert r.code == 2 and r.stderr.endswith("contree: error: argument "
                                             "-S/--session: a control "
                                             "character in the session "
                                             "key\n"), r
    r = t.run("use", u, env={"CONTREE_SESSION": "a\tb"})
    assert r.code == 1 and r.stdout == "" and \
        r.stderr.count("\n") == 1 and "control character" in r.stderr, r
    ok(t.run("completion", "bash", env={"CONTREE_SESSION": "a\tb"}))
    # a directory name with one: the automatic key has '_' for it
    d = os.path.join(t.tmp, "new\nline")
    os.makedirs(d)
    r = ok(t.run("use", u, cwd=d, stdin=b""))
    assert re.fullmatch(r"export CONTREE_SESSION=new_line\+[0-9a-f]{8}\n",
                        r.stdout), r


# ---- use / session ---------------------------------------------------------------

def test_use(t):
    u = img(t, "ubuntu:latest")
    t.fake.clear_requests()
    r = ok(t.run("-S", "s1", "use", "tag:ubuntu:latest"))
    assert r.stdout == "export CONTREE_SESSION=s1\n", r
    reqs = t.fake.requests("GET", "/v1/images")
    assert reqs and reqs[0]["query"].get("tag") == ["ubuntu:latest"], reqs
    # fish
    r = ok(t.run("-S", "s1", "use", "ubuntu:latest",
                 env={"SHELL": "/usr/local/bin/fish"}))
    assert r.stdout == "set -gx CONTREE_SESSION s1\n", r
    # a UUID is used as is, without a request
    a = img(t, "alpine:3.19")
    t.fake.clear_requests()
    ok(t.run("-S", "s1", "use", a))
    assert not t.fake.requests("GET", "/v1/images"), "UUID looked up"
    # the session row: last kind/title are the tip's; title as typed
    r = ok(t.run("-f", "json", "-S", "s1", "use"))
    (row,) = rows(r)
    assert list(row) == ["session_key", "active_branch", "current_image",
                         "last_kind", "last_title", "updated_at"], row
    assert row["session_key"] == "s1" and row["active_branch"] == "main"
    assert row["current_image"] == a and row["last_kind"] == "use"
    assert row["last_title"] == a, row
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$",
                    row["updated_at"]), row
    e = show(t, "s1")
    assert [x["title"] for x in e] == ["tag:ubuntu:latest", "ubuntu:latest", a]
    assert [x["image"] for x in e] == [u, u, a], e
    # table form has the documented header
    r = ok(t.run("-S", "s1", "use"))
    assert r.stdout.split() [:6] == ["SESSION_KEY", "ACTIVE_BRANCH",
                                     "CURRENT_IMAGE", "LAST_KIND",
                                     "LAST_TITLE", "UPDATED_AT"], r


def test_use_errors(t):
    # no session: one line, exit 1
    r = fails(t.run("-S", "none", "use"), NO_SESSION)
    assert len(r.stderr.strip().splitlines()) == 1, r
    assert r.stdout == "", r
    # unknown tag: API-style 404, nothing recorded
    r = fails(t.run("-S", "s", "use", "tag:no-such-tag:1"), "no image with tag")
    assert r.stdout == "", r
    r = ok(t.run("-S", "s", "session", "show"))
    assert "No history." in r.stderr, r
    # -N needs an image
    r = fails(t.run("-S", "s", "use", "-N"), "--new")


def test_use_new(t):
    u = img(t, "ubuntu:latest")
    ok(t.run("-S", "mine", "use", u))
    r = ok(t.run("-S", "mine", "use", "-N", "tag:alpine:3.19"))
    m = re.match(r"export CONTREE_SESSION=(%s)\n$" % UUID_RE, r.stdout)
    assert m, r
    key = m.group(1)
    assert uuid.UUID(key).version == 4, key
    assert "WARNING" not in r.stderr, r      # stdout is not a terminal
    e = show(t, key)
    assert len(e) == 1 and e[0]["title"] == "tag:alpine:3.19", e
    assert len(show(t, "mine")) == 1, "current session changed"
    r2 = ok(t.run("-S", "mine", "use", "-N", u))
    assert r2.stdout != r.stdout, "same random key twice"
    # stdout a terminal: a warning on stderr suggesting eval
    master, slave = pty.openpty()
    try:
        p = subprocess.run([t.binary(), "-S", "mine", "use", "-N", u],
                           stdin=subprocess.DEVNULL, stdout=slave,
                           stderr=subprocess.PIPE, env=t.env(), cwd=t.home,
                           timeout=60)
    finally:
        os.close(slave)
    out = b""
    try:
        while True:
            b = os.read(master, 4096)
            if not b:
                break
            out += b
    except OSError:
        pass
    os.close(master)
    assert p.returncode == 0, p
    assert b"export CONTREE_SESSION=" in out, out
    assert b"WARNING" in p.stderr and b"eval $(contree use -N" in p.stderr, p


def test_session_info(t):
    r = fails(t.run("-S", "x", "session"), NO_SESSION)
    # one error line; the hint for agents is part of it (issue 11)
    assert len(r.stderr.strip().splitlines()) == 1, r
    assert "agent" in r.stderr, r
    ok(t.run("-S", "x", "use", "tag:alpine:3.19"))
    r = ok(t.run("-f", "json", "-S", "x", "s"))
    (row,) = rows(r)
    assert row["session_key"] == "x" and row["last_kind"] == "use", row
    assert row["current_image"] == img(t, "alpine:3.19"), row


def test_session_list(t):
    r = ok(t.run("-S", "a", "session", "list"))
    assert "No sessions found." in r.stderr and r.stdout == "", r
    u = img(t, "ubuntu:latest")
    for k in ("proj+11111111", "other+22222222", "proj+33333333"):
        ok(t.run("-S", k, "use", u))
    ok(t.run("-S", "other+22222222", "use", u))      # most recent now
    # env alone does not create a listed session
    ok(t.run("-S", "envonly", "env", "A=1"))
    r = ok(t.run("-f", "json", "-S", "proj+11111111", "session", "ls"))
    got = rows(r)
    assert [x["session_key"] for x in got] == \
        ["other+22222222", "proj+33333333", "proj+11111111"], got
    assert list(got[0]) == ["active", "session_key", "active_branch",
                            "current_image", "updated_at"], got[0]
    assert [x["active"] for x in got] == [False, False, True], got
    assert all(x["current_image"] == u and x["active_branch"] == "main"
               for x in got), got
    r = ok(t.run("-f", "json", "session", "list", "--filter", "proj"))
    assert sorted(x["session_key"] for x in rows(r)) == \
        ["proj+11111111", "proj+33333333"], r
    r = ok(t.run("session", "list", "--filter", "nomatch"))
    assert "No sessions found." in r.stderr, r
    r = ok(t.run("-S", "proj+11111111", "session", "list"))
    assert r.stdout.split()[:5] == ["ACTIVE", "SESSION_KEY", "ACTIVE_BRANCH",
                                    "CURRENT_IMAGE", "UPDATED_AT"], r


def test_session_use_find(t):
    u, a = img(t, "ubuntu:latest"), img(t, "alpine:3.19")
    ok(t.run("-S", "proj+7521a664", "use", u))
    ok(t.run("-S", "abc", "use", u))
    ok(t.run("-S", "zabc", "use", a))
    ok(t.run("-S", "x+1234", "use", u))
    ok(t.run("-S", "y+1234", "use", u))
    # a unique suffix
    r = ok(t.run("-f", "json", "-S", "me", "session", "use", "7521a664"))
    assert rows(r) == [{"image": u, "from_session": "proj+7521a664"}], r
    e = show(t, "me")
    assert e[-1]["kind"] == "session use" and e[-1]["image"] == u, e
    assert e[-1]["title"] == "proj+7521a664", e
    # a longer key ending in the text wins over the equal key
    r = ok(t.run("-f", "json", "-S", "me", "session", "use", "abc"))
    assert rows(r)[0]["from_session"] == "zabc", r
    assert show(t, "me")[-1]["image"] == a
    # the equal key when nothing longer ends with it
    r = ok(t.run("-f", "json", "-S", "me", "session", "use", "zabc"))
    assert rows(r)[0]["from_session"] == "zabc", r
    # ambiguous: both named
    r = fails(t.run("-S", "me", "session", "use", "1234"))
    assert "x+1234" in r.stderr and "y+1234" in r.stderr, r
    r = fails(t.run("-S", "me", "session", "use", "nothing-like-it"),
              "not found")
    # session show KEY shows the found session (the fix)
    r = ok(t.run("-f", "json", "-S", "me", "session", "show", "7521a664"))
    got = rows(r)
    assert len(got) == 1 and got[0]["title"] == u, got
    fails(t.run("-S", "me", "session", "show", "nothing-like-it"), "not found")


def test_session_show(t):
    u, a = img(t, "ubuntu:latest"), img(t, "alpine:3.19")
    r = ok(t.run("-S", "s", "session", "show"))
    assert "No history." in r.stderr and r.stdout == "", r
    ok(t.run("-S", "s", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "s", "cd", "/etc"))
    ok(t.run("-S", "s", "use", a))
    e = show(t, "s")
    assert [x["kind"] for x in e] == ["use", "cd", "use"], e
    assert list(e[0]) == ["id", "image", "parent_id", "kind", "title",
                          "operation", "created_at", "branches"], e[0]
    assert e[0]["parent_id"] is None, e[0]
    assert e[1]["parent_id"] == e[0]["id"] and e[2]["parent_id"] == e[1]["id"]
    assert e[0]["id"] < e[1]["id"] < e[2]["id"], e
    assert [x["branches"] for x in e] == ["", "", "main"], e
    assert e[1]["title"] == "/etc" and e[1]["image"] == u, e
    ok(t.run("-S", "s", "session", "branch", "b2"))
    assert show(t, "s")[-1]["branches"] == "b2, main"
    # kinds: exact or KIND-..., nothing else
    last = e[-1]["id"]
    op = str(uuid.uuid4())
    i1 = add_entry(t, "s", "run", u, last, "uname -a", op)
    i2 = add_entry(t, "s", "run-detached", u, i1, "sleep 1", str(uuid.uuid4()),
                   branch="detached-x")
    i3 = add_entry(t, "s", "run-disposable", u, i1, "true", str(uuid.uuid4()),
                   branch="disposable-x")
    ok(t.run("-S", "s", "session", "use", "s"))      # a "session use" entry
    got = show(t, "s", "-k", "run")
    assert [x["id"] for x in got] == [i1, i2, i3], got
    assert got[0]["operation"] == op and got[0]["title"] == "uname -a", got
    assert [x["kind"] for x in show(t, "s", "-k", "use")] == ["use", "use"]
    assert [x["kind"] for x in show(t, "s", "-k", "session use")] == \
        ["session use"]
    r = ok(t.run("-S", "s", "session", "show", "-k", "ru"))
    assert "No history." in r.stderr and r.stdout == "", r
    r = ok(t.run("-S", "s", "session", "show", "-k", "session"))
    assert "No history." in r.stderr, r
    # time filters (the three added entries are from 2023-11-14)
    got = show(t, "s", "--until", "2024-01-01")
    assert [x["id"] for x in got] == [i1, i2, i3], got
    got = show(t, "s", "--since", "2024-01-01")
    assert i1 not in [x["id"] for x in got] and len(got) == 4, got
    got = show(t, "s", "--since", "2023-11-14", "--until", "2023-11-15")
    assert len(got) == 3, got
    r = ok(t.run("-S", "s", "session", "show", "--since", "1h ago",
                 "--until", "2000-01-01"))
    assert "No history." in r.stderr, r
    fails(t.run("-S", "s", "session", "show", "--since", "2024-13-45"),
          code=2)
    # created_at as a timestamp: UTC in JSON
    assert got[0]["created_at"] == "2023-11-14T22:13:20+00:00", got
    r = ok(t.run("-S", "s", "session", "show"))
    assert "2023-11-14 22:13:20" in r.stdout, r
    hdr = r.stdout.splitlines()[0].split()
    assert hdr == ["ID", "IMAGE", "PARENT_ID", "KIND", "TITLE", "OPERATION",
                   "CREATED_AT", "BRANCHES"], hdr


def test_session_show_limits(t):
    u = img(t, "ubuntu:latest")
    for i in range(25):
        ok(t.run("-S", "many", "use", u))
    r = ok(t.run("-f", "json", "-S", "many", "session", "show"))
    got = rows(r)
    assert len(got) == 20, len(got)
    assert "20" in r.stderr and "25" in r.stderr and "--all" in r.stderr, r
    assert "[INFO]" in r.stderr, r
    allrows = show(t, "many")
    assert len(allrows) == 25
    assert got == allrows[5:], "not the last 20"
    r = ok(t.run("-f", "json", "-S", "many", "session", "show", "-l", "5"))
    assert rows(r) == allrows[-5:] and r.stderr == "", r
    r = ok(t.run("-f", "json", "-S", "many", "session", "show", "--la", "3",
                 "-a"))
    assert rows(r) == allrows[-3:], r
    # -l N is what was asked, past the default 20 (the reference capped
    # it at 20, against its own help: a user report)
    r = ok(t.run("-f", "json", "-S", "many", "session", "show", "-l", "100"))
    assert rows(r) == allrows and r.stderr == "", r
    r = ok(t.run("-f", "json", "-S", "many", "session", "show", "-l", "22"))
    assert rows(r) == allrows[3:] and r.stderr == "", r
    # -l as the reference's slice [-N:] (issue 11): 0 keeps all, -N
    # drops the first N; with or without -a
    for a in ((), ("-a",)):
        r = ok(t.run("-f", "json", "-S", "many", "session", "show", *a,
                     "-l", "0"))
        assert rows(r) == allrows, r
        r = ok(t.run("-f", "json", "-S", "many", "session", "show", *a,
                     "-l", "-2"))
        assert rows(r) == allrows[2:], r
    r = ok(t.run("-S", "many", "session", "show", "-l", "-99"))
    assert "No history." in r.stderr, r
    fails(t.run("-S", "many", "session", "show", "-l", "x"), code=2)


# ---- branches, checkout, rollback ----------------------------------------------

def test_branch(t):
    u, a = img(t, "ubuntu:latest"), img(t, "alpine:3.19")
    r = ok(t.run("-S", "b", "session", "branch"))
    assert "No branches (no active session)." in r.stderr and r.stdout == "", r
    r = fails(t.run("-S", "b", "session", "branch", "exp"), NO_SESSION)
    ok(t.run("-S", "b", "use", u))
    r = ok(t.run("-S", "b", "session", "branch", "exp"))
    assert r.stdout == "Created branch 'exp'\n", r
    fails(t.run("-S", "b", "session", "branch", "exp"), "exp")
    fails(t.run("-S", "b", "session", "br", "other", "--from", "nope"), "nope")
    # the new branch does not become active
    r = ok(t.run("-S", "b", "session", "branch"))
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["MARKER", "BRANCH"], r
    assert [ln.split() for ln in lines[1:]] == [["exp"], ["*", "main"]], r
    r = ok(t.run("-f", "json", "-S", "b", "session", "branch"))
    assert rows(r) == [{"branch": "exp", "active": False},
                       {"branch": "main", "active": True}], r
    r = ok(t.run("-f", "csv", "-S", "b", "session", "branch"))
    assert r.stdout.splitlines()[0] == "branch,active", r
    # --from: the tip of another branch
    ok(t.run("-S", "b", "use", a))                 # main moves on
    ok(t.run("-S", "b", "session", "branch", "fromexp", "--from", "exp"))
    r = ok(t.run("-f", "json", "-S", "b", "session", "checkout", "fromexp"))
    assert rows(r) == [{"branch": "fromexp", "image": u}], r
    ok(t.run("-S", "b", "session", "co", "main"))
    # delete
    fails(t.run("-S", "b", "session", "branch", "-U"))
    fails(t.run("-S", "b", "session", "branch", "-U", "main"), "main")
    fails(t.run("-S", "b", "session", "branch", "--rm", "nope"), "nope")
    r = ok(t.run("-S", "b", "session", "branch", "fromexp", "--delete"))
    assert r.stdout == "Deleted branch 'fromexp'\n", r
    r = ok(t.run("-f", "json", "-S", "b", "session", "branch"))
    assert [x["branch"] for x in rows(r)] == ["exp", "main"], r
    # entries stay
    assert len(show(t, "b")) == 2
    # prune: inactive detached-*/disposable-* only
    r = ok(t.run("-S", "b", "session", "branch", "--prune"))
    assert r.stdout.strip() and "Pruned" not in r.stdout, r
    tip = show(t, "b")[-1]["id"]
    o1, o2 = str(uuid.uuid4()), str(uuid.uuid4())
    add_entry(t, "b", "run-detached", a, tip, "x", o1, branch="detached-" + o1)
    add_entry(t, "b", "run-disposable", a, tip, "y", o2,
              branch="disposable-" + o2)
    ok(t.run("-S", "b", "session", "branch", "detached-keep"))
    # -U wins over --prune
    r = ok(t.run("-S", "b", "session", "branch", "--prune", "-U",
                 "detached-keep"))
    assert r.stdout == "Deleted branch 'detached-keep'\n", r
    r = ok(t.run("-S", "b", "session", "branch", "--prune"))
    assert sorted(r.stdout.splitlines()) == sorted(
        ["Pruned branch 'detached-%s'" % o1,
         "Pruned branch 'disposable-%s'" % o2]), r
    r = ok(t.run("-f", "json", "-S", "b", "session", "branch"))
    assert [x["branch"] for x in rows(r)] == ["exp", "main"], r
    # an active detached-* branch is kept
    ok(t.run("-S", "b", "session", "branch", "detached-active"))
    ok(t.run("-S", "b", "session", "checkout", "detached-active"))
    r = ok(t.run("-S", "b", "session", "branch", "--prune"))
    assert "Pruned" not in r.stdout, r


def test_checkout(t):
    u, a = img(t, "ubuntu:latest"), img(t, "alpine:3.19")
    fails(t.run("-S", "c", "session", "checkout", "main"), NO_SESSION)
    ok(t.run("-S", "c", "use", u))
    ok(t.run("-S", "c", "session", "branch", "old"))
    ok(t.run("-S", "c", "use", a))
    fails(t.run("-S", "c", "session", "checkout", "nope"), "nope")
    r = ok(t.run("-S", "c", "session", "checkout", "old"))
    assert r.stdout.split()[:2] == ["BRANCH", "IMAGE"], r
    assert r.stdout.split()[2:] == ["old", u], r
    row = rows(ok(t.run("-f", "json", "-S", "c", "session")))[0]
    assert row["active_branch"] == "old" and row["current_image"] == u, row
    # appending now moves "old", not "main"
    ok(t.run("-S", "c", "cd", "/tmp"))
    r = ok(t.run("-f", "json", "-S", "c", "session", "co", "main"))
    assert rows(r)[0]["image"] == a, r
    r = ok(t.run("-S", "c", "cd"))
    assert r.stdout == "/\n", r
    ok(t.run("-S", "c", "session", "checkout", "old"))
    assert t.run("-S", "c", "cd").stdout == "/tmp\n"


def test_rollback(t):
    u, a = img(t, "ubuntu:latest"), img(t, "alpine:3.19")
    p = img(t, "python:3.12-slim")
    fails(t.run("-S", "r", "session", "rollback"), NO_SESSION)
    for i in (u, a, p):
        ok(t.run("-S", "r", "use", i))
    ids = [x["id"] for x in show(t, "r")]

    def tip():
        return rows(ok(t.run("-f", "json", "-S", "r", "session")))[0][
            "current_image"]

    r = ok(t.run("-f", "json", "-S", "r", "session", "rollback"))
    (row,) = rows(r)
    assert list(row) == ["image", "kind", "title", "created_at"], row
    assert row["image"] == a and row["kind"] == "use" and row["title"] == a
    ok(t.run("-S", "r", "session", "rb", "-1"))
    assert tip() == u
    r = fails(t.run("-S", "r", "session", "rollback", "-1"),
              "cannot go back 1 steps, only 0 ancestors")
    r = ok(t.run("-S", "r", "session", "rollback", "+2"))
    assert tip() == p
    r = fails(t.run("-S", "r", "session", "rollback", "-5"),
              "cannot go back 5 steps, only 2 ancestors")
    fails(t.run("-S", "r", "session", "rollback", "+1"))
    # absolute ids
    ok(t.run("-S", "r", "session", "rollback", str(ids[0])))
    assert tip() == u
    fails(t.run("-S", "r", "session", "rollback", "999"),
          "entry 999 not found in this session")
    fails(t.run("-S", "r", "session", "rollback", "0"), "0")
    fails(t.run("-S", "r", "session", "rollback", "-0"), "0")
    r = fails(t.run("-S", "r", "session", "rollback", "abc"), "abc")
    r = fails(t.run("-S", "r", "session", "rollback", "1.5"), "1.5")
    # only argparse's negative numbers (-N, -[N].N) are positionals
    r = fails(t.run("-S", "r", "session", "rollback", "-.5"), "-.5")
    for a in ("-.", "-1.", "-1.2.3"):
        r = t.run("-S", "r", "session", "rollback", a)
        assert r.code == 2 and "unrecognized arguments: " + a in r.stderr, r
    # an entry of another session is not in this one
    ok(t.run("-S", "other", "use", u))
    oid = show(t, "other")[0]["id"]
    fails(t.run("-S", "r", "session", "rollback", str(oid)),
          "entry %d not found in this session" % oid)
    # rollback never adds or deletes entries
    assert [x["id"] for x in show(t, "r")] == ids
    # +N takes the child with the highest id (a fork from the root)
    ok(t.run("-S", "r", "use", p))                   # child of ids[0]
    fork = show(t, "r")[-1]["id"]
    ok(t.run("-S", "r", "session", "rollback", str(ids[0])))
    ok(t.run("-S", "r", "session", "rollback", "+1"))
    assert [x for x in show(t, "r") if "main" in x["branches"]][0]["id"] == fork
    # environment is not history
    ok(t.run("-S", "r", "env", "K=V"))
    ok(t.run("-S", "r", "session", "rollback"))
    assert "K" in t.run("-S", "r", "env").stdout


# ---- delete ------------------------------------------------------------------

def test_session_delete(t):
    u = img(t, "ubuntu:latest")
    for k in ("d1", "d2", "d3"):
        ok(t.run("-S", k, "use", u))
    ok(t.run("-S", "d1", "env", "A=1"))
    before = max(x["id"] for x in show(t, "d3"))
    r = fails(t.run("session", "delete", "d1", stdin=b"n\n"))
    assert "Delete session 'd1'? [y/N] " in r.stdout and "Aborted." in r.stdout
    assert show(t, "d1"), "deleted after no"
    r = fails(t.run("session", "delete", "d1"))        # EOF is no
    assert "Aborted." in r.stdout, r
    r = ok(t.run("session", "rm", "d1", stdin=b"y\n"))
    assert "Deleted" in r.stderr or "d1" in r.stderr, r
    r = ok(t.run("-S", "d1", "session", "show"))
    assert "No history." in r.stderr, r
    r = ok(t.run("-S", "d1", "env"))
    assert r.stdout == "No session environment variables set.\n", r
    r = fails(t.run("session", "del", "-y", "nope", "d2"), "nope")
    r = ok(t.run("-S", "d2", "session", "show"))
    assert "No history." in r.stderr, "d2 was not deleted"
    # exact keys only
    fails(t.run("session", "delete", "-y", "3"), "3")
    assert show(t, "d3")
    # ids are never reused
    ok(t.run("-S", "d1", "use", u))
    assert show(t, "d1")[0]["id"] > before
    # an env-only session can be deleted
    ok(t.run("-S", "envonly", "env", "X=1"))
    ok(t.run("session", "delete", "-y", "envonly"))
    assert "No session" in t.run("-S", "envonly", "env").stdout


# ---- cd ------------------------------------------------------------------------

def test_cd(t):
    u = img(t, "ubuntu:latest")
    r = ok(t.run("-S", "c", "cd"))
    assert r.stdout == "/\n", r
    # without a session: say so, store nothing
    r = fails(t.run("-S", "c", "cd", "/etc"), NO_SESSION)
    assert "No history." in t.run("-S", "c", "session", "show").stderr
    ok(t.run("-S", "c", "use", u))
    t.fake.clear_requests()
    r = ok(t.run("-S", "c", "cd", "/etc"))
    assert r.stdout == "", r
    reqs = t.fake.requests("GET", "/v1/inspect/%s/list" % u)
    assert reqs and reqs[0]["query"]["path"] == ["/etc"], reqs
    assert t.run("-S", "c", "cd").stdout == "/etc\n"
    ok(t.run("-S", "c", "cd", "../root"))
    assert t.run("-S", "c", "cd").stdout == "/root\n"
    ok(t.run("-S", "c", "cd", "/etc/../tmp//./"))
    assert t.run("-S", "c", "cd").stdout == "/tmp\n"
    ok(t.run("-S", "c", "cd", ".."))
    assert t.run("-S", "c", "cd").stdout == "/\n"
    e = show(t, "c")
    assert [x["title"] for x in e if x["kind"] == "cd"] == \
        ["/etc", "/root", "/tmp", "/"], e
    assert all(x["image"] == u for x in e), e
    n = len(e)
    fails(t.run("-S", "c", "cd", "/nope"), "no such directory")
    fails(t.run("-S", "c", "cd", "/etc/hosts"), "not a directory")
    assert len(show(t, "c")) == n, "failed cd recorded"
    # other API errors propagate
    t.fake.fault(path="/inspect/", kind="status", status=403)
    fails(t.run("-S", "c", "cd", "/etc"), "403")
    t.fake.fault(path="/inspect/", kind="badjson")
    fails(t.run("-S", "c", "cd", "/etc"), "malformed")
    assert len(show(t, "c")) == n, "failed cd recorded"
    # derived: rollback changes the working directory
    ok(t.run("-S", "c", "session", "rollback", "-2"))
    assert t.run("-S", "c", "cd").stdout == "/root\n"


# ---- env -----------------------------------------------------------------------

def test_env(t):
    r = ok(t.run("-S", "e", "env"))
    assert r.stdout == "No session environment variables set.\n", r
    # works without history
    r = ok(t.run("-S", "e", "env", "B=2", "A=x=y", "EMPTY="))
    assert r.stderr.count("[INFO]") == 3, r
    r = ok(t.run("-f", "json", "-S", "e", "env"))
    assert rows(r) == [{"key": "A", "value": "x=y"}, {"key": "B", "value": "2"},
                       {"key": "EMPTY", "value": ""}], r
    r = ok(t.run("-S", "e", "env"))
    assert r.stdout.split()[:2] == ["KEY", "VALUE"], r
    # all or nothing
    r = fails(t.run("-S", "e", "env", "C=3", "BAD", "D=4"), "BAD")
    r = ok(t.run("-f", "json", "-S", "e", "env"))
    assert [x["key"] for x in rows(r)] == ["A", "B", "EMPTY"], r
    fails(t.run("-S", "e", "env", "=v"))
    # overwrite, unset (absent keys are fine)
    ok(t.run("-S", "e", "env", "A=new"))
    r = ok(t.run("-S", "e", "env", "-U", "B", "NOTSET"))
    assert r.stderr.count("[INFO]") == 2, r
    ok(t.run("-S", "e", "env", "--rm", "EMPTY"))
    r = ok(t.run("-f", "json", "-S", "e", "env"))
    assert rows(r) == [{"key": "A", "value": "new"}], r
    fails(t.run("-S", "e", "env", "-U"))
    # per session
    r = ok(t.run("-S", "other", "env"))
    assert r.stdout == "No session environment variables set.\n", r
    # values with special characters survive
    v = "tab\there\nnewline \\ back$slash 'q' \"dq\" \u00e9"
    ok(t.run("-S", "e", "env", "W=" + v))
    r = ok(t.run("-f", "json", "-S", "e", "env"))
    assert {"key": "W", "value": v} in rows(r), r


# ---- file cp / file edit ---------------------------------------------------------

def test_file_cp(t):
    src = t.write("app.py", "print('hi')\n")
    t.fake  # start
    t.fake.clear_requests()
    # no session: nothing uploaded (the fix)
    fails(t.run("-S", "f", "file", "cp", src, "/app/app.py"), NO_SESSION)
    assert not t.fake.requests(path="/v1/files"), "uploaded without a session"
    u = img(t, "ubuntu:latest")
    ok(t.run("-S", "f", "use", u))
    fails(t.run("-S", "f", "file", "cp", t.tmp, "/x"), "regular file")
    fails(t.run("-S", "f", "file", "cp", src + ".missing", "/x"), "missing")
    t.fake.clear_requests()
    r = ok(t.run("-S", "f", "file", "cp", src, "/app/app.py"))
    assert "next run" in r.stderr and r.stdout == "", r
    sha = hashlib.sha256(b"print('hi')\n").hexdigest()
    assert t.fake.requests("GET", "/v1/files/" + sha), "no dedup lookup"
    posts = t.fake.requests("POST", "/v1/files")
    assert len(posts) == 1 and posts[0]["body"] == b"print('hi')\n", posts
    # the same content again: found by hash, not uploaded
    t.fake.clear_requests()
    ok(t.run("-S", "f", "file", "cp", src, "rel/dest.py"))
    assert not t.fake.requests("POST", "/v1/files"), "uploaded twice"
    e = show(t, "f")
    assert [x["title"] for x in e[1:]] == ["Change file /app/app.py",
                                           "Change file rel/dest.py"], e
    assert all(x["kind"] == "file" and x["image"] == u for x in e[1:]), e


def editor_script(t, body):
    return t.write("editor.sh", "#!/bin/sh\n" + body, mode=0o755)


def test_file_edit(t):
    u = img(t, "ubuntu:latest")
    tmpdir = os.path.join(t.tmp, "edit-tmp")
    os.makedirs(tmpdir)
    rec = os.path.join(t.tmp, "args")
    ed = editor_script(t, 'printf "%%s\\n" "$@" > %s\n'
                          'cp "$2" %s.before\n'
                          'echo "10.0.0.1 extra" >> "$2"\n' % (rec, rec))
    env = {"TMPDIR": tmpdir, "EDITOR": ed + " --flag"}
    fails(t.run("-S", "fe", "file", "edit", "/etc/hosts", env=env), NO_SESSION)
    ok(t.run("-S", "fe", "use", u))
    t.fake.clear_requests()
    r = ok(t.run("-S", "fe", "file", "edit", "/etc/hosts", env=env))
    assert "next run" in r.stderr, r
    args = open(rec).read().splitlines()
    assert args[0] == "--flag" and args[1].endswith("/hosts"), args
    orig = t.fake.image_tree(u)["/etc/hosts"]
    assert open(rec + ".before", "rb").read() == orig
    posts = t.fake.requests("POST", "/v1/files")
    assert len(posts) == 1 and posts[0]["body"] == orig + b"10.0.0.1 extra\n"
    assert os.listdir(tmpdir) == [], "temporary files left: %r" % \
        os.listdir(tmpdir)
    e = show(t, "fe")
    assert e[-1]["kind"] == "file" and e[-1]["title"] == \
        "Change file /etc/hosts", e
    n = len(e)
    # unchanged: nothing staged, nothing uploaded
    t.fake.clear_requests()
    r = ok(t.run("-S", "fe", "file", "edit", "/etc/hosts",
                 env={"TMPDIR": tmpdir, "EDITOR": "true"}))
    assert "nothing changed" in r.stderr, r
    assert not t.fake.requests(path="/v1/files"), "uploaded unchanged file"
    assert len(show(t, "fe")) == n
    # the editor fails: exit 1 with its code, nothing staged, no temp left
    r = fails(t.run("-S", "fe", "file", "e", "/etc/hosts",
                    env={"TMPDIR": tmpdir, "EDITOR": "sh -c 'exit 3'"}), "3")
    assert len(show(t, "fe")) == n and os.listdir(tmpdir) == []
    # a missing file starts empty; -E beats $EDITOR
    ed2 = t.write("ed2.sh", '#!/bin/sh\ntest -s "$1" && exit 9\n'
                  'echo new > "$1"\n', mode=0o755)
    t.fake.clear_requests()
    r = ok(t.run("-S", "fe", "file", "edit", "-E", ed2, "/new/dir/file.txt",
                 env={"TMPDIR": tmpdir, "EDITOR": "false"}))
    assert "[INFO]" in r.stderr, r
    posts = t.fake.requests("POST", "/v1/files")
    assert posts and posts[0]["body"] == b"new\n", posts
    assert show(t, "fe")[-1]["title"] == "Change file /new/dir/file.txt"
    assert os.listdir(tmpdir) == []
    # the same content again: reused by hash
    t.fake.clear_requests()
    ok(t.run("-S", "fe", "file", "edit", "-E", ed2, "/other.txt",
             env={"TMPDIR": tmpdir}))
    assert not t.fake.requests("POST", "/v1/files"), "uploaded twice"
    # [cli] editor from cli.ini when $EDITOR is unset
    with open(os.path.join(t.home, ".config/contree/cli.ini"), "w") as f:
        f.write("[cli]\neditor = %s --flag\n" % ed)
    r = ok(t.run("-S", "fe", "file", "edit", "/etc/hostname",
                 env={"TMPDIR": tmpdir}))
    assert open(rec).read().splitlines()[1].endswith("/hostname")
    # an error from the server other than 404 aborts
    t.fake.fault(path="/download", kind="status", status=403)
    fails(t.run("-S", "fe", "file", "edit", "/etc/hosts", env=env), "403")
    assert os.listdir(tmpdir) == []


# ---- concurrency and damaged logs ------------------------------------------------

def test_concurrent_writers(t):
    u = img(t, "ubuntu:latest")
    ok(t.run("-S", "cc", "use", u))
    results = [None] * 8

    def go(i):
        if i % 2:
            results[i] = t.run("-S", "cc", "cd", "/etc" if i % 4 == 1 else "/tmp")
        else:
            results[i] = t.run("-S", "cc", "use", u)

    th = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    for r in results:
        ok(r)
    e = show(t, "cc")
    assert len(e) == 9, e
    ids = [x["id"] for x in e]
    assert len(set(ids)) == 9, ids
    # every append went on top of the tip: one chain, nothing lost
    parents = [x["parent_id"] for x in e]
    assert parents[0] is None and sorted(parents[1:]) == sorted(ids[:-1]), e
    # and another session at the same time keeps its own ids apart
    res2 = []
    th = [threading.Thread(target=lambda k=k: res2.append(
        t.run("-S", k, "use", u))) for k in ("p", "q", "p", "q")]
    for x in th:
        x.start()
    for x in th:
        x.join()
    for r in res2:
        ok(r)
    allids = ids + [x["id"] for x in show(t, "p") + show(t, "q")]
    assert len(allids) == len(set(allids)) == 13, allids


def test_torn_log(t):
    u = img(t, "ubuntu:latest")
    ok(t.run("-S", "tl", "use", u))
    ok(t.run("-S", "tl", "cd", "/etc"))
    ok(t.run("-S", "tl", "use", u))
    path = sess_path(t, "tl")
    data = open(path, "rb").read()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    assert data[start:].startswith(b"entry"), data[start:]
    for cut in range(start, len(data)):
        with open(path, "wb") as f:
            f.write(data[:cut])
        r = ok(t.run("-f", "json", "-S", "tl", "session", "show"),
               "show with the log cut at %d" % cut)
        assert len(rows(r)) == 2, (cut, r)
        if cut % 7 == 0 or cut == len(data) - 1:
            # the next writer repairs it
            ok(t.run("-S", "tl", "env", "K=%d" % cut))
            got = open(path, "rb").read()
            assert got.startswith(data[:start]) and got.endswith(b"\n"), cut
            assert len(show(t, "tl")) == 2
            r = ok(t.run("-f", "json", "-S", "tl", "env"))
            assert rows(r) == [{"key": "K", "value": str(cut)}], (cut, r)
    ok(t.run("-S", "tl", "use", u))
    assert len(show(t, "tl")) == 3


def test_bad_log(t):
    u = img(t, "ubuntu:latest")
    ok(t.run("-S", "bl", "use", u))
    ok(t.run("-S", "bl", "use", u))
    ok(t.run("-S", "bl", "use", u))
    path = log_path(t)
    good = open(path, "rb").read()
    # a foreign format line
    bad = b"SQLite format 3\n" + good.split(b"\n", 1)[1]
    open(path, "wb").write(bad)
    for args in (("session", "show"), ("use", u), ("env", "A=1"), ("cd",)):
        r = fails(t.run("-S", "bl", *args))
        assert path in r.stderr, r
        assert open(path, "rb").read() == bad, "log overwritten by %r" % (args,)
    # a corrupt record in the middle: skipped with a warning naming the
    # file and line, the rest kept, the file left to the next writer
    # (design.md §3; more in e2e_store.py)
    lines = good.split(b"\n")
    lines[2] = lines[2].replace(b"use", b"usf", 1)
    bad = b"\n".join(lines)
    open(path, "wb").write(bad)
    for args in (("session", "show"), ("session", "list")):
        r = ok(t.run("-S", "bl", *args))
        assert "%s:3:" % path in r.stderr, r
        assert open(path, "rb").read() == bad, "log overwritten"
    open(path, "wb").write(good)
    assert len(show(t, "bl")) == 3
    # no permission (root reads anything: then only the directory case)
    os.chmod(path, 0)
    if not os.access(path, os.R_OK):
        r = fails(t.run("-S", "bl", "session", "show"))
        assert path in r.stderr, r
    os.chmod(path, 0o600)
    # the log's place taken by a directory
    os.rename(path, path + ".saved")
    os.mkdir(path)
    r = fails(t.run("-S", "bl", "use", u))
    assert path in r.stderr, r
    os.rmdir(path)
    os.rename(path + ".saved", path)
    assert len(show(t, "bl")) == 3


def test_log_file_mode_and_session_db(t):
    u = img(t, "ubuntu:latest")
    ok(t.run("-S", "m", "use", u))
    assert os.stat(log_path(t)).st_mode & 0o777 == 0o600
    db = os.path.join(t.tmp, "elsewhere", "s.log")
    ok(t.run("-S", "m2", "use", u, env={"CONTREE_SESSION_DB": db}))
    assert os.path.exists(db) and os.stat(db).st_mode & 0o777 == 0o600
    r = ok(t.run("-f", "json", "session", "list",
                 env={"CONTREE_SESSION_DB": db}))
    assert [x["session_key"] for x in rows(r)] == ["m2"], r
    r = ok(t.run("-f", "json", "session", "list"))
    assert [x["session_key"] for x in rows(r)] == ["m"], r


def test_pending_files_lifetime(t):
    """Staged files go with the next run and are consumed by it; they are
    derived from history (cli.md §7.4), so rollback brings them back."""
    a = img(t, "alpine:3.19")
    ok(t.run("-S", "pf", "use", a))
    one = t.write("one.txt", "one\n")
    two = t.write("two.txt", "two\n")
    ok(t.run("-S", "pf", "file", "cp", one, "/app/a.txt"))
    ok(t.run("-S", "pf", "file", "cp", one, "/app/b.txt"))
    ok(t.run("-S", "pf", "file", "cp", two, "/app/a.txt"))   # newest wins
    # a use of another image does not drop them (peer quirk, kept)
    ok(t.run("-S", "pf", "use", "tag:busybox:latest"))
    ok(t.run("-S", "pf", "env", "K=V"))
    s1 = hashlib.sha256(b"one\n").hexdigest()
    s2 = hashlib.sha256(b"two\n").hexdigest()
    uuids = {s: t.fake.call("GET", "/v1/files/" + s).json["uuid"]
             for s in (s1, s2)}
    t.fake.clear_requests()
    r = ok(t.run("-S", "pf", "run", "true"))
    spawn = t.fake.requests("POST", "/v1/instances")
    assert len(spawn) == 1, spawn
    body = spawn[0]["json"]
    files = body.get("files") or {}
    assert set(files) == {"/app/a.txt", "/app/b.txt"}, body
    for path, spec in files.items():
        assert spec["mode"] == "0644" and spec["uid"] == 0 and \
            spec["gid"] == 0, spec
    assert files["/app/a.txt"]["uuid"] == uuids[s2], (files, uuids)
    assert files["/app/b.txt"]["uuid"] == uuids[s1], (files, uuids)
    assert body.get("env", {}).get("K") == "V", body
    # consumed: the next run sends none
    t.fake.clear_requests()
    ok(t.run("-S", "pf", "run", "true"))
    body = t.fake.requests("POST", "/v1/instances")[0]["json"]
    assert not body.get("files"), body
    # rolling back past both runs makes them pending again
    ok(t.run("-S", "pf", "session", "rollback", "-2"))
    t.fake.clear_requests()
    ok(t.run("-S", "pf", "run", "true"))
    body = t.fake.requests("POST", "/v1/instances")[0]["json"]
    assert set(body.get("files") or {}) == {"/app/a.txt", "/app/b.txt"}, body
