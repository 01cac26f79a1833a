"""e2e_run.py - `contree run` and `session wait` against the fake API
(which really executes the commands): modes, flags, files and uploads,
output bytes, session recording, faults, Ctrl-C."""

import base64
import json
import os
import re
import select
import signal
import subprocess
import time
from harness import ok

S = ("-S", "t1")
FAST = {"CONTREE_RETRY_SCALE": "0.001"}


def start(t):
    r = t.run(*S, "use", "tag:alpine:3.19")
    assert r.code == 0, r
    return r


def spawns(t):
    return [q for q in t.fake.requests("POST", "/v1/instances")]


def last_spawn(t):
    """The last spawn request as the user's flags made it: every spawn
    carries its own marker (CONTREE_SPAWN_ID, 32 hex digits) in env,
    checked and taken out here; an env left empty is dropped."""
    s = spawns(t)
    assert s, "no spawn request was sent"
    body = dict(s[-1]["json"])
    env = dict(body.get("env") or {})
    mark = env.pop("CONTREE_SPAWN_ID", "")
    assert re.fullmatch(r"[0-9a-f]{32}", mark), body
    if env:
        body["env"] = env
    else:
        body.pop("env", None)
    return body


def history(t):
    r = t.run(*S, "-f", "json", "session", "show", "-a")
    assert r.code == 0, r
    return [json.loads(x) for x in r.out.splitlines() if x.strip()]


def branches(t):
    r = t.run(*S, "-f", "json", "session", "branch")
    assert r.code == 0, r
    return {json.loads(x)["branch"] for x in r.out.splitlines() if x.strip()}


def posts(t):
    return [q for q in t.fake.requests() if q["method"] == "POST"]


# ---- modes and basic output ------------------------------------------------

def test_exit_code_and_streams(t):
    start(t)
    r = t.run(*S, "run", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.code == 7, r
    assert r.out == b"out\n", r
    assert r.err == b"err\n", r
    body = last_spawn(t)
    assert body["command"] == "sh" and body["args"] == ["-c", "echo out; echo err >&2; exit 7"], body
    assert body["shell"] is False and body["disposable"] is False, body
    assert body["hostname"] == "linuxkit" and body["timeout"] == 120, body
    assert body["truncate_output_at"] == 65536, body
    for k in ("cwd", "env", "files", "stdin", "preserve_env"):
        assert k not in body, (k, body)


def test_runs_build_on_each_other(t):
    start(t)
    r = t.run(*S, "run", "-s", "echo first > /root/note.txt")
    assert r.code == 0, r
    r = t.run(*S, "run", "cat", "/root/note.txt")
    assert r.code == 0 and r.out == b"first\n", r
    h = history(t)
    assert [e["kind"] for e in h] == ["use", "run", "run"], h
    assert h[1]["parent_id"] == h[0]["id"] and h[2]["parent_id"] == h[1]["id"], h
    assert h[1]["title"] == "echo first > /root/note.txt", h
    assert h[2]["title"] == "cat /root/note.txt", h
    ops = [e["operation"] for e in h[1:]]
    assert all(len(o) == 36 for o in ops), h
    # the second run started from the first one's image
    s = spawns(t)
    assert s[1]["json"]["image"] == h[1]["image"], (s[1]["json"], h)


def test_nonzero_exit_still_recorded(t):
    start(t)
    r = t.run(*S, "run", "-s", "touch /root/x; exit 3")
    assert r.code == 3, r
    assert [e["kind"] for e in history(t)] == ["use", "run"]


def test_binary_output_byte_exact(t):
    start(t)
    r = t.run(*S, "run", "-s", r"printf '\000\377\376abc\033[2J\r'")
    assert r.code == 0, r
    # stdout is a pipe: the bytes exactly, no escape cleaning, no newline
    # added (design.md §1)
    assert r.out == b"\x00\xff\xfeabc\x1b[2J\r", r.out
    r = t.run(*S, "run", "-s", "printf no-newline; printf err >&2")
    assert r.out == b"no-newline" and r.err == b"err", r


def test_multi_megabyte_output(t):
    start(t)
    n = 3 * 1024 * 1024
    r = t.run(*S, "run", "-T", str(n + 10), "-s",
              "dd if=/dev/zero bs=1024 count=3072 2>/dev/null | tr '\\0' 'z'; printf '\\377'")
    assert r.code == 0, r.err
    assert len(r.out) == n + 1, len(r.out)
    assert r.out[:n] == b"z" * n and r.out[n:] == b"\xff"


def test_unicode_output(t):
    start(t)
    text = "héllo ✓ 日本 😀"
    r = t.run(*S, "run", "echo", text)
    assert r.code == 0, r
    assert r.out == (text + "\n").encode(), r.out
    assert last_spawn(t)["args"] == [text]


def test_direct_mode_everything_after_command(t):
    start(t)
    r = t.run(*S, "run", "echo", "-t", "5", "--", "-e")
    assert r.code == 0, r
    body = last_spawn(t)
    assert body["command"] == "echo" and body["args"] == ["-t", "5", "--", "-e"], body
    assert r.out == b"-t 5 -- -e\n", r


def test_shell_mode_quoting(t):
    start(t)
    r = t.run(*S, "run", "-s", "echo $((1+2)) | tr 3 4")
    assert r.code == 0 and r.out == b"4\n", r
    assert last_spawn(t)["command"] == "echo $((1+2)) | tr 3 4"
    assert last_spawn(t)["shell"] is True and "args" not in last_spawn(t)
    r = t.run(*S, "run", "-s", "echo", "a b", "it's", "", "ok_@%+=:,./-")
    assert r.code == 0, r
    assert last_spawn(t)["command"] == \
        "echo 'a b' 'it'\"'\"'s' '' ok_@%+=:,./-", last_spawn(t)
    assert r.out == b"a b it's  ok_@%+=:,./-\n", r


def test_interpreter_mode(t):
    start(t)
    script = t.write("job.sh", b"#!/usr/bin/env -S contree run -I\r\n"
                     b"echo \"args: $*\"\r\ncat /etc/hostname >/dev/null; echo done\r\n")
    r = t.run(*S, "run", "-I", script, "A", "B C")
    assert r.code == 0, r
    assert r.out == b"args: A B C\ndone\n", r
    body = last_spawn(t)
    assert body["command"] == "/bin/sh" and body["shell"] is True, body
    assert body["args"] == ["-s", "--", "A", "B C"], body
    assert body["stdin"]["encoding"] == "base64", body
    assert base64.b64decode(body["stdin"]["value"]) == \
        b"echo \"args: $*\"\ncat /etc/hostname >/dev/null; echo done\n"
    h = history(t)
    assert h[-1]["title"] == "%s A B C" % script, h
    # no arguments: just -s
    r = t.run(*S, "run", "-I", script)
    assert r.code == 0 and last_spawn(t)["args"] == ["-s"], r


def test_interpreter_without_body_uses_stdin(t):
    start(t)
    script = t.write("empty.sh", b"#!/bin/sh\n")
    r = t.run(*S, "run", "-I", script, stdin=b"echo from-pipe\n")
    assert r.code == 0 and r.out == b"from-pipe\n", r


def test_piped_stdin(t):
    start(t)
    data = b"line one\n\x00\xffbinary\n"
    r = t.run(*S, "run", "cat", stdin=data)
    assert r.code == 0, r
    assert r.out == data, r.out
    body = last_spawn(t)
    assert body["stdin"] == {"value": base64.b64encode(data).decode(),
                             "encoding": "base64"}, body
    # /dev/null: nothing to send
    r = t.run(*S, "run", "true")
    assert r.code == 0 and "stdin" not in last_spawn(t), last_spawn(t)


# ---- flags -------------------------------------------------------------------

def test_env_cwd_hostname_timeout_truncate(t):
    start(t)
    assert t.run(*S, "env", "FROM_SESSION=s", "OVER=old").code == 0
    r = t.run(*S, "run", "-e", "A=1", "-e", "EMPTY", "-e", "OVER=new", "-e", "EQ=a=b",
              "-C", "/tmp", "-H", "box", "-t", "30", "-T", "1000",
              "--", "sh", "-c", "pwd; echo $A,$EMPTY,$OVER,$FROM_SESSION,$EQ")
    assert r.code == 0, r
    assert r.out == b"/tmp\n1,,new,s,a=b\n", r
    body = last_spawn(t)
    assert body["env"] == {"FROM_SESSION": "s", "OVER": "new", "A": "1",
                           "EMPTY": "", "EQ": "a=b"}, body
    assert body["cwd"] == "/tmp" and body["hostname"] == "box", body
    assert body["timeout"] == 30 and body["truncate_output_at"] == 1000, body


def test_session_cwd(t):
    start(t)
    assert t.run(*S, "cd", "/etc").code == 0
    r = t.run(*S, "run", "pwd")
    assert r.code == 0 and r.out == b"/etc\n", r
    assert last_spawn(t)["cwd"] == "/etc"
    r = t.run(*S, "run", "-C", "/root", "pwd")
    assert r.out == b"/root\n", r


def test_truncation_reported(t):
    start(t)
    r = t.run(*S, "run", "-T", "10", "-s", "echo 0123456789abcdef")
    assert r.code == 0, r
    assert r.out == b"0123456789", r
    assert "[WARNING]" in r.stderr and "truncated" in r.stderr, r.stderr


def test_timeout_warning(t):
    start(t)
    r = t.run(*S, "run", "-t", "1", "sleep", "10")
    assert "[WARNING]" in r.stderr and "timed out after 1 second\n" in r.stderr, r
    assert r.code == 137, r


def test_failed_operation(t):
    start(t)
    before = history(t)
    t.fake.config(fail_ops=1, fail_error="OOM killed")
    r = t.run(*S, "run", "true")
    assert r.code == 1, r
    assert "[CRITICAL]" in r.stderr and "FAILED" in r.stderr and "OOM killed" in r.stderr, r
    assert history(t) == before


def test_preserve_env_not_resent(t):
    start(t)
    r = t.run(*S, "run", "--preserve-env", "-e", "KEEP=1", "-s", "echo $KEEP")
    assert r.code == 0 and r.out == b"1\n", r
    assert last_spawn(t)["env"] == {"KEEP": "1"} and last_spawn(t)["preserve_env"] is True
    r = t.run(*S, "run", "-e", "KEEP=1", "-s", "echo $KEEP")
    assert r.code == 0 and r.out == b"1\n", r
    assert "env" not in last_spawn(t), last_spawn(t)
    r = t.run(*S, "run", "-e", "KEEP=2", "-s", "echo $KEEP")
    assert r.out == b"2\n" and last_spawn(t)["env"] == {"KEEP": "2"}, r


def test_use_option(t):
    t.fake
    r = t.run(*S, "run", "--use", "tag:alpine:3.19", "cat", "/etc/alpine-release")
    assert r.code == 0, r
    h = history(t)
    assert [e["kind"] for e in h] == ["use", "run"], h
    assert h[0]["title"] == "tag:alpine:3.19" and h[1]["parent_id"] == h[0]["id"], h
    assert last_spawn(t)["image"] == h[0]["image"]


def test_requires_session(t):
    t.fake
    r = t.run(*S, "run", "true")
    assert r.code == 1 and "no active session" in r.stderr.lower(), r
    assert t.fake.requests() == [], t.fake.requests()


def test_structured_formats(t):
    start(t)
    for fmt in ("json", "json-pretty", "plain", "toml", "csv", "tsv", "table"):
        r = t.run(*S, "-f", fmt, "run", "-s", "echo hi-%s; exit 2" % fmt)
        assert r.code == 2, (fmt, r)
        assert ("hi-%s" % fmt) in r.stdout, (fmt, r)
        assert "Traceback" not in r.stderr and "[ERROR]" not in r.stderr, (fmt, r)
    r = t.run(*S, "-f", "json", "run", "echo", "x")
    row = json.loads(r.out)
    assert row["stdout"] == "x\n" and row["stderr"] == "" and row["exit_code"] == 0, row
    assert row["status"] == "SUCCESS" and len(row["image"]) == 36, row
    assert list(row)[-1] == "error", row
    # every run above was recorded, csv/tsv/table included
    assert [e["kind"] for e in history(t)] == ["use"] + ["run"] * 8


# ---- files -------------------------------------------------------------------

def test_file_attributes(t):
    start(t)
    f = t.write("conf.ini", b"[x]\ny=1\n")
    r = t.run(*S, "run", "-F", f + ":/etc/app/conf.ini:u1000:g100:m0640",
              "-F", f, "cat", "/etc/app/conf.ini")
    assert r.code == 0 and r.out == b"[x]\ny=1\n", r
    files = last_spawn(t)["files"]
    assert files["/etc/app/conf.ini"]["uid"] == 1000, files
    assert files["/etc/app/conf.ini"]["gid"] == 100, files
    assert files["/etc/app/conf.ini"]["mode"] == "0640", files
    # default destination: the host path as written, own stat values
    st = os.stat(f)
    assert files[f] == {"uuid": files["/etc/app/conf.ini"]["uuid"], "uid": st.st_uid,
                        "gid": st.st_gid, "mode": "%04o" % (st.st_mode & 0o7777)}, files
    meta = t.fake.image_meta(history(t)[-1]["image"])
    m = meta["/etc/app/conf.ini"]
    assert (m["uid"], m["gid"], m["mode"] & 0o7777) == (1000, 100, 0o640), m


def test_directory_with_excludes(t):
    start(t)
    d = os.path.join(t.tmp, "proj")
    for rel, data in {"a.txt": "a", "sub/b.txt": "b", "sub/c.pyc": "c",
                      ".hidden": "h", "node_modules/m.js": "m", "sub/x.log": "l",
                      "keep/y.log": "y", "build/o": "o", "deep/er/z.txt": "z"}.items():
        t.write("proj/" + rel, data)
    os.chmod(os.path.join(d, "a.txt"), 0o755)
    r = t.run(*S, "run", "-F", d + ":/app", "--file-excludes", "*.log", "deep",
              "-s", "cd /app && find . -type f | sort")
    assert r.code == 0, r
    files = last_spawn(t)["files"]
    assert sorted(files) == ["/app/a.txt", "/app/sub/b.txt"], files
    assert files["/app/a.txt"]["mode"] == "0755", files
    assert r.out == b"./a.txt\n./sub/b.txt\n", r


def test_upload_dedup_and_cache(t):
    start(t)
    f = t.write("data.bin", os.urandom(100000))
    t.fake.clear_requests()
    r = t.run(*S, "run", "-F", f + ":/d.bin", "md5sum", "/d.bin")
    assert r.code == 0, r
    assert len(t.fake.requests("POST", "/v1/files")) == 1
    assert len([q for q in t.fake.requests("GET") if "/v1/files/" in q["path"]]) == 1
    # unchanged file: neither hashed against the server nor uploaded
    t.fake.clear_requests()
    r2 = t.run(*S, "run", "-F", f + ":/d.bin", "md5sum", "/d.bin")
    assert r2.code == 0 and r2.out == r.out, (r, r2)
    assert not [q for q in t.fake.requests() if "/v1/files" in q["path"]], t.fake.requests()
    # same content, new mtime: looked up by hash, found, not uploaded
    os.utime(f, (time.time() + 5, time.time() + 5))
    t.fake.clear_requests()
    r3 = t.run(*S, "run", "-F", f + ":/d.bin", "true")
    assert r3.code == 0, r3
    assert len([q for q in t.fake.requests("GET") if "/v1/files/" in q["path"]]) == 1
    assert t.fake.requests("POST", "/v1/files") == []
    assert "Reusing" in r3.stderr, r3.stderr
    cache = os.path.join(t.home, ".config", "contree", "cli", "uploads")
    assert os.stat(cache).st_mode & 0o777 == 0o600


def test_pending_files_merged(t):
    start(t)
    a = t.write("a.txt", "staged\n")
    b = t.write("b.txt", "explicit\n")
    r = t.run(*S, "file", "cp", a, "/srv/a.txt")
    assert r.code == 0, r
    r = t.run(*S, "file", "cp", a, "/srv/b.txt")
    assert r.code == 0, r
    r = t.run(*S, "run", "-F", b + ":/srv/b.txt", "cat", "/srv/a.txt", "/srv/b.txt")
    assert r.code == 0 and r.out == b"staged\nexplicit\n", r
    assert sorted(last_spawn(t)["files"]) == ["/srv/a.txt", "/srv/b.txt"]
    # consumed by the run
    r = t.run(*S, "run", "true")
    assert "files" not in last_spawn(t), last_spawn(t)


def test_local_errors_before_any_request(t):
    start(t)
    ok = t.write("ok.txt", "x")
    t.fake.clear_requests()
    bad = [
        ("-F", os.path.join(t.tmp, "missing.txt")),
        ("-F", ok + ":/x:zzz"),
        ("-F", ok + ":/x:m99"),
        ("-F", ok + ":/x:/y"),
        ("-F", ok, "-F", "/dev/null"),
        ("-e", "=value"),
        ("-F", ok, "-e", ""),
        ("-I", os.path.join(t.tmp, "no-script.sh")),
    ]
    for args in bad:
        r = t.run(*S, "run", *args, "true")
        assert r.code == 1, (args, r)
        assert "[ERROR]" in r.stderr, (args, r)
    assert t.fake.requests() == [], t.fake.requests()
    os.mkdir(os.path.join(t.tmp, "locked"))
    t.write("locked/sub/f", "x")
    os.chmod(os.path.join(t.tmp, "locked", "sub"), 0)
    try:
        if os.geteuid() != 0:
            r = t.run(*S, "run", "-F", os.path.join(t.tmp, "locked") + ":/l", "true")
            assert r.code == 1 and t.fake.requests() == [], r
    finally:
        os.chmod(os.path.join(t.tmp, "locked", "sub"), 0o755)


# ---- disposable, detached, session wait ---------------------------------------

def test_disposable(t):
    start(t)
    before = history(t)
    r = t.run(*S, "run", "-D", "-s", "echo gone > /root/d.txt; echo ok")
    assert r.code == 0 and r.out == b"ok\n", r
    assert last_spawn(t)["disposable"] is True
    h = history(t)
    assert len(h) == len(before) + 1 and h[-1]["kind"] == "run-disposable", h
    assert h[-1]["image"] == before[-1]["image"], h
    op = h[-1]["operation"]
    assert "disposable-" + op in branches(t)
    r = t.run(*S, "use")
    assert r.code == 0 and before[-1]["image"] in r.stdout, r
    r = t.run(*S, "run", "cat", "/root/d.txt")
    assert r.code != 0, r


def test_detach_and_session_wait(t):
    start(t)
    r = t.run(*S, "run", "-d", "-s", "sleep 1; echo later > /root/l.txt; exit 0")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["UUID", "STATUS"], r.stdout
    op = lines[1].split()[0]
    assert lines[1].split()[1] == "PENDING", r.stdout
    assert "detached-" + op in branches(t)
    h = history(t)
    assert h[-1]["kind"] == "run-detached" and h[-1]["operation"] == op, h
    assert [e["kind"] for e in h].count("run") == 0
    r = t.run(*S, "-f", "json", "session", "wait")
    assert r.code == 0, r
    row = json.loads(r.out)
    assert row["uuid"] == op and row["status"] == "SUCCESS", row
    assert row["title"] == "sleep 1; echo later > /root/l.txt; exit 0", row
    h = history(t)
    assert h[-1]["kind"] == "run" and h[-1]["operation"] == op, h
    r = t.run(*S, "run", "cat", "/root/l.txt")
    assert r.out == b"later\n", r
    # nothing pending any more
    r = t.run(*S, "session", "wait")
    assert r.code == 0 and "No active operations" in r.stderr, r


def test_detach_disposable_no_duplicate(t):
    start(t)
    r = t.run(*S, "-f", "json", "run", "-d", "-D", "echo", "x")
    assert r.code == 0, r
    op = json.loads(r.out)["uuid"]
    assert "disposable-" + op in branches(t)
    n = len(history(t))
    r = t.run(*S, "session", "wait")
    assert r.code == 0, r
    h = history(t)
    assert len(h) == n, h
    assert [e["kind"] for e in h].count("run-disposable") == 1, h


def test_session_wait_exit_status_and_args(t):
    start(t)
    r = t.run(*S, "-f", "json", "run", "-d", "-s", "exit 5")
    op = json.loads(r.out)["uuid"]
    r = t.run(*S, "-f", "json", "session", "wait", op)
    assert r.code == 5, r
    assert json.loads(r.out)["exit_code"] == 5
    # with arguments nothing is recorded and the pending list stays
    assert history(t)[-1]["kind"] == "run-detached"
    r = t.run(*S, "session", "wait")
    assert r.code == 5, r
    # a non-zero exit is not turned into a run entry
    assert history(t)[-1]["kind"] == "run-detached"


# ---- concurrency ----------------------------------------------------------------

def test_session_moved_meanwhile(t):
    start(t)
    env = t.env()
    p = subprocess.Popen([t.binary(), *S, "run", "-s", "sleep 6; echo slow"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=t.home)
    # the slow run has read the tip once its operation executes (not
    # after a fixed 0.5 s); 6 s outlasts the fast run under load
    t.fake.executing()
    r = t.run(*S, "run", "echo", "fast")
    assert r.code == 0, r
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert b"forked" in err, err
    h = history(t)
    kinds = [e["kind"] for e in h]
    assert kinds == ["use", "run", "run"], h
    # the slow run's parent is the entry it started from
    assert h[2]["parent_id"] == h[0]["id"] and h[1]["parent_id"] == h[0]["id"], h
    assert h[2]["title"] == "sleep 6; echo slow", h


# ---- faults ---------------------------------------------------------------------

def test_lost_spawn_response_not_resent(t):
    start(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="lose")
    r = t.run(*S, "run", "echo", "once", env=FAST)
    assert len(spawns(t)) == 1, spawns(t)
    ops = t.fake.call("GET", "/v1/operations", query={"kind": "instance"}).json
    assert len(ops) == 1, ops
    if r.code == 0:
        assert r.out == b"once\n" and "Found operation" in r.stderr, r
        assert history(t)[-1]["operation"] == ops[0]["uuid"]
    else:
        assert "MAY have started" in r.stderr, r


def test_dropped_spawn_is_retried_once_safe(t):
    start(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=429,
                 retry_after=0)
    r = t.run(*S, "run", "echo", "ok", env=FAST)
    assert r.code == 0 and r.out == b"ok\n", r
    ops = t.fake.call("GET", "/v1/operations", query={"kind": "instance"}).json
    assert len(ops) == 1, ops


def test_spawn_500_not_resent(t):
    start(t)
    before = history(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="status", status=500)
    r = t.run(*S, "run", "echo", "x", env=FAST)
    assert r.code == 1 and "500" in r.stderr, r
    assert len(spawns(t)) == 1
    assert history(t) == before


def test_events_stream_cut_resumes(t):
    start(t)
    t.fake.fault(path="/events$", kind="sse_cut", after=1)
    r = t.run(*S, "run", "-s", "echo a; sleep 0.3; echo b")
    assert r.code == 0 and r.out == b"a\nb\n", r
    ev = t.fake.requests("GET")
    ev = [q for q in ev if q["path"].endswith("/events")]
    assert len(ev) >= 2, ev
    assert any("last-event-id" in {k.lower() for k in q["headers"]} for q in ev[1:]), ev


def test_events_sse_error_resumes(t):
    start(t)
    t.fake.fault(path="/events$", kind="sse_error", after=2, message="log gone")
    r = t.run(*S, "run", "-s", "echo a; sleep 0.3; echo b")
    assert r.code == 0 and r.out == b"a\nb\n", r


def test_events_unavailable_polls(t):
    start(t)
    t.fake.fault(path="/events$", kind="status", status=404, count=-1)
    r = t.run(*S, "run", "-s", "sleep 0.5; echo polled")
    assert r.code == 0 and r.out == b"polled\n", r
    assert len([q for q in t.fake.requests("GET") if q["path"].endswith("/events")]) == 1


def test_status_500_then_success(t):
    start(t)
    t.fake.fault(path="/v1/operations/[0-9a-f-]+$", method="GET", kind="status",
                 status=500, count=1)
    # -f json needs the full record, so the GET (and its retry) happens
    r = t.run("-f", "json", *S, "run", "echo", "ok", env=FAST)
    assert r.code == 0 and json.loads(r.out)["stdout"] == "ok\n", r
    assert "[WARNING]" in r.stderr and "500" in r.stderr, r.stderr


def test_default_run_uses_two_requests(t):
    """design.md §4: spawn, then the events stream; the stream carries
    output, exit code and result image, so no GET is needed."""
    start(t)
    t.fake.clear_requests()
    r = t.run(*S, "run", "-s", "echo out; echo err >&2; exit 3")
    assert r.code == 3 and r.out == b"out\n" and r.err == b"err\n", r
    reqs = [(q["method"], q["path"]) for q in t.fake.requests()]
    assert len(reqs) == 2 and reqs[0][0] == "POST" and \
        reqs[1][1].endswith("/events"), reqs
    # the result image was recorded from the completion event
    h = history(t)
    assert h[-1]["kind"] == "run" and h[-1]["image"], h


def test_upload_failure_retried(t):
    start(t)
    f = t.write("u.txt", "upload me\n")
    t.fake.fault(path="/v1/files$", method="POST", kind="status", status=503, count=1)
    r = t.run(*S, "run", "-F", f + ":/u.txt", "cat", "/u.txt", env=FAST)
    assert r.code == 0 and r.out == b"upload me\n", r
    assert len(t.fake.requests("POST", "/v1/files")) == 2


def test_server_error_mid_run_leaves_session(t):
    start(t)
    t.run(*S, "run", "true")
    before = t.run(*S, "session", "show", "-a")
    t.fake.fault(path="/v1/operations/", method="GET", kind="status", status=500,
                 count=-1)
    r = t.run(*S, "run", "-s", "sleep 0.2; touch /root/z", env=FAST, timeout=120)
    assert r.code == 1 and "[ERROR]" in r.stderr, r
    t.fake.admin("DELETE", "faults")
    after = t.run(*S, "session", "show", "-a")
    assert after.out == before.out, (before.out, after.out)


def sleeping_run(t):
    """Start `contree run sleep 30` in the background; wait until its
    operation executes.  -> (Popen, operation uuid)"""
    p = subprocess.Popen([t.binary(), *S, "run", "sleep", "30"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=t.env(), cwd=t.home)
    op = t.fake.executing()[0]["uuid"]
    time.sleep(0.2)
    return p, op


def test_ctrl_c_cancels(t):
    start(t)
    before = history(t)
    t.fake.clear_requests()
    p, op = sleeping_run(t)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, err)
    assert b"cancelled" in err and b"User interrupted" in err, err
    assert [q for q in t.fake.requests("DELETE") if q["path"].endswith(op)], t.fake.requests()
    assert t.fake.wait_op(op)["status"] == "CANCELLED"
    assert history(t) == before


def test_sigterm_and_sighup_cancel_as_ctrl_c(t):
    """timeout(1), a CI runner or a closed terminal: the operation is
    cancelled as on Ctrl-C, nothing recorded, and the process then dies
    of the signal (status -sig to Python, 128+sig to a shell)."""
    start(t)
    before = history(t)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        t.fake.clear_requests()
        p, op = sleeping_run(t)
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
        assert p.returncode == -sig, (sig, p.returncode, err)
        assert b"cancelled" in err, err
        assert [q for q in t.fake.requests("DELETE")
                if q["path"].endswith(op)], t.fake.requests()
        assert t.fake.wait_op(op)["status"] == "CANCELLED"
        assert history(t) == before


def test_ignored_signals_are_left_ignored(t):
    """Under nohup a SIGHUP must not stop the run, nor a terminal's
    Ctrl-C a script's background job (its shell ignores SIGINT)."""
    start(t)
    for name, sig in (("HUP", signal.SIGHUP), ("INT", signal.SIGINT)):
        t.fake.clear_requests()
        p = subprocess.Popen(["sh", "-c", "trap '' %s; exec \"$0\" \"$@\""
                              % name, t.binary(), *S, "run", "-s",
                              "sleep 1; echo done"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=t.env(), cwd=t.home)
        t.fake.executing()
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0 and out == b"done\n", \
            (name, p.returncode, out, err)
        assert not t.fake.requests("DELETE"), name


def test_cancelled_elsewhere_exits_1(t):
    """A run cancelled from outside (kill): the record has no result, so
    the exit status is 1 (cli.md §9.2.5), although the events stream saw
    the process die with 137; nothing is recorded."""
    start(t)
    before = history(t)
    p, op = sleeping_run(t)
    assert t.run(*S, "kill", op).code == 0
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1, (p.returncode, err)
    assert b"[CRITICAL]" in err and b"CANCELLED" in err, err
    assert history(t) == before


def pty_run(t, *args):
    """Run contree with stdout and stderr on a terminal; (status, bytes).
    This process keeps the terminal's other end open until contree has
    exited and everything it wrote is read: Linux hands a pty's last
    bytes to the reader asynchronously, and a reader that stops at the
    first EIO after the writer's exit can miss them (a CI failure)."""
    import pty
    master, slave = pty.openpty()
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        import fcntl
        import termios
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for k in (0, 1, 2):
            os.dup2(slave, k)
        os.chdir(t.home)
        os.execve(t.binary(), [t.binary(), *args], t.env())
    out = b""
    st = None
    while True:
        ready = select.select([master], [], [], 0.2)[0]
        if ready:
            out += os.read(master, 4096)
            continue
        if st is None:
            pid_, status = os.waitpid(pid, os.WNOHANG)
            if pid_:
                st = status
            continue
        break   # exited, and nothing more for 0.2 s
    os.close(slave)
    os.close(master)
    return os.waitstatus_to_exitcode(st), out


def test_terminal_output_cleaned(t):
    """Escape cleaning happens only when the destination is a terminal
    (pipes get the bytes unchanged: test_binary_output_byte_exact)."""
    start(t)
    st, out = pty_run(t, *S, "run", "-s",
                      r"printf 'a\033[2Jb\033[31mred\033[0m\033]0;title\007c\0337d'")
    assert st == 0, out
    assert out == b"ab\x1b[31mred\x1b[0mcd\r\n", out


def test_terminal_newline_after_cleaning(t):
    """The final-newline rule and "nothing for an empty stream" apply to
    the cleaned text (cli.md §9.2.4): a trailing cursor sequence after the
    last newline adds no blank line; a stream of escapes alone prints
    nothing."""
    start(t)
    st, out = pty_run(t, *S, "run", "-s", r"printf 'x\n\033[?25h'")
    assert st == 0 and out == b"x\r\n", out
    st, out = pty_run(t, *S, "run", "-s", r"printf '\033[2J'")
    assert st == 0 and out == b"", out


def test_store_full_names_the_unrecorded_image(t):
    """The session log cannot grow (file size limit: EFBIG, as on a full
    disk): the run's output is still printed, the exit status is 1, and
    the one-line error names the operation and its result image so the
    work is not lost; the log stays valid and the next run records."""
    import resource
    start(t)
    ok(t.run(*S, "run", "true"))
    d = os.path.join(t.home, ".config", "contree", "cli", "sessions")
    sizes = [os.path.getsize(os.path.join(r, f))
             for r, _, fs in os.walk(d) for f in fs]
    cap = max(sizes) + 16                   # a partial record, then EFBIG

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    p = subprocess.run([t.binary(), *S, "run", "sh", "-c",
                        "echo lost > /f; echo out"], env=t.env(),
                       cwd=t.home, capture_output=True, preexec_fn=limit,
                       timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.returncode, err)
    assert p.stdout == b"out\n", p.stdout
    ops = t.fake.call("GET", "/v1/operations",
                      query={"kind": "instance", "limit": 1000}).json
    lost = [o for o in ops if "echo lost" in json.dumps(
        t.fake.call("GET", "/v1/operations/" + o["uuid"]).json)]
    assert len(lost) == 1, ops
    op, img = lost[0], lost[0]["result_image_uuid"]
    assert img and op["uuid"] in err and ("contree use %s" % img) in err, err
    assert err.count("\n") == 1, err
    # the log is still valid: the next run is recorded on top of `true`
    ok(t.run(*S, "run", "true"))
    show = ok(t.run(*S, "session", "show"))
    assert "echo lost" not in show.stdout and "warning" not in \
        show.stderr.lower(), show
    ok(t.run(*S, "use", img))
    assert ok(t.run(*S, "cat", "/f")).stdout == "lost\n"
