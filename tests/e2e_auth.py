"""e2e_auth.py - profiles (cli.md §3.2, §9.20, §9.21): auth, auth list,
auth switch, auth remove."""

import hashlib
import json
import os
import select
import subprocess
import time

import harness


from harness import ok, fails, rows


def auth_path(t):
    return os.path.join(t.home, ".config", "contree", "auth.ini")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def whoamis(t):
    return t.fake.requests("GET", "/v1/whoami")


def jwt(t, *extra, token=None, stdin=None, env=None):
    return t.run("auth", "--type", "jwt", "-u", t.fake.url + "/",
                 "--token", token or t.fake.token, *extra, stdin=stdin,
                 env=env)


# ---- auth --------------------------------------------------------------------

def test_auth_first_profile(t):
    t.noauth()
    r = ok(jwt(t, "-p", "dev"))
    assert "[INFO]" in r.stderr and "dev" in r.stderr, r
    assert auth_path(t) in r.stderr, r          # saved ... with the path
    text = read(auth_path(t)).decode()
    assert text == ("[DEFAULT]\nprofile = dev\n\n[profile:dev]\n"
                    "token = %s\nurl = %s\ntype = jwt\n\n"
                    % (t.fake.token, t.fake.url)), text
    assert os.stat(auth_path(t)).st_mode & 0o777 == 0o600
    w = whoamis(t)
    assert len(w) == 1 and w[0]["headers"]["authorization"] == \
        "Bearer " + t.fake.token, w
    # the first profile became active: API commands work without -p
    ok(t.run("images"))
    # a second profile does not change the active one
    ok(jwt(t, "-p", "stage"))
    text = read(auth_path(t)).decode()
    assert text.startswith("[DEFAULT]\nprofile = dev\n\n[profile:dev]\n"), text
    assert text.index("[profile:dev]") < text.index("[profile:stage]"), text
    assert text.endswith("type = jwt\n\n"), text


def test_auth_global_profile_option(t):
    t.noauth()
    ok(t.run("-p", "fromglobal", "auth", "--type", "jwt", "-u", t.fake.url,
             "--token", t.fake.token))
    text = read(auth_path(t)).decode()
    assert "[profile:fromglobal]" in text and "[profile:default]" not in text
    # auth's own -p wins over the global one
    ok(t.run("-p", "g", "auth", "-p", "own", "--type", "jwt", "-u", t.fake.url,
             "--token", t.fake.token))
    text = read(auth_path(t)).decode()
    assert "[profile:own]" in text and "[profile:g]" not in text, text


def test_auth_verify_fails(t):
    t.fake
    before = read(auth_path(t))
    r = fails(jwt(t, "-y", token="wrong"), "401")
    assert "verification failed" in r.stderr, r
    assert read(auth_path(t)) == before, "profile changed"
    # a reply that is not JSON
    t.fake.fault(path="/v1/whoami", kind="badjson")
    fails(jwt(t, "-y", "-p", "other"))
    assert read(auth_path(t)) == before
    # never saved anything for a new file either
    t2 = os.path.join(t.tmp, "new.ini")
    fails(t.run("-c", t2, "auth", "--type", "jwt", "-u", t.fake.url, "--token",
                "wrong"))
    assert not os.path.exists(t2)


def test_auth_overwrite_prompt(t):
    t.fake
    before = read(auth_path(t))
    r = fails(jwt(t, stdin=b"n\n"))
    assert "Profile 'default' already exists. Overwrite? [y/N] " in r.stdout, r
    assert "Aborted." in r.stdout, r
    assert read(auth_path(t)) == before
    assert not whoamis(t), "verified before asking"
    r = fails(jwt(t))                              # EOF is no
    assert "Aborted." in r.stdout and read(auth_path(t)) == before, r
    r = ok(jwt(t, "--type", "jwt", stdin=b"y\n"))
    assert "Updating" in r.stderr or "updat" in r.stderr.lower(), r
    r = ok(jwt(t, "-y"))
    assert "Overwrite" not in r.stdout, r
    # the rewrite keeps the one profile, canonical layout
    text = read(auth_path(t)).decode()
    assert text.count("[profile:default]") == 1, text


def test_auth_env_and_prompts(t):
    t.noauth()
    t.fake
    # token and URL from the environment, each named in an INFO line
    r = ok(t.run("auth", "--type", "jwt", "-p", "e1",
                 env={"CONTREE_TOKEN": t.fake.token,
                      "CONTREE_URL": t.fake.url}))
    assert "CONTREE_TOKEN" in r.stderr and "CONTREE_URL" in r.stderr, r
    assert t.fake.token not in r.stderr + r.stdout, "token printed"
    r = ok(t.run("auth", "--type", "jwt", "-p", "e2", "-u", t.fake.url,
                 env={"NEBIUS_API_KEY": t.fake.token}))
    assert "NEBIUS_API_KEY" in r.stderr, r
    # --token beats the environment
    r = ok(t.run("auth", "--type", "jwt", "-p", "e3", "-u", t.fake.url,
                 "--token", t.fake.token, env={"CONTREE_TOKEN": "wrong"}))
    # prompts: token (no echo; here stdin is not a terminal) then URL
    r = ok(t.run("auth", "--type", "jwt", "-p", "e4",
                 stdin=("%s\n%s\n" % (t.fake.token, t.fake.url)).encode()))
    assert "URL: " in r.stdout, r
    assert t.fake.token not in r.stdout + r.stderr, r
    text = read(auth_path(t)).decode()
    for p in ("e1", "e2", "e3", "e4"):
        assert "[profile:%s]\ntoken = %s\nurl = %s\ntype = jwt\n" % (
            p, t.fake.token, t.fake.url) in text, (p, text)
    # JWT without a URL: an error, nothing written
    before = read(auth_path(t))
    r = fails(t.run("auth", "--type", "jwt", "-p", "e5", "--token", "x",
                    stdin=b"\n"), "URL")
    assert read(auth_path(t)) == before
    # no token at all
    fails(t.run("auth", "--type", "jwt", "-p", "e6", "-u", t.fake.url))
    assert read(auth_path(t)) == before


def test_auth_iam(t):
    t.noauth()
    t.start_fake(project="proj-1")
    r = ok(t.run("auth", "-u", t.fake.url, "--token", t.fake.token, "-P",
                 "proj-1"))
    w = whoamis(t)
    assert w and w[-1]["headers"].get("project") == "proj-1", w
    text = read(auth_path(t)).decode()
    assert text == ("[DEFAULT]\nprofile = default\n\n[profile:default]\n"
                    "token = %s\nurl = %s\ntype = iam\nproject = proj-1\n\n"
                    % (t.fake.token, t.fake.url)), text
    ok(t.run("images"))
    # project from the environment, then from the prompt
    r = ok(t.run("auth", "-p", "p2", "-u", t.fake.url, "--token",
                 t.fake.token, env={"CONTREE_PROJECT": "proj-1"}))
    assert "CONTREE_PROJECT" in r.stderr, r
    r = ok(t.run("auth", "-p", "p3", "-u", t.fake.url, "--token",
                 t.fake.token, env={"NEBIUS_AI_PROJECT": "proj-1"}))
    assert "NEBIUS_AI_PROJECT" in r.stderr, r
    r = ok(t.run("auth", "-p", "p4", "-u", t.fake.url, "--token",
                 t.fake.token, stdin=b"proj-1\n"))
    assert "Project ID: " in r.stdout, r
    assert "[profile:p4]\ntoken = %s\nurl = %s\ntype = iam\nproject = proj-1\n" \
        % (t.fake.token, t.fake.url) in read(auth_path(t)).decode()
    # the wrong project fails verification
    fails(t.run("auth", "-p", "p5", "-u", t.fake.url, "--token", t.fake.token,
                "-P", "other"), "verification failed")


def test_auth_percent_token(t):
    t.noauth()
    tok = "p%c%%t%(x)s;#=:"
    t.start_fake(token=tok)
    ok(t.run("auth", "--type", "jwt", "-u", t.fake.url, "--token", tok))
    text = read(auth_path(t)).decode()
    assert "token = p%%c%%%%t%%(x)s;#=:\n" in text, text
    # read back exactly: the fake accepts only that token
    ok(t.run("images"))
    r = ok(t.run("-f", "json", "auth", "list"))
    assert rows(r)[0]["token_sha256"] == \
        hashlib.sha256(tok.encode()).hexdigest()[:16], r
    assert rows(r)[0]["status"] == "ok", r


def test_auth_no_permission_warns(t):
    t.fake.config(permissions={"list": False})
    r = ok(jwt(t, "-p", "np"))
    assert "[WARNING]" in r.stderr, r
    assert "[profile:np]" in read(auth_path(t)).decode()


def test_auth_prompt_no_echo(t):
    """The token prompt on a terminal does not echo what is typed."""
    t.noauth()
    t.fake
    master, slave = os.openpty()
    p = subprocess.Popen([t.binary(), "auth", "--type", "jwt", "-u",
                          t.fake.url], stdin=slave, stdout=slave, stderr=slave,
                         env=t.env(), cwd=t.home, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    sent = False
    while time.monotonic() < deadline:
        if not sent and b"Token: " in out:
            time.sleep(0.2)        # let it turn echo off after the prompt
            os.write(master, t.fake.token.encode() + b"\n")
            sent = True
        rl, _, _ = select.select([master], [], [], 0.5)
        if rl:
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            out += b
        elif p.poll() is not None and sent:
            break
    os.close(master)
    assert p.wait(10) == 0, out
    assert sent, out
    assert t.fake.token.encode() not in out, "token echoed: %r" % out
    assert ("token = %s\n" % t.fake.token) in read(auth_path(t)).decode()


# ---- auth list -------------------------------------------------------------------

def test_auth_list(t):
    os.makedirs(os.path.join(t.dir, "fake2"))
    f2 = harness.Fake(os.path.join(t.dir, "fake2"), token="tok2")
    try:
        f2.config(permissions={"list": False})
        f2.fault(path="/v1/whoami", kind="slow", delay=5)
        t.fake
        with open(auth_path(t), "a") as f:
            f.write("\n[profile:slowp]\ntoken = tok2\nurl = %s\ntype = jwt\n"
                    "\n[profile:inact]\ntoken = tok2\nurl = %s\n"
                    "\n[profile:bad]\ntoken = nope\nurl = %s\ntype = jwt\n"
                    "\n[profile:nourl]\ntoken = x\ntype = jwt\n"
                    "\n[profile:notoken]\nurl = %s\ntype = jwt\n"
                    "\n[profile:iamp]\ntoken = y\ntype = iam\nproject = pr\n"
                    % (f2.url, f2.url, t.fake.url, t.fake.url))
        with open(os.path.join(t.home, ".config/contree/cli.ini"), "w") as f:
            f.write("[profile:fromcli]\ntoken = c\nurl = http://127.0.0.1:1\n"
                    "[profile:default]\nproject = cli-proj\ntoken = ignored\n")
        r = ok(t.run("-f", "json", "auth", "list", "-O"))
        got = rows(r)
        assert "[INFO]" in r.stderr, r
        assert [x["name"] for x in got] == ["default", "slowp", "inact", "bad",
                                            "nourl", "notoken", "iamp",
                                            "fromcli"], got
        assert list(got[0]) == ["name", "type", "url", "project",
                                "token_sha256", "active", "status"], got[0]
        assert all(x["status"] == "offline mode" for x in got), got
        d = got[0]
        assert d["token_sha256"] == hashlib.sha256(
            t.fake.token.encode()).hexdigest()[:16], d
        assert d["active"] is True and d["project"] == "cli-proj", d
        assert [x["active"] for x in got].count(True) == 1
        assert got[2]["type"] == "jwt", got[2]         # missing type
        assert got[4]["url"] == "", got[4]
        assert got[5]["token_sha256"] == "<no token>", got[5]
        assert got[6]["url"] == \
            "https://api.tokenfactory.nebius.com/sandboxes", got[6]
        assert got[7]["url"] == "http://127.0.0.1:1", got[7]
        assert not whoamis(t), "offline mode probed"
        # the real probes (no iam profile: it would reach the internet)
        with open(auth_path(t)) as f:
            text = f.read()
        with open(auth_path(t), "w") as f:
            f.write(text.replace("[profile:iamp]\ntoken = y\ntype = iam\n"
                                 "project = pr\n", ""))
        # one probe at a time: the one slow answer goes to slowp, the
        # first to ask (parallel probes: e2e_xfer.py)
        r = ok(t.run("-f", "json", "auth", "ls",
                     env={"CONTREE_CONCURRENCY": "1"}), "auth list")
        st = {x["name"]: x["status"] for x in rows(r)}
        assert st == {"default": "ok", "slowp": "timeout", "inact": "inactive",
                      "bad": "error", "nourl": "no url", "notoken": "error",
                      "fromcli": "error"}, st
        # one attempt per probe, no retries
        assert len(whoamis(t)) == 2, whoamis(t)
        r = ok(t.run("auth", "profiles", "-O"))
        assert r.stdout.split()[:7] == ["NAME", "TYPE", "URL", "PROJECT",
                                        "TOKEN_SHA256", "ACTIVE", "STATUS"], r
        # the active profile is not configured: a warning
        r = ok(t.run("-f", "json", "auth", "list", "-O",
                     env={"CONTREE_PROFILE": "ghost"}))
        assert "[WARNING]" in r.stderr and "ghost" in r.stderr, r
        assert not any(x["active"] for x in rows(r)), r
    finally:
        f2.stop()


def test_auth_list_empty(t):
    t.noauth()
    r = ok(t.run("auth", "list"))
    assert r.stdout == "No profiles configured.\n", r


# ---- switch / remove ---------------------------------------------------------------

def test_auth_switch(t):
    ok(jwt(t, "-p", "two"))
    r = ok(t.run("auth", "switch", "two"))
    assert "[INFO]" in r.stderr, r
    text = read(auth_path(t)).decode()
    assert text.startswith("[DEFAULT]\nprofile = two\n"), text
    r = ok(t.run("-f", "json", "auth", "list", "-O"))
    assert [x["name"] for x in rows(r) if x["active"]] == ["two"], r
    before = read(auth_path(t))
    fails(t.run("auth", "switch", "nope"), "nope")
    assert read(auth_path(t)) == before
    ok(t.run("auth", "switch", "default"))
    assert read(auth_path(t)).decode().startswith(
        "[DEFAULT]\nprofile = default\n")
    assert os.stat(auth_path(t)).st_mode & 0o777 == 0o600


def test_auth_remove(t):
    ok(jwt(t, "-p", "two"))
    ok(jwt(t, "-p", "three"))
    u = t.fake.image_uuid("ubuntu:latest")
    ok(t.run("-p", "two", "-S", "k", "use", u))
    ok(t.run("-S", "k", "use", u))
    sessions = os.path.join(t.home, ".config/contree/cli/sessions")
    logs = sorted(os.listdir(sessions))
    assert len(logs) == 2, logs
    before = read(auth_path(t))
    r = fails(t.run("auth", "remove", "two", stdin=b"n\n"))
    assert "Remove profile 'two'? [y/N] " in r.stdout and "Aborted." in r.stdout
    assert read(auth_path(t)) == before
    fails(t.run("auth", "rm", "two"))                  # EOF: no
    assert read(auth_path(t)) == before
    fails(t.run("auth", "remove", "-y", "nope"), "nope")
    r = ok(t.run("auth", "del", "two", stdin=b"y\n"))
    assert "[INFO]" in r.stderr, r
    text = read(auth_path(t)).decode()
    assert "[profile:two]" not in text and "[profile:three]" in text, text
    assert len(os.listdir(sessions)) == 1, "session log of 'two' kept"
    # the other profile's sessions are untouched
    r = ok(t.run("-f", "json", "session", "list"))
    assert [x["session_key"] for x in rows(r)] == ["k"], r
    # removing the active profile: the first remaining one takes over
    ok(t.run("auth", "remove", "-y", "default"))
    text = read(auth_path(t)).decode()
    assert text.startswith("[DEFAULT]\nprofile = three\n"), text
    assert os.stat(auth_path(t)).st_mode & 0o777 == 0o600
    ok(t.run("auth", "remove", "-y", "three"))
    assert read(auth_path(t)).decode().startswith(
        "[DEFAULT]\nprofile = default\n")


def test_auth_list_default_section(t):
    """auth list reads profiles as every other command does: [DEFAULT]
    values are visible in every profile (cli.md §3.2)."""
    t.noauth()
    t.fake
    os.makedirs(os.path.dirname(auth_path(t)))
    with open(auth_path(t), "w") as f:
        f.write("[DEFAULT]\nprofile = d\nurl = %s/\ntype = jwt\n\n"
                "[profile:d]\ntoken = %s\n\n"
                "[profile:own]\ntoken = %s\nurl = http://127.0.0.1:1\n"
                "type = iam\nproject = pr\n"
                % (t.fake.url, t.fake.token, t.fake.token))
    ok(t.run("images"))                     # main reads url/type from it
    r = ok(t.run("-f", "json", "auth", "list", "-O"))
    got = {x["name"]: x for x in rows(r)}
    assert got["d"]["url"] == t.fake.url, got
    assert got["d"]["type"] == "jwt", got
    assert got["own"]["url"] == "http://127.0.0.1:1", got   # own wins
    assert got["own"]["type"] == "iam", got
    r = ok(t.run("-f", "json", "auth", "list"))
    assert {x["name"]: x["status"] for x in rows(r)}["d"] == "ok", r
    # an IAM type from [DEFAULT] gives the IAM default URL
    with open(auth_path(t), "w") as f:
        f.write("[DEFAULT]\ntype = iam\n\n[profile:x]\ntoken = t\n")
    r = ok(t.run("-f", "json", "auth", "list", "-O"))
    assert rows(r)[0]["type"] == "iam", r
    assert rows(r)[0]["url"] == \
        "https://api.tokenfactory.nebius.com/sandboxes", r
    # auth switch knows a profile that only cli.ini has
    with open(os.path.join(os.path.dirname(auth_path(t)), "cli.ini"),
              "w") as f:
        f.write("[profile:c]\ntoken = t\n")
    ok(t.run("auth", "switch", "c"))
    text = read(auth_path(t)).decode()
    assert text.startswith("[DEFAULT]\n") and "\nprofile = c\n" in text, text


def test_auth_broken_file(t):
    """A malformed auth.ini does not block `auth`: it names file:line and
    offers to start a new file (-y does it); the old one is kept."""
    t.noauth()
    t.fake
    path = auth_path(t)
    os.makedirs(os.path.dirname(path))
    broken = b"[profile:old]\ntoken = secret\nthis is not ini\n"
    with open(path, "wb") as f:
        f.write(broken)
    # other commands still fail on it
    fails(t.run("images"), path + ":3:")
    fails(t.run("auth", "list"), path + ":3:")
    # refused: nothing written
    r = fails(jwt(t, stdin=b"n\n"))
    assert path + ":3:" in r.stderr, r
    assert ("Replace %s with a new file holding only profile 'default'? "
            "The old file is kept as %s.bak. [y/N] " % (path, path)) \
        in r.stdout, r
    assert "Aborted." in r.stdout, r
    assert read(path) == broken and read(path + ".bak") is None
    assert not whoamis(t), "verified before asking"
    # a failed verification changes nothing either
    fails(jwt(t, "-y", token="wrong"), "verification failed")
    assert read(path) == broken and read(path + ".bak") is None
    # yes: a fresh file with the new profile, the old one kept
    r = ok(jwt(t, stdin=b"y\n"))
    assert read(path + ".bak") == broken
    assert os.stat(path + ".bak").st_mode & 0o777 == 0o600
    assert read(path).decode() == (
        "[DEFAULT]\nprofile = default\n\n[profile:default]\n"
        "token = %s\nurl = %s\ntype = jwt\n\n" % (t.fake.token, t.fake.url))
    ok(t.run("images"))
    # -y: no question
    with open(path, "wb") as f:
        f.write(broken)
    r = ok(jwt(t, "-y", "-p", "n2"))
    assert "[y/N]" not in r.stdout and path + ":3:" in r.stderr, r
    assert "[profile:n2]" in read(path).decode()
    ok(t.run("-p", "n2", "images"))
