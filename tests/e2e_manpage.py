"""e2e_manpage.py - contree.1 documents the whole command table.

The command table is read the way a user sees it: from `contree --help`
and `contree CMD [SUB] --help` (the "commands:"/"subcommands:" lists and
the option lines).  contree.1 is read as mdoc source.  Its COMMANDS
section marks the block of each command with a comment line
`.\\" @cmd PATH [| PATH ...]` ("global" for the global options) and
closes the last block of a list with `.\\" @end`; the checks below are
made per block, so an option documented under the wrong command is
caught, and so is an option the table no longer has.

Only t.run of the harness is used; no API server is needed.
"""
import os
import re
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANPAGE = os.path.join(ROOT, "contree.1")

# "  name, alias, alias     summary" in commands:/subcommands: lists
NAMELINE = re.compile(r"^  ([a-z][\w-]*(?:, [a-z][\w-]*)*)(?:\s|$)")
# "  -t, --timeout N       help" or "  --prefix P  help" or
# "  -d, --detach, --no-wait"
OPTLINE = re.compile(
    r"^  (?:-(\w), )?--([a-z][\w-]*)((?:, --[a-z][\w-]*)*)(?: ([^\s]+))?"
    r"(?:\s+(.*))?$")
SIMPLE = re.compile(r"^[\w.-]+$")


# ---- the command table, from the help output ----

def parse_help(text):
    """Sections of one help page: names (list of [name, aliases...]),
    opts (list of dicts), subreq (a subcommand is required)."""
    lines = text.splitlines()
    assert lines and lines[0].startswith("usage: contree"), \
        "help does not start with a usage line:\n" + text
    usage = lines[0]
    page = {"names": [], "opts": [],
            "subreq": bool(re.search(r" \{[\w,-]+\} \.\.\.", usage))}
    section = None
    for line in lines[1:]:
        if line and not line.startswith(" ") and line.endswith(":"):
            section = line[:-1]
            continue
        if not line.strip():
            continue
        if section in ("commands", "subcommands"):
            m = NAMELINE.match(line)
            if m:
                page["names"].append(m.group(1).split(", "))
        elif section is not None and "options" in section:
            m = OPTLINE.match(line)
            if m:
                page["opts"].append({
                    "short": m.group(1),
                    "long": m.group(2),
                    "aliases": re.findall(r"--([a-z][\w-]*)", m.group(3)),
                    "text": m.group(5) or "",
                })
            elif line.startswith(" " * 24) and page["opts"]:
                # help text of a long option spec, on its own line
                page["opts"][-1]["text"] += " " + line.strip()
    for o in page["opts"]:
        m = re.search(r"\(default: ([^()]*)\)$", o["text"])
        o["default"] = m.group(1) if m and SIMPLE.match(m.group(1)) else None
        m = re.search(r"\{([^{}]*)\}", o["text"])
        o["choices"] = m.group(1).split(",") if m else []
    return page


def help_page(t, *words):
    r = t.run(*(words + ("--help",)))
    what = " ".join(("contree",) + words + ("--help",))
    assert r.code == 0, "%s: exit %d\n%s" % (what, r.code, r.stderr)
    assert r.stdout.strip(), what + ": no output"
    return parse_help(r.stdout)


def command_table(t):
    """(global options, {path tuple: {"aliases", "opts", "subreq"}})."""
    if hasattr(t, "noauth"):
        t.noauth()      # help needs no server; do not start one
    top = help_page(t)
    assert top["names"], "contree --help lists no commands"
    assert top["opts"], "contree --help lists no global options"
    cmds = {}
    for names in top["names"]:
        page = help_page(t, names[0])
        cmds[(names[0],)] = {"aliases": names[1:], "opts": page["opts"],
                             "subreq": page["subreq"],
                             "hassubs": bool(page["names"])}
        for sub in page["names"]:
            sp = help_page(t, names[0], sub[0])
            cmds[(names[0], sub[0])] = {"aliases": sub[1:],
                                        "opts": sp["opts"],
                                        "subreq": False, "hassubs": False}
    return top["opts"], cmds


# ---- the manual page ----

def man_source():
    with open(MANPAGE, encoding="utf-8") as f:
        src = f.read()
    # what the macros mean, not how they escape: \- is -, \& is nothing
    return src.replace("\\-", "-").replace("\\&", "")


def man_blocks(src):
    """{path string: (block text, [paths sharing the block])} from the
    @cmd markers."""
    blocks, cur, buf = {}, None, []
    for line in src.splitlines():
        m = re.match(r'^\.\\" @(cmd|end)\b ?(.*)$', line)
        if m:
            if cur:
                text = "\n".join(buf)
                for p in cur:
                    assert p not in blocks, "two @cmd blocks for " + p
                    blocks[p] = (text, cur)
            cur = [p.strip() for p in m.group(2).split("|")] \
                if m.group(1) == "cmd" else None
            buf = []
        elif cur:
            buf.append(line)
    assert cur is None, "the last @cmd block is not closed with @end"
    return blocks


def macro(name, arg):
    """Regex: macro `name` called with first argument `arg`."""
    return re.compile(r"(?:^\.|[ \t])%s %s(?![\w-])"
                      % (name, re.escape(arg)), re.M)


def has_fl(text, flag):
    return macro("Fl", flag).search(text) is not None


def has_word(text, w):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(w), text) \
        is not None


def item_text(text, long):
    """The `.It` item of a block that documents --long, up to the next
    item or the end of the list ("" if there is none)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith(".It") or line.startswith(".El"):
            if inside:
                break
            inside = line.startswith(".It") and has_fl(line, "-" + long)
        if inside:
            out.append(line)
    return "\n".join(out)


MACROS = re.compile(r"(?<![\w-])(?:Ar|Cm|Em|Ev|Fl|It|Ns|No|Op|Pa|Pq|Ql|Sy"
                    r"|Xc|Xo)(?![\w-])")


def says_default(item, value):
    """The item says value is the default: "(default VALUE)",
    "default: VALUE", "; default VALUE)" or "VALUE (the default)"."""
    plain = " ".join(MACROS.sub(" ", re.sub(r"(?m)^\.", "", item)).split())
    v = re.escape(value)
    return re.search(r"default:? %s(?![\w-])" % v, plain) is not None or \
        re.search(r"(?<![\w-])%s ?,? ?\(the default\)" % v, plain) \
        is not None


def check_opts(where, text, opts, missing):
    """Each option of opts in the block text: its long and short names and
    aliases as Fl macros; its default and choices in its own item."""
    for o in opts:
        if o["long"] == "help":
            continue
        item = item_text(text, o["long"])
        if not has_fl(text, "-" + o["long"]):
            missing.append("%s: Fl -%s" % (where, o["long"]))
        if o["short"] and not has_fl(text, o["short"]):
            missing.append("%s: Fl %s (for --%s)" % (where, o["short"],
                                                     o["long"]))
        for a in o["aliases"]:
            if not has_fl(text, "-" + a):
                missing.append("%s: Fl -%s (alias of --%s)" % (where, a,
                                                               o["long"]))
        if o["default"] and not says_default(item, o["default"]):
            missing.append("%s: default %r of --%s" % (where, o["default"],
                                                       o["long"]))
        for ch in o["choices"]:
            if len(ch) > 1 and not has_word(item, ch):
                missing.append("%s: choice %r of --%s" % (where, ch,
                                                          o["long"]))


def listed_flags(text):
    """Option names of the `.It Fl ...` items of a block."""
    found = set()
    for line in text.splitlines():
        if not line.startswith(".It Fl"):
            continue
        found.update(re.findall(r"\bFl -([a-z][\w-]*)", line))
        found.update(re.findall(r"\bFl (\w)(?=[ ,]|$)", line))
    return found


def opt_names(opts):
    names = {"help", "h"}
    for o in opts:
        names.add(o["long"])
        names.update(o["aliases"])
        if o["short"]:
            names.add(o["short"])
    return names


def synopsis_forms(src):
    m = re.search(r"^\.Sh SYNOPSIS\n(.*?)^\.Sh ", src, re.S | re.M)
    assert m, "contree.1 has no SYNOPSIS section"
    return set(re.findall(r"^\.Nm\n\.Cm ([^\n]+)$", m.group(1), re.M))


# ---- tests ----

def test_manpage_documents_every_command_alias_and_option(t):
    gopts, cmds = command_table(t)
    src = man_source()
    missing = []
    for path, c in sorted(cmds.items()):
        name = " ".join(path)
        if not macro("Cm", name).search(src) and \
                not macro("Cm", path[-1]).search(src):
            missing.append("command: Cm " + name)
        for a in c["aliases"]:
            if not re.search(r"(?:^\.|[ \t])Cm (?:[\w-]+ )?%s(?![\w-])"
                             % re.escape(a), src, re.M):
                missing.append("alias %s of %s: Cm %s" % (a, name, a))
        for o in c["opts"]:
            for n in [o["long"]] + o["aliases"]:
                if not has_fl(src, "-" + n):
                    missing.append("%s: Fl -%s" % (name, n))
    for o in gopts:
        if not has_fl(src, "-" + o["long"]):
            missing.append("global: Fl -" + o["long"])
    assert not missing, "contree.1 lacks:\n  " + "\n  ".join(missing)


def test_manpage_blocks_match_each_command(t):
    gopts, cmds = command_table(t)
    src = man_source()
    blocks = man_blocks(src)
    missing, extra = [], []
    assert "global" in blocks, "no @cmd global block for the global options"
    check_opts("global", blocks["global"][0], gopts, missing)
    for path, c in sorted(cmds.items()):
        name = " ".join(path)
        if name not in blocks:
            missing.append("no @cmd block for " + name)
            continue
        text = blocks[name][0]
        check_opts(name, text, c["opts"], missing)
        for a in c["aliases"]:
            if not macro("Cm", a).search(text) and \
                    not macro("Cm", path[0] + " " + a).search(text):
                missing.append("%s: alias Cm %s" % (name, a))
    # nothing documented that the table does not have
    known = {" ".join(p) for p in cmds} | {"global"}
    for name, (text, group) in sorted(blocks.items()):
        if name not in known:
            extra.append("@cmd block for unknown command " + repr(name))
            continue
        # a block shared by several commands holds the options of all
        allowed = set()
        for n in group:
            if n in known:
                allowed |= opt_names(gopts if n == "global" else
                                     cmds[tuple(n.split())]["opts"])
        for f in sorted(listed_flags(text) - allowed):
            extra.append("%s: option %s is not in the command table"
                         % (name, f))
    assert not missing and not extra, \
        "contree.1 and the command table disagree:\n  " + \
        "\n  ".join(missing + extra)


def test_manpage_synopsis_has_every_form(t):
    _, cmds = command_table(t)
    forms = synopsis_forms(man_source())
    missing = []
    for path, c in sorted(cmds.items()):
        if len(path) == 1 and c["hassubs"] and c["subreq"]:
            continue        # `contree file` alone is not a form
        name = " ".join(path)
        if name not in forms:
            missing.append(name)
    for f in sorted(forms):
        if tuple(f.split()) not in cmds:
            missing.append("(unknown form) " + f)
    assert not missing, "SYNOPSIS lines missing or unknown:\n  " + \
        "\n  ".join(missing)


def test_manpage_rollback_says_absolute(t):
    blocks = man_blocks(man_source())
    text = blocks.get("session rollback", ("", []))[0]
    assert re.search(r"absolute", text, re.I), \
        "session rollback: the man page must say N is an absolute entry id"
    assert re.search(r"rollback -\d", text), \
        "session rollback: the man page must show the -N form"


def test_manpage_mandoc_lint(t):
    mandoc = shutil.which("mandoc")
    if not mandoc:
        print("e2e_manpage: mandoc not installed; lint skipped")
        return
    p = subprocess.run([mandoc, "-Tlint", "-W", "warning", MANPAGE],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert out == "", "mandoc -Tlint -W warning contree.1:\n" + out
    assert p.returncode == 0, "mandoc exited %d" % p.returncode


def test_manpage_groff_lint(t):
    """Debian's default man(1) renders with groff, which knows mdoc
    differently from mandoc (`.Ds` is a defunct macro there)."""
    groff = shutil.which("groff")
    assert groff, "groff is not installed (make deps installs groff-base)"
    p = subprocess.run([groff, "-mandoc", "-ww", "-z", MANPAGE],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert out == "", "groff -mandoc -ww -z contree.1:\n" + out
    assert p.returncode == 0, "groff exited %d" % p.returncode
