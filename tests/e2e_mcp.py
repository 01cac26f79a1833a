"""e2e_mcp.py - `contree mcp`, the MCP server (../shared/mcp.md): raw
JSON-RPC lines through a pipe for every error case of the issue, the
tools against the fake, concurrency and cancellation; and (b) the
official TypeScript SDK as a client we did not write (tests/mcp_client.mjs,
installed by `make deps` into tests/mcp-client)."""

import base64
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time

from harness import REPO, ok

TESTS = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


class Mcp:
    """A `contree mcp` process with pipes; messages read by a thread."""

    def __init__(self, t, *args, env=None, cwd=None, glob=()):
        t.fake  # credentials for the profile
        argv = [t.binary(), *glob, "mcp", *args]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  env=t.env(env), cwd=cwd or t.home)
        self.q = queue.Queue()
        self.notes = []
        self.stray = []
        self.err = b""
        self.next_id = 100
        threading.Thread(target=self._read, daemon=True).start()
        self.err_done = threading.Thread(target=self._read_err, daemon=True)
        self.err_done.start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line)
        self.q.put(None)

    def _read_err(self):
        self.err = self.p.stderr.read()

    def send(self, msg):
        raw = msg if isinstance(msg, (bytes, str)) else json.dumps(msg)
        if isinstance(raw, str):
            raw = raw.encode()
        self.p.stdin.write(raw + b"\n")
        self.p.stdin.flush()

    def recv(self, timeout=20):
        """The next message; each line must be one whole JSON object."""
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message from contree mcp in %ss" % timeout)
        if line is None:
            return None
        assert line.endswith(b"\n"), line
        m = json.loads(line)
        assert m.get("jsonrpc") == "2.0", m
        return m

    def answer(self, id, timeout=30):
        """The response to id; notifications on the way are kept."""
        for m in self.stray:
            if m["id"] == id:
                self.stray.remove(m)
                return m
        end = time.time() + timeout
        while True:
            m = self.recv(max(0.1, end - time.time()))
            assert m is not None, "contree mcp ended: %r" % self.err
            if "id" in m and "method" not in m:
                if m["id"] == id:
                    return m
                self.stray.append(m)
            else:
                self.notes.append(m)

    def request(self, method, params=None, timeout=30):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.answer(self.next_id, timeout)

    def init(self, version="2025-06-18"):
        r = self.request("initialize", {"protocolVersion": version,
                                        "capabilities": {},
                                        "clientInfo": {"name": "e2e",
                                                       "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def call(self, name, args=None, timeout=60):
        r = self.request("tools/call", {"name": name, "arguments": args or {}},
                         timeout)
        assert "result" in r, r
        return r["result"]

    def close(self, timeout=10):
        self.p.stdin.close()
        self.p.wait(timeout)
        self.err_done.join(timeout)     # m.err is whole
        return self.p.returncode


def good(res):
    """A successful tool result: structuredContent and the same JSON as
    text; returns structuredContent."""
    assert not res.get("isError"), res
    sc = res["structuredContent"]
    assert json.loads(res["content"][0]["text"]) == sc, res
    return sc


def bad(res, text):
    assert res.get("isError") is True, res
    msg = res["content"][0]["text"]
    assert text in msg, (text, msg)
    assert "structuredContent" not in res
    return msg


def rss_kb(pid, key="VmHWM"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# ---- the protocol ----------------------------------------------------------

def test_initialize_negotiates_versions(t):
    for v in VERSIONS + ("1999-01-01",):
        m = Mcp(t)
        r = m.init(v)["result"]
        assert r["protocolVersion"] == (v if v in VERSIONS else "2025-11-25"), r
        assert r["serverInfo"]["name"] == "contree"
        assert set(r["capabilities"]) >= {"tools", "resources", "prompts",
                                          "logging"}
        assert "completions" not in r["capabilities"], r
        assert "list_images" in r["instructions"]
        assert m.request("ping")["result"] == {}
        assert m.close() == 0


def test_error_codes(t):
    m = Mcp(t)
    # before initialize: ping works, anything else is refused
    assert m.request("ping")["result"] == {}
    e = m.request("tools/list")["error"]
    assert e["code"] == -32600 and "initialize" in e["message"], e
    m.init()
    e = m.request("initialize", {"protocolVersion": "2025-06-18"})["error"]
    assert e["code"] == -32600, e
    m.send("{not json")
    r = m.recv()
    assert r["id"] is None and r["error"]["code"] == -32700, r
    m.send('{"jsonrpc":"1.0","id":7,"method":"ping"}')
    r = m.recv()
    assert r["id"] == 7 and r["error"]["code"] == -32600, r
    m.send('[1,2]')
    assert m.recv()["error"]["code"] == -32600
    m.send('{"jsonrpc":"2.0","id":[1],"method":"ping"}')
    assert m.recv()["error"]["code"] == -32600
    # completion/complete is optional and not announced: not found
    e = m.request("completion/complete", {
        "ref": {"type": "ref/prompt", "name": "run-shell"},
        "argument": {"name": "image", "value": "tag:"}})["error"]
    assert e["code"] == -32601, e
    assert m.request("no/such")["error"]["code"] == -32601
    e = m.request("tools/call", {"name": "nope", "arguments": {}})["error"]
    assert e["code"] == -32602 and "nope" in e["message"], e
    e = m.request("logging/setLevel", {"level": "loud"})["error"]
    assert e["code"] == -32602
    assert m.request("logging/setLevel", {"level": "debug"})["result"] == {}
    # a string id and notifications (never answered)
    m.send('{"jsonrpc":"2.0","method":"notifications/whatever"}')
    m.send('{"jsonrpc":"2.0","id":"s-1","method":"ping"}')
    assert m.recv() == {"jsonrpc": "2.0", "id": "s-1", "result": {}}
    assert m.close() == 0
    assert m.err == b"", m.err


def raw(m, timeout=30):
    """The next line as JSON, whatever it is (a batch answer is a list)."""
    line = m.q.get(timeout=timeout)
    assert line is not None and line.endswith(b"\n"), (line, m.err)
    return json.loads(line)


def test_batches(t):
    """Batches exist only in 2025-03-26 (its basic spec: receiving them is
    a MUST); other versions refuse them with -32600."""
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    for v in ("2024-11-05", "2025-06-18", "2025-11-25"):
        m = Mcp(t)
        m.init(v)
        m.send(json.dumps([ping]))
        r = raw(m)
        assert isinstance(r, dict) and r["error"]["code"] == -32600, r
        assert "2025-03-26" in r["error"]["message"], r
        assert m.close() == 0
    t.fake.config(delay=1)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init("2025-03-26")
    m.send("[]")
    r = raw(m)
    assert r["id"] is None and r["error"]["code"] == -32600, r
    # requests, a notification, a call answered by a job, junk: one
    # array, once the slowest member is answered; other lines go on
    m.send(json.dumps([ping,
                       {"jsonrpc": "2.0", "method": "notifications/x"},
                       run_msg(2, "echo in-batch", img),
                       {"foo": 1},
                       {"jsonrpc": "2.0", "id": "x", "method": "ping"},
                       {"jsonrpc": "2.0", "id": 3, "method": "no/such"}]))
    m.send({"jsonrpc": "2.0", "id": 9, "method": "ping"})
    assert raw(m) == {"jsonrpc": "2.0", "id": 9, "result": {}}
    r = raw(m)
    assert isinstance(r, list) and len(r) == 5, r
    by = {json.dumps(x["id"]): x for x in r}
    assert by["1"]["result"] == {} and by['"x"']["result"] == {}, r
    assert by["3"]["error"]["code"] == -32601, r
    assert by["null"]["error"]["code"] == -32600, r
    assert good(by["2"]["result"])["stdout"] == "in-batch\n", r
    # members that are not objects are each an invalid request
    m.send("[1, [2]]")
    r = raw(m)
    assert [x["error"]["code"] for x in r] == [-32600, -32600], r
    # only notifications: no answer at all
    m.send(json.dumps([{"jsonrpc": "2.0", "method": "notifications/x"}]))
    m.send({"jsonrpc": "2.0", "id": 10, "method": "ping"})
    assert raw(m) == {"jsonrpc": "2.0", "id": 10, "result": {}}
    # a cancelled member is left out of the array
    t.fake.config(delay=20)
    m.send(json.dumps([run_msg(5, "sleep 9", img),
                       {"jsonrpc": "2.0", "id": 6, "method": "ping"}]))
    for _ in range(100):
        if t.fake.requests("POST", "/v1/instances") and \
                len(t.fake.requests("POST", "/v1/instances")) == 2:
            break
        time.sleep(0.05)
    m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 5}})
    r = raw(m)
    assert r == [{"jsonrpc": "2.0", "id": 6, "result": {}}], r
    assert m.close() == 0


def test_bad_arguments_name_the_argument(t):
    m = Mcp(t)
    m.init()
    bad(m.call("run", {"image": "tag:alpine:3.19"}), "'command'")
    bad(m.call("run", {"command": "true", "image": "tag:alpine:3.19",
                       "timeout": "soon"}), "'timeout' must be an integer")
    bad(m.call("run", {"command": "true", "image": "x", "bogus": 1}),
        "'bogus'")
    bad(m.call("run", {"command": "true", "image": "x", "env": {"A": 1}}),
        "'env'")
    bad(m.call("wait_operations", {"operation_ids": ["x"], "mode": "some"}),
        "'mode'")
    bad(m.call("get_operation", {"operation_id": "nope"}), "operation_id")
    bad(m.call("list_images", {"limit": 0}), "'limit' must be 1 to 1000")
    bad(m.call("list_operations", {"limit": 1001}), "'limit' must be 1 to")
    bad(m.call("run", {"command": "true", "image": "x", "timeout": 0}),
        "'timeout' must be 1 or more")
    bad(m.call("wait_operations", {"operation_ids": [], "timeout": -1}),
        "'timeout' must be 0 or more")
    bad(m.call("cancel_operation", {"operation_id": "nope"}),
        "'operation_id' must be a UUID")
    for tool, arg in (("list_files", "path"), ("grep", "path"),
                      ("download", "path"), ("diff", "path"),
                      ("rsync", "destination")):
        args = {"image": "x", "from": "x", "to": "x", "pattern": "x",
                "path": "/", "destination": "d", "source": "."}
        args[arg] = "relative"
        args = {k: v for k, v in args.items() if k in
                {"list_files": ("image", "path"),
                 "grep": ("image", "pattern", "path"),
                 "download": ("image", "path", "destination"),
                 "diff": ("from", "to", "path"),
                 "rsync": ("source", "destination")}[tool]}
        bad(m.call(tool, args), "'%s' must be an absolute path" % arg)
    r = m.request("tools/call", {"name": "run", "arguments": [1]})
    bad(r["result"], "arguments must be an object")
    # a string holding U+0000 cannot be passed on: refused by name, not
    # a job that dies without an answer
    bad(m.call("run", {"command": "echo a\u0000b",
                       "image": "tag:alpine:3.19"}), "'command'")
    bad(m.call("explore", {"commands": ["true", "x\u0000"],
                           "image": "tag:alpine:3.19"}), "'commands'")
    bad(m.call("run", {"command": "true", "image": "tag:alpine:3.19",
                       "env": {"A": "\u0000"}}), "'env'")
    assert m.close() == 0


def test_long_line_refused_without_memory(t):
    # under AddressSanitizer the 1, 2 and 4 MiB buffers left behind as
    # the line buffer grows sit in its quarantine (18.2 of the 20 MiB
    # allowed): no quarantine, as below (no effect on a plain build)
    m = Mcp(t, env={"ASAN_OPTIONS": "quarantine_size_mb=0"})
    m.init()
    base = rss_kb(m.p.pid, "VmRSS")
    chunk = b"x" * (1 << 20)
    m.p.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"')
    for _ in range(100):
        m.p.stdin.write(chunk)
    m.p.stdin.write(b'"}}\n')
    m.p.stdin.flush()
    r = m.recv(60)
    assert r["id"] is None and r["error"]["code"] == -32600, r
    assert "longer" in r["error"]["message"]
    peak = rss_kb(m.p.pid)
    assert peak < base + 20 * 1024, (base, peak)    # 8 MiB kept at most
    assert m.request("ping")["result"] == {}       # and it goes on
    assert m.close() == 0


def test_requests_in_flight_bounded(t):
    # one job slot busy: what a client sends faster is held, but not
    # without bound (64 MiB), the rest is refused at once
    t.fake.config(delay=20)
    img = t.fake.image_uuid("alpine:3.19")
    # under AddressSanitizer freed lines would sit in its quarantine
    # and count as held: no quarantine (no effect on a plain build)
    m = Mcp(t, env={"CONTREE_CONCURRENCY": "1",
                    "ASAN_OPTIONS": "quarantine_size_mb=0"})
    m.init()
    m.send(run_msg(1, "sleep 30", img))
    base = rss_kb(m.p.pid, "VmRSS")
    pad = "x" * (1 << 20)
    for i in range(120):
        msg = run_msg(1000 + i, "echo %d" % i, img)
        msg["params"]["pad"] = pad
        m.send(msg)
    busy = [m.answer(1000 + i) for i in range(64, 120)]
    for r in busy:
        assert r["error"]["code"] == -32000, r
        assert "busy" in r["error"]["message"], r
    peak = rss_kb(m.p.pid)
    assert peak < base + 100 * 1024, (base, peak)
    assert m.close() == 0


def test_duplicate_id_in_flight(t):
    t.fake.config(delay=1.5)
    m = Mcp(t)
    m.init()
    run = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
           "params": {"name": "run", "arguments": {
               "command": "echo one", "image": "tag:alpine:3.19"}}}
    m.send(run)
    m.send(run)
    r = m.recv()
    assert r["id"] == 9 and r["error"]["code"] == -32600, r
    assert "already in use" in r["error"]["message"]
    r = m.answer(9)
    assert good(r["result"])["stdout"] == "one\n", r
    assert m.close() == 0


# ---- tools ---------------------------------------------------------------------

def test_tools_list_schemas(t):
    m = Mcp(t)
    m.init()
    tools = {x["name"]: x for x in m.request("tools/list")["result"]["tools"]}
    want = {"run", "list_images", "get_image", "import_image", "set_tag",
            "upload", "download", "rsync", "list_files", "read_file",
            "whoami", "list_operations", "get_operation", "wait_operations",
            "cancel_operation", "registry_token_obtain", "registry_auth",
            "get_guide", "grep", "explore", "diff"}
    assert want <= set(tools), want - set(tools)
    for x in tools.values():
        assert x["inputSchema"]["type"] == "object"
        assert x["outputSchema"]["type"] == "object"
        ann = x["annotations"]
        assert isinstance(ann["readOnlyHint"], bool)
    assert tools["list_files"]["annotations"]["readOnlyHint"] is True
    assert tools["run"]["annotations"]["readOnlyHint"] is False
    p = tools["run"]["inputSchema"]["properties"]
    assert p["timeout"]["default"] == 30 and p["shell"]["default"] is True
    assert p["cwd"]["default"] == "/root"
    assert p["truncate_output_at"]["default"] == 8000
    assert p["timeout"]["minimum"] == 1 and "maximum" not in p["timeout"]
    lim = tools["list_images"]["inputSchema"]["properties"]["limit"]
    assert (lim["minimum"], lim["maximum"], lim["default"]) == (1, 1000, 100)
    assert tools["run"]["inputSchema"]["required"] == ["command", "image"]
    assert m.close() == 0


def test_run_and_session_log(t):
    m = Mcp(t)
    m.init()
    r = good(m.call("run", {"command": "echo hi; echo err >&2; exit 3",
                            "image": "tag:alpine:3.19"}))
    assert r["status"] == "SUCCESS" and r["exit_code"] == 3, r
    assert r["stdout"] == "hi\n" and r["stderr"] == "err\n", r
    assert r["timed_out"] is False
    img = t.fake.image_uuid("alpine:3.19")
    assert r["image_uuid"] == img
    r2 = good(m.call("run", {"command": "echo data > /root/f",
                             "image": img, "disposable": False}))
    new = r2["result_image_uuid"]
    assert new and new != img, r2
    r3 = good(m.call("run", {"command": "cat /root/f", "image": new}))
    assert r3["stdout"] == "data\n", r3
    # the agent's work is in the session log
    show = ok(t.run("-S", "mcp", "-f", "json", "session", "show")).stdout
    assert new in show and r2["uuid"] in show, show
    # env and stdin reach the command; shell=false splits the command
    r4 = good(m.call("run", {"command": "cat", "stdin": "piped\n",
                             "image": img, "shell": False}))
    assert r4["stdout"] == "piped\n", r4
    r5 = good(m.call("run", {"command": "echo $X", "image": img,
                             "env": {"X": "val"}}))
    assert r5["stdout"] == "val\n", r5
    # the lineage resource reads the session log
    rr = m.request("resources/read",
                   {"uri": "contree://image/%s/lineage" % new})["result"]
    lin = json.loads(rr["contents"][0]["text"])
    assert lin["known"] and lin["parent"] == img and lin["root"] == img, lin
    assert m.close() == 0


def test_explore_and_diff(t):
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    r = good(m.call("explore", {"image": "tag:alpine:3.19", "commands": [
        "echo a > /root/a", "echo b > /root/b; exit 2"]}))["results"]
    assert [x["command"] for x in r] == ["echo a > /root/a",
                                        "echo b > /root/b; exit 2"]
    assert [x["exit_code"] for x in r] == [0, 2], r
    assert all(x["status"] == "SUCCESS" and x["result_image_uuid"]
               for x in r), r
    assert [x["branch"] for x in r] == ["explore-1", "explore-2"], r
    branches = ok(t.run("-S", "mcp", "-f", "json", "session", "branch")).stdout
    assert "explore-1" in branches and "explore-2" in branches, branches
    d = good(m.call("diff", {"from": img, "to": r[0]["result_image_uuid"],
                             "patch": True}))
    paths = {c["path"]: c for c in d["changes"]}
    assert paths["/root/a"]["what"] == "A" and d["count"] == len(d["changes"])
    assert d["truncated"] is False
    d = good(m.call("diff", {"from": r[0]["result_image_uuid"],
                             "to": r[1]["result_image_uuid"],
                             "max_changes": 1}))
    assert len(d["changes"]) == 1 and d["truncated"] is True, d
    bad(m.call("diff", {"from": img, "to": "tag:nope"}), "nope")
    assert m.close() == 0


def test_run_failures_are_results(t):
    m = Mcp(t)
    m.init()
    bad(m.call("run", {"command": "true", "image": "tag:no-such"}), "no-such")
    r = good(m.call("run", {"command": "sleep 5", "image": "tag:alpine:3.19",
                            "timeout": 1}))
    assert r["timed_out"] is True, r
    t.fake.config(fail_ops=1)
    r = good(m.call("run", {"command": "true", "image": "tag:alpine:3.19"}))
    assert r["status"] == "FAILED", r
    assert m.close() == 0


def test_images_files_ops(t):
    m = Mcp(t)
    m.init()
    imgs = good(m.call("list_images", {"tag_prefix": "alp"}))["images"]
    assert [i["tag"] for i in imgs] == ["alpine:3.19"], imgs
    img = imgs[0]["uuid"]
    assert good(m.call("get_image", {"image": "tag:alpine:3.19"}))["uuid"] == img
    ls = good(m.call("list_files", {"image": img, "path": "/etc"}))
    names = {f["name"]: f for f in ls["files"]}
    assert ls["count"] == len(ls["files"]) and "alpine-release" in names, ls
    assert names["alpine-release"]["type"] == "file"
    assert names["alpine-release"]["path"] == "/etc/alpine-release"
    rf = good(m.call("read_file", {"image": img, "path": "/etc/alpine-release"}))
    assert rf == {"path": "/etc/alpine-release", "content": "3.19.1\n",
                  "encoding": "utf-8", "bytes_size": 7}, rf
    bad(m.call("read_file", {"image": img, "path": "/etc/nope"}), "no file")
    big = t.fake.add_image({"/big": {"type": "file", "text": "a" * (2 << 20)},
                            "/bin.dat": {"type": "file", "content_b64":
                                         base64.b64encode(b"\0\xff").decode()}},
                           parent=img)["uuid"]
    bad(m.call("read_file", {"image": big, "path": "/big"}), "download")
    rb = good(m.call("read_file", {"image": big, "path": "/bin.dat"}))
    assert rb["encoding"] == "base64" and rb["content"] == "AP8=", rb
    rr = m.request("resources/read", {
        "uri": "contree://image/%s/read/bin.dat" % big})["result"]
    assert rr["contents"] == [{"uri": "contree://image/%s/read/bin.dat" % big,
                               "mimeType": "application/octet-stream",
                               "blob": "AP8="}], rr
    gr = good(m.call("grep", {"image": img, "pattern": "^3\\.19",
                              "path": "/etc"}))
    assert gr == {"matches": [{"path": "/etc/alpine-release",
                               "line_number": 1, "line_text": "3.19.1"}],
                  "truncated": False}, gr
    gr = good(m.call("grep", {"image": img, "pattern": "ALPINE",
                              "case": "insensitive", "max_total": 1}))
    assert len(gr["matches"]) == 1 and gr["truncated"] is True, gr
    bad(m.call("grep", {"image": img, "pattern": "x", "path": "/nope"}),
        "404")
    tg = good(m.call("set_tag", {"image_uuid": big, "tag": "mine/x:1"}))
    assert tg["tag"] == "mine/x:1", tg
    assert good(m.call("set_tag", {"image_uuid": big, "tag": None}))["tag"] is None
    who = good(m.call("whoami"))
    assert "permissions" in who
    r = good(m.call("run", {"command": "true", "image": img, "wait": False}))
    op = r["operation_id"]
    w = good(m.call("wait_operations", {"operation_ids": [op], "timeout": 30}))
    assert w["completed"] == [op] and w["timed_out"] is False, w
    assert w["results"][op]["status"] == "SUCCESS"
    g = good(m.call("get_operation", {"operation_id": op}))
    assert g["status"] == "SUCCESS" and g["exit_code"] == 0, g
    ops = good(m.call("list_operations", {"type": "instance"}))["operations"]
    assert op in [o["uuid"] for o in ops]
    t.fake.config(delay=30)
    r = good(m.call("run", {"command": "true", "image": img, "wait": False}))
    w = good(m.call("wait_operations", {"operation_ids": [r["operation_id"]],
                                        "timeout": 1}))
    assert w["timed_out"] is True and w["pending"] == [r["operation_id"]], w
    c = good(m.call("cancel_operation", {"operation_id": r["operation_id"]}))
    assert c == {"cancelled": True, "operation_id": r["operation_id"]}
    assert t.fake.requests("DELETE", "/v1/operations/" + r["operation_id"])
    # arguments become the query: names, times in UTC, false left out
    t.fake.clear_requests()
    good(m.call("list_images", {"since": "2h ago", "until": "2030-01-31",
                                "tagged": False, "offset": 2, "limit": 3}))
    good(m.call("list_operations", {"type": "instance", "status": "SUCCESS",
                                    "since": "2026-01-31"}))
    qi = t.fake.requests("GET", "/v1/images")[-1]["query"]
    qo = t.fake.requests("GET", "/v1/operations")[-1]["query"]
    assert qi["limit"] == ["3"] and qi["offset"] == ["2"], qi
    assert "tagged" not in qi and qi["until"][0].startswith("2030-01-31"), qi
    assert qi["since"][0].endswith("Z"), qi
    assert qo["kind"] == ["instance"] and qo["status"] == ["SUCCESS"], qo
    assert qo["since"][0].startswith("2026-01-31") and qo["limit"] == ["100"]
    bad(m.call("list_images", {"since": "2026-13-45"}), "'since'")
    assert m.close() == 0


def test_import_and_registry_credentials(t):
    m = Mcp(t)
    m.init()
    bad(m.call("import_image", {"registry_url": "docker://docker.io/library/alpine:3.20"}),
        "registry_auth")
    r = good(m.call("registry_auth", {"registry_url": "docker.io",
                                      "username": "me", "token": "s3cr3t-tok"}))
    assert r["stored"] is True and "s3cr3t" not in json.dumps(r), r
    imp = good(m.call("import_image", {"registry_url": "alpine:3.20",
                                       "tag": "mine/alp:1"}))
    assert imp["status"] == "SUCCESS" and imp["result_image_uuid"], imp
    q = t.fake.requests("POST", "/v1/images/import")[-1]["json"]
    assert q["registry"] == {"url": "docker://docker.io/library/alpine:3.20",
                             "credentials": {"username": "me",
                                             "password": "s3cr3t-tok"}}, q
    assert q["tag"] == "mine/alp:1"
    g = good(m.call("get_operation", {"operation_id": imp["operation_id"]}))
    assert "s3cr3t" not in json.dumps(g)
    tok = good(m.call("registry_token_obtain",
                      {"registry_url": "docker://ghcr.io/o/i:1"}))
    assert tok["registry"] == "ghcr.io" and "github.com" in tok["url"], tok
    r = good(m.call("import_image", {"registry_url": "docker://ghcr.io/o/i:1",
                                     "wait": False,
                                     "i_accept_that_anonymous_access_might_be_rate_limited": True}))
    assert r["status"] == "PENDING" and r["operation_id"], r
    assert "credentials" not in t.fake.requests("POST", "/v1/images/import")[-1]["json"]["registry"]
    assert m.close() == 0
    assert b"s3cr3t" not in m.err


def test_upload_download_rsync_root(t):
    root = os.path.join(t.tmp, "proj")
    os.makedirs(os.path.join(root, "src", "__pycache__"))
    with open(os.path.join(root, "src", "a.txt"), "w") as f:
        f.write("alpha\n")
    with open(os.path.join(root, "src", "__pycache__", "x.pyc"), "w") as f:
        f.write("junk")
    with open(os.path.join(t.tmp, "secret"), "w") as f:
        f.write("outside\n")
    os.symlink(os.path.join(t.tmp, "secret"), os.path.join(root, "src", "leak"))
    m = Mcp(t, cwd=root)
    m.init()
    up = good(m.call("upload", {"content": "hello\n"}))
    assert len(up["sha256"]) == 64 and up["size"] == 6, up
    up2 = good(m.call("upload", {"path": "src/a.txt"}))
    bad(m.call("upload", {"path": "../secret"}), "outside")
    bad(m.call("upload", {"path": os.path.join(t.tmp, "secret")}), "outside")
    bad(m.call("upload", {"path": "src/leak"}), "outside")
    bad(m.call("upload", {"content": "x", "path": "src/a.txt"}), "exactly one")
    img = t.fake.image_uuid("alpine:3.19")
    r = good(m.call("run", {"command": "cat /in/u /in/a", "image": img,
                            "files": {"/in/u": up["uuid"],
                                      "/in/a": up2["uuid"]}}))
    assert r["stdout"] == "hello\nalpha\n", r
    rs = good(m.call("rsync", {"source": "src", "destination": "/app"}))
    assert rs["files"] == 1 and rs["skipped"] and "leak" in rs["skipped"][0], rs
    rs2 = good(m.call("rsync", {"source": "src", "destination": "/app"}))
    assert rs2["directory_state_id"] == rs["directory_state_id"]
    assert rs2["uploaded"] == 0
    r = good(m.call("run", {"command": "ls -R /app; cat /app/a.txt",
                            "image": img,
                            "directory_state_id": rs["directory_state_id"]}))
    assert "alpha" in r["stdout"] and "pyc" not in r["stdout"], r
    bad(m.call("download", {"image": img, "path": "/etc/alpine-release",
                            "destination": "nodir/rel"}), "destination")
    os.makedirs(os.path.join(root, "out"), exist_ok=True)
    d = good(m.call("download", {"image": img, "path": "/etc/alpine-release",
                                 "destination": "out/rel", "executable": True}))
    p = os.path.join(root, "out", "rel")
    assert open(p).read() == "3.19.1\n" and os.access(p, os.X_OK), d
    assert d["size"] == 7 and d["success"] is True
    bad(m.call("download", {"image": img, "path": "/etc/alpine-release",
                            "destination": "../x"}), "outside")
    assert m.close() == 0


def test_guide_resources_prompts(t):
    m = Mcp(t)
    m.init()
    g = good(m.call("get_guide", {"section": "tagging"}))
    assert g["section"] == "tagging" and "tag" in g["content"]
    assert len(g["available_sections"]) == 7
    res = m.request("resources/list")["result"]["resources"]
    assert len(res) == 7
    rd = m.request("resources/read", {"uri": res[0]["uri"]})["result"]
    assert rd["contents"][0]["text"].startswith("#")
    tm = m.request("resources/templates/list")["result"]["resourceTemplates"]
    assert len(tm) == 5
    e = m.request("resources/read", {"uri": "contree://nope"})["error"]
    assert e["code"] == -32002, e
    img = t.fake.image_uuid("alpine:3.19")
    rd = m.request("resources/read", {
        "uri": "contree://image/%s/read/etc/alpine-release" % img})["result"]
    assert rd["contents"][0]["text"] == "3.19.1\n", rd
    rd = m.request("resources/read", {
        "uri": "contree://image/tag:alpine:3.19/ls/etc"})["result"]
    assert "alpine-release" in rd["contents"][0]["text"]
    e = m.request("resources/read", {
        "uri": "contree://image/%s/read/nope" % img})["error"]
    assert e["code"] == -32002, e
    pr = m.request("prompts/list")["result"]["prompts"]
    assert len(pr) == 10 and "run-python" in [p["name"] for p in pr]
    g = m.request("prompts/get", {"name": "run-shell",
                                  "arguments": {"command": "uname -a"}})
    assert "uname -a" in g["result"]["messages"][0]["content"]["text"], g
    e = m.request("prompts/get", {"name": "run-shell", "arguments": {}})
    assert e["error"]["code"] == -32602
    assert m.close() == 0


# ---- concurrency, cancellation, end of input -----------------------------------

def run_msg(id, cmd, img, token=None):
    p = {"name": "run", "arguments": {"command": cmd, "image": img}}
    if token is not None:
        p["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": p}


def test_concurrent_calls_and_ping(t):
    t.fake.config(delay=2)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    start = time.time()
    for i in range(4):
        m.send(run_msg(i + 1, "echo %d" % i, img))
    assert m.request("ping")["result"] == {}
    assert time.time() - start < 1.5, "ping waited for the runs"
    outs = sorted(good(m.answer(i + 1)["result"])["stdout"] for i in range(4))
    assert outs == ["0\n", "1\n", "2\n", "3\n"], outs
    assert time.time() - start < 6, "runs were not concurrent"
    assert m.close() == 0


def spawn_sent(t, step, settle):
    """Wait (up to 100 steps) for the spawn request to reach the fake,
    then settle seconds more for the server side to get going."""
    for _ in range(100):
        if t.fake.requests("POST", "/v1/instances"):
            break
        time.sleep(step)
    time.sleep(settle)


def test_cancel_sends_no_answer_and_deletes(t):
    t.fake.config(delay=20)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    m.send(run_msg(1, "sleep 30", img, token="tok"))
    spawn_sent(t, 0.1, 0.5)
    m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 1, "reason": "user"}})
    for _ in range(100):
        if t.fake.requests("DELETE"):
            break
        time.sleep(0.1)
    assert t.fake.requests("DELETE"), "the operation was not cancelled"
    assert m.request("ping")["result"] == {}
    time.sleep(0.5)
    assert m.request("ping")["result"] == {}
    assert not [x for x in m.stray if x.get("id") == 1], m.stray
    assert m.close() == 0


def test_cancel_while_spawn_in_flight(t):
    """A cancel that arrives before the spawn's answer (the operation id
    not yet known): the operation still ends cancelled on the server,
    the request gets no answer, and the session log records no run.
    slow: the server answers late and creates the operation late;
    stall: it creates the operation, then sends half of its answer."""
    t.fake.config(delay=20)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    for n, (kind, wait) in enumerate((("slow", False), ("stall", True))):
        t.fake.clear_requests()
        t.fake.fault(path="/instances$", method="POST", kind=kind, delay=2.5)
        msg = run_msg(40 + n, "echo spawned-%d" % n, img)
        msg["params"]["arguments"]["wait"] = wait
        m.send(msg)
        spawn_sent(t, 0.05, 0.3)
        m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": 40 + n, "reason": "user"}})
        end = time.time() + 20
        ops = []
        while time.time() < end:
            ops = [o for o in t.fake.call("GET", "/v1/operations",
                                          query={"kind": "instance"}).json
                   if "spawned-%d" % n in json.dumps(
                       t.fake.call("GET", "/v1/operations/" + o["uuid"]).json)]
            if ops and all(o["status"] == "CANCELLED" for o in ops):
                break
            time.sleep(0.2)
        assert len(ops) == 1 and ops[0]["status"] == "CANCELLED", (kind, ops)
        time.sleep(0.5)
        assert m.request("ping")["result"] == {}
        assert not [x for x in m.stray if x.get("id") == 40 + n], m.stray
        show = t.run("-S", "mcp", "-f", "json", "session", "show").stdout
        assert ops[0]["uuid"] not in show, (kind, show)
    assert m.close() == 0
    assert b"still running" not in m.err, m.err
test_cancel_while_spawn_in_flight.timeout = 90


def test_progress_while_waiting(t):
    t.fake.config(delay=7)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    m.send(run_msg(5, "true", img, token="p5"))
    r = m.answer(5, 60)
    good(r["result"])
    prog = [n["params"] for n in m.notes
            if n["method"] == "notifications/progress"]
    assert prog and all(p["progressToken"] == "p5" for p in prog), m.notes
    vals = [p["progress"] for p in prog]
    assert vals == sorted(set(vals)), vals
    assert m.close() == 0
test_progress_while_waiting.timeout = 90


def test_stdin_closed_mid_call(t):
    t.fake.config(delay=30)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    m.send(run_msg(1, "sleep 1", img))
    spawn_sent(t, 0.1, 0.5)
    start = time.time()
    assert m.close(5) == 0
    assert time.time() - start < 2
    time.sleep(0.2)
    op = t.fake.requests("POST", "/v1/instances")
    ops = t.fake.call("GET", "/v1/operations",
                      query={"kind": "instance"}).json
    uuids = [o["uuid"] for o in ops]
    assert uuids and uuids[0].encode() in m.err, (uuids, m.err)
    assert not t.fake.requests("DELETE"), "operations must keep running"
    assert op


def test_stdin_closed_while_spawn_in_flight_names_its_marker(t):
    """stdin closes while a run's spawn request is unanswered: the server
    exits at once (status 0) and names the run by the marker its
    operation carries (CONTREE_SPAWN_ID), since no id is known yet."""
    img = t.fake.image_uuid("alpine:3.19")
    t.fake.fault(path="/instances$", method="POST", kind="slow", delay=3)
    m = Mcp(t)
    m.init()
    m.send(run_msg(1, "echo never-named", img))
    spawn_sent(t, 0.05, 0.3)
    start = time.time()
    assert m.close(5) == 0
    assert time.time() - start < 2
    mark = ((t.fake.requests("POST", "/v1/instances")[0]["json"] or {})
            .get("env") or {}).get("CONTREE_SPAWN_ID")
    assert mark and re.fullmatch(r"[0-9a-f]{32}", mark), mark
    assert ("CONTREE_SPAWN_ID=%s" % mark).encode() in m.err, m.err
    assert m.err.count(b"\n") == 1, m.err


def test_stdin_closed_removes_temporary_files(t):
    """A job killed when stdin closes leaves no temporary file: not the
    download's beside its destination, not upload's in TMPDIR."""
    root = os.path.join(t.tmp, "tmproot")
    tmpdir = os.path.join(t.tmp, "tmpdir")
    os.makedirs(os.path.join(root, "out"))
    os.makedirs(tmpdir)
    img = t.fake.image_uuid("alpine:3.19")
    for n, (path, args) in enumerate((
            ("/download", ("download", {"image": img,
                                        "path": "/etc/alpine-release",
                                        "destination": "out/rel"})),
            ("/files", ("upload", {"content": "temporary\n"})))):
        t.fake.clear_requests()
        t.fake.fault(path=path, kind="hang", delay=30, count=-1)
        m = Mcp(t, cwd=root, env={"TMPDIR": tmpdir})
        m.init()
        m.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": args[0], "arguments": args[1]}})
        for _ in range(100):
            if [r for r in t.fake.requests() if path in r["path"]]:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        left = os.listdir(os.path.join(root, "out")) + os.listdir(tmpdir)
        assert len(left) == 1 and "contree" in left[0], left
        assert m.close(5) == 0
        left = os.listdir(os.path.join(root, "out")) + os.listdir(tmpdir)
        assert left == [], (args[0], left)
        assert m.err == b"contree mcp: input closed; request 1 (tools/call "\
            b"%s) stopped\n" % args[0].encode(), m.err
        t.fake.admin("DELETE", "faults")


def test_sigint_cancels_running_calls(t):
    t.fake.config(delay=30)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t)
    m.init()
    m.send(run_msg(1, "sleep 1", img))
    spawn_sent(t, 0.1, 0.5)
    m.p.send_signal(2)              # the server only, not its jobs
    assert m.p.wait(20) == 130
    assert t.fake.requests("DELETE"), "the run was not cancelled"


# ---- requests read but not answered when the input ends ---------------------

def piped(t, msgs, env=None, tail=b"\n"):
    """contree mcp with all of msgs already in its stdin pipe and the pipe
    closed (as `printf ... | contree mcp` once printf is done): (exit
    status, answers by id, stderr)."""
    r, w = os.pipe()
    os.write(w, b"\n".join(json.dumps(x).encode() if isinstance(x, dict)
                           else x for x in msgs) + tail)
    os.close(w)
    t.fake  # credentials for the profile
    p = subprocess.run([t.binary(), "mcp"], stdin=r, capture_output=True,
                       env=t.env(env), cwd=t.home, timeout=30)
    os.close(r)
    out = [json.loads(x) for x in p.stdout.splitlines()]
    return p.returncode, out, p.stderr


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "e2e", "version": "1"}}}
INITED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def test_stdin_closed_names_requests_not_started(t):
    """The user's report: a call read in the same burst as the end of
    input is never started and is named on stderr; what is answered as
    it is read (tools/list, ping, even an unterminated last line) is
    answered; status 0."""
    t.fake.image_uuid("alpine:3.19")
    t.fake.clear_requests()
    st, out, err = piped(t, [
        INIT, INITED,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        run_msg(5, "sleep 3; echo x", "tag:alpine:3.19"),
        {"jsonrpc": "2.0", "id": "six", "method": "ping"},
        b'{"jsonrpc":"2.0","id":7,"method":"ping"}'], tail=b"")
    assert st == 0, (st, err)
    assert [x["id"] for x in out] == [1, 2, "six", 7], err
    assert all("result" in x for x in out), [x.get("error") for x in out]
    assert err == b"contree mcp: input closed; request 5 (tools/call run) "\
        b"not started\n", err
    assert not t.fake.requests("POST", "/v1/instances"), "a run started"
    assert not t.fake.call("GET", "/v1/operations").json


def test_stdin_closed_batch_answers_what_it_can(t):
    """A 2025-03-26 batch cut short by the end of input: its answered
    members still go out as an array; the rest are named."""
    img = t.fake.image_uuid("alpine:3.19")
    init = dict(INIT, params=dict(INIT["params"],
                                  protocolVersion="2025-03-26"))
    st, out, err = piped(t, [init, INITED, json.dumps(
        [{"jsonrpc": "2.0", "id": 2, "method": "ping"},
         run_msg(3, "true", img)]).encode()])
    assert st == 0, (st, err)
    assert out[1:] == [[{"jsonrpc": "2.0", "id": 2, "result": {}}]], \
        (out[1:], err)
    assert err == b"contree mcp: input closed; request 3 (tools/call run) "\
        b"not started\n", err


def in_flight_and_queued(t):
    """CONTREE_CONCURRENCY=1: run 1's operation running on the fake,
    run 2 read (the ping after it answered) and waiting for its turn."""
    t.fake.config(delay=30)
    img = t.fake.image_uuid("alpine:3.19")
    m = Mcp(t, env={"CONTREE_CONCURRENCY": "1"})
    m.init()
    m.send(run_msg(1, "sleep 20", img))
    spawn_sent(t, 0.1, 0.5)
    m.send(run_msg(2, "echo queued", img))
    assert m.request("ping")["result"] == {}
    return m


def test_stdin_closed_with_a_call_queued(t):
    m = in_flight_and_queued(t)
    start = time.time()
    assert m.close(5) == 0
    assert time.time() - start < 2
    ops = t.fake.call("GET", "/v1/operations", query={"kind": "instance"}).json
    assert len(ops) == 1, ops
    assert len(t.fake.requests("POST", "/v1/instances")) == 1
    assert not t.fake.requests("DELETE"), "operations must keep running"
    assert sorted(m.err.decode().splitlines()) == [
        "contree mcp: input closed; operation still running on the "
        "server: " + ops[0]["uuid"],
        "contree mcp: input closed; request 2 (tools/call run) not "
        "started"], m.err
test_stdin_closed_with_a_call_queued.timeout = 60


def test_sigterm_names_queued_calls(t):
    """SIGTERM stops the server as Ctrl-C does: the running call cancels
    its operation and is answered; the queued one is never started and
    is named; then the server dies of the signal."""
    m = in_flight_and_queued(t)
    m.p.send_signal(15)
    assert m.p.wait(20) == -15
    m.err_done.join(5)
    r = m.answer(1)
    assert "error" in r or r["result"].get("isError"), r
    assert m.recv() is None and not m.stray, "request 2 was answered"
    assert t.fake.requests("DELETE"), "the run was not cancelled"
    assert len(t.fake.requests("POST", "/v1/instances")) == 1
    assert b"contree mcp: interrupted; request 2 (tools/call run) not "\
        b"started\n" in m.err, m.err
test_sigterm_names_queued_calls.timeout = 60


def test_mcp_config(t):
    out = ok(t.run("mcp", "config")).stdout
    exe = os.path.realpath(t.binary())
    assert "claude mcp add contree -- %s mcp" % exe in out, out
    assert '"mcpServers"' in out and "[mcp_servers.contree]" in out
    js = ok(t.run("mcp", "config", "--agent", "cursor")).stdout
    assert json.loads(js)["mcpServers"]["contree"] == {"command": exe,
                                                       "args": ["mcp"]}
    toml = ok(t.run("mcp", "config", "--agent", "codex")).stdout
    assert toml.startswith("[mcp_servers.contree]"), toml


# ---- a client we did not write ---------------------------------------------------

def test_official_sdk_client(t):
    node = shutil.which("node")
    sdk = os.path.join(TESTS, "mcp-client", "node_modules", "@modelcontextprotocol",
                       "sdk")
    if not node:
        print("SKIP test_official_sdk_client: no node here (make deps "
              "installs nodejs and npm)")
        return
    assert os.path.isdir(sdk), ("@modelcontextprotocol/sdk is not installed "
                                "in tests/mcp-client: run make deps")
    t.fake.config(delay=1)
    root = os.path.join(t.tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "f.txt"), "w") as f:
        f.write("from the root\n")
    env = t.env({"CONTREE_BIN": t.binary()})
    p = subprocess.run([node, os.path.join(TESTS, "mcp_client.mjs"), root],
                       capture_output=True, env=env, cwd=root, timeout=150)
    assert p.returncode == 0, (p.stdout.decode()[-3000:],
                               p.stderr.decode()[-3000:])
    assert b"client: ok" in p.stdout, p.stdout
    # cancel_operation and the cancelled run both reached the server
    assert len(t.fake.requests("DELETE")) >= 2, t.fake.requests("DELETE")
test_official_sdk_client.timeout = 180


# ---- review2: a batch's answer is bounded ----------------------------------

def test_batch_answer_is_bounded(t):
    """A batch of small requests with big answers (tools/list, ~20 KB
    each) cannot make the server hold an unbounded array: past 64 MiB
    the members are answered with a short error each."""
    m = Mcp(t)
    m.init("2025-03-26")
    one = len(json.dumps(m.request("tools/list")["result"]))
    n = (80 << 20) // one + 1                       # > 80 MiB of answers
    m.send(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "tools/list"}
                       for i in range(n)]))
    line = m.q.get(timeout=120)
    assert line is not None and len(line) < (65 << 20), len(line or b"")
    r = json.loads(line)
    assert sorted(x["id"] for x in r) == list(range(n))
    full = [x for x in r if "result" in x]
    busy = [x for x in r if "error" in x]
    assert full and busy and len(full) + len(busy) == n, (len(full), n)
    assert {x["error"]["code"] for x in busy} == {-32000}, busy[0]
    assert "64 MiB" in busy[0]["error"]["message"], busy[0]
    assert raw_ping(m) == {"jsonrpc": "2.0", "id": 7, "result": {}}
    assert m.close() == 0


def raw_ping(m):
    m.send({"jsonrpc": "2.0", "id": 7, "method": "ping"})
    return raw(m)


def test_diff_patches_stop_at_max_changes(t):
    """diff with patch and max_changes: changes past the limit are only
    counted; no file is fetched to make patches nobody gets."""
    a = t.fake.add_image({"/d/f%d" % i: "old %d\n" % i for i in range(6)})
    b = t.fake.add_image({"/d/f%d" % i: "new, longer %d\n" % i
                          for i in range(6)})
    m = Mcp(t)
    m.init()

    def fetched():
        return [q for q in t.fake.requests("GET")
                if "/inspect/" in q["path"] and
                q["path"].endswith("/download")]

    t.fake.clear_requests()
    d = good(m.call("diff", {"from": a["uuid"], "to": b["uuid"],
                             "patch": True, "max_changes": 2}))
    assert len(d["changes"]) == 2 and d["count"] == 6 and d["truncated"], d
    assert all("+new" in c["patch"] for c in d["changes"]), d
    assert 1 <= len(fetched()) <= 4, [(q["path"], q["query"])
                                       for q in fetched()]
    assert m.close() == 0
