"""e2e_ops.py - ps / op list, show / op show, kill / op cancel, op wait and
operation references (cli.md §7.6, §9.7-9.10)."""

import json

S = ("-S", "o1")
UUID0 = "00000000-0000-4000-8000-000000000000"


def start(t):
    r = t.run(*S, "use", "tag:alpine:3.19")
    assert r.code == 0, r


def rows(r):
    return [json.loads(x) for x in r.out.splitlines() if x.strip()]


def spawn_sleep(t, secs=30):
    op = t.fake.spawn(command="sleep %d" % secs, shell=True)
    deadline = 0
    while deadline < 400:
        st = t.fake.call("GET", "/v1/operations/" + op).json["status"]
        if st == "EXECUTING":
            return op
        deadline += 1
        __import__("time").sleep(0.02)
    raise AssertionError("operation %s never started" % op)


def run_ok(t, *cmd):
    r = t.run(*S, "-f", "json", "run", *cmd)
    assert r.code == 0, r
    return json.loads(r.out)["uuid"]


# ---- ps ----------------------------------------------------------------------

def test_ps_filters(t):
    start(t)
    done = run_ok(t, "true")
    live = spawn_sleep(t)
    r = t.run("-f", "json", "ps")
    assert r.code == 0, r
    got = rows(r)
    assert [x["uuid"] for x in got] == [live], got
    assert list(got[0])[-1] == "error", got
    q = t.fake.requests("GET", "/v1/operations")[-1]["query"]
    assert q["status"] == ["EXECUTING"], q
    r = t.run("-f", "json", "ps", "-a")
    assert {x["uuid"] for x in rows(r)} == {done, live}, r
    r = t.run("-f", "json", "ps", "--status", "S")
    assert [x["uuid"] for x in rows(r)] == [done], r
    assert t.fake.requests("GET", "/v1/operations")[-1]["query"]["status"] == ["SUCCESS"]
    r = t.run("ps", "-q", "-a")
    assert r.code == 0 and sorted(r.stdout.split()) == sorted([done, live]), r
    r = t.run("ps", "-a", "-k", "image_import")
    assert r.code == 0 and r.out == b"", r
    r = t.run("ps", "-a", "--since", "1h", "--until", "2099-01-01")
    assert r.code == 0 and done in r.stdout, r
    q = t.fake.requests("GET", "/v1/operations")[-1]["query"]
    assert q["since"][0].endswith("Z") and q["until"] == ["2099-01-01T00:00:00Z"], q
    t.fake.call("DELETE", "/v1/operations/" + live)


def test_ps_show_max(t):
    start(t)
    for _ in range(3):
        run_ok(t, "true")
    r = t.run("-f", "json", "ps", "-a", "-M", "2")
    assert r.code == 0, r
    assert len(rows(r)) == 2, r
    assert "[WARNING]" in r.stderr and "--show-max" in r.stderr, r.stderr
    r = t.run("ps", "-a", "-M", "0")
    assert r.code == 2, r


def test_ps_empty(t):
    t.fake
    r = t.run("ps")
    assert r.code == 0 and r.out == b"", r


# ---- show --------------------------------------------------------------------

def test_show_row_output_and_cache(t):
    start(t)
    r = t.run(*S, "run", "-s", "echo to-out; echo to-err >&2; exit 4")
    assert r.code == 4, r
    # run took its result from the events stream (2 requests), so the
    # first show fetches the full record once and caches it; the second
    # needs no request
    t.fake.clear_requests()
    r = t.run(*S, "show", "@")
    assert r.code == 0, r   # the sandbox exit code is not propagated
    assert len(t.fake.requests("GET")) == 1, t.fake.requests()
    t.fake.clear_requests()
    r = t.run(*S, "show", "@")
    assert r.code == 0, r
    assert t.fake.requests() == [], t.fake.requests()
    lines = r.stdout.splitlines()
    assert lines[0].split()[0] == "UUID" and lines[0].split()[-1] == "ERROR", r.stdout
    assert "EXIT_CODE" in lines[0] and " 4 " in lines[1], r.stdout
    assert lines[2] == "to-out", r.stdout
    assert r.err == b"to-err\n", r.err
    # an operation not started by contree: fetched once, then cached
    other = t.fake.spawn(command="echo other", shell=True)
    t.fake.wait_op(other)
    t.fake.clear_requests()
    r1 = t.run(*S, "show", other)
    assert r1.code == 0 and "other" in r1.stdout, r1
    assert len(t.fake.requests()) == 1, t.fake.requests()
    t.fake.clear_requests()
    r2 = t.run(*S, "show", other)
    assert r2.out == r1.out and t.fake.requests() == [], t.fake.requests()
    # an active operation is never cached
    live = spawn_sleep(t)
    t.fake.clear_requests()
    t.run(*S, "show", live)
    t.run(*S, "show", live)
    assert len(t.fake.requests("GET", "/v1/operations/" + live)) == 2
    t.fake.call("DELETE", "/v1/operations/" + live)
    # json: the row only, parsable JSON Lines
    r = t.run(*S, "-f", "json", "show", "@")
    row = json.loads(r.out)
    assert row["exit_code"] == 4 and row["status"] == "SUCCESS", row
    assert len(row["image"]) == 36 and row["tag"] == "" and list(row)[-1] == "error"
    # raw: the server's object on one line
    r = t.run(*S, "show", "--raw", "@")
    assert r.code == 0 and len(r.out.splitlines()) == 1, r
    obj = json.loads(r.out)
    assert obj["metadata"]["result"]["state"]["exit_code"] == 4, obj


def test_show_errors_continue(t):
    start(t)
    op = run_ok(t, "true")
    r = t.run(*S, "-f", "json", "show", UUID0, op)
    assert r.code == 1, r
    assert [x["uuid"] for x in rows(r)] == [op], r
    assert "[ERROR]" in r.stderr and UUID0 in r.stderr and "404" in r.stderr, r


def test_bad_references_reported_together(t):
    start(t)
    run_ok(t, "true")
    t.fake.clear_requests()
    r = t.run(*S, "show", "@-9", "nonsense", "@1", "@77")
    assert r.code == 1, r
    err = r.stderr
    assert err.count("[ERROR]") == 1, err
    for piece in ("@-9", "cannot go back 9", "nonsense", "@77", "not found",
                  "@1", "no operation"):
        assert piece in err, (piece, err)
    assert t.fake.requests() == [], t.fake.requests()
    r = t.run("-S", "nosuch", "show", "@")
    assert r.code == 1 and "no active session" in r.stderr, r


def test_reference_forms(t):
    start(t)
    a = run_ok(t, "echo", "a")
    b = run_ok(t, "echo", "b")
    h = [json.loads(x) for x in t.run(*S, "-f", "json", "session", "show").out.splitlines()]
    ida, idb = h[1]["id"], h[2]["id"]

    def show(*refs):
        r = t.run(*S, "-f", "json", "show", *refs)
        assert r.code == 0, (refs, r)
        return [x["uuid"] for x in rows(r)]

    assert show("@", ":", "HEAD") == [b, b, b]
    assert show("@-1", ":-1", "HEAD-1", "HEAD~1", "HEAD~") == [a] * 5
    assert show("@%d" % ida, ":%d" % ida, str(ida), "HEAD%d" % idb) == [a, a, a, b]
    assert show("%s %s" % (a, b)) == [a, b]      # one argument, many tokens
    assert t.run(*S, "session", "rollback", "-1").code == 0
    assert show("@", "@+1", ":+1", "HEAD+1") == [a, b, b, b]


# ---- kill --------------------------------------------------------------------

def test_kill(t):
    start(t)
    live = spawn_sleep(t)
    r = t.run(*S, "kill", live)
    assert r.code == 0 and r.out == b"", r
    assert "[INFO]" in r.stderr and live in r.stderr, r
    assert t.fake.wait_op(live)["status"] == "CANCELLED"
    r = t.run(*S, "kill", live)            # terminal: 409
    assert r.code == 1 and "[ERROR]" in r.stderr and live in r.stderr, r
    r = t.run(*S, "kill")
    assert r.code == 1 and "--all" in r.stderr, r


def test_kill_all(t):
    start(t)
    done = run_ok(t, "true")
    ops = [spawn_sleep(t), spawn_sleep(t)]
    r = t.run(*S, "kill", "--all", done)
    assert r.code == 0, r
    assert "[WARNING]" in r.stderr and "--all" in r.stderr, r
    for op in ops:
        assert t.fake.wait_op(op)["status"] == "CANCELLED"
    qs = [q["query"].get("status", [""])[0] for q in t.fake.requests("GET", "/v1/operations")]
    assert {"PENDING", "ASSIGNED", "EXECUTING"} <= set(qs), qs
    assert not [q for q in t.fake.requests("DELETE") if q["path"].endswith(done)]
    r = t.run(*S, "kill", "-a")
    assert r.code == 0 and "No active operations" in r.stderr, r


# ---- op wait -----------------------------------------------------------------

def test_op_wait(t):
    start(t)
    ok = run_ok(t, "true")
    r = t.run(*S, "-f", "json", "run", "-d", "-s", "sleep 0.5; exit 3")
    three = json.loads(r.out)["uuid"]
    r = t.run(*S, "-f", "json", "op", "wait", ok, three)
    assert r.code == 3, r
    got = rows(r)
    assert {x["uuid"] for x in got} == {ok, three}, got
    for x in got:
        assert list(x)[:5] == ["uuid", "status", "exit_code", "timed_out", "duration"], x
        assert list(x)[-1] == "error" and x["timed_out"] is False, x
    r = t.run(*S, "op", "wait")
    assert r.code == 1 and "--all" in r.stderr, r
    r = t.run(*S, "op", "wait", "-a")
    assert r.code == 0 and "No active operations" in r.stderr, r


def test_op_wait_deadline(t):
    start(t)
    live = spawn_sleep(t, 30)
    r = t.run(*S, "-f", "json", "operation", "wait", "-t", "1", live)
    assert r.code == 1, r
    row = json.loads(r.out)
    assert row["uuid"] == live and row["timed_out"] is True, row
    assert row["status"] == "EXECUTING", row
    assert "[WARNING]" in r.stderr and "1 operation did not finish within 1 second\n" in r.stderr, r
    r = t.run(*S, "-f", "json", "op", "wait", "-a", "-t", "1")
    assert r.code == 1 and json.loads(r.out)["uuid"] == live, r
    t.fake.call("DELETE", "/v1/operations/" + live)
    r = t.run(*S, "-f", "json", "op", "wait", live)
    assert r.code == 1 and json.loads(r.out)["status"] == "CANCELLED", r


def test_op_wait_never_touches_history(t):
    start(t)
    r = t.run(*S, "-f", "json", "run", "-d", "true")
    op = json.loads(r.out)["uuid"]
    before = t.run(*S, "session", "show", "-a").out
    r = t.run(*S, "op", "wait", op)
    assert r.code == 0 and op in r.stdout, r
    assert t.run(*S, "session", "show", "-a").out == before
