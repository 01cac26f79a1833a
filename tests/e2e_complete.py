"""e2e_complete.py - shell completion: `contree completion --words` (the
engine, complete.c, read from the command table) and the bash, zsh and
fish scripts loaded into the real shells, which ask the binary."""

import os
import shlex
import shutil
import subprocess

from harness import ok, fails


def words(t, *w, env=None):
    r = ok(t.run("completion", "--words", "--", "contree", *w, env=env))
    return r.stdout.splitlines()


def test_commands_options_choices(t):
    t.noauth()
    assert words(t, "se") == ["session"]
    assert words(t, "sess", "") == []       # no prefixes of command words
    assert words(t, "session", "") == ["branch", "checkout", "delete", "list",
                                    "rollback", "show", "use", "wait"]
    # aliases resolve: `s` is session
    assert "checkout" in words(t, "s", "ch")
    assert words(t, "-f", "json") == ["json", "json-pretty"]
    assert words(t, "-L", "") == ["critical", "debug", "error", "info",
                                  "warning"]
    assert words(t, "run", "--file") == ["--file", "--file-excludes"]
    assert "--help" in words(t, "ls", "-")
    assert words(t, "agent", "core") == ["core", "core_workflow"]
    # the value of an option is not taken for a command word
    assert words(t, "-p", "x", "ima") == ["images"]
    # nothing matches: empty, so the shell completes file names
    assert words(t, "run", "-t", "") == []
    assert words(t, "zzz") == []
    # local paths where the table wants a local file
    d = os.path.join(t.tmp, "loc")
    os.makedirs(os.path.join(d, "sub"))
    t.write("loc/file.txt", "x")
    assert words(t, "file", "cp", d + "/") == [d + "/file.txt", d + "/sub/"]
    assert words(t, "run", "-F", d + "/f") == [d + "/file.txt"]
    assert words(t, "cp", "/etc/x", d + "/s") == [d + "/sub/"]


def test_usage_errors(t):
    t.noauth()
    # the usage line, the help and the errors name the one positional
    r = fails(t.run("completion"), code=2)
    assert r.stderr.splitlines() == [
        "usage: contree completion [-h] [--words] [--] ARGS ...",
        "contree completion: error: argument ARGS: expected one shell "
        "(bash, zsh or fish), or --words and a command line"], r
    r = fails(t.run("completion", "tcsh"), code=2)
    assert "error: argument ARGS: invalid choice: 'tcsh'" in r.stderr, r
    h = ok(t.run("completion", "--help")).stdout
    assert "[--] ARGS ..." in h and "the last of ARGS, one per line" in h, h
    assert "SHELL" not in h and "WORDS" not in h, h


def test_dynamic_values(t):
    f = t.fake
    base = f.image_uuid("ubuntu:latest") if hasattr(f, "image_uuid") else None
    assert base
    ok(t.run("-S", "k1", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "k1", "session", "branch", "feature-x"))
    ok(t.run("-S", "k2", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "k1", "env", "DEBUG=1"))
    assert words(t, "-S", "k1", "session", "checkout", "fe") == ["feature-x"]
    assert words(t, "session", "use", "k") == ["k1", "k2"]
    assert words(t, "-S", "") == ["k1", "k2"]
    assert words(t, "-S", "k1", "env", "DE") == ["DEBUG="]
    assert words(t, "auth", "switch", "") == ["default"]
    got = words(t, "use", "tag:ubu")
    assert "tag:ubuntu:latest" in got, got
    assert words(t, "use", base[:8]) == [base]
    # paths of the session's image, relative to its directory
    assert words(t, "-S", "k1", "ls", "/et") == ["/etc/"]
    assert "/etc/hostname" in words(t, "-S", "k1", "cat", "/etc/h")
    ok(t.run("-S", "k1", "cd", "/etc"))
    assert words(t, "-S", "k1", "cat", "hostn") == ["hostname"]
    # image listings are cached for a minute: one request for two Tabs
    f.clear_requests()
    words(t, "use", "tag:")
    words(t, "use", "tag:")
    assert len(f.requests("GET", "/v1/images")) == 0
    # without a usable profile, API values are simply absent
    assert words(t, "use", "tag:", env={"CONTREE_TOKEN": "", "HOME": t.tmp}) \
        == []


def shell_env(t):
    # the scripts run `contree` from PATH
    bindir = os.path.join(t.dir, "bin")
    os.makedirs(bindir, exist_ok=True)
    link = os.path.join(bindir, "contree")
    if not os.path.exists(link):
        os.symlink(t.binary(), link)
    return dict(t.env(), PATH=bindir + ":" + os.environ.get("PATH", ""))


def script(t, sh):
    return ok(t.run("completion", sh)).stdout


def test_bash_script(t):
    t.noauth()
    path = t.write("c.bash", script(t, "bash"))
    prog = ('source %s; complete -p contree; '
            'for line in "contree sess" "contree session ch" '
            '"contree -f json-p" "contree agent "; do '
            'COMP_LINE=$line; COMP_POINT=${#line}; _contree; '
            'printf "%%s|" "${COMPREPLY[@]}"; echo; done' % path)
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True,
                       env=shell_env(t), timeout=30)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].startswith("complete -o default -F _contree contree"), r
    assert lines[1] == "session|", lines
    assert lines[2] == "checkout|", lines
    assert lines[3] == "json-pretty|", lines
    assert lines[4].startswith("all|all_commands|command|"), lines


def test_zsh_script(t):
    ok(t.run("-S", "k1", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "k1", "env", "DEBUG=1"))
    if not shutil.which("zsh"):
        raise AssertionError("zsh is not installed (make deps installs it)")
    path = t.write("c.zsh", script(t, "zsh"))
    # compsys stand-ins that print what would be offered
    prog = ('compdef() { print -r -- "compdef $*" }; '
            'compadd() { local s=" "; while [[ $1 == -* ]]; do '
            '[[ $1 == -S ]] && { s=$2; shift; }; [[ $1 == -- ]] && '
            '{ shift; break; }; shift; done; print -rl -- "${@/%%/$s}" }; '
            '_files() { print -r -- FILES }; '
            'source %s; print -r -- "${functions[_contree]:+loaded}"; '
            'words=(contree sess); CURRENT=2; PREFIX=sess; _contree; '
            'words=(contree -S k1 env DE); CURRENT=5; PREFIX=DE; '
            '_contree; '
            'words=(contree run -t ""); CURRENT=4; PREFIX=; _contree' % path)
    r = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True,
                       text=True, env=shell_env(t), timeout=30)
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["compdef _contree contree", "loaded",
                                     "session ", "DEBUG=", "FILES"], r


def test_fish_script(t):
    t.noauth()
    if not shutil.which("fish"):
        raise AssertionError("fish is not installed (make deps installs it)")
    path = t.write("c.fish", script(t, "fish"))
    prog = ('source %s; complete -C "contree sess"; '
            'complete -C "contree session chec"; complete -C "contree -f tom"'
            % path)
    env = shell_env(t)
    env["XDG_CONFIG_HOME"] = os.path.join(t.dir, "fishcfg")
    r = subprocess.run(["fish", "--no-config", "-c", prog],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r
    got = [l.split("\t")[0] for l in r.stdout.splitlines()]
    assert got == ["session", "checkout", "toml"], r


def bash_complete(t, *lines):
    """COMPREPLY of the bash script for each partial line, as lists."""
    path = t.write("c.bash", script(t, "bash"))
    prog = 'source %s\n' % path
    for line in lines:
        prog += ("line=%s; COMP_LINE=$line; COMP_POINT=${#line}; _contree; "
                 "printf '%%s\\0' \"${COMPREPLY[@]}\"; echo\n"
                 % shlex.quote(line))
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True,
                       env=shell_env(t), timeout=30)
    assert r.returncode == 0, r
    return [l.split("\0")[:-1] for l in r.stdout.splitlines()]


def spaced_image(t):
    t.fake.add_image({"/etc/my dir/a b": "1", "/etc/my dir/it's": "2",
                      "/etc/my dir/g*[1]": "3", "/etc/my dir/q\"$x": "4"},
                     tag="sp:1")
    ok(t.run("-S", "sp", "use", "tag:sp:1"))


def test_bash_quoting(t):
    spaced_image(t)
    got = bash_complete(
        t, "contree -S sp cat /etc/my", "contree -S sp cat /etc/my\\ dir/",
        "contree -S sp cat \"/etc/my dir/", "contree -S sp cat '/etc/my dir/i",
        "contree -S sp cat /etc/my\\ dir/a", "contree -S sp ls \"/etc/my\"\\ d",
        "contree -S sp cat \"/etc/my dir/\"a", "contree use tag:s")
    # unquoted: backslash-escaped, one word each
    assert got[0] == ["/etc/my\\ dir/"], got
    assert got[1] == ["/etc/my\\ dir/a\\ b", "/etc/my\\ dir/g\\*\\[1\\]",
                      "/etc/my\\ dir/it\\'s", "/etc/my\\ dir/q\\\"\\$x"], got
    # inside double quotes: only \ " $ ` escaped
    assert got[2] == ["/etc/my dir/a b", "/etc/my dir/g*[1]",
                      "/etc/my dir/it's", "/etc/my dir/q\\\"\\$x"], got
    # inside single quotes: ' as '\''
    assert got[3] == ["/etc/my dir/it'\\''s"], got
    assert got[4] == ["/etc/my\\ dir/a\\ b"], got
    assert got[5] == ["/etc/my\\ dir/"], got
    # a closed quote does not split the word for readline: all replaced
    assert got[6] == ["/etc/my\\ dir/a\\ b"], got
    # after a ':' too (COMP_WORDBREAKS)
    assert got[7] == ["sp:1"], got


def test_zsh_quoting(t):
    spaced_image(t)
    if not shutil.which("zsh"):
        raise AssertionError("zsh is not installed (make deps installs it)")
    path = t.write("c.zsh", script(t, "zsh"))
    # compadd prints its flags and matches: zsh itself quotes the matches
    # for the word's context unless -Q says they are quoted already
    prog = ('compadd() { print -r -- "$*" }; _files() { print FILES }; '
            'source %s; '
            'words=(contree -S sp cat "/etc/my\\\\ dir/a"); CURRENT=5; '
            'PREFIX="/etc/my\\\\ dir/a"; _contree; '
            'words=(contree -S sp ls "\\"/etc/my"); CURRENT=5; '
            'PREFIX="/etc/my"; _contree' % path)
    r = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True,
                       text=True, env=shell_env(t), timeout=30)
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["-- /etc/my dir/a b",
                                     "-S  -- /etc/my dir/"], r


def test_fish_quoting(t):
    spaced_image(t)
    if not shutil.which("fish"):
        raise AssertionError("fish is not installed (make deps installs it)")
    path = t.write("c.fish", script(t, "fish"))
    # fish quotes the candidates itself; they must match the unescaped word
    prog = ("source %s; complete -C 'contree -S sp cat \"/etc/my dir/i'; "
            "complete -C 'contree -S sp cat /etc/my\\ dir/q'; "
            "complete -C \"contree -S sp cat '/etc/my dir/g\"" % path)
    env = shell_env(t)
    # contree's data directory is under XDG_CONFIG_HOME too
    env["XDG_CONFIG_HOME"] = os.path.join(t.home, ".config")
    r = subprocess.run(["fish", "--no-config", "-c", prog],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r
    got = [l.split("\t")[0] for l in r.stdout.splitlines()]
    assert got == ["/etc/my dir/it's", "/etc/my dir/q\"$x",
                   "/etc/my dir/g*[1]"], r


def test_image_references(t):
    base = t.fake.image_uuid("ubuntu:latest")
    ok(t.run("-S", "k1", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "k1", "session", "branch", "work-x"))
    # diff's FROM and TO take what use takes, and branches
    got = words(t, "-S", "k1", "diff", "")
    assert "work-x" in got and "tag:ubuntu:latest" in got, got
    assert base in got, got
    # (branch names that are not hex: a UUID could start with them)
    assert words(t, "-S", "k1", "diff", "tag:ubuntu:latest", "wo") == \
        ["work-x"]
    assert words(t, "-S", "k1", "diff", "-p", base[:8]) == [base]
    assert words(t, "-S", "k1", "diff", "a", "b", "wo") == []
    assert words(t, "-S", "k1", "diff", "--path", "/et") == ["/etc/"]
    # explore --from the same
    assert words(t, "-S", "k1", "explore", "--from", "wo") == ["work-x"]
    assert words(t, "-S", "k1", "explore", "--from", "tag:ubuntu:l") == \
        ["tag:ubuntu:latest"]
    # use takes no branch
    assert words(t, "-S", "k1", "use", "wo") == []
