"""e2e_shell.py - `contree shell` (cli.md §10): piped scripts, every
builtin, and the line editor through a pseudo-terminal: typing, editing
keys, Tab completion of commands, options and sandbox paths, history
(also across two shells), Ctrl-C and Ctrl-D."""

import os
import pty
import re
import select
import signal
import time

from harness import ok, fails, rows

S = ("-S", "sh1")


def start(t):
    ok(t.run(*S, "use", "tag:ubuntu:latest"))


def script(t, text, *extra):
    return t.run(*S, *extra, "shell", stdin=text)


class Pty:
    """contree shell on a pseudo-terminal."""

    def __init__(self, t, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(t.home)
            env = t.env({"COLUMNS": "200"})
            os.execve(t.binary(), [t.binary(), *S, *args, "shell"], env)
        self.out = b""

    def send(self, data):
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def expect(self, pattern, timeout=20):
        """Wait until the output since the last expect matches pattern
        (bytes regex); returns the output up to the end of the match."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str)
                        else pattern, re.S)
        end = time.time() + timeout
        while True:
            m = rx.search(self.out)
            if m:
                got, self.out = self.out[:m.end()], self.out[m.end():]
                return got
            left = end - time.time()
            assert left > 0, "no %r in %r" % (pattern, self.out[-2000:])
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                try:
                    d = os.read(self.fd, 4096)
                except OSError:
                    d = b""
                assert d, "shell ended; output %r" % self.out[-2000:]
                self.out += d

    def prompt(self):
        return self.expect(r"> \x1b\[K\r\x1b\[\d+C")

    def wait(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(st)
            try:
                os.read(self.fd, 4096)
            except OSError:
                pass
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("shell did not exit")


# ---- not a terminal: scripts ----

def test_script_runs_lines_and_builtins(t):
    start(t)
    r = script(t, "echo hello\ncd /etc\npwd\ncat hostname\n"
                  "cd -\ncd\npwd\n-f\n-f json\n-f\ncontree -f csv cd\n"
                  "history ech\nexit 3\necho never\n")
    assert r.code == 3, r
    out = r.stdout.splitlines()
    # `cd -` prints the previous directory; `history` lists itself too
    assert out == ["hello", "/etc", "linuxkit", "/", "/", "default",
                   "json", "/", "     1  echo hello",
                   "    12  history ech"], out
    assert "never" not in r.stdout


def test_script_status_is_the_last_command(t):
    start(t)
    r = script(t, "true\nsh -c 'exit 7'\n")
    assert r.code == 7, r
    r = script(t, "sh -c 'exit 7'\ntrue\n")
    assert r.code == 0, r
    r = script(t, "contree nosuch\n")
    assert r.code == 2 and "invalid choice: 'nosuch'" in r.stderr, r


def test_script_stdin_not_swallowed(t):
    """A run in a script must not read the rest of the script as its
    standard input."""
    start(t)
    r = script(t, "cat\necho after\n")
    assert r.code == 0, r
    assert r.stdout == "after\n", r


def test_script_continuation_lines(t):
    start(t)
    r = script(t, "echo a \\\nb\necho 'x\ny'\n")
    assert r.stdout == "a b\nx\ny\n", r
    r = script(t, "echo 'open\n")
    assert r.code == 2 and "unexpected end of input" in r.stderr, r


def test_script_usage_error_then_goes_on(t):
    start(t)
    r = script(t, "contree session show --bogus\necho still\n"
                  "contree shell\necho here\n")
    assert "unrecognized arguments: --bogus" in r.stderr, r
    assert "already in the shell" in r.stderr, r
    assert r.stdout.splitlines() == ["still", "here"], r


def test_script_records_runs_cd_and_history(t):
    start(t)
    ok(script(t, "echo x > /tmp/f\ncd /tmp\ncat f\n"))
    es = rows(ok(t.run("-f", "json", *S, "session", "show", "-a")))
    kinds = [e["kind"] for e in es]
    assert kinds == ["use", "run", "cd"], es
    r = script(t, "history\n")
    assert "     1  echo x > /tmp/f" in r.stdout, r
    assert "     3  cat f" in r.stdout, r


def test_script_timeout_and_help(t):
    start(t)
    r = script(t, "timeout 1 sleep 5\necho next\n")
    assert "next" in r.stdout, r
    assert r.code == 0, r
    reqs = [q for q in t.fake.requests("POST", "/v1/instances")]
    assert reqs and reqs[0]["json"]["timeout"] == 1, reqs
    r = script(t, "help\nhelp ls\nhelp tag\n")
    assert "Lines run in the sandbox" in r.stdout, r
    assert "usage: contree tag" in r.stdout, r


def test_script_editor_line(t):
    start(t)
    r = script(t, "vim\n")
    assert r.code == 2 and "EDITOR PATH" in r.stderr, r


# ---- a terminal ----

def test_pty_typing_editing_and_exit(t):
    start(t)
    p = Pty(t)
    p.expect("'help' for more")
    p.expect(r"session: sh1 \[1\] image: [0-9a-f-]{36}")
    # the README's prompt, with the branch
    p.expect(r"contree\(\x1b\[35mmain\x1b\[0m\):\x1b\[1;34m/\x1b\[0m> "
             r"\x1b\[K\r\x1b\[\d+C")
    p.send("cd /etc\r")
    p.expect(r"contree\(\x1b\[35mmain\x1b\[0m\):\x1b\[1;34m/etc\x1b\[0m> "
             r"\x1b\[K\r\x1b\[\d+C")
    # type, move left, insert, kill to end, yank back
    p.send("echo wrld\x1b[D\x1b[D\x1b[Do\r")
    p.expect(r"\r\nworld\r\n")
    p.prompt()
    p.send("echo abc\x01\x0b")               # Ctrl-A, Ctrl-K: empty line
    p.send("echo kept\r")
    p.expect(r"\r\nkept\r\n")
    p.prompt()
    p.send("\x04")                           # Ctrl-D on an empty line
    assert p.wait() == 0


def test_pty_ctrl_c_drops_the_line(t):
    start(t)
    p = Pty(t)
    p.prompt()
    p.send("echo dropped\x03")
    p.expect(r"\^C\r\n")
    p.prompt()
    p.send("exit 5\r")
    assert p.wait() == 5
    assert not [q for q in t.fake.requests("POST", "/v1/instances")]


def test_pty_tab_completion(t):
    start(t)
    p = Pty(t)
    p.prompt()
    p.send("contree ses\t")
    p.expect(r"contree session \x1b\[K")
    p.send("che\t")
    p.expect(r"contree session checkout \x1b\[K")
    p.send("\x15contree run --tim\t")         # Ctrl-U, then an option
    p.expect(r"contree run --timeout \x1b\[K")
    p.send("\x15ls /et\t")                    # a sandbox path
    p.expect(r"ls /etc/\x1b\[K")
    p.send("host\t")                         # two: both shown
    p.expect(r"\r\n/etc/hostname  /etc/hosts\r\n")
    p.send("n\t")
    p.expect(r"ls /etc/hostname \x1b\[K")
    p.send("\x15his\t")                       # a builtin
    p.expect(r"history \x1b\[K")
    p.send("\x15\x04")
    assert p.wait() == 0


def test_pty_tab_completion_escapes_what_the_shell_splits(t):
    """A candidate with a space or a quote is inserted escaped, as one
    word, and a word with an escaped space completes on."""
    t.fake.add_image({"/srv/my dir/a b'c.txt": "x\n", "/srv/my dir/z": "y"},
                     tag="sh:sp")
    ok(t.run(*S, "use", "tag:sh:sp"))
    p = Pty(t)
    p.prompt()
    p.send("cat /srv/my\t")
    p.expect(r"cat /srv/my\\ dir/\x1b\[K")
    p.send("a\t")
    p.expect(r"cat /srv/my\\ dir/a\\ b\\'c\.txt \x1b\[K")
    p.send("\r")
    p.expect(r"\r\nx\r\n")
    p.prompt()
    p.send("\x04")
    assert p.wait() == 0


def test_pty_sigterm_during_a_run_cancels_it(t):
    """SIGTERM while a line runs in the sandbox: the operation is
    cancelled (not left running untracked), the shell ends, killed by
    the signal; at the prompt the terminal is put back as before."""
    start(t)
    p = Pty(t)
    p.prompt()
    p.send("sleep 30\r")
    ops = t.fake.executing()
    os.kill(p.pid, signal.SIGTERM)
    assert p.wait() == -signal.SIGTERM
    assert t.fake.wait_op(ops[0]["uuid"])["status"] == "CANCELLED"
    assert [q for q in t.fake.requests("DELETE")
            if q["path"].endswith(ops[0]["uuid"])], t.fake.requests()


def test_pty_history_up_and_search_across_shells(t):
    start(t)
    p = Pty(t)
    p.prompt()
    p.send("echo first\r")
    p.expect(r"\r\nfirst\r\n")
    p.prompt()
    p.send("exit\r")
    p.wait()
    # a second shell sees the first one's lines
    q = Pty(t)
    q.prompt()
    q.send("\x1b[A")
    q.expect(r"exit\x1b\[K")
    q.send("\x1b[A")
    q.expect(r"echo first\x1b\[K")
    q.send("\x15\x12fir")                     # Ctrl-U, Ctrl-R
    q.expect(r"\(reverse-i-search\)`fir': echo first")
    q.send("\r")
    q.expect(r"\r\nfirst\r\n")
    q.prompt()
    q.send("\x04")
    assert q.wait() == 0


def test_pty_ctrl_c_cancels_the_run_and_the_shell_goes_on(t):
    start(t)
    p = Pty(t)
    p.prompt()
    p.send("sleep 30\r")
    end = time.time() + 20
    while not t.fake.requests("POST", "/v1/instances"):
        assert time.time() < end, "no spawn"
        time.sleep(0.1)
    time.sleep(0.3)
    p.send("\x03")
    p.prompt()
    cancels = t.fake.requests("DELETE")
    assert len(cancels) == 1 and "/v1/operations/" in cancels[0]["path"], \
        cancels
    p.send("echo alive\r")
    p.expect(r"\r\nalive\r\n")
    p.prompt()
    p.send("\x04")
    assert p.wait() == 0
    # the cancelled run recorded nothing
    es = rows(ok(t.run("-f", "json", *S, "session", "show", "-a")))
    assert [e["kind"] for e in es] == ["use", "run"], es
    assert [e["title"] for e in es][1] == "echo alive", es


def test_script_editor_clear_quit(t):
    """vim PATH is `file edit --editor vim PATH` (here a stand-in vim);
    clear writes the screen-clearing sequence; quit leaves."""
    start(t)
    bindir = os.path.join(t.dir, "bin")
    os.makedirs(bindir)
    with open(os.path.join(bindir, "vim"), "w") as f:
        f.write("#!/bin/sh\necho edited > \"$1\"\n")
    os.chmod(os.path.join(bindir, "vim"), 0o755)
    env = {"PATH": bindir + ":" + os.environ.get("PATH", "")}
    r = t.run(*S, "shell", stdin="vim /etc/hostname\nclear\nquit\necho no\n",
              env=env)
    assert r.code == 0, r
    assert r.stdout.endswith("\x1b[2J\x1b[H"), r
    es = rows(ok(t.run("-f", "json", *S, "session", "show", "-a")))
    assert es[-1]["kind"] == "file" and "/etc/hostname" in es[-1]["title"], es
