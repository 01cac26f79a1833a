"""e2e_config.py - configuration (cli.md §2.1, §3; design.md §1): data
directory, auth.ini/cli.ini, precedence flags > environment > config,
environment-only credentials, malformed files, the legacy layout move."""

import json
import os


from harness import ok, fails, rows


def confdir(t):
    return os.path.join(t.home, ".config", "contree")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def auths(t):
    return [r["headers"].get("authorization")
            for r in t.fake.requests("GET", "/v1/images")]


def active(t, **kw):
    r = ok(t.run("-f", "json", "auth", "list", "-O", **kw))
    a = [x["name"] for x in rows(r) if x["active"]]
    return a[0] if a else None


def test_env_only_credentials(t):
    t.noauth()
    t.fake
    env = {"CONTREE_TOKEN": t.fake.token, "CONTREE_URL": t.fake.url}
    ok(t.run("images", env=env))
    assert auths(t) == ["Bearer " + t.fake.token], auths(t)
    assert not os.path.exists(os.path.join(confdir(t), "auth.ini"))
    # sessions work too
    ok(t.run("-S", "k", "use", "tag:alpine:3.19", env=env))
    ok(t.run("-S", "k", "session", env=env))
    # NEBIUS_API_KEY is the second choice
    ok(t.run("images", env={"NEBIUS_API_KEY": t.fake.token,
                            "CONTREE_URL": t.fake.url}))
    # nothing configured: an error telling to run auth
    r = fails(t.run("images"), "contree auth")


def test_precedence_token(t):
    t.fake
    ok(t.run("images"))
    # environment beats the config file
    fails(t.run("images", env={"CONTREE_TOKEN": "wrong"}), "401")
    # the flag beats the environment
    ok(t.run("--token", t.fake.token, "images",
             env={"CONTREE_TOKEN": "wrong"}))
    assert auths(t) == ["Bearer " + t.fake.token, "Bearer wrong",
                        "Bearer " + t.fake.token], auths(t)
    fails(t.run("--token", "wrong2", "images"), "401")


def test_precedence_url(t):
    t.fake
    write(os.path.join(confdir(t), "auth.ini"),
          "[profile:default]\ntoken = %s\nurl = ftp://nowhere.invalid\n"
          "type = jwt\n" % t.fake.token)
    fails(t.run("images"))
    ok(t.run("images", env={"CONTREE_URL": t.fake.url + "/"}))
    ok(t.run("-u", t.fake.url + "//", "images",
             env={"CONTREE_URL": "ftp://nowhere.invalid"}))
    fails(t.run("-u", "ftp://nowhere.invalid", "images",
                env={"CONTREE_URL": t.fake.url}))


def test_profile_resolution(t):
    t.fake
    write(os.path.join(confdir(t), "auth.ini"),
          "[DEFAULT]\nprofile = b\n\n"
          "[profile:a]\ntoken = %s\nurl = %s\ntype = jwt\n\n"
          "[profile:b]\ntoken = wrong\nurl = %s\ntype = jwt\n"
          % (t.fake.token, t.fake.url, t.fake.url))
    assert active(t) == "b"
    fails(t.run("images"), "401")
    ok(t.run("-p", "a", "images"))
    ok(t.run("images", env={"CONTREE_PROFILE": "a"}))
    fails(t.run("-p", "b", "images", env={"CONTREE_PROFILE": "a"}))
    assert active(t, env={"CONTREE_PROFILE": "a"}) == "a"
    # a [cli] section does not disable $CONTREE_PROFILE (the fix)
    write(os.path.join(confdir(t), "cli.ini"), "[cli]\nlog_level = info\n")
    ok(t.run("images", env={"CONTREE_PROFILE": "a"}))
    # no [DEFAULT] profile: "default"
    write(os.path.join(confdir(t), "auth.ini"),
          "[profile:default]\ntoken = %s\nurl = %s\n"
          % (t.fake.token, t.fake.url))
    assert active(t) == "default"
    ok(t.run("images"))            # type missing: jwt
    # an unknown profile: exit 1, suggesting auth
    fails(t.run("-p", "nope", "images"), "contree auth")
    # a jwt profile without a URL
    write(os.path.join(confdir(t), "auth.ini"),
          "[profile:default]\ntoken = x\ntype = jwt\n")
    fails(t.run("images"), "URL")


def test_data_dir(t):
    t.noauth()
    t.fake
    prof = "[profile:%%s]\ntoken = %s\nurl = %s\ntype = jwt\n" % (
        t.fake.token, t.fake.url)
    xdg = os.path.join(t.tmp, "xdg")
    home2 = os.path.join(t.tmp, "ch")
    write(os.path.join(confdir(t), "auth.ini"), prof % "dflt")
    write(os.path.join(xdg, "contree", "auth.ini"), prof % "xdg")
    write(os.path.join(home2, "auth.ini"), prof % "ch")

    def names(env):
        r = ok(t.run("-f", "json", "auth", "list", "-O", env=env))
        return [x["name"] for x in rows(r)]

    assert names({}) == ["dflt"]
    assert names({"XDG_CONFIG_HOME": xdg}) == ["xdg"]
    assert names({"XDG_CONFIG_HOME": xdg, "CONTREE_HOME": home2}) == ["ch"]
    # session logs live in the data directory
    ok(t.run("-p", "ch", "-S", "k", "use", "tag:alpine:3.19",
             env={"CONTREE_HOME": home2}))
    assert os.path.exists(os.path.join(home2, "cli", "sessions", "ch.log"))
    # -c names another credentials file
    other = os.path.join(t.tmp, "other.ini")
    write(other, prof % "viac")
    r = ok(t.run("-f", "json", "-c", other, "auth", "list", "-O"))
    assert [x["name"] for x in rows(r)] == ["viac"], r
    ok(t.run("-c", other, "-p", "viac", "images"))
    # a -c file that is not there is named, not just "not configured"
    gone = os.path.join(t.tmp, "gone.ini")
    r = t.run("-c", gone, "images")
    assert r.code == 1 and r.stderr == (
        "[ERROR] Profile 'default' is not configured: -c %s: No such file "
        "or directory. Run 'contree -c %s auth' first.\n" % (gone, gone)), r


def test_cli_ini(t):
    t.fake
    cli = os.path.join(confdir(t), "cli.ini")
    write(cli, "[cli]\noutput_format = json\nsession_key = fromcli\n"
               "format = csv\n\n"
               "[profile:extra]\ntoken = %s\nurl = %s\n"
               "[profile:default]\ntoken = wrong\nproject = p\n"
               % (t.fake.token, t.fake.url))
    r = ok(t.run("use", "tag:alpine:3.19"))       # auth.ini's token wins
    assert r.stdout == "export CONTREE_SESSION=fromcli\n", r
    r = ok(t.run("session"))
    assert json.loads(r.stdout)["session_key"] == "fromcli", r
    r = ok(t.run("-f", "csv", "session"))
    assert r.stdout.startswith("session_key,"), r
    # -S and $CONTREE_SESSION still win
    r = ok(t.run("use", "tag:alpine:3.19", env={"CONTREE_SESSION": "e"}))
    assert r.stdout == "export CONTREE_SESSION=e\n", r
    # a profile only in cli.ini is a normal profile
    ok(t.run("-p", "extra", "images"))
    r = ok(t.run("auth", "list", "-O"))
    names = [x["name"] for x in rows(r)]
    assert names == ["default", "extra"], names
    assert rows(r)[0]["project"] == "p", r           # merged key
    # log_level
    write(cli, "[cli]\nlog_level = error\n")
    r = ok(t.run("-S", "k", "env", "A=1"))
    assert "[INFO]" not in r.stderr, r
    r = ok(t.run("-L", "info", "-S", "k", "env", "A=1"))
    assert "[INFO]" in r.stderr, r
    # values are %-interpolated like every other value
    write(cli, "[cli]\nsession_key = a%%b\n")
    r = ok(t.run("use", "tag:alpine:3.19"))
    assert r.stdout == "export CONTREE_SESSION=a%b\n", r
    # a [cli] section in auth.ini is honoured
    os.unlink(cli)
    with open(os.path.join(confdir(t), "auth.ini"), "a") as f:
        f.write("\n[cli]\noutput_format = json\n")
    r = ok(t.run("-S", "k", "env"))
    assert rows(r) == [{"key": "A", "value": "1"}], r


def test_malformed_config(t):
    t.fake
    path = os.path.join(confdir(t), "auth.ini")
    write(path, "[DEFAULT]\nprofile = default\nthis is not ini\n")
    for args in (("images",), ("auth", "list"), ("session", "list")):
        r = fails(t.run(*args))
        assert path + ":3:" in r.stderr, r
        assert "Traceback" not in r.stderr and r.code == 1, r
    write(path, "token = x\n")
    fails(t.run("images"), path + ":1:")
    # an unknown type names the profile
    write(path, "[profile:default]\ntoken = x\nurl = %s\ntype = weird\n"
          % t.fake.url)
    r = fails(t.run("images"), "default")
    assert "weird" in r.stderr, r


def test_migration(t):
    t.fake
    old = os.path.join(t.home, ".config", "contree-cli")
    new = confdir(t)
    os.unlink(os.path.join(new, "auth.ini"))
    os.rmdir(new)
    write(os.path.join(old, "config.ini"),
          "[profile:default]\ntoken = %s\nurl = %s\ntype = jwt\n"
          % (t.fake.token, t.fake.url))
    write(os.path.join(old, "sessions-default.db"), "peer db")
    write(os.path.join(old, "skills.db"), "skills")
    write(os.path.join(old, "other.txt"), "x")
    r = ok(t.run("images"))
    assert "[INFO]" in r.stderr and old in r.stderr, r
    assert not os.path.exists(old), "old directory kept"
    assert open(os.path.join(new, "auth.ini")).read().startswith(
        "[profile:default]")
    assert open(os.path.join(new, "cli", "sessions", "default.db")).read() \
        == "peer db"
    assert open(os.path.join(new, "cli", "skills.db")).read() == "skills"
    assert os.path.exists(os.path.join(new, "other.txt"))
    assert not os.path.exists(os.path.join(new, "sessions-default.db"))
    # idempotent: nothing more to say
    r = ok(t.run("images"))
    assert "[INFO]" not in r.stderr, r
    # step 2 on its own, with a conflict: the old file stays, a warning
    write(os.path.join(new, "sessions-x"), "one")
    write(os.path.join(new, "sessions-default.db"), "two")
    r = ok(t.run("images"))
    assert "[WARNING]" in r.stderr, r
    assert open(os.path.join(new, "cli", "sessions", "x")).read() == "one"
    assert open(os.path.join(new, "cli", "sessions", "default.db")).read() \
        == "peer db"
    assert os.path.exists(os.path.join(new, "sessions-default.db"))
    # an old directory is left alone once auth.ini exists
    write(os.path.join(old, "config.ini"), "[profile:old]\n")
    ok(t.run("images"))
    assert os.path.exists(os.path.join(old, "config.ini"))
    assert "[profile:old]" not in open(os.path.join(new, "auth.ini")).read()


def test_option_syntax(t):
    """cli.md §1: the argparse conventions of the global parser."""
    t.fake
    # -X=VALUE is a value, as argparse reads it (not "=VALUE")
    r = ok(t.run("-f=json", "-S=k", "env", "A=1"))
    r = ok(t.run("-f=json", "-S=k", "env"))
    assert rows(r) == [{"key": "A", "value": "1"}], r
    r = ok(t.run("-fjson", "-Sk", "env"))
    assert rows(r) == [{"key": "A", "value": "1"}], r
    # a value starting with '-' needs '='
    r = t.run("-S", "-k", "env")
    assert r.code == 2 and "contree: error: argument -S" in r.stderr, r
    assert r.stderr.startswith("usage: contree "), r
    r = ok(t.run("--session=-k", "env"))
    # ambiguous prefixes name the candidates; unique ones work
    r = t.run("--pro", "x", "env")
    assert r.code == 2 and "--profile" in r.stderr and \
        "--project" in r.stderr, r
    ok(t.run("--form", "json", "-S", "k", "env"))
    # -h inside a cluster is help, exit 0
    r = ok(t.run("-S", "k", "session", "show", "-ah"))
    assert r.stdout.startswith("usage: contree session show"), r
    # unknown command and subcommand
    r = t.run("nosuch")
    assert r.code == 2 and "contree: error: " in r.stderr and \
        "'nosuch'" in r.stderr, r
    r = t.run("session", "nosuch")
    assert r.code == 2 and "contree session: error: " in r.stderr, r
    r = t.run("operation")
    assert r.code == 2 and "contree operation: error: " in r.stderr, r


def test_migration_mode(t):
    """Files moved from the legacy layout are private (0600) like the
    files we create, whatever their mode was."""
    t.fake
    old = os.path.join(t.home, ".config", "contree-cli")
    new = confdir(t)
    os.unlink(os.path.join(new, "auth.ini"))
    os.rmdir(new)
    write(os.path.join(old, "config.ini"),
          "[profile:default]\ntoken = %s\nurl = %s\ntype = jwt\n"
          % (t.fake.token, t.fake.url))
    write(os.path.join(old, "sessions-default.db"), "peer db")
    write(os.path.join(old, "skills.db-wal"), "skills")
    for n in ("config.ini", "sessions-default.db", "skills.db-wal"):
        os.chmod(os.path.join(old, n), 0o644)
    ok(t.run("images"))
    for p in ("auth.ini", "cli/sessions/default.db", "cli/skills.db-wal"):
        mode = os.stat(os.path.join(new, p)).st_mode & 0o777
        assert mode == 0o600, (p, oct(mode))
    # step 2 on its own
    write(os.path.join(new, "sessions-x"), "one")
    os.chmod(os.path.join(new, "sessions-x"), 0o664)
    ok(t.run("images"))
    mode = os.stat(os.path.join(new, "cli", "sessions", "x")).st_mode
    assert mode & 0o777 == 0o600, oct(mode)


def test_precedence_cli_defaults(t):
    """flags > environment > [cli] > the profile, for token, URL and
    project (design.md §1)."""
    t.noauth()
    t.start_fake(project="proj-1")
    write(os.path.join(confdir(t), "auth.ini"),
          "[profile:default]\ntoken = wrong\nurl = %s\ntype = iam\n"
          "project = wrongp\n" % t.fake.url)
    cli = os.path.join(confdir(t), "cli.ini")
    fails(t.run("images"), "401")
    # [cli] beats the profile
    write(cli, "[cli]\ntoken = %s\nproject = proj-1\n" % t.fake.token)
    ok(t.run("images"))
    # the environment beats [cli]
    fails(t.run("images", env={"CONTREE_TOKEN": "wrong2"}), "401")
    fails(t.run("images", env={"NEBIUS_API_KEY": "wrong2"}), "401")
    fails(t.run("images", env={"CONTREE_PROJECT": "wrongp"}))
    fails(t.run("images", env={"NEBIUS_AI_PROJECT": "wrongp"}))
    # CONTREE_* beat NEBIUS_*
    ok(t.run("images", env={"NEBIUS_API_KEY": "wrong2",
                            "CONTREE_TOKEN": t.fake.token}))
    # flags beat the environment
    ok(t.run("--token", t.fake.token, "-P", "proj-1", "images",
             env={"CONTREE_TOKEN": "wrong2", "CONTREE_PROJECT": "wrongp"}))
    fails(t.run("-P", "wrongp", "images",
                env={"CONTREE_PROJECT": "proj-1"}))
    heads = [(r["headers"].get("authorization"), r["headers"].get("project"))
             for r in t.fake.requests("GET", "/v1/images")]
    good, bad = "Bearer " + t.fake.token, "Bearer wrong2"
    assert heads == [("Bearer wrong", "wrongp"), (good, "proj-1"),
                     (bad, "proj-1"), (bad, "proj-1"), (good, "wrongp"),
                     (good, "wrongp"), (good, "proj-1"), (good, "proj-1"),
                     (good, "wrongp")], heads
    # [cli] url beats the profile's, the environment beats [cli]
    write(cli, "[cli]\ntoken = %s\nproject = proj-1\n"
          "url = ftp://nowhere.invalid\n" % t.fake.token)
    fails(t.run("images"))
    ok(t.run("images", env={"CONTREE_URL": t.fake.url}))


def test_env_partial_credentials(t):
    """Part of the credentials in the environment and no profile: the
    error names the variable that is missing."""
    t.noauth()
    t.fake
    r = fails(t.run("images", env={"CONTREE_TOKEN": "x"}))
    assert "$CONTREE_TOKEN is set but $CONTREE_URL is not" in r.stderr, r
    assert "not configured" not in r.stderr, r
    r = fails(t.run("images", env={"NEBIUS_API_KEY": "x"}))
    assert "$NEBIUS_API_KEY is set but $CONTREE_URL is not" in r.stderr, r
    r = fails(t.run("images", env={"CONTREE_URL": t.fake.url}))
    assert "$CONTREE_URL is set but $CONTREE_TOKEN is not" in r.stderr, r
    r = fails(t.run("images", env={"CONTREE_PROJECT": "p"}))
    assert "$CONTREE_PROJECT is set but $CONTREE_TOKEN is not" in r.stderr, r
    # nothing at all: the profile is named
    r = fails(t.run("images"))
    assert "Profile 'default' is not configured" in r.stderr, r
    # with CONTREE_PROJECT the token alone is enough (IAM, default URL)
    r = t.run("images", env={"CONTREE_TOKEN": "x", "CONTREE_PROJECT": "p",
                             "HTTPS_PROXY": "http://127.0.0.1:1"})
    assert "is set but" not in r.stderr, r
