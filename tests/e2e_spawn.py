"""e2e_spawn.py - spawning never twice and never someone else's operation
(design.md §1, api.md §3.6): every spawn carries its own marker,
CONTREE_SPAWN_ID in env, which the server echoes in the operation's
metadata.env; a spawn whose answer is lost or unreadable adopts only the
operation carrying its marker."""

import re
import threading
import time

from harness import fails, ok, rows

S = ("-S", "sp")
ECHO = ("sh", "-c", "echo $CONTREE_SPAWN_ID")     # prints the run's marker


def start(t):
    ok(t.run(*S, "use", "tag:alpine:3.19"))
    return t.fake.image_uuid("alpine:3.19")


def markers(t):
    """The marker of every spawn request contree sent, in order (the
    test's own spawns through the fake carry none)."""
    out = []
    for q in t.fake.requests("POST", "/v1/instances"):
        m = ((q["json"] or {}).get("env") or {}).get("CONTREE_SPAWN_ID")
        if m is not None:
            assert re.fullmatch(r"[0-9a-f]{32}", m), q["json"]
            out.append(m)
    return out


def instance_ops(t):
    return t.fake.call("GET", "/v1/operations",
                       query={"kind": "instance", "limit": 1000}).json


def op_marker(t, op):
    rec = t.fake.call("GET", "/v1/operations/" + op).json
    return (rec["metadata"].get("env") or {}).get("CONTREE_SPAWN_ID")


def someone_else(t, img, command, args):
    """An identical operation started by another client just before."""
    op = t.fake.spawn(image=img, command=command, args=list(args),
                      shell=False)
    t.fake.wait_op(op)
    return op


def test_marker_in_request_and_metadata(t):
    start(t)
    a = ok(t.run(*S, "-f", "json", "run", *ECHO))
    b = ok(t.run(*S, "-f", "json", "run", *ECHO))
    ma, mb = markers(t)
    assert ma != mb, "every spawn needs its own marker"
    ra, rb = rows(a)[0], rows(b)[0]
    assert op_marker(t, ra["uuid"]) == ma and op_marker(t, rb["uuid"]) == mb
    # the command sees it (documented in contree.1)
    assert ra["stdout"] == ma + "\n" and rb["stdout"] == mb + "\n", (ra, rb)


def test_user_marker_is_replaced(t):
    start(t)
    r = ok(t.run(*S, "run", "-e", "CONTREE_SPAWN_ID=mine", "-e", "K=v", *ECHO))
    m = markers(t)[-1]
    assert m != "mine" and r.out == (m + "\n").encode(), r
    assert "CONTREE_SPAWN_ID" in r.stderr and "[WARNING]" in r.stderr, r
    env = t.fake.requests("POST", "/v1/instances")[-1]["json"]["env"]
    assert env == {"K": "v", "CONTREE_SPAWN_ID": m}, env


def test_lost_unprocessed_spawn_adopts_nothing(t):
    # An identical command ran a second ago; our request never reached
    # the server.  Adopting that operation would report its result as
    # ours: the run must fail and say the command may have started.
    img = start(t)
    other = someone_else(t, img, "echo", ["same"])
    time.sleep(1)
    t.fake.fault(path="/v1/instances$", method="POST", kind="drop")
    r = fails(t.run(*S, "run", "echo", "same"), "could not be identified")
    assert "MAY have started" in r.stderr and "ps -a" in r.stderr, r
    assert r.out == b"" and other not in r.stderr, r
    assert len(markers(t)) == 1, "re-sent"
    assert len(instance_ops(t)) == 1
    assert "Found operation" not in r.stderr, r


def test_lost_answer_finds_its_own_not_the_twin(t):
    img = start(t)
    other = someone_else(t, img, *ECHO[:1], ECHO[1:])
    time.sleep(1)
    t.fake.fault(path="/v1/instances$", method="POST", kind="lose")
    r = ok(t.run(*S, "-f", "json", "run", *ECHO))
    mine = markers(t)[-1]
    row = rows(r)[0]
    assert row["uuid"] != other and row["stdout"] == mine + "\n", row
    assert op_marker(t, row["uuid"]) == mine
    assert "Found operation %s" % row["uuid"] in r.stderr, r
    assert len(markers(t)) == 1, "re-sent"


def test_two_identical_lost_spawns_stay_apart(t):
    start(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="lose", count=2)
    res = [None, None]

    def go(i):
        res[i] = t.run(*S, "-f", "json", "run", *ECHO)

    th = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    for r in res:
        ok(r)
        assert "Found operation" in r.stderr, r
    got = [rows(r)[0] for r in res]
    assert got[0]["uuid"] != got[1]["uuid"], got
    sent = markers(t)
    assert len(sent) == 2 and sent[0] != sent[1], sent
    for g in got:
        m = op_marker(t, g["uuid"])
        assert m in sent and g["stdout"] == m + "\n", (g, sent)
    assert len(instance_ops(t)) == 2


def test_truncated_201_is_looked_up_by_marker(t):
    start(t)
    t.fake.fault(path="/v1/instances$", method="POST", kind="truncate")
    r = ok(t.run(*S, "run", *ECHO))
    mine = markers(t)[-1]
    assert r.out == (mine + "\n").encode(), r
    assert "Unreadable answer" in r.stderr and "Found operation" in r.stderr, r
    assert len(t.fake.requests("POST", "/v1/instances")) == 1, "re-sent"
    assert len(instance_ops(t)) == 1


def test_unprocessed_bad_answer_adopts_nothing(t):
    # 200 with malformed JSON, not processed (fake `badjson`): no
    # operation carries the marker, so none is adopted
    img = start(t)
    someone_else(t, img, "echo", ["same"])
    t.fake.fault(path="/v1/instances$", method="POST", kind="badjson")
    r = fails(t.run(*S, "run", "echo", "same"), "could not be identified")
    assert r.out == b"" and "HTTP 200" in r.stderr, r
    assert len(instance_ops(t)) == 1


def test_failed_run_names_the_operation(t):
    start(t)
    t.fake.config(fail_ops=1, fail_error="OOM killed")
    r = fails(t.run(*S, "run", "true"))
    ops = instance_ops(t)
    assert len(ops) == 1 and ops[0]["status"] == "FAILED", ops
    op = ops[0]["uuid"]
    assert "Operation %s finished with status FAILED" % op in r.stderr, r
    assert "contree show %s" % op in r.stderr, r
    s = ok(t.run("-f", "json", "show", op))
    assert rows(s)[0]["status"] == "FAILED", s


def test_refused_spawn_did_not_start(t):
    """Nothing was sent: say so, and do not go looking for a lost
    operation ("MAY have started") on a server that is not there."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ok(t.run("-S", "rf", "use", "tag:ubuntu:latest"))
    url = "http://127.0.0.1:%d" % port
    r = t.run("-S", "rf", "-u", url, "run", "--", "true", timeout=60,
              env={"CONTREE_RETRY_SCALE": "0.01"})
    assert r.code == 1, r
    assert "the request was not sent" in r.stderr, r
    assert "MAY have started" not in r.stderr and "lost" not in r.stderr, r
