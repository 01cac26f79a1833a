"""e2e_explore.py - contree explore: N shell commands from one image at
the same time, each result a branch PREFIX-i off the entry they started
from; the active branch does not move; outputs as they finish, then a
summary; Ctrl-C cancels everything and records nothing; a lost spawn
answer is looked up, never re-sent.  Overlap is read from the fake's
event log: each operation's `init` (started_at) and `shutdown`
(stopped_at) events (api.md §4.5)."""

import json
import os
import signal
import subprocess
import time

from harness import fails, ok, rows

S = ("-S", "ex")


def start(t):
    ok(t.run(*S, "use", "tag:alpine:3.19"))
    return t.fake.image_uuid("alpine:3.19")


def show(t):
    return rows(ok(t.run("-f", "json", *S, "session", "show", "-a")))


def branches(t):
    r = ok(t.run("-f", "json", *S, "session", "branch"))
    return {x["branch"]: x["active"] for x in rows(r)}


def spawns(t):
    return [q for q in t.fake.requests("POST", "/v1/instances")
            if (q["json"] or {}).get("env", {}).get("CONTREE_SPAWN_ID")]


def window(t, op):
    """(started_at, stopped_at) of an operation from its event log."""
    r = t.fake.call("GET", "/v1/operations/%s/events" % op)
    got = {}
    for line in r.body.decode().splitlines():
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            for k in ("started_at", "stopped_at"):
                if k in (ev.get("data") or {}):
                    got[k] = ev["data"][k]
    assert len(got) == 2, (op, got)
    return got["started_at"], got["stopped_at"]


def test_parallel_branches(t):
    img = start(t)
    before = show(t)
    # 3 s each: a job whose spawn lags under load still starts before
    # the others end
    cmds = ["sleep 3; echo one > /f1; echo out-1",
            "sleep 3; echo two > /f2; echo out-2 >&2",
            "sleep 3; echo 3 > /f3; exit 3"]
    r = ok(t.run(*S, "explore", *cmds))
    # each command's output under a header naming its branch
    for i, want in ((1, "out-1"), (3, None)):
        assert "==> explore-%d: %s\n" % (i, cmds[i - 1]) in r.stdout, r
    assert "out-1\n" in r.stdout and "out-2\n" in r.stderr, r
    # the summary table, one line per command, in order
    lines = r.stdout.splitlines()
    head = [k for k, l in enumerate(lines) if l.startswith("BRANCH")]
    assert len(head) == 1, r
    assert lines[head[0]].split() == ["BRANCH", "EXIT_CODE", "STATUS",
                                      "DURATION", "IMAGE", "COMMAND"], r
    table = lines[head[0] + 1:]
    assert [l.split()[0] for l in table] == ["explore-1", "explore-2",
                                             "explore-3"], r
    assert [l.split()[1] for l in table] == ["0", "0", "3"], r
    # they ran at the same time: every start before every end
    ops = [e["operation"] for e in show(t) if e["kind"] == "run"]
    assert len(ops) == 3, show(t)
    w = [window(t, op) for op in ops]
    assert max(s for s, _ in w) < min(e for _, e in w), w
    # branches off the entry they started from; the session did not move
    after = show(t)
    tip = before[-1]
    new = after[len(before):]
    assert [e["parent_id"] for e in new] == [tip["id"]] * 3, new
    assert [e["branches"] for e in new] == ["explore-1", "explore-2",
                                            "explore-3"], new
    assert [e["title"] for e in new] == cmds, new
    assert all(e["image"] != img for e in new), new
    assert branches(t) == {"main": True, "explore-1": False,
                           "explore-2": False, "explore-3": False}
    assert ok(t.run("-f", "json", *S, "use")).stdout.count(img) >= 1
    # the session show display: the fan-out, readably
    r = ok(t.run(*S, "session", "show"))
    assert ("Entry %d forks into 3 branches: explore-1 (%d), explore-2 "
            "(%d), explore-3 (%d)" % (tip["id"], new[0]["id"], new[1]["id"],
                                      new[2]["id"])) in r.stdout, r


def test_jobs_1_runs_one_at_a_time(t):
    start(t)
    r = ok(t.run(*S, "explore", "-j", "1", "sleep 0.5", "sleep 0.5",
                 "sleep 0.5"))
    ops = [e["operation"] for e in show(t) if e["kind"] == "run"]
    w = sorted(window(t, op) for op in ops)
    assert len(w) == 3 and w[0][1] <= w[1][0] and w[1][1] <= w[2][0], w
    # numbering goes on after the existing branches
    r = ok(t.run("-f", "json", *S, "explore", "true"))
    assert rows(r)[0]["branch"] == "explore-4", r
    r = ok(t.run("-f", "json", *S, "explore", "--prefix", "try", "true",
                 "true"))
    assert [x["branch"] for x in rows(r)] == ["try-1", "try-2"], r


def test_json_rows(t):
    img = start(t)
    r = ok(t.run("-f", "json", *S, "explore",
                 "echo hi; echo x > /x; echo err >&2", "exit 5"))
    got = rows(r)
    assert len(got) == 2 and "==>" not in r.stdout, r
    a, b = got
    for k in ("branch", "exit_code", "status", "image", "command", "stdout",
              "stderr", "duration"):
        assert k in a, a
    assert a["branch"] == "explore-1" and a["exit_code"] == 0, a
    assert a["stdout"] == "hi\n" and a["stderr"] == "err\n", a
    assert a["status"] == "SUCCESS" and a["command"] == "echo hi; echo x > /x; echo err >&2"
    assert isinstance(a["duration"], (int, float)) and a["duration"] >= 0, a
    assert b["exit_code"] == 5 and b["branch"] == "explore-2", b
    assert a["image"] != img and len(a["image"]) == 36, a
    # the branch's tip is the result image
    r = ok(t.run("-f", "json", *S, "session", "checkout", "explore-1"))
    assert rows(r)[0]["image"] == a["image"], r
    # every format renders the rows
    for fmt in ("csv", "tsv", "table", "plain", "toml", "json-pretty"):
        r = ok(t.run("-f", fmt, *S, "explore", "-D", "true"))
        assert "true" in r.stdout, (fmt, r)


def test_all_failed_exits_1(t):
    start(t)
    before = show(t)
    r = fails(t.run(*S, "explore", "exit 1", "exit 2"))
    assert "explore-1" in r.stdout and "explore-2" in r.stdout, r
    # exit codes are results too: their images become branches
    assert len(show(t)) == len(before) + 2
    # a failed operation fails its row only
    t.fake.config(fail_ops=1, fail_error="OOM killed")
    r = ok(t.run("-f", "json", *S, "explore", "-j", "1", "true", "true"))
    got = rows(r)
    assert [x["status"] for x in got] == ["FAILED", "SUCCESS"], got
    assert "OOM killed" in got[0]["error"] and got[0]["branch"] == "", got
    assert got[1]["branch"] == "explore-4", got
    assert "explore-3" not in branches(t)
    # the default output's header says so (a user took it for a branch)
    t.fake.config(fail_ops=1, fail_error="OOM killed")
    r = ok(t.run(*S, "explore", "-j", "1", "true", "true"))
    assert "==> explore-5 (no branch): true\n" in r.stdout and \
        "==> explore-6: true\n" in r.stdout, r
    assert "explore-5" not in branches(t) and "explore-6" in branches(t)


def test_disposable_records_nothing(t):
    start(t)
    before = show(t)
    r = ok(t.run("-f", "json", *S, "explore", "-D", "echo a > /x", "true"))
    got = rows(r)
    assert [x["branch"] for x in got] == ["", ""] and got[0]["image"] == "", got
    assert show(t) == before
    assert all(q["json"]["disposable"] is True for q in spawns(t))


def test_ctrl_c_cancels_everything_records_nothing(t):
    start(t)
    before = show(t)
    p = subprocess.Popen([t.binary(), *S, "explore", "sleep 30", "sleep 30",
                          "sleep 30"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=t.env(), cwd=t.home, start_new_session=True)
    ops = t.fake.executing(3, 30)
    assert len(ops) == 3, ops
    time.sleep(0.2)
    os.killpg(p.pid, signal.SIGINT)       # as a terminal's Ctrl-C
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, err)
    assert b"User interrupted" in err, err
    for o in ops:
        assert t.fake.wait_op(o["uuid"])["status"] == "CANCELLED", o
    assert show(t) == before
    assert set(branches(t)) == {"main"}


def test_ctrl_c_to_the_parent_alone(t):
    """kill -INT of contree only: it forwards the interrupt to its jobs;
    a queued command never starts."""
    start(t)
    p = subprocess.Popen([t.binary(), *S, "explore", "-j", "1", "sleep 30",
                          "sleep 30"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=t.env(), cwd=t.home, start_new_session=True)
    ops = t.fake.executing(1, 30)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, err)
    assert t.fake.wait_op(ops[0]["uuid"])["status"] == "CANCELLED"
    assert len(spawns(t)) == 1, "the queued command started"
    assert set(branches(t)) == {"main"}


def test_lost_spawn_answer_is_looked_up(t):
    start(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="lose")
    r = ok(t.run("-f", "json", *S, "explore", "echo $CONTREE_SPAWN_ID",
                 "echo $CONTREE_SPAWN_ID"))
    sent = [q["json"]["env"]["CONTREE_SPAWN_ID"] for q in spawns(t)]
    assert len(sent) == 2 and sent[0] != sent[1], "re-sent or shared marker"
    got = rows(r)
    assert sorted(x["stdout"] for x in got) == sorted(m + "\n" for m in sent)
    assert all(x["status"] == "SUCCESS" and x["branch"] for x in got), got
    assert "Found operation" in r.stderr, r


def test_spawn_refused_fails_its_row_only(t):
    start(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="status",
                 status=400)
    r = ok(t.run("-f", "json", *S, "explore", "-j", "1", "true", "true"))
    got = rows(r)
    assert got[0]["status"] == "ERROR" and got[0]["operation"] == "", got
    assert "400" in got[0]["error"] and got[0]["exit_code"] is None, got
    assert got[1]["status"] == "SUCCESS" and got[1]["branch"], got


def test_checkout_and_run_after_explore(t):
    start(t)
    ok(t.run(*S, "explore", "echo A > /pick", "echo BB > /pick"))
    ok(t.run(*S, "session", "checkout", "explore-2"))
    r = ok(t.run(*S, "run", "cat", "/pick"))
    assert r.stdout == "BB\n", r
    e = show(t)
    assert e[-1]["kind"] == "run" and e[-1]["branches"] == "explore-2", e
    assert e[-1]["parent_id"] == e[-2]["id"], e     # on top of explore-2
    # diff compares the two branches
    r = ok(t.run(*S, "diff", "explore-1", "@-1"))
    assert r.stdout == "C /pick\n", r


def test_from_tag(t):
    start(t)
    before = show(t)
    u = t.fake.image_uuid("ubuntu:latest")
    r = ok(t.run("-f", "json", *S, "explore", "--from", "tag:ubuntu:latest",
                 "cat /etc/os-release", "true"))
    got = rows(r)
    assert "Ubuntu" in got[0]["stdout"], got
    assert all(q["json"]["image"] == u for q in spawns(t))
    new = show(t)[len(before):]
    # a `use` entry for the tag, off the tip, with the runs on it
    assert [e["kind"] for e in new] == ["use", "run", "run"], new
    assert new[0]["image"] == u and new[0]["title"] == "tag:ubuntu:latest"
    assert new[0]["parent_id"] == before[-1]["id"], new
    assert [e["parent_id"] for e in new[1:]] == [new[0]["id"]] * 2, new
    assert branches(t)["main"] is True and len(branches(t)) == 3
    assert show(t)[len(before) - 1]["branches"] == "main"
    # --from a session reference starts from that entry
    r = ok(t.run("-f", "json", *S, "explore", "--from", "explore-1", "true"))
    last = show(t)[-1]
    assert last["parent_id"] == new[1]["id"], last
    fails(t.run(*S, "explore", "--from", "tag:no-such:1", "true"),
          "no-such")


def test_file_uploaded_once(t):
    start(t)
    p = t.write("in.txt", "payload\n")
    r = ok(t.run("-f", "json", *S, "explore", "-F", p + ":/in.txt",
                 "cat /in.txt", "cat /in.txt", "cat /in.txt"))
    assert [x["stdout"] for x in rows(r)] == ["payload\n"] * 3, r
    assert len(t.fake.requests("POST", "/v1/files")) == 1
    files = [q["json"]["files"] for q in spawns(t)]
    assert len(files) == 3 and all(f == files[0] for f in files), files


def test_no_session_and_usage(t):
    r = fails(t.run(*S, "explore", "true"))
    assert "session" in r.stderr, r
    fails(t.run(*S, "explore"), code=2)
    fails(t.run(*S, "explore", "-j", "0", "true"), code=2)
    fails(t.run(*S, "explore", "--prefix", "", "true"), code=2)
    # no session, --from: the session starts there (main), runs off it
    r = ok(t.run("-f", "json", "-S", "fresh", "explore", "--from",
                 "tag:alpine:3.19", "true"))
    e = rows(ok(t.run("-f", "json", "-S", "fresh", "session", "show")))
    assert [x["kind"] for x in e] == ["use", "run"], e
    assert e[0]["branches"] == "main" and e[1]["branches"] == "explore-1", e


def test_session_env_cwd_and_staged_files(t):
    start(t)
    ok(t.run(*S, "env", "A=session", "B=session"))
    ok(t.run(*S, "cd", "/tmp"))
    ok(t.run(*S, "file", "cp", t.write("s.txt", "staged\n"), "/s.txt"))
    r = ok(t.run("-f", "json", *S, "explore", "-e", "B=flag",
                 "echo $A $B; pwd; cat /s.txt", "-e", "C=c"))
    got = rows(r)[0]
    assert got["stdout"] == "session flag\n/tmp\nstaged\n", got
    env = spawns(t)[-1]["json"]["env"]
    assert env["A"] == "session" and env["C"] == "c", env
    # from another entry, the staged files of the tip do not apply
    r = ok(t.run("-f", "json", *S, "explore", "--from", "@",
                 "cat /s.txt 2>/dev/null || echo none"))
    assert rows(r)[0]["stdout"] == "staged\n", r        # @ is the tip
    r = ok(t.run("-f", "json", *S, "explore", "--from", "tag:alpine:3.19",
                 "cat /s.txt 2>/dev/null || echo none"))
    assert rows(r)[0]["stdout"] == "none\n", r
    fails(t.run(*S, "explore", "-e", "=x", "true"), "invalid -e")


def test_concurrent_explores_get_their_own_names(t):
    start(t)
    cmd = [t.binary(), *S, "-f", "json", "explore", "--prefix", "p",
           "sleep 3; echo a > /a", "sleep 3; echo b > /b"]
    ps = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=t.env(), cwd=t.home) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in ps]
    assert all(p.returncode == 0 for p in ps), outs
    names = [json.loads(l)["branch"] for o, _ in outs
             for l in o.decode().splitlines()]
    assert sorted(names) == ["p-1", "p-2", "p-3", "p-4"], outs
    assert sum(b"appeared meanwhile" in e for _, e in outs) == 1, outs
    assert {k for k in branches(t) if k.startswith("p-")} == set(names)


def test_log_full_midway_rows_name_the_branches_made(t):
    """The session log stops growing part-way through recording (a file
    size limit: EFBIG, as on a full disk): exit 1 with one error line, and
    the rows name exactly the branches that exist, the others none (their
    images are in the rows)."""
    import resource
    start(t)
    d = os.path.join(t.home, ".config", "contree", "cli", "sessions")
    cmds = ["echo a > /a", "echo b > /b", "echo c > /c", "echo d > /d"]
    seen = set()
    for extra in range(100, 2000, 120):
        sizes = [os.path.getsize(os.path.join(r, f))
                 for r, _, fs in os.walk(d) for f in fs]
        cap = max(sizes) + extra

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

        before = set(branches(t))
        p = subprocess.run([t.binary(), "-f", "json", *S, "explore",
                            "--prefix", "p%d" % extra, *cmds],
                           env=t.env(), cwd=t.home, capture_output=True,
                           preexec_fn=limit, timeout=60)
        got = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        made = set(branches(t)) - before
        named = {r["branch"] for r in got if r["branch"]}
        assert named == made, (extra, got, made, p.stderr)
        assert all(len(r["image"]) == 36 for r in got), got
        if p.returncode == 0:
            assert len(made) == 4, (got, made)
            break
        assert p.returncode == 1 and p.stderr.count(b"\n") == 1, p
        seen.add(len(made))
    assert seen & {1, 2, 3}, "no cap recorded some of the branches: %r" % seen
