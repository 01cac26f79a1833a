"""e2e_skill.py - skill install/list/upgrade/remove (cli.md §9.22, §11).

No profile is needed: every test calls t.noauth(), and HOME is t.home."""

import json
import os
import re
import shutil
import stat

from harness import ok, fails, rows

# the one definition of the version: util.h
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "util.h")) as _f:
    VERSION = re.search(r'#define VERSION "([^"]+)"', _f.read()).group(1)
DIR_FILES = ("SKILL.md", ".version", os.path.join("agents", "openai.yaml"))


def sk(t, *args, **kw):
    return t.run("-f", "json", "skill", *args, **kw)


def read(path):
    with open(path) as f:
        return f.read()


def reg(t):
    path = os.path.join(t.home, ".config", "contree", "cli", "skills")
    return read(path) if os.path.exists(path) else None


def rows_after(r):
    """JSON rows after the last y/N prompt on stdout."""
    text = r.stdout.rsplit("[y/N] ", 1)[-1]
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def home(t, *p):
    return os.path.join(t.home, *p)


def no_temp_left(d):
    for _, dirs, files in os.walk(d):
        for n in dirs + files:
            assert not n.startswith(".contree-skill"), (d, n)
            assert ".tmp" not in n, (d, n)


def check_dir(path, claude=False):
    for f in DIR_FILES:
        assert os.path.isfile(os.path.join(path, f)), (path, f)
    assert read(os.path.join(path, ".version")) == VERSION + "\n"
    md = read(os.path.join(path, "SKILL.md"))
    assert md.startswith("---\nname: contree\ndescription: "), md[:200]
    head = md.split("\n---\n", 1)[0]
    assert ("allowed-tools: Bash(contree:*)" in head) == claude, head
    # built from the agent manual, plus the skill's own parts
    for s in ("Required workflow", "Sessions", "Images and tags",
              "Command safety", "History references", "Rules for subagents",
              "contree agent", VERSION, "Codex", "auth ls",
              "contree -S KEY use"):
        assert s in md, s
    y = read(os.path.join(path, "agents", "openai.yaml"))
    assert y.startswith("interface:\n"), y
    for s in ("display_name:", "short_description:", "default_prompt:"):
        assert s in y, y


# ---- install -------------------------------------------------------------------

def test_install_default_without_claude(t):
    t.noauth()
    r = ok(sk(t, "install"))
    got = rows(r)
    assert [x["kind"] for x in got] == ["codex", "opencode", "amp", "cline"], got
    assert got[0] == {"action": "install", "name": "contree", "kind": "codex",
                      "path": "~/.codex/skills/contree"}, got
    assert [x["path"] for x in got[1:]] == [
        "~/.config/opencode/skills/contree", "~/.config/agents/skills/contree",
        "~/.cline/skills/contree"], got
    assert r.stderr.count("[INFO]") == 4, r
    check_dir(home(t, ".codex", "skills", "contree"))
    check_dir(home(t, ".config", "opencode", "skills", "contree"))
    check_dir(home(t, ".config", "agents", "skills", "contree"))
    check_dir(home(t, ".cline", "skills", "contree"))
    assert not os.path.exists(home(t, ".claude"))
    rules = read(home(t, ".codex", "rules", "contree.rules"))
    assert 'prefix_rule(pattern = ["contree"], decision = "allow")' in rules
    # the registry: kind<TAB>path, mode 0600
    path = home(t, ".config", "contree", "cli", "skills")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert reg(t).splitlines() == [
        "codex\t" + home(t, ".codex/skills/contree"),
        "opencode\t" + home(t, ".config/opencode/skills/contree"),
        "amp\t" + home(t, ".config/agents/skills/contree"),
        "cline\t" + home(t, ".cline/skills/contree")], reg(t)
    no_temp_left(t.home)


def test_install_default_with_claude(t):
    t.noauth()
    os.makedirs(home(t, ".claude"))
    got = rows(ok(sk(t, "i")))
    assert [x["kind"] for x in got] == [
        "codex", "claude", "opencode", "amp", "cline", "claude-subagent",
        "claude-agent"], got
    assert got[1]["path"] == "~/.claude/skills/contree"
    assert got[5]["path"] == "~/.claude/agents/contree-subagent.md"
    assert got[6]["path"] == "~/.claude/agents/contree.md"
    check_dir(home(t, ".claude", "skills", "contree"), claude=True)
    sub = read(home(t, ".claude", "agents", "contree-subagent.md"))
    assert sub.startswith("---\nname: contree-subagent\ndescription: "), sub
    head = sub.split("\n---\n", 1)[0]
    assert "allowed-tools: Bash(contree:*)" in head, head
    assert "Required workflow" in sub and "Rules for subagents" in sub
    assert "## More" not in sub and "## All commands" not in sub, sub
    ag = read(home(t, ".claude", "agents", "contree.md"))
    assert ag.startswith("---\nname: contree\n"), ag
    head = ag.split("\n---\n", 1)[0]
    assert "tools: Bash, Read, Grep" in head and "skills: contree" in head
    assert "contree agent" in ag


def test_install_env_locations(t):
    t.noauth()
    env = {"CODEX_HOME": os.path.join(t.tmp, "cx"),
           "OPENCODE_HOME": os.path.join(t.tmp, "oc"),
           "CLINE_DIR": os.path.join(t.tmp, "cl")}
    got = rows(ok(sk(t, "install", "codex:~", "opencode:~", "cline:~",
                     env=env)))
    assert [x["path"] for x in got] == [
        os.path.join(t.tmp, "cx", "skills", "contree"),
        os.path.join(t.tmp, "oc", "skills", "contree"),
        os.path.join(t.tmp, "cl", "skills", "contree")], got
    check_dir(os.path.join(t.tmp, "cx", "skills", "contree"))
    assert os.path.isfile(os.path.join(t.tmp, "cx", "rules", "contree.rules"))
    assert not os.path.exists(home(t, ".codex"))


def test_install_spec_forms(t):
    t.noauth()
    proj = os.path.join(t.tmp, "proj")
    os.makedirs(proj)
    specs = ["claude:", "codex:", "amp:~", "claude-agent:",
             "cline:/rel/dir", "opencode:" + proj + "/oc"]
    got = rows(ok(sk(t, "install", *specs, cwd=proj)))
    assert [(x["kind"], x["path"]) for x in got] == [
        ("claude", os.path.join(proj, ".claude/skills/contree")),
        ("codex", os.path.join(proj, ".codex/skills/contree")),
        ("amp", "~/.config/agents/skills/contree"),
        ("claude-agent", os.path.join(proj, ".claude/agents/contree.md")),
        # KIND:PATH drops a leading / (peer quirk): relative to the cwd
        ("cline", os.path.join(proj, "rel/dir")),
        ("opencode", os.path.join(proj, proj.lstrip("/"), "oc")),
    ], got
    check_dir(os.path.join(proj, ".claude/skills/contree"), claude=True)
    assert os.path.isfile(os.path.join(proj, ".codex/rules/contree.rules"))
    check_dir(os.path.join(proj, "rel/dir"))
    no_temp_left(proj)


def test_install_path_guessing(t):
    t.noauth()
    w = t.tmp
    cases = [("x/notes.md", "claude-subagent"), ("a/.codex/s", "codex"),
             ("a/.claude/s", "claude"), ("a/opencode/s", "opencode"),
             ("a/agents/s", "amp"), ("a/.cline/s", "cline"),
             ("plain/dir", "claude")]
    got = rows(ok(sk(t, "install", *[c[0] for c in cases], cwd=w)))
    assert [(x["kind"], x["path"]) for x in got] == \
        [(k, os.path.join(w, p)) for p, k in cases], got
    assert read(os.path.join(w, "x/notes.md")).startswith(
        "---\nname: contree-subagent\n")
    check_dir(os.path.join(w, "plain/dir"), claude=True)
    # a codex skill outside a skills/contree layout gets no rules file
    assert not os.path.exists(os.path.join(w, "a/.codex/rules"))
    # ~ is the home directory in a plain path too
    got = rows(ok(sk(t, "install", "~/mine/.cline/x")))
    assert got == [{"action": "install", "name": "contree", "kind": "cline",
                    "path": "~/mine/.cline/x"}], got
    check_dir(home(t, "mine/.cline/x"))


def test_install_existing_needs_yes(t):
    t.noauth()
    ok(sk(t, "install", "codex:~", "claude-agent:~"))
    md = home(t, ".codex/skills/contree/SKILL.md")
    ag = home(t, ".claude/agents/contree.md")
    with open(md, "w") as f:
        f.write("mine")
    with open(ag, "w") as f:
        f.write("mine")
    r = ok(sk(t, "install", "codex:~", "claude-agent:~"))
    assert rows(r) == [], r
    assert r.stderr.count("[WARNING]") == 2, r
    assert "already installed" in r.stderr and "upgrade" in r.stderr, r
    assert "~/.codex/skills/contree" in r.stderr, r
    assert read(md) == "mine" and read(ag) == "mine"
    # -y replaces
    r = ok(sk(t, "install", "-y", "codex:~", "claude-agent:~"))
    assert [x["kind"] for x in rows(r)] == ["codex", "claude-agent"], r
    assert "[WARNING]" not in r.stderr, r
    check_dir(home(t, ".codex/skills/contree"))
    assert read(ag).startswith("---\nname: contree\n")
    no_temp_left(t.home)
    # remembered once each
    assert len(reg(t).splitlines()) == 2, reg(t)


def test_install_errors(t):
    t.noauth()
    # a file in the way of the parent directory
    t.write("blocker", "x")
    r = fails(sk(t, "install", os.path.join(t.tmp, "blocker", "sub"),
                 "amp:~"))
    assert "[ERROR]" in r.stderr and "blocker" in r.stderr, r
    # the other spec was still installed
    assert [x["kind"] for x in rows(r)] == ["amp"], r
    check_dir(home(t, ".config/agents/skills/contree"))
    # no HOME: a global location cannot be found
    fails(sk(t, "install", "codex:~", env={"HOME": None}), "HOME")
    # usage errors
    fails(t.run("skill"), code=2)
    fails(t.run("skill", "frobnicate"), code=2)
    fails(t.run("skill", "install", "--bogus"), code=2)
    fails(t.run("skill", "upgrade", "-y"), code=2)


# ---- list ----------------------------------------------------------------------

def test_list(t):
    t.noauth()
    ok(sk(t, "install", "codex:~", "claude-agent:~", "cline:~"))
    got = rows(ok(sk(t, "list")))
    assert [x["path"] for x in got] == sorted(x["path"] for x in got), got
    by = {x["kind"]: x for x in got}
    assert by["codex"] == {"name": "contree", "path": "~/.codex/skills/contree",
                           "kind": "codex", "version": VERSION,
                           "latest": VERSION, "outdated": False,
                           "exists": True}, got
    # single-file kinds have no version
    assert by["claude-agent"]["version"] == "?", got
    assert by["claude-agent"]["outdated"] is True, got
    # an older version is outdated, a newer one is not
    with open(home(t, ".cline/skills/contree/.version"), "w") as f:
        f.write("0.5.9\n")
    with open(home(t, ".codex/skills/contree/.version"), "w") as f:
        f.write("0.10.0\n")
    by = {x["kind"]: x for x in rows(ok(sk(t, "ls")))}
    assert by["cline"]["version"] == "0.5.9" and by["cline"]["outdated"], by
    assert by["codex"]["outdated"] is False, by
    # default format: a table with the columns
    r = ok(t.run("skill", "list"))
    for s in ("NAME", "PATH", "KIND", "VERSION", "LATEST", "OUTDATED",
              "EXISTS", "~/.cline/skills/contree"):
        assert s in r.stdout, r


def test_list_forgets_missing(t):
    t.noauth()
    ok(sk(t, "install", "codex:~", "amp:~"))
    shutil.rmtree(home(t, ".codex/skills/contree"))
    got = rows(ok(sk(t, "list")))
    by = {x["kind"]: x for x in got}
    assert by["codex"]["exists"] is False and by["amp"]["exists"] is True, got
    # forgotten after being listed
    got = rows(ok(sk(t, "list")))
    assert [x["kind"] for x in got] == ["amp"], got
    assert "codex" not in reg(t), reg(t)


def test_list_empty(t):
    t.noauth()
    r = ok(sk(t, "list"))
    assert r.stdout == "", r


# ---- upgrade -------------------------------------------------------------------

def test_upgrade(t):
    t.noauth()
    # nothing remembered
    fails(sk(t, "upgrade"), "No installed skills")
    ok(sk(t, "install", "cline:~", "codex:~", "claude-subagent:~"))
    md = home(t, ".cline/skills/contree/SKILL.md")
    sub = home(t, ".claude/agents/contree-subagent.md")
    ver = home(t, ".cline/skills/contree/.version")
    for p in (md, sub, ver):
        with open(p, "w") as f:
            f.write("old\n")
    r = ok(sk(t, "u"))
    # rows in kind table order, not install order
    assert [(x["action"], x["kind"]) for x in rows(r)] == [
        ("upgrade", "codex"), ("upgrade", "cline"),
        ("upgrade", "claude-subagent")], r
    check_dir(home(t, ".cline/skills/contree"))
    assert read(sub).startswith("---\nname: contree-subagent\n")
    no_temp_left(t.home)
    # one spec
    r = ok(sk(t, "update", "cline:~"))
    assert [x["kind"] for x in rows(r)] == ["cline"], r
    # a spec that is not installed: error, exit 1, others still done
    r = fails(sk(t, "upgrade", "amp:~", "codex:~"))
    assert "[ERROR]" in r.stderr and "not installed" in r.stderr, r
    assert [x["kind"] for x in rows(r)] == ["codex"], r
    assert not os.path.exists(home(t, ".config/agents"))


def test_upgrade_missing_remembered(t):
    t.noauth()
    ok(sk(t, "install", "codex:~", "amp:~"))
    shutil.rmtree(home(t, ".config/agents/skills/contree"))
    r = fails(sk(t, "upgrade"))
    assert "not installed" in r.stderr and "agents" in r.stderr, r
    assert [x["kind"] for x in rows(r)] == ["codex"], r


# ---- remove --------------------------------------------------------------------

def test_remove_prompt(t):
    t.noauth()
    ok(sk(t, "install", "codex:~", "amp:~"))
    codex = home(t, ".codex/skills/contree")
    # answer n: nothing removed, exit 1
    r = fails(sk(t, "remove", "codex:~", stdin="n\n"))
    assert "Remove 'contree' from ~/.codex/skills/contree? [y/N] " in r.stdout, r
    assert os.path.isdir(codex) and rows_after(r) == [], r
    assert "[WARNING]" in r.stderr, r
    # EOF: no
    r = fails(sk(t, "rm", "codex:~"))
    assert "[y/N]" in r.stdout and os.path.isdir(codex), r
    # y: removed, with its rules file
    r = ok(sk(t, "del", "codex:~", stdin="y\n"))
    assert not os.path.exists(codex)
    assert not os.path.exists(home(t, ".codex/rules/contree.rules"))
    assert rows_after(r) == [
        {"action": "remove", "name": "contree", "kind": "codex",
         "path": "~/.codex/skills/contree"}], r
    assert "codex" not in reg(t) and "amp" in reg(t), reg(t)
    # -y: no question
    r = ok(sk(t, "r", "-y", "amp:~"))
    assert "[y/N]" not in r.stdout, r
    assert [x["kind"] for x in rows(r)] == ["amp"], r
    assert not os.path.exists(home(t, ".config/agents/skills/contree"))
    assert reg(t) == "", reg(t)


def test_remove_all_remembered(t):
    t.noauth()
    fails(sk(t, "remove", "-y"), "No installed skills")
    os.makedirs(home(t, ".claude"))
    ok(sk(t, "install"))
    r = ok(sk(t, "remove", "-y"))
    assert [x["kind"] for x in rows(r)] == [
        "codex", "claude", "opencode", "amp", "cline", "claude-subagent",
        "claude-agent"], r
    for p in (".codex/skills/contree", ".codex/rules/contree.rules",
              ".claude/skills/contree", ".claude/agents/contree.md",
              ".claude/agents/contree-subagent.md",
              ".config/opencode/skills/contree", ".cline/skills/contree"):
        assert not os.path.exists(home(t, p)), p
    assert os.path.isdir(home(t, ".claude")), "only our files go"
    fails(sk(t, "remove", "-y"), "No installed skills")
    assert rows(ok(sk(t, "list"))) == []


def test_remove_not_present(t):
    t.noauth()
    ok(sk(t, "install", "amp:~"))
    r = fails(sk(t, "remove", "-y", "codex:~", "amp:~"))
    assert "[ERROR]" in r.stderr and "not installed" in r.stderr, r
    assert [x["kind"] for x in rows(r)] == ["amp"], r
    # answering yes to all, one answer per question
    ok(sk(t, "install", "amp:~", "cline:~"))
    r = ok(sk(t, "remove", stdin="y\ny\n"))
    assert r.stdout.count("[y/N]") == 2, r
    assert not os.path.exists(home(t, ".cline/skills/contree"))


# ---- safety --------------------------------------------------------------------

def test_never_replaces_foreign_things(t):
    t.noauth()
    d = os.path.join(t.tmp, "work")
    os.makedirs(d)
    t.write("work/precious.txt", "keep")
    # install -y onto a non-empty directory that is not a skill
    r = fails(sk(t, "install", "-y", "claude:work", cwd=t.tmp))
    assert "not touching it" in r.stderr and rows(r) == [], r
    assert read(os.path.join(d, "precious.txt")) == "keep"
    # remove and upgrade refuse it too, before asking
    for args in (("remove", "-y", d), ("remove", d), ("upgrade", d)):
        r = fails(sk(t, *args, stdin="y\n"))
        assert "not touching it" in r.stderr and "[y/N]" not in r.stdout, r
    assert read(os.path.join(d, "precious.txt")) == "keep"
    # a skill kind where a file is in the way
    t.write("afile", "data")
    r = fails(sk(t, "install", "-y", "amp:afile", cwd=t.tmp))
    assert "not a directory" in r.stderr, r
    assert read(os.path.join(t.tmp, "afile")) == "data"
    # an empty directory may be used
    os.makedirs(os.path.join(t.tmp, "empty"))
    ok(sk(t, "install", "-y", "amp:empty", cwd=t.tmp))
    check_dir(os.path.join(t.tmp, "empty"))


def test_remove_plain_path_uses_remembered_kind(t):
    t.noauth()
    w = os.path.join(t.tmp, "w")
    os.makedirs(w)
    # installed as codex at a path that would be guessed as claude
    got = rows(ok(sk(t, "install", "codex:x/skills/contree", cwd=w)))
    assert got[0]["kind"] == "codex", got
    assert os.path.isfile(os.path.join(w, "x/rules/contree.rules"))
    got = rows(ok(sk(t, "remove", "-y", "x/skills/contree", cwd=w)))
    assert got[0]["kind"] == "codex", got
    assert not os.path.exists(os.path.join(w, "x/skills/contree"))
    assert not os.path.exists(os.path.join(w, "x/rules/contree.rules"))
