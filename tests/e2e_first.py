"""e2e_first.py - first contact: messages that say what to do, and the
reference's spellings that scripts written for it use."""

import os

from harness import ok, fails, rows


def test_force_spelling_of_yes(t):
    """session delete, auth remove, skill install/remove: the reference
    spells the flag -y, --force; --yes stays an alias."""
    ok(t.run("-S", "a", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "b", "use", "tag:ubuntu:latest"))
    ok(t.run("session", "delete", "--force", "a"))
    ok(t.run("session", "delete", "--yes", "b"))
    keys = [s["session_key"] for s in
            rows(ok(t.run("-f", "json", "session", "list")))]
    assert "a" not in keys and "b" not in keys, keys
    r = ok(t.run("skill", "install", "--force", "codex:sk"))
    assert os.path.isdir(os.path.join(t.home, "sk")), r
    ok(t.run("skill", "remove", "--force", "codex:sk"))
    assert not os.path.exists(os.path.join(t.home, "sk"))


def test_unknown_agent_in_skill_spec(t):
    t.noauth()
    r = fails(t.run("skill", "install", "-y", "claud:~"), code=2)
    assert "unknown agent 'claud'" in r.stderr and "claude" in r.stderr, r
    assert not os.path.exists(os.path.join(t.home, "claud:~"))
    assert not os.path.exists("claud:~")


def test_prompt_error_on_its_own_line(t):
    """A prompt that meets the end of its input ends the prompt's line
    before the error."""
    t.noauth()
    r = t.run("auth", "--type", "jwt", "--url", "http://127.0.0.1:9",
              stdin="")
    assert r.code == 1, r
    lines = r.stderr.splitlines()
    err = [l for l in lines if l.startswith("[ERROR]")]
    assert err and "no token given" in err[0], r
    assert "Token: \n[ERROR]" in r.stderr, r
    # the prompt is not glued to the error
    assert not any("[ERROR]" in l and not l.startswith("[ERROR]")
                   for l in lines), r


def test_refused_token_says_where_it_came_from(t):
    t.fake
    r = fails(t.run("images", env={"CONTREE_TOKEN": "bad"}))
    assert "API 401 Unauthorized: " in r.stderr, r
    assert "the token from $CONTREE_TOKEN was refused: run 'contree auth'" \
        in r.stderr and "set that variable" in r.stderr, r
    r = fails(t.run("--token", "bad", "images"))
    assert "the token from --token was refused" in r.stderr, r
    assert len(r.stderr.splitlines()) == 1, r
    r = ok(t.run("images"))      # the profile's token works


def test_forbidden_names_the_project(t):
    t.start_fake(project="proj-1")
    r = fails(t.run("-P", "proj-2", "images"))
    assert "API 403" in r.stderr and "project proj-2" in r.stderr, r


def test_api_errors_are_the_servers_words(t):
    r = fails(t.run("show", "00000000-0000-4000-8000-000000000000"))
    assert r.stderr == "[ERROR] operation 00000000-0000-4000-8000-" \
        "000000000000: API 404 Not Found: operation not found\n", r


def test_use_checks_an_image_uuid(t):
    r = fails(t.run("-S", "u", "use", "00000000-0000-4000-8000-000000000000"))
    assert "no image 00000000-0000-4000-8000-000000000000 on the server" \
        in r.stderr, r
    fails(t.run("-S", "u", "session"), "No active session")   # nothing recorded
    u = t.fake.image_uuid("ubuntu:latest")
    ok(t.run("-S", "u", "use", u))


def test_run_without_a_command_is_a_usage_error(t):
    ok(t.run("-S", "n", "use", "tag:ubuntu:latest"))
    t.fake.clear_requests()
    for args in (("run",), ("run", "-s"), ("run", "-s", "--")):
        r = fails(t.run("-S", "n", *args), code=2)
        assert "contree run: error: the following arguments are required: " \
            "COMMAND" in r.stderr, r
    assert not t.fake.requests(), t.fake.requests()


def test_show_json_carries_the_output_in_the_row(t):
    ok(t.run("-S", "o", "use", "tag:ubuntu:latest"))
    ok(t.run("-S", "o", "run", "-s", "echo out; echo err >&2"))
    r = ok(t.run("-S", "o", "-f", "json", "show", "@"))
    (row,) = rows(r)                    # every line is JSON
    assert row["stdout"] == "out\n" and row["stderr"] == "err\n", row
    r = ok(t.run("-S", "o", "-f", "csv", "show", "@"))
    assert r.stdout.splitlines()[0].endswith("stdout,stderr,error"), r


def demo(t, **env):
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    e = {"HOME": t.home, "PATH": os.environ.get("PATH", "")}
    e.update(env)
    return subprocess.run(["sh", os.path.join(root, "tests", "demo.sh")],
                          capture_output=True, text=True, env=e, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_demo_tells_a_story_and_cleans_up(t):
    t.noauth()
    p = demo(t)
    assert p.returncode == 0, p
    assert "# 1. the version, as scripts see it" in p.stdout, p.stdout
    assert "$ contree use tag:ubuntu:latest" in p.stdout, p.stdout
    assert "no greeting yet: rolled back" in p.stdout, p.stdout
    assert p.stdout.rstrip().endswith("is deleted on exit"), p.stdout


def test_demo_stops_at_the_first_failure(t):
    t.noauth()
    p = demo(t, DEMO_IMAGE="tag:nope")
    assert p.returncode == 1, p
    assert "demo: step 3 failed" in p.stderr and "hint: " in p.stderr and \
        "DEMO_IMAGE" in p.stderr, p.stderr
    assert "# 4." not in p.stdout, p.stdout


def test_demo_asks_before_using_an_account(t):
    t.noauth()
    p = demo(t, CONTREE_TOKEN="x", CONTREE_URL="http://127.0.0.1:9")
    assert p.returncode == 1 and "DEMO_YES=1" in p.stderr, p
    assert "$ contree" not in p.stdout, p.stdout
