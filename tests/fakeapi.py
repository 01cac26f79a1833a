#!/usr/bin/env python3
"""fakeapi.py - a stateful fake of the ConTree REST API for tests.

Python 3.11 standard library only.  Behaves like ../shared/api.md says the
real server does, failures included: status codes, error bodies, paging
rules, the SSE event log, and commands that REALLY run.

Usage
-----
    python3 tests/fakeapi.py [--port 0] [--tls-cert F --tls-key K]
        [--prefix /sandboxes] [--token T] [--project P] [--delay SECONDS]
        [--seed-images N] [--state-dir DIR] [--no-chroot] [--verbose]

--prefix serves the API under PREFIX/v1 only; --project requires that
Project header; --delay is how long an operation takes at least (a third
each for PENDING, ASSIGNED and EXECUTING); --state-dir is where the working
directory (blobs) is created (default: a temp dir); nothing persists across
restarts.  Per-run trees live on /dev/shm when writable
($CONTREE_FAKE_RUNDIR overrides).  --verbose logs requests to stderr.

Listens on 127.0.0.1 (port 0 = chosen by the OS), prints exactly one line
`listening on http[s]://127.0.0.1:PORT` on stdout, then serves until killed
(SIGTERM/SIGINT clean up the temporary state directory).

Layout of this file
-------------------
    1. Small helpers: time stamps, JSON, the ascii/base64 stream rule
    2. Blob store (content-addressed file bodies on disk)
    3. Image trees: nodes, seeded trees, tree lookups
    4. Server state: config, images, files, operations, faults, request log
    5. Running things: materialise a tree, execute, snapshot; imports
    6. HTTP plumbing: bodies (Content-Length/chunked), replies, streams
    7. API routes (/v1/...)
    8. Admin routes (/_admin/...)
    9. main()

How commands are executed (spawn, api.md §7)
--------------------------------------------
Every run materialises the image tree into its own temporary directory
(STATE/runs/run-XXXX), writes the spawn's `files` into it (mode/uid/gid,
parent directories created 0755), runs the command, then snapshots the
directory back into a new image (unless `disposable`).

* chroot mode - when running as root and /bin/busybox is a working static
  busybox (Debian `busybox-static`): the busybox binary and links for all its
  applets are added to /bin of the temporary tree (never overwriting a path
  the image has), /dev gets null/zero/random/urandom/tty nodes, and the
  command runs chrooted there with cwd, uid and gid of the spawn.  Commands
  behave as in a small Linux image.  What was added for the run (busybox,
  applet links, /dev contents) is not part of the result image.
* fallback mode - otherwise (or with --no-chroot / CONTREE_FAKE_CHROOT=0):
  the command runs on the HOST with the host's PATH, its working directory
  set to <tmp>/<cwd> and the environment variable ROOT=<tmp> added.  Relative
  paths behave as in chroot mode; absolute paths reach the host, so portable
  tests write `cat etc/hosts` from cwd `/` or `cat "$ROOT/etc/hosts"` (ROOT
  is unset - empty - in chroot mode).  uid/gid of the run are ignored.
  New files get uid/gid 0 in the snapshot when not running as root.

Decisions on api.md §12 open questions (fake behaviour)
-------------------------------------------------------
 1. Tags: one tag per image; PATCH moves the tag away from any image that
    held it.  DELETE ?tag=T on an image not holding T answers 404; DELETE
    without ?tag= removes whatever tag the image has (204).
 2. Default `limit` when omitted: 100 (config default_limit).  Default spawn
    timeout: 60 s (config default_timeout).  Default cwd: /root if the image
    has it, else /.  truncate_output_at default: 1048576.
 3. A timed-out run ends SUCCESS with state.timed_out=true, signal 9,
    exit_code 137; non-disposable timed-out runs still produce an image.
 4. shell:true with args: the shell expression is `command` followed by each
    arg shell-quoted (so the CLI's `-I` mode `/bin/sh -s -- A B` works);
    run as `/bin/sh -c <expression>`.
 5. FileSpec mode: "0644", "644", "0o644", "0o100644" and ints accepted;
    type bits dropped.  Missing parent directories are created (0755, root).
 6. Lists sort by created_at descending, uuid ascending on ties; every new
    record gets a strictly newer created_at than the previous one.
 7. `inflight` is accepted and ignored.
 8. SSE `spid=N` keeps events of that process plus `completion`; `since` is
    ignored.  Keepalive interval: config keepalive (default 2 s).
12. Spawn `image` takes a UUID or `tag:NAME` (exact tag); anything else 404.
Also: a non-disposable run that changes nothing returns the input image as
its result (api.md §4.4, [MCP] docs) unless config snapshot_unchanged=true.
An exec failure (command not found / not executable) is a SUCCESS with exit
code 127 / 126 and a message on stderr.  A cwd that does not exist after the
files are written ends FAILED.  Cancel answers 202 with no body; the status
turns CANCELLED shortly after (metadata.result stays null).  Missing or
wrong Project header (when --project is set): 403.  `/v1/inspect/{id}`
without the slash answers 301 to `{id}/`.  The grep route (§2.21) is
served as h_grep says; the subprocess routes (§2.22) are not (404).  Old
MCP lookups (`/v1/files?sha256=`) are not supported: the query is
ignored.
`preserve_env`: images remember an environment; a run starts from its
image's environment plus `env`, and with preserve_env the result image
remembers the merged environment.

Admin interface (no auth; never logged, never faulted)
------------------------------------------------------
    GET    /_admin/requests          [{method, path, query, headers, body_b64,
                                       body_size, inflight, conn, t0,
                                       t1}]  (conn: connection number; t0,
                                       t1: monotonic start and end; body
                                       capped at 1 MiB; inflight: API
                                       requests being handled then, this
                                       one too)
    DELETE /_admin/requests          clear the log
    POST   /_admin/fault {path, method, count, kind, status, retry_after,
                          delay, after, message}            -> {"id": N}
           path: regex searched in the request path (prefix included, query
           excluded); query: optional regex searched in the decoded query
           ("path=/etc&text=1"); method: optional; count: matches before it expires
           (default 1, -1 = forever).  kinds:
             status   answer `status` + JSON error (+Retry-After), NOT processed
             drop     close the connection before processing
             lose     process the request, then close without answering
             truncate process, send headers with the full length and half
                      the body, close
             badjson  answer 200 with malformed JSON, not processed
             slow     sleep `delay` seconds, then process normally
             stall    process, send headers + half the body, sleep `delay`,
                      send the rest
             sse_error (events route only) after `after` events (default 1)
                      send an in-band `event: sse_error` frame, end stream
             sse_cut  (events route only) after `after` events close the
                      connection without ending the chunked stream
             hang     read the request, never answer: keep the connection
                      open `delay` seconds (default 600), then close it
             raw      not processed: send `message` as the raw bytes of
                      the answer (latin-1; e.g. a status line, headers and
                      a broken body), then close the connection
    GET    /_admin/faults, DELETE /_admin/faults
    GET    /_admin/config, POST /_admin/config {key: value...}  keys:
           delay, keepalive, default_limit, default_timeout, max_timeout,
           token, project, gzip, permissions {name: bool}, snapshot_unchanged,
           import_fail (regex on registry url), fail_ops (N next operations
           end FAILED), fail_error, chroot (false forces fallback)
    POST   /_admin/seed {n}          add n tagged images seed/img-NNNNN:v1
    GET    /_admin/image/<uuid>/tree[?content=0]
           {path: {type, mode, uid, gid, mtime, size, content_b64|target}}
    POST   /_admin/image {tag, parent, files: {path: {type, text|content_b64|
           host_path, mode, uid, gid, target}}, delete: [paths]}
           -> image record (a new image: parent's tree + changes)
    GET    /_admin/state             counts, exec mode, url prefix
    DELETE /_admin/image/<uuid>      forget an image (the server lost it)
"""

import argparse
import base64
import binascii
import calendar
import hashlib
import http.server
import io
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import socket
import socketserver
import ssl
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid
import zlib

# ---------------------------------------------------------------------------
# 1. Small helpers
# ---------------------------------------------------------------------------

def now_us():
    return time.time_ns() // 1000


def iso(us):
    """RFC 3339 UTC timestamp with microseconds: 2026-06-20T08:00:01.402113Z"""
    sec, frac = divmod(us, 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % frac


def iso_now_ns():
    """Event timestamps carry nanoseconds (api.md §4.5)."""
    ns = time.time_ns()
    sec, frac = divmod(ns, 1000000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%09dZ" % frac


_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$")
_REL_RE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text):
    """since/until (api.md §5.2): ISO timestamp, relative Nm/Nh/Nd/Nw (also
    Ns), or integer seconds (meaning that many seconds ago).  Returns epoch
    microseconds or None when malformed."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return now_us() - int(text) * 1000000
    m = _REL_RE.match(text)
    if m:
        return now_us() - int(m.group(1)) * _UNITS[m.group(2)] * 1000000
    m = _ISO_RE.match(text)
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    try:
        secs = calendar.timegm((int(y), int(mo), int(d), int(hh or 0),
                                int(mi or 0), int(ss or 0), 0, 0, 0))
        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and int(hh or 0) < 24
                and int(mi or 0) < 60 and int(ss or 0) < 61):
            return None
    except (ValueError, OverflowError):
        return None
    us = secs * 1000000 + (int((frac or "0").ljust(9, "0")[:6]) if frac else 0)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        off = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0)
        us -= sign * off * 1000000
    return us


def jdump(obj):
    return json.dumps(obj, separators=(", ", ": ")).encode()


_PRINTABLE = bytes([9, 10, 13]) + bytes(range(32, 127))


def stream_repr(data, truncated=None):
    """StreamRepr (api.md §3.1): ascii when every byte is printable ASCII or
    TAB/LF/CR, else base64 of the raw bytes."""
    if not data.translate(None, _PRINTABLE):
        r = {"value": data.decode("ascii"), "encoding": "ascii"}
    else:
        r = {"value": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
    if truncated is not None:
        r["truncated"] = truncated
    return r


UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*(?::[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def valid_tag(tag):
    return (isinstance(tag, str) and 0 < len(tag) <= 255 and TAG_RE.match(tag)
            and "//" not in tag and not tag.endswith("/"))


def flag(query, key):
    """Boolean query flag (api.md §1.6): `1` and empty are true."""
    v = query.get(key)
    if v is None:
        return False
    return v[-1] in ("", "1", "true")


class ApiError(Exception):
    """Raised by route handlers; becomes {"error": msg, "status": code}."""

    def __init__(self, status, msg, headers=None):
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.headers = headers or {}


# ---------------------------------------------------------------------------
# 2. Blob store: file bodies by sha256, on disk (memory stays flat for GBs)
# ---------------------------------------------------------------------------

class Blobs:
    def __init__(self, root):
        self.dir = os.path.join(root, "blobs")
        os.makedirs(self.dir, exist_ok=True)
        self._n = 0
        self._lock = threading.Lock()

    def path(self, sha):
        return os.path.join(self.dir, sha)

    def _tmp(self):
        with self._lock:
            self._n += 1
            return os.path.join(self.dir, ".tmp-%d-%d" % (os.getpid(), self._n))

    def writer(self):
        """A sink that hashes while writing; commit() -> (sha, size)."""
        return BlobWriter(self, self._tmp())

    def put_bytes(self, data):
        sha = hashlib.sha256(data).hexdigest()
        if os.path.exists(self.path(sha)):
            return sha, len(data)
        w = self.writer()
        w.write(data)
        return w.commit()

    def put_file(self, src):
        w = self.writer()
        with open(src, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                w.write(b)
        return w.commit()

    def read(self, sha):
        with open(self.path(sha), "rb") as f:
            return f.read()


class BlobWriter:
    def __init__(self, blobs, tmp):
        self.blobs, self.tmp = blobs, tmp
        self.f = open(tmp, "wb")
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, b):
        self.h.update(b)
        self.f.write(b)
        self.size += len(b)

    def commit(self):
        self.f.close()
        sha = self.h.hexdigest()
        dst = self.blobs.path(sha)
        if os.path.exists(dst):
            os.unlink(self.tmp)
        else:
            os.chmod(self.tmp, 0o444)
            os.rename(self.tmp, dst)
        return sha, self.size

    def discard(self):
        try:
            self.f.close()
            os.unlink(self.tmp)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# 3. Image trees
# ---------------------------------------------------------------------------

class Node:
    """One filesystem entry of an image.  Immutable once in a tree; trees
    share Node objects, so a new image costs a dict copy, not a deep copy."""
    __slots__ = ("type", "mode", "uid", "gid", "mtime", "size", "blob", "target")

    def __init__(self, type, mode, uid=0, gid=0, mtime=0, size=0, blob=None,
                 target=None):
        self.type = type            # "file", "dir" or "symlink"
        self.mode = mode & 0o7777   # permission bits only
        self.uid, self.gid, self.mtime = uid, gid, mtime
        self.size = size
        self.blob = blob            # sha256 of the content (files)
        self.target = target        # link target (symlinks)

    def st_mode(self):
        t = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}
        return t[self.type] | self.mode


SEED_MTIME = 1717171717  # 2024-05-31T16:08:37Z, fixed so listings are stable


def build_tree(blobs, spec):
    """spec: {path: str/bytes (file 0644) | ("dir", mode) | ("link", target)
    | (content, mode)}.  Parent directories are implied (0755)."""
    tree = {"/": Node("dir", 0o755, mtime=SEED_MTIME)}
    for path, v in sorted(spec.items()):
        parent = posixpath.dirname(path)
        parts = []
        while parent not in tree:
            parts.append(parent)
            parent = posixpath.dirname(parent)
        for p in reversed(parts):
            tree[p] = Node("dir", 0o755, mtime=SEED_MTIME)
        if isinstance(v, tuple) and v[0] == "dir":
            tree[path] = Node("dir", v[1], mtime=SEED_MTIME)
        elif isinstance(v, tuple) and v[0] == "link":
            tree[path] = Node("symlink", 0o777, mtime=SEED_MTIME,
                              size=len(v[1].encode()), target=v[1])
        else:
            content, mode = (v if isinstance(v, tuple) else (v, 0o644))
            if isinstance(content, str):
                content = content.encode()
            sha, size = blobs.put_bytes(content)
            tree[path] = Node("file", mode, mtime=SEED_MTIME, size=size, blob=sha)
    return tree


def base_spec(pretty, os_id, version, hostname="linuxkit"):
    """A small but realistic root filesystem."""
    return {
        "/etc/os-release": 'PRETTY_NAME="%s"\nNAME="%s"\nID=%s\nVERSION_ID="%s"\n'
                           % (pretty, pretty.split()[0], os_id, version),
        "/etc/hostname": hostname + "\n",
        "/etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n",
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
                       "user:x:1000:1000:user:/home/user:/bin/sh\n",
        "/etc/group": "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n",
        "/etc/profile": "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                        "/usr/bin:/sbin:/bin\n",
        "/bin": ("dir", 0o755),
        "/bin/sh": ("link", "busybox"),
        "/usr/bin": ("dir", 0o755),
        "/usr/local/bin": ("dir", 0o755),
        "/root": ("dir", 0o700),
        "/root/.profile": "# ~/.profile\n",
        "/home/user": ("dir", 0o755),
        "/tmp": ("dir", 0o1777),
        "/var/log": ("dir", 0o755),
        "/dev": ("dir", 0o755),
        "/proc": ("dir", 0o555),
        "/sys": ("dir", 0o555),
    }


def seeded_specs():
    ubuntu = base_spec("Ubuntu 24.04 LTS", "ubuntu", "24.04")
    ubuntu["/etc/debian_version"] = "trixie/sid\n"
    alpine = base_spec("Alpine Linux v3.19", "alpine", "3.19.1")
    alpine["/etc/alpine-release"] = "3.19.1\n"
    python = base_spec("Debian GNU/Linux 12 (bookworm)", "debian", "12")
    python["/usr/local/lib/python3.12/VERSION"] = "3.12.3\n"
    python["/app"] = ("dir", 0o755)
    bbox = base_spec("BusyBox", "busybox", "1.36.1")
    # Newest first when listed: created 1..4 days before start.
    return [("ubuntu:latest", ubuntu), ("alpine:3.19", alpine),
            ("python:3.12-slim", python), ("busybox:latest", bbox)]


def tree_resolve(tree, path, follow_last=True):
    """Resolve `path` inside an image tree the way the kernel would inside a
    chroot.  Returns the canonical path (which may be absent from the tree)
    or None for a symlink loop / path through a non-directory."""
    parts = [p for p in path.split("/") if p and p != "."]
    cur = []
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == "..":
            cur = cur[:-1]
            continue
        cand = "/" + "/".join(cur + [p])
        node = tree.get(cand)
        if node is not None and node.type == "symlink" and (parts or follow_last):
            hops += 1
            if hops > 40:
                return None
            t = node.target
            if t.startswith("/"):
                cur = []
            parts = [x for x in t.split("/") if x and x != "."] + parts
            continue
        if parts and node is not None and node.type != "dir":
            return None
        cur.append(p)
    return "/" + "/".join(cur)


def children(tree, d):
    """Direct children names of directory path d (sorted)."""
    pre = d.rstrip("/") + "/"
    out = []
    for p in tree:
        if p != "/" and p.startswith(pre) and "/" not in p[len(pre):]:
            out.append(p[len(pre):])
    return sorted(out)


def subtree(tree, d):
    pre = d.rstrip("/") + "/"
    return sorted(p for p in tree if p == d or p.startswith(pre))


def id_names(blobs, tree, fname):
    """uid/gid -> name from the image's /etc/passwd or /etc/group."""
    node = tree.get(fname)
    names = {}
    if node is not None and node.type == "file" and node.size < 1 << 20:
        for line in blobs.read(node.blob).decode("utf-8", "replace").splitlines():
            f = line.split(":")
            if len(f) >= 3 and f[2].isdigit():
                names.setdefault(int(f[2]), f[0])
    return names


# ---------------------------------------------------------------------------
# 4. Server state
# ---------------------------------------------------------------------------

ACTIVE = ("PENDING", "ASSIGNED", "EXECUTING")
TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")
PERMISSIONS = ("list", "spawn", "spawn_disposable", "import", "cancel",
               "set_image_tag")


class Image:
    __slots__ = ("uuid", "tag", "created", "op", "tree", "env")

    def __init__(self, uid, tag, created, op, tree, env=None):
        self.uuid, self.tag, self.created, self.op = uid, tag, created, op
        self.tree = tree
        self.env = env or {}

    def record(self):
        return {"uuid": self.uuid, "tag": self.tag, "created_at": iso(self.created),
                "operation_uuid": self.op}


class FileRec:
    __slots__ = ("uuid", "sha", "size", "created", "updated")

    def record(self):
        return {"uuid": self.uuid, "sha256": self.sha, "size": self.size,
                "created_at": iso(self.created), "updated_at": iso(self.updated)}


class Operation:
    def __init__(self, uid, kind, created, request, image_uuid=None):
        self.uuid, self.kind, self.created = uid, kind, created
        self.request = request          # echoed as metadata
        self.image_uuid = image_uuid    # input image (instances)
        self.status = "PENDING"
        self.error = None
        self.t0 = time.monotonic()
        self.duration = None            # seconds, when terminal
        self.run_result = None          # metadata.result (InstanceResult)
        self.result_image = None
        self.result_tag = None
        self.image_size = None
        self.events = []                # envelopes; id == index
        self.cancel = threading.Event()
        self.proc = None                # running Popen (for cancel)
        self.inject_fail = None         # config fail_ops
        self.spec = None                # validated spawn request (instances)
        self.cleanup = None             # run directory to remove at the end

    def summary(self):
        dur = self.duration
        if dur is None and self.status != "PENDING":
            dur = round(time.monotonic() - self.t0, 6)
        return {"uuid": self.uuid, "kind": self.kind, "status": self.status,
                "error": self.error, "created_at": iso(self.created),
                "duration": dur, "image_uuid": self.image_uuid,
                "result_image_uuid": self.result_image}

    def full(self):
        r = self.summary()
        del r["image_uuid"]
        meta = dict(self.request)
        if self.kind == "instance":
            meta["result"] = self.run_result
        r["metadata"] = meta
        r["result"] = ({"image": self.result_image, "tag": self.result_tag}
                       if self.status in TERMINAL else None)
        r["result_image_uuid"] = self.result_image
        if self.image_size is not None:
            r["image_size"] = self.image_size
        return r


class Fault:
    def __init__(self, fid, spec):
        self.id = fid
        self.path_src = spec.get("path") or ""
        self.path = re.compile(self.path_src)
        self.method = (spec.get("method") or "").upper() or None
        self.count = int(spec.get("count", 1))
        self.kind = spec.get("kind", "status")
        if self.kind not in ("status", "drop", "lose", "truncate", "badjson",
                             "slow", "stall", "sse_error", "sse_cut",
                             "hang", "raw"):
            raise ValueError("unknown fault kind %r" % self.kind)
        self.status = int(spec.get("status") or 503)
        self.retry_after = spec.get("retry_after")
        self.delay = float(spec.get("delay") or 0)
        self.after = int(spec.get("after", 1))
        self.message = spec.get("message") or "injected fault"
        # diff: optional regex searched in the decoded query ("path=/x")
        self.query = re.compile(spec["query"]) if spec.get("query") else None

    def view(self):
        return {"id": self.id, "path": self.path_src, "method": self.method,
                "count": self.count, "kind": self.kind, "status": self.status,
                "retry_after": self.retry_after, "delay": self.delay,
                "after": self.after}


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)   # new events / status
        self.root = args.state_dir
        self.blobs = Blobs(self.root)
        # Per-run trees go to tmpfs when there is one: creating the ~270
        # busybox applet links is several times faster there.
        shm = os.environ.get("CONTREE_FAKE_RUNDIR") or "/dev/shm"
        try:
            self.runs_dir = tempfile.mkdtemp(prefix="contree-fake-runs-", dir=shm)
        except OSError:
            self.runs_dir = os.path.join(self.root, "runs")
            os.makedirs(self.runs_dir, exist_ok=True)
        self.prefix = args.prefix.rstrip("/")
        self.cfg = {
            "delay": args.delay,
            "keepalive": 2.0,
            "default_limit": 100,
            "default_timeout": 60,
            "max_timeout": 3600,
            "token": args.token,
            "project": args.project,
            "gzip": True,
            "permissions": {p: True for p in PERMISSIONS},
            "snapshot_unchanged": False,
            "import_fail": r"\.invalid/|does-not-exist",
            "fail_ops": 0,
            "fail_error": "OOM killed",
            "chroot": True,
        }
        self.images = {}          # uuid -> Image
        self.by_tag = {}          # tag -> uuid
        self.files = {}           # uuid -> FileRec
        self.files_by_sha = {}    # sha -> uuid
        self.ops = {}             # uuid -> Operation
        self._sorted = {}         # cache of sorted lists, dropped on change
        self.last_us = 0
        self.faults = []
        self.fault_seq = 0
        self.reqlog = []
        self.seed_count = 0
        self.start_us = now_us()
        self.exec_mode = "fallback"

    # -- creation time stamps: strictly increasing ---------------------------
    def stamp(self):
        with self.lock:
            t = max(now_us(), self.last_us + 1)
            self.last_us = t
            return t

    def sorted_list(self, kind):
        """Records of `kind` newest first, uuid ascending on ties (cached)."""
        with self.lock:
            lst = self._sorted.get(kind)
            if lst is None:
                src = {"images": self.images, "files": self.files,
                       "ops": self.ops}[kind]
                lst = sorted(src.values(), key=lambda r: (-r.created, r.uuid))
                self._sorted[kind] = lst
            return lst

    def dirty(self, kind):
        self._sorted.pop(kind, None)

    # -- images --------------------------------------------------------------
    def add_image(self, tree, tag=None, op=None, created=None, env=None):
        with self.lock:
            img = Image(str(uuid.uuid4()), None, created or self.stamp(), op,
                        tree, env)
            self.images[img.uuid] = img
            if tag:
                self.set_tag(img, tag)
            self.dirty("images")
            return img

    def set_tag(self, img, tag):
        """One tag per image; assigning moves the tag from its old holder."""
        with self.lock:
            old = self.by_tag.get(tag)
            if old and old != img.uuid and old in self.images:
                self.images[old].tag = None
            if img.tag and self.by_tag.get(img.tag) == img.uuid:
                del self.by_tag[img.tag]
            img.tag = tag
            self.by_tag[tag] = img.uuid

    def untag(self, img):
        with self.lock:
            if img.tag and self.by_tag.get(img.tag) == img.uuid:
                del self.by_tag[img.tag]
            img.tag = None

    def seed(self, n):
        """n more tagged images sharing one tree (fast for n = 10000)."""
        with self.lock:
            base = self.images[self.by_tag["busybox:latest"]].tree \
                if "busybox:latest" in self.by_tag else {"/": Node("dir", 0o755)}
            t0 = self.start_us - 3600 * 1000000
            for _ in range(n):
                self.seed_count += 1
                i = self.seed_count
                img = Image(str(uuid.uuid4()), None, t0 - i * 1000000, None, base)
                self.images[img.uuid] = img
                self.set_tag(img, "seed/img-%05d:v1" % i)
            self.dirty("images")
            return n

    def resolve_image(self, ref):
        """UUID or tag:NAME (exact).  None when unknown."""
        with self.lock:
            if not isinstance(ref, str):
                return None
            if ref.startswith("tag:"):
                u = self.by_tag.get(ref[4:])
                return self.images.get(u) if u else None
            if UUID_RE.match(ref):
                return self.images.get(ref.lower())
            return None

    # -- operations ------------------------------------------------------------
    def add_op(self, kind, request, image_uuid=None):
        with self.lock:
            op = Operation(str(uuid.uuid4()), kind, self.stamp(), request,
                           image_uuid)
            if self.cfg["fail_ops"] > 0:
                self.cfg["fail_ops"] -= 1
                op.inject_fail = self.cfg["fail_error"]
            self.ops[op.uuid] = op
            self.dirty("ops")
            return op

    def event(self, op, spid, typ, data):
        with self.lock:
            ev = {"id": len(op.events), "ts": iso_now_ns(), "spid": spid,
                  "type": typ, "data": data}
            op.events.append(ev)
            self.cond.notify_all()

    def set_status(self, op, status):
        with self.lock:
            if op.status in TERMINAL:
                return
            op.status = status
            self.cond.notify_all()

    # -- faults --------------------------------------------------------------
    def take_fault(self, method, path, is_sse, query=""):
        with self.lock:
            for f in self.faults:
                if f.count == 0:
                    continue
                if f.query and not f.query.search(query):  # diff
                    continue
                if f.method and f.method != method:
                    continue
                if f.kind.startswith("sse_") and not is_sse:
                    continue
                if not f.path.search(path):
                    continue
                if f.count > 0:
                    f.count -= 1
                self.faults = [x for x in self.faults if x.count != 0]
                return f
            return None


# ---------------------------------------------------------------------------
# 5. Running things
# ---------------------------------------------------------------------------

RUNTIME_DIRS = ("/dev", "/proc", "/sys")   # never snapshotted
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = "/bin/busybox"
DEV_NODES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
             ("urandom", 1, 9), ("tty", 5, 0))


def sig(st):
    """What we compare to tell whether a path changed during a run."""
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
            st.st_uid, st.st_gid)


def host_path(root, path):
    """Host path of an in-tree path whose components are known not to be
    symlinks (only used while materialising, parents first)."""
    return root + path if path != "/" else root


def resolve_in_root(root, path, follow_last=False):
    """Host path for an in-tree path, resolving symlinks inside `root` as a
    chroot would (never escaping to the host).  The last component is
    followed only with follow_last."""
    parts = [p for p in path.split("/") if p and p != "."]
    cur = []
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == "..":
            cur = cur[:-1]
            continue
        cand = os.path.join(root, *cur, p)
        if (parts or follow_last) and os.path.islink(cand):
            hops += 1
            if hops > 40:
                raise OSError("too many levels of symbolic links: " + path)
            t = os.readlink(cand)
            if t.startswith("/"):
                cur = []
            parts = [x for x in t.split("/") if x and x != "."] + parts
            continue
        cur.append(p)
    return os.path.join(root, *cur)


class Runner:
    """Executes operations.  One thread per operation drives its lifecycle."""

    def __init__(self, st, want_chroot):
        self.st = st
        self.applets = []
        self.is_root = os.geteuid() == 0
        if want_chroot and self.is_root and self._chroot_works():
            st.exec_mode = "chroot"
        self.procs = set()
        self.plock = threading.Lock()

    def chroot(self):
        return self.st.exec_mode == "chroot" and self.st.cfg["chroot"]

    def _chroot_works(self):
        """A static busybox that runs under chroot here?"""
        if not os.path.isfile(BUSYBOX):
            return False
        d = tempfile.mkdtemp(dir=self.st.runs_dir)
        try:
            os.mkdir(d + "/bin")
            shutil.copyfile(BUSYBOX, d + "/bin/busybox")
            os.chmod(d + "/bin/busybox", 0o755)
            r = subprocess.run(["/bin/busybox", "echo", "ok"], capture_output=True,
                               preexec_fn=lambda: (os.chroot(d), os.chdir("/")),
                               timeout=10)
            if r.returncode != 0 or r.stdout != b"ok\n":
                return False
            out = subprocess.run([BUSYBOX, "--list"], capture_output=True,
                                 timeout=10).stdout.decode()
            self.applets = [a for a in out.split() if a and "/" not in a]
            return True
        except (OSError, subprocess.SubprocessError):
            return False
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def start(self, op, fn):
        t = threading.Thread(target=self._drive, args=(op, fn), daemon=True,
                             name="op-" + op.uuid[:8])
        t.start()

    def kill(self, op):
        p = op.proc
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

    def kill_all(self):
        with self.plock:
            for p in list(self.procs):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass

    # -- lifecycle -----------------------------------------------------------
    def _phase(self, op):
        """Wait a third of the configured delay; True if cancelled."""
        d = float(self.st.cfg["delay"]) / 3.0
        if d > 0:
            return op.cancel.wait(d)
        return op.cancel.is_set()

    def _drive(self, op, fn):
        st = self.st
        try:
            if self._phase(op):
                return self._finish(op, "CANCELLED")
            st.set_status(op, "ASSIGNED")
            if self._phase(op):
                return self._finish(op, "CANCELLED")
            st.set_status(op, "EXECUTING")
            st.event(op, 0, "init", {"started_at": iso_now_ns(),
                                     "runtime_path": "/sbin/contree-init",
                                     "verbose": False, "init_pid": 1})
            t_exec = time.monotonic()
            if op.inject_fail:
                return self._finish(op, "FAILED", op.inject_fail)
            status, error = fn(op)
            rest = float(st.cfg["delay"]) / 3.0 - (time.monotonic() - t_exec)
            if status == "SUCCESS" and rest > 0 and op.cancel.wait(rest):
                status = "CANCELLED"
            if op.cancel.is_set() and status == "SUCCESS":
                status = "CANCELLED"
            self._finish(op, status, error)
        except Exception as e:  # a bug in the fake: make it visible
            import traceback
            traceback.print_exc()
            self._finish(op, "FAILED", "fake internal error: %s" % e)
        finally:
            if op.cleanup:
                self._rmtree(op.cleanup)
                op.cleanup = None

    def _finish(self, op, status, error=None):
        st = self.st
        with st.lock:
            if op.status in TERMINAL:
                return
            if status != "SUCCESS":
                op.result_image = None
                op.result_tag = None
                op.image_size = None
                if status == "CANCELLED":
                    op.run_result = None
            op.error = error
            op.duration = round(time.monotonic() - op.t0, 6)
            if op.kind == "instance" and op.events:
                st.event(op, 0, "shutdown", {"stopped_at": iso_now_ns(),
                                             "reason": "job_complete"
                                             if status == "SUCCESS" else status.lower()})
            st.event(op, 0, "completion", {
                "status": status, "result_image_uuid": op.result_image,
                "error": error, "duration_ms": int(op.duration * 1000),
                "image_size_bytes": op.image_size or 0})
            op.status = status
            st.cond.notify_all()

    # -- image import (api.md §2.3) ------------------------------------------
    def do_import(self, op):
        st = self.st
        url = op.request["registry"]["url"]
        if re.search(st.cfg["import_fail"], url):
            return "FAILED", "failed to pull %s: manifest unknown" % url
        name = url.split("/")[-1]
        specs = dict(seeded_specs())
        key = next((t for t in specs if t.split(":")[0] in name.split(":")[0]),
                   "ubuntu:latest")
        spec = dict(specs[key])
        spec["/etc/contree-import"] = url + "\n"
        tree = build_tree(st.blobs, spec)
        with st.lock:
            if op.cancel.is_set():
                return "CANCELLED", None
            img = st.add_image(tree, tag=op.request.get("tag"), op=op.uuid)
            op.result_image, op.result_tag = img.uuid, img.tag
            op.image_size = sum(n.size for n in tree.values() if n.type == "file")
        return "SUCCESS", None

    # -- instance run (api.md §7) ----------------------------------------------
    def do_instance(self, op):
        st = self.st
        req = op.spec                     # validated spawn request
        img = st.images[op.image_uuid]
        rundir = tempfile.mkdtemp(prefix="run-", dir=st.runs_dir)
        root = os.path.join(rundir, "root")
        chroot = self.chroot()
        try:
            known, injected, made_dirs = self._materialise(img.tree, root, chroot)
            err = self._inject_files(root, req["files"], known, chroot)
            if err:
                return "FAILED", err
            cwd = req["cwd"] or ("/root" if img.tree.get("/root") else "/")
            try:
                hcwd = resolve_in_root(root, cwd, True)
            except OSError:
                hcwd = None
            if not hcwd or not os.path.isdir(hcwd):
                return "FAILED", "cwd %s: no such directory" % cwd
            env = dict(img.env)
            env.update(req["env"])
            result = self._execute(op, req, root, hcwd, cwd, env, chroot)
            if op.cancel.is_set() and not result["state"]["timed_out"]:
                return "CANCELLED", None
            tree_env = env if req["preserve_env"] else img.env
            with st.lock:
                op.run_result = result
            if not req["disposable"]:
                tree = self._snapshot(root, img.tree, known, injected, made_dirs,
                                      chroot)
                with st.lock:
                    if op.cancel.is_set():
                        return "CANCELLED", None
                    if tree == img.tree and tree_env == img.env and \
                            not st.cfg["snapshot_unchanged"]:
                        new = img
                    else:
                        new = st.add_image(tree, op=op.uuid, env=tree_env)
                    op.result_image = new.uuid
                    op.image_size = sum(n.size for n in tree.values()
                                        if n.type == "file")
            return "SUCCESS", None
        finally:
            op.cleanup = rundir     # removed once the result is published

    @staticmethod
    def _rmtree(d):
        def onerr(fn, path, exc):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
                fn(path)
            except OSError:
                pass
        shutil.rmtree(d, onerror=onerr)

    def _materialise(self, tree, root, chroot):
        """Write `tree` under `root`.  Returns (known, injected, made_dirs):
        known = {path: (sig, node)} of what came from the image, injected =
        {path: sig} of runtime additions (busybox, applet links), made_dirs =
        directories created only for those additions."""
        blobs = self.st.blobs
        chown = self.is_root
        os.mkdir(root)
        made = {"/"}      # directories written so far
        for path in sorted(tree):
            node = tree[path]
            if path == "/" or posixpath.dirname(path) not in made:
                continue  # root, or below a non-directory: inconsistent tree
            hp = host_path(root, path)
            if node.type == "dir":
                os.mkdir(hp, 0o700)   # real mode later: children first
                made.add(path)
            elif node.type == "symlink":
                os.symlink(node.target, hp)
                if chown:
                    os.lchown(hp, node.uid, node.gid)
            else:
                shutil.copyfile(blobs.path(node.blob), hp)
                if chown:
                    os.chown(hp, node.uid, node.gid)
                os.chmod(hp, node.mode)
                os.utime(hp, (node.mtime, node.mtime))
        injected, made_dirs = {}, []
        if chroot:
            self._add_runtime(tree, root, injected, made_dirs)
        # Directories and symlinks last: adding children changes their times,
        # and a read-only directory must be filled before it is chmod'ed.
        for path in sorted(tree, reverse=True):
            node = tree[path]
            hp = host_path(root, path)
            if node.type == "dir" and path in made:
                if chown:
                    os.chown(hp, node.uid, node.gid)
                os.chmod(hp, node.mode)
                os.utime(hp, (node.mtime, node.mtime))
            elif node.type == "symlink" and posixpath.dirname(path) in made:
                try:
                    os.utime(hp, (node.mtime, node.mtime), follow_symlinks=False)
                except (OSError, NotImplementedError):
                    pass
        known = {}
        for path, node in tree.items():
            try:
                known[path] = (sig(os.lstat(host_path(root, path))), node)
            except OSError:
                pass
        for p in list(injected):
            injected[p] = sig(os.lstat(host_path(root, p)))
        return known, injected, made_dirs

    def _add_runtime(self, tree, root, injected, made_dirs):
        """chroot mode: busybox + applet links in /bin, device nodes in /dev."""
        for d in ("/bin", "/dev"):
            n = tree.get(d)
            if n is None:
                os.mkdir(host_path(root, d), 0o755)
                made_dirs.append(d)
            elif n.type != "dir":
                continue
        if tree.get("/bin") is None or tree["/bin"].type == "dir":
            if "/bin/busybox" not in tree:
                dst = host_path(root, "/bin/busybox")
                shutil.copyfile(BUSYBOX, dst)
                os.chmod(dst, 0o755)
                injected["/bin/busybox"] = None
            for a in self.applets:
                p = "/bin/" + a
                if p not in tree and not os.path.lexists(host_path(root, p)):
                    os.symlink("/bin/busybox", host_path(root, p))
                    injected[p] = None
        if tree.get("/dev") is None or tree["/dev"].type == "dir":
            for name, ma, mi in DEV_NODES:
                p = host_path(root, "/dev/" + name)
                if not os.path.lexists(p):
                    try:
                        os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(ma, mi))
                        os.chmod(p, 0o666)
                    except OSError:
                        pass

    def _inject_files(self, root, files, known, chroot):
        """Write the spawn's `files` (api.md §6): contents from uploads,
        mode/uid/gid, parents created.  Returns an error text or None."""
        st = self.st
        for path in sorted(files):
            spec = files[path]
            parent = posixpath.dirname(path)
            try:
                hparent = resolve_in_root(root, parent, True)
                # create missing parents, one level at a time
                if not os.path.isdir(hparent):
                    cur = "/"
                    for comp in [c for c in parent.split("/") if c]:
                        cur = posixpath.join(cur, comp)
                        hp = resolve_in_root(root, cur, True)
                        if not os.path.lexists(hp):
                            os.mkdir(hp, 0o755)
                            if self.is_root:
                                os.chown(hp, 0, 0)
                        elif not os.path.isdir(hp):
                            return "cannot write %s: %s is not a directory" % (path, cur)
                    hparent = resolve_in_root(root, parent, True)
                hp = os.path.join(hparent, posixpath.basename(path))
                if os.path.isdir(hp) and not os.path.islink(hp):
                    return "cannot write %s: is a directory" % path
                if os.path.lexists(hp):
                    os.unlink(hp)
                with st.lock:
                    rec = st.files[spec["uuid"]]
                shutil.copyfile(st.blobs.path(rec.sha), hp)
                if self.is_root:
                    os.chown(hp, spec["uid"], spec["gid"])
                os.chmod(hp, spec["mode"])
                rel = "/" + os.path.relpath(hp, root)
                known[rel] = (sig(os.lstat(hp)),
                              Node("file", spec["mode"], spec["uid"], spec["gid"],
                                   int(os.lstat(hp).st_mtime), rec.size, rec.sha))
            except OSError as e:
                return "cannot write %s: %s" % (path, e.strerror or e)
        return None

    def _execute(self, op, req, root, hcwd, cwd, env, chroot):
        """Run the command; returns the InstanceResult (api.md §3.6) and
        records spawn/stdout/stderr/truncated/exit events."""
        st = self.st
        expr = None
        if req["shell"]:
            expr = req["command"]
            if req["args"]:
                expr += " " + " ".join(shlex.quote(a) for a in req["args"])
            argv = ["/bin/sh", "-c", expr]
        else:
            argv = [req["command"]] + req["args"]
        full_env = {"PATH": CHROOT_PATH if chroot else os.environ.get(
                        "PATH", "/usr/bin:/bin"),
                    "HOME": "/root" if req["uid"] == 0 else "/",
                    "HOSTNAME": req["hostname"]}
        if not chroot:
            full_env["ROOT"] = root
        full_env.update(env)
        uid, gid = req["uid"], req["gid"]

        def preexec():
            os.chroot(root)
            os.chdir(cwd)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

        cap = req["truncate_output_at"]
        outs = {"stdout": bytearray(), "stderr": bytearray()}
        totals = {"stdout": 0, "stderr": 0}
        redacted = {k: ("<REDACTED>" if re.search(
            r"(token|secret|password|api_key|credentials|authorization)$", k, re.I)
            else v) for k, v in env.items()}
        t0 = time.monotonic()
        timeout = req["timeout"]
        timed_out = False
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=full_env,
                cwd=None if chroot else hcwd,
                preexec_fn=preexec if chroot else None, start_new_session=True)
        except (OSError, subprocess.SubprocessError) as e:
            # exec failed: report it the way a shell would (127/126)
            if isinstance(e, FileNotFoundError):
                code, why = 127, "not found"
            elif isinstance(e, PermissionError):
                code, why = 126, "Permission denied"
            else:  # preexec failed: cwd not enterable as that user, etc.
                code, why = 126, "cannot start: %s" % e
            msg = ("%s: %s\n" % (argv[0], why)).encode()
            st.event(op, 1, "spawn", self._spawn_data(0, req, argv, cwd, redacted))
            st.event(op, 1, "stderr", stream_repr(msg[:cap]))
            st.event(op, 1, "exit", {"pid": 0, "code": code, "signal": -1,
                                     "timed_out": False, "duration_ms": 0,
                                     "resources": {}})
            return {"state": {"exit_code": code, "pid": 0, "signal": -1,
                              "timed_out": False},
                    "resources": {"elapsed_time": 0.0, "max_rss": 0},
                    "stdout": stream_repr(b"", False),
                    "stderr": stream_repr(msg[:cap], len(msg) > cap)}
        with self.plock:
            self.procs.add(proc)
        op.proc = proc
        if op.cancel.is_set():
            self.kill(op)
        st.event(op, 1, "spawn", self._spawn_data(proc.pid, req, argv, cwd, redacted))

        def reader(name, fd):
            while True:
                try:
                    b = os.read(fd, 65536)
                except OSError:
                    break
                if not b:
                    break
                buf = outs[name]
                room = cap - len(buf)
                part = b[:room] if room > 0 else b""
                buf += part
                totals[name] += len(b)
                if part:
                    st.event(op, 1, name, stream_repr(part))

        def writer(data):
            try:
                if data:
                    proc.stdin.write(data)
            except OSError:
                pass
            try:
                proc.stdin.close()
            except OSError:
                pass

        threads = [threading.Thread(target=reader, args=("stdout", proc.stdout.fileno()),
                                    daemon=True),
                   threading.Thread(target=reader, args=("stderr", proc.stderr.fileno()),
                                    daemon=True),
                   threading.Thread(target=writer, args=(req["stdin"],), daemon=True)]
        for t in threads:
            t.start()
        # Wait with wait4 (resource usage), watching cancel and timeout.
        status, ru, nap = None, None, 0.0005
        while True:
            try:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:
                status = 0
                break
            if pid:
                break
            if not timed_out and time.monotonic() - t0 > timeout:
                timed_out = True
                self.kill(op)
            if op.cancel.is_set():
                self.kill(op)
            op.cancel.wait(nap)
            nap = min(nap * 2, 0.02)
        elapsed = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        op.proc = None
        try:  # the sandbox is torn down: nothing of the run survives it
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        with self.plock:
            self.procs.discard(proc)
        for t in threads[:2]:
            t.join(5)
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        rc = proc.returncode
        sig_no = -rc if rc < 0 else -1
        code = 128 + sig_no if rc < 0 else rc
        for name in ("stdout", "stderr"):
            if totals[name] > cap:
                st.event(op, 1, "truncated", {"stream": name, "bytes_emitted": cap,
                                              "bytes_dropped": totals[name] - cap})
        rusage = {"user_time_us": int(ru.ru_utime * 1e6) if ru else 0,
                  "sys_time_us": int(ru.ru_stime * 1e6) if ru else 0,
                  "max_rss_kb": ru.ru_maxrss if ru else 0}
        st.event(op, 1, "exit", {"pid": proc.pid, "code": code, "signal": sig_no,
                                 "timed_out": timed_out,
                                 "duration_ms": int(elapsed * 1000),
                                 "resources": rusage})
        return {"state": {"exit_code": code, "pid": proc.pid, "signal": sig_no,
                          "timed_out": timed_out},
                "resources": {"elapsed_time": round(elapsed, 6),
                              "max_rss": ru.ru_maxrss if ru else 0,
                              "user_cpu_time": ru.ru_utime if ru else 0,
                              "system_cpu_time": ru.ru_stime if ru else 0},
                "stdout": stream_repr(bytes(outs["stdout"]), totals["stdout"] > cap),
                "stderr": stream_repr(bytes(outs["stderr"]), totals["stderr"] > cap)}

    @staticmethod
    def _spawn_data(pid, req, argv, cwd, env):
        return {"pid": pid, "command": argv[0], "args": argv[1:],
                "shell": req["shell"], "cwd": cwd, "uid": req["uid"],
                "gid": req["gid"], "timeout": req["timeout"],
                "truncate_at": req["truncate_output_at"], "env": env}

    def _snapshot(self, root, parent, known, injected, made_dirs, chroot):
        """Read the run's directory back into a tree, reusing the parent's
        nodes for everything unchanged."""
        blobs = self.st.blobs
        tree = {}
        trust_owner = self.is_root
        stack = ["/"]
        while stack:
            path = stack.pop()
            hp = host_path(root, path)
            try:
                s = os.lstat(hp)
            except OSError:
                continue
            if path in RUNTIME_DIRS:
                # runtime mounts in a real sandbox: keep the image's version
                for p in subtree(parent, path):
                    tree[p] = parent[p]
                continue
            if path in injected and injected[path] == sig(s):
                continue
            k = known.get(path)
            if k is not None and k[0] == sig(s):
                tree[path] = k[1]
            else:
                prev = parent.get(path)
                if trust_owner:
                    uid, gid = s.st_uid, s.st_gid
                elif prev is not None:
                    uid, gid = prev.uid, prev.gid
                else:
                    uid, gid = 0, 0
                mode = stat.S_IMODE(s.st_mode)
                if stat.S_ISDIR(s.st_mode):
                    tree[path] = Node("dir", mode, uid, gid, int(s.st_mtime))
                elif stat.S_ISLNK(s.st_mode):
                    t = os.readlink(hp)
                    tree[path] = Node("symlink", 0o777, uid, gid, int(s.st_mtime),
                                      len(t.encode()), target=t)
                elif stat.S_ISREG(s.st_mode):
                    sha, size = blobs.put_file(hp)
                    tree[path] = Node("file", mode, uid, gid, int(s.st_mtime),
                                      size, sha)
                else:
                    continue   # sockets, fifos, devices: not kept
            if stat.S_ISDIR(s.st_mode):
                try:
                    names = os.listdir(hp)
                except OSError:
                    names = []
                for name in names:
                    stack.append(posixpath.join(path, name))
        for d in made_dirs:
            if d in tree and not any(p.startswith(d + "/") for p in tree):
                del tree[d]
        return tree


# ---------------------------------------------------------------------------
# 6. HTTP plumbing
# ---------------------------------------------------------------------------

REASONS = {code: msg for code, (msg, _) in
           http.server.BaseHTTPRequestHandler.responses.items()}
REASONS[425] = "Too Early"
MAX_JSON_BODY = 64 << 20
LOG_BODY_MAX = 1 << 20


class BadRequestBody(Exception):
    pass


class Discard:
    """wfile replacement while a response is being captured."""

    def __init__(self):
        self.buf = io.BytesIO()

    def write(self, b):
        self.buf.write(b)
        return len(b)

    def flush(self):
        pass


class ChunkedWriter:
    """A streamed response body: chunked, optionally gzip with one sync
    flush per write so each piece can be decoded on arrival."""

    def __init__(self, handler, gz):
        self.h = handler
        self.z = zlib.compressobj(6, zlib.DEFLATED, 31) if gz else None
        self.done = False

    def write(self, data):
        if self.z is not None:
            data = self.z.compress(bytes(data)) + self.z.flush(zlib.Z_SYNC_FLUSH)
        if data:
            self.h.wfile.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")
        return len(data)

    def end(self):
        if self.done:
            return
        self.done = True
        tail = b""
        if self.z is not None:
            rest = self.z.flush(zlib.Z_FINISH)
            if rest:
                tail = b"%x\r\n" % len(rest) + rest + b"\r\n"
        self.h.wfile.write(tail + b"0\r\n\r\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "contree-fake/1"
    sys_version = ""
    timeout = 300

    # -- plumbing ------------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake: %s %s\n" % (self.address_string(), fmt % args))

    def setup(self):
        super().setup()
        self.capture = None

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, socket.timeout, ssl.SSLError, OSError):
            pass

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def read_body(self, sink, limit=None):
        """Read the request body (Content-Length or chunked) into sink.write.
        Returns the number of bytes.  Raises BadRequestBody."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        n = 0
        if "chunked" in te:
            while True:
                line = self.rfile.readline(4096)
                if not line.endswith(b"\n"):
                    raise BadRequestBody("bad chunk size line")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequestBody("bad chunk size")
                if size < 0:
                    raise BadRequestBody("bad chunk size")
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return n
                left = size
                while left:
                    b = self.rfile.read(min(left, 1 << 20))
                    if not b:
                        raise BadRequestBody("body ended early")
                    sink.write(b)
                    left -= len(b)
                n += size
                if limit is not None and n > limit:
                    raise BadRequestBody("body too large")
                if self.rfile.readline(4) not in (b"\r\n", b"\n"):
                    raise BadRequestBody("missing CRLF after chunk")
        cl = self.headers.get("Content-Length")
        if cl is None:
            return 0
        try:
            left = int(cl)
        except ValueError:
            raise BadRequestBody("bad Content-Length")
        if left < 0 or (limit is not None and left > limit):
            raise BadRequestBody("bad Content-Length")
        while left:
            b = self.rfile.read(min(left, 1 << 20))
            if not b:
                raise BadRequestBody("body ended early")
            sink.write(b)
            left -= len(b)
            n += len(b)
        return n

    def accepts_gzip(self):
        if not self.server.state.cfg["gzip"]:
            return False
        for part in (self.headers.get("Accept-Encoding") or "").split(","):
            bits = part.strip().split(";")
            if bits[0].strip().lower() in ("gzip", "x-gzip"):
                q = [b for b in bits[1:] if b.strip().startswith("q=")]
                try:
                    return not q or float(q[0].strip()[2:]) > 0
                except ValueError:
                    return True
        return False

    def head_lines(self, status, headers):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
                 "Date: " + self.date_time_string(),
                 "Server: " + self.server_version]
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def reply(self, status, body=b"", ctype="application/json", headers=()):
        """A complete response with Content-Length (gzip when accepted)."""
        hdrs = list(headers)
        if status == 204 or (status == 304):
            body = b""
        else:
            if body and self.accepts_gzip():
                body = gzip_bytes(body)
                hdrs.append(("Content-Encoding", "gzip"))
            if ctype:
                hdrs.append(("Content-Type", ctype))
            hdrs.append(("Content-Length", str(len(body))))
        out = self.head_lines(status, hdrs)
        if self.command != "HEAD":
            out += body
        self.answered()
        self.wfile.write(out)
        self.log_request(status, len(body))

    def reply_json(self, status, obj, headers=()):
        self.reply(status, jdump(obj), "application/json", headers)

    def reply_error(self, status, msg, headers=()):
        self.reply(status, jdump({"error": msg, "status": status}),
                   "application/json", headers)

    def start_stream(self, status, ctype, headers=()):
        gz = self.accepts_gzip()
        hdrs = list(headers) + [("Content-Type", ctype)]
        if gz:
            hdrs.append(("Content-Encoding", "gzip"))
        hdrs.append(("Transfer-Encoding", "chunked"))
        self.wfile.write(self.head_lines(status, hdrs))
        self.log_request(status, "-")
        return ChunkedWriter(self, gz)

    def cut(self):
        """Close the connection abruptly (no close_notify on TLS)."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- dispatch --------------------------------------------------------------
    def dispatch(self):
        st = self.server.state
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if path.startswith("/_admin/") or path == "/_admin":
            return admin_dispatch(self, path, query)
        # -- xfer: requests in progress, so tests see parallel uploads
        # (each log entry has "inflight": how many API requests were being
        # handled, this one included, when it was logged)
        with st.lock:
            st.inflight = getattr(st, "inflight", 0) + 1
        self.req_open, self.req_ent = True, None
        try:
            self.dispatch_api(st, path, query)
        finally:
            self.answered()

    def answered(self):
        """The request is no longer in flight: when its whole answer is
        about to be written (reply), else when its handler returns (a
        stream, a cut).  Before the write, so a client that sends its
        next request as soon as it has the answer never sees this one
        counted in `inflight` or still without its end time."""
        st = self.server.state
        with st.lock:
            if getattr(self, "req_open", False):
                st.inflight -= 1
                self.req_open = False
            ent = getattr(self, "req_ent", None)
            if ent is not None and "t1" not in ent:
                ent["t1"] = time.monotonic()  # diff

    def dispatch_api(self, st, path, query):
        # -- end xfer
        method = self.command
        route, params = match_route(st.prefix, method, path)
        upload = route is not None and route[2] is h_upload

        # Read the body: uploads stream to the blob store, others to memory.
        logbuf = io.BytesIO()
        blobw = st.blobs.writer() if upload else None

        class Sink:
            def write(self_, b):
                if logbuf.tell() < LOG_BODY_MAX:
                    logbuf.write(b[:LOG_BODY_MAX - logbuf.tell()])
                if blobw is not None:
                    blobw.write(b)

        try:
            size = self.read_body(Sink(), None if upload else MAX_JSON_BODY)
        except (BadRequestBody, OSError, ValueError) as e:
            if blobw:
                blobw.discard()
            self.close_connection = True
            try:
                self.reply_error(400, "bad request body: %s" % e)
            except OSError:
                pass
            return
        body = logbuf.getvalue()
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        with st.lock:
            st.reqlog.append({"method": method, "path": path, "query": query,
                              "headers": hdrs,
                              "body_b64": base64.b64encode(body).decode(),
                              "body_size": size,
                              "inflight": st.inflight})  # xfer
            # -- diff: when each request began and ended (monotonic
            # seconds) and which connection carried it, so tests see
            # overlapping requests and kept-alive connections
            ent = st.reqlog[-1]
            if not hasattr(self, "conn_id"):
                st.conn_seq = getattr(st, "conn_seq", 0) + 1
                self.conn_id = st.conn_seq
            ent["conn"] = self.conn_id
            ent["t0"] = time.monotonic()
            self.req_ent = ent
            # -- end diff
        try:
            self.route_request(st, method, path, query, route, params, body,
                               blobw, size)
        finally:
            self.answered()
            if blobw is not None and not blobw.f.closed:
                blobw.discard()

    def route_request(self, st, method, path, query, route, params, body, blobw,
                      size):
        is_sse = route is not None and route[2] is h_events
        fault = st.take_fault(method, path, is_sse,
                              "&".join("%s=%s" % (k, v) for k in query
                                       for v in query[k]))  # diff: query
        self.sse_fault = None
        if fault is not None:
            k = fault.kind
            if k == "status":
                h = [("Retry-After", str(fault.retry_after))] \
                    if fault.retry_after is not None else []
                return self.reply_error(fault.status, fault.message, h)
            if k == "drop":
                return self.cut()
            if k == "hang":
                time.sleep(fault.delay or 600)
                return self.cut()
            if k == "raw":
                try:
                    self.wfile.write(fault.message.encode("latin-1"))
                    self.wfile.flush()
                except OSError:
                    pass
                return self.cut()
            if k == "badjson":
                return self.reply(200, b'{"uuid": "1f0e5b1c-", "status": PENDING,'
                                       b' "images": [{"uuid": ', "application/json")
            if k == "slow":
                time.sleep(fault.delay)
            if k in ("sse_error", "sse_cut"):
                self.sse_fault = fault
            if k in ("lose", "truncate", "stall"):
                real = self.wfile
                self.capture = Discard()
                self.wfile = self.capture
                try:
                    self.process(st, method, query, route, params, body, blobw,
                                 size)
                finally:
                    self.wfile = real
                    data = self.capture.buf.getvalue()
                    self.capture = None
                if k == "lose":
                    return self.cut()
                cut = data.find(b"\r\n\r\n")
                head, rest = (data[:cut + 4], data[cut + 4:]) if cut >= 0 \
                    else (data, b"")
                half = len(rest) // 2
                try:
                    self.wfile.write(head + rest[:half])
                    if k == "stall":
                        self.wfile.flush()
                        time.sleep(fault.delay)
                        self.wfile.write(rest[half:])
                        return
                except OSError:
                    pass
                return self.cut()
        self.process(st, method, query, route, params, body, blobw, size)

    def process(self, st, method, query, route, params, body, blobw, size):
        try:
            if route is None:
                raise ApiError(params or 404, "method not allowed"
                               if params == 405 else "not found")
            check_auth(self, st)
            if route[3]:
                perm = route[3]
                if not st.cfg["permissions"].get(perm, False):
                    raise ApiError(403, "forbidden")
            route[2](self, st, query, body, *params, blobw=blobw, size=size) \
                if route[2] is h_upload else route[2](self, st, query, body, *params)
        except ApiError as e:
            self.reply_error(e.status, e.msg, list(e.headers.items()))
        except (ConnectionError, BrokenPipeError, socket.timeout):
            self.close_connection = True
        except Exception as e:
            import traceback
            traceback.print_exc()
            self.close_connection = True
            try:
                self.reply_error(500, "fake internal error: %s" % e)
            except OSError:
                pass


def gzip_bytes(b):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(b) + z.flush()


def check_auth(h, st):
    auth = h.headers.get("Authorization")
    hdr = [("WWW-Authenticate", "Bearer")]
    if not auth:
        raise ApiError(401, "missing bearer token", dict(hdr))
    scheme, _, tok = auth.partition(" ")
    if scheme.lower() != "bearer" or tok.strip() != st.cfg["token"]:
        raise ApiError(401, "invalid token", dict(hdr))
    proj = st.cfg["project"]
    if proj:
        got = h.headers.get("Project")
        if not got:
            raise ApiError(403, "Project header required")
        if got != proj:
            raise ApiError(403, "token has no access to project %s" % got)


# ---------------------------------------------------------------------------
# 7. API routes
# ---------------------------------------------------------------------------

def parse_json(body):
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "request body is not valid JSON")
    if not isinstance(obj, dict):
        raise ApiError(400, "request body must be a JSON object")
    return obj


def page(st, query, items):
    """offset/limit paging (api.md §5.1)."""
    lim = query.get("limit", [None])[-1]
    off = query.get("offset", [None])[-1]
    try:
        limit = st.cfg["default_limit"] if lim in (None, "") else int(lim)
    except ValueError:
        raise ApiError(400, "limit must be between 1 and 1000")
    if limit < 1:
        raise ApiError(400, "limit must be between 1 and 1000")
    limit = min(limit, 1000)
    try:
        offset = 0 if off in (None, "") else int(off)
    except ValueError:
        raise ApiError(400, "offset must be a non-negative integer")
    if offset < 0:
        raise ApiError(400, "offset must be a non-negative integer")
    return items[offset:offset + limit]


def time_window(query):
    out = []
    for key in ("since", "until"):
        v = query.get(key, [None])[-1]
        if v in (None, ""):
            out.append(None)
            continue
        t = parse_time(v)
        if t is None:
            raise ApiError(400, "invalid %s: %s" % (key, v))
        out.append(t)
    return out


def in_window(created, since, until):
    return (since is None or created >= since) and (until is None or created <= until)


def h_whoami(h, st, q, body):
    tok = st.cfg["token"] or ""
    h.reply_json(200, {
        "token_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "contree-token:" + tok)),
        "token_expiration": None,
        "permissions": dict(st.cfg["permissions"]),
        "limits": {"instance_max_timeout": st.cfg["max_timeout"]},
        "operations_stat": {}})


def h_images(h, st, q, body):
    since, until = time_window(q)
    tagged = flag(q, "tagged")
    prefix = q.get("tag", [None])[-1]
    uid = q.get("uuid", [None])[-1]
    with st.lock:
        items = [i for i in st.sorted_list("images")
                 if (not tagged or i.tag)
                 and (prefix is None or (i.tag is not None and i.tag.startswith(prefix)))
                 and (not uid or i.uuid == uid.lower())
                 and in_window(i.created, since, until)]
        res = [i.record() for i in page(st, q, items)]
    h.reply_json(200, {"images": res})


def get_image(st, ref):
    img = st.images.get(ref.lower()) if UUID_RE.match(ref) else None
    if img is None:
        raise ApiError(404, "image not found")
    return img


def h_import(h, st, q, body):
    req = parse_json(body)
    reg = req.get("registry")
    if not isinstance(reg, dict) or not isinstance(reg.get("url"), str) or \
            not reg["url"]:
        raise ApiError(400, "registry.url is required")
    if not reg["url"].startswith("docker://"):
        raise ApiError(400, "registry.url must start with docker://")
    creds = reg.get("credentials")
    if creds is not None and not isinstance(creds, dict):
        raise ApiError(400, "registry.credentials must be an object")
    tag = req.get("tag")
    if tag is not None and not valid_tag(tag):
        raise ApiError(400, "invalid tag format")
    to = req.get("timeout")
    if to is not None and (not isinstance(to, int) or isinstance(to, bool) or to < 1):
        raise ApiError(400, "timeout must be a positive integer")
    meta = json.loads(json.dumps(req))
    c = meta["registry"].get("credentials")
    if isinstance(c, dict) and c.get("password"):
        c["password"] = "<MASKED>"
    op = st.add_op("image_import", meta)
    st.runner.start(op, st.runner.do_import)
    h.reply_json(201, {"uuid": op.uuid},
                 [("Location", "%s/v1/operations/%s" % (st.prefix, op.uuid))])


def h_tag_set(h, st, q, body, ref):
    req = parse_json(body)
    with st.lock:
        img = get_image(st, ref)
        tag = req.get("tag")
        if not valid_tag(tag):
            raise ApiError(400, "invalid tag format")
        st.set_tag(img, tag)
        h.reply_json(200, img.record())


def h_tag_del(h, st, q, body, ref):
    with st.lock:
        img = get_image(st, ref)
        tag = q.get("tag", [None])[-1]
        if tag is not None and img.tag != tag:
            raise ApiError(404, "tag not found on image")
        if tag is None and img.tag is None:
            raise ApiError(404, "image has no tag")
        st.untag(img)
    h.reply(204)


def h_upload(h, st, q, body, blobw=None, size=0):
    sha, size = blobw.commit()
    with st.lock:
        u = st.files_by_sha.get(sha)
        t = st.stamp()
        if u is None:
            rec = FileRec()
            rec.uuid, rec.sha, rec.size = str(uuid.uuid4()), sha, size
            rec.created = rec.updated = t
            st.files[rec.uuid] = rec
            st.files_by_sha[sha] = rec.uuid
            st.dirty("files")
        else:
            rec = st.files[u]
            rec.updated = t
    h.reply_json(201, {"uuid": rec.uuid, "sha256": rec.sha, "size": rec.size})


def h_files(h, st, q, body):
    since, until = time_window(q)
    with st.lock:
        items = [f for f in st.sorted_list("files")
                 if in_window(f.created, since, until)]
        res = [f.record() for f in page(st, q, items)]
    h.reply_json(200, {"files": res})


def h_file_get(h, st, q, body, sha):
    if not SHA_RE.match(sha):
        raise ApiError(400, "invalid sha256")
    with st.lock:
        u = st.files_by_sha.get(sha)
        if u is None:
            raise ApiError(404, "file not found")
        rec = st.files[u].record()
    h.reply_json(200, rec)


def parse_mode(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v & 0o7777 if v >= 0 else None
    if isinstance(v, str):
        s = v.strip()
        if s.startswith(("0o", "0O")):
            s = s[2:]
        if s and all(c in "01234567" for c in s):
            return int(s, 8) & 0o7777
    return None


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def h_spawn(h, st, q, body):
    req = parse_json(body)
    cmd = req.get("command")
    if not isinstance(cmd, str) or not cmd:
        raise ApiError(400, "command is required")
    if "image" not in req:
        raise ApiError(400, "image is required")
    args = req.get("args")
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ApiError(400, "args must be an array of strings")
    shell = req.get("shell", False)
    disposable = req.get("disposable", False)
    preserve = req.get("preserve_env", False)
    for k, v in (("shell", shell), ("disposable", disposable),
                 ("preserve_env", preserve)):
        if not isinstance(v, bool):
            raise ApiError(400, "%s must be a boolean" % k)
    env = req.get("env")
    if env is None:
        env = {}
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ApiError(400, "env must be a map of strings")
    if any(not k or "=" in k or "\0" in k for k in env):
        raise ApiError(400, "invalid env variable name")
    cwd = req.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise ApiError(400, "cwd must be a string")
    if cwd and not cwd.startswith("/"):
        raise ApiError(400, "cwd must be an absolute path")
    timeout = req.get("timeout")
    if timeout is None:
        timeout = st.cfg["default_timeout"]
    if not is_int(timeout) or timeout < 1:
        raise ApiError(400, "timeout must be a positive integer")
    if timeout > st.cfg["max_timeout"]:
        raise ApiError(400, "timeout exceeds instance_max_timeout (%d)"
                       % st.cfg["max_timeout"])
    hostname = req.get("hostname")
    if hostname is None:
        hostname = "linuxkit"
    if not isinstance(hostname, str):
        raise ApiError(400, "hostname must be a string")
    trunc = req.get("truncate_output_at")
    if trunc is None:
        trunc = 1048576
    if not is_int(trunc) or trunc < 0:
        raise ApiError(400, "truncate_output_at must be a non-negative integer")
    uid, gid = req.get("uid", 0), req.get("gid", 0)
    uid = 0 if uid is None else uid
    gid = 0 if gid is None else gid
    if not is_int(uid) or not is_int(gid) or uid < 0 or gid < 0:
        raise ApiError(400, "uid/gid must be non-negative integers")
    stdin = req.get("stdin")
    data = b""
    if stdin is not None:
        if not isinstance(stdin, dict) or not isinstance(stdin.get("value", ""), str):
            raise ApiError(400, "stdin must be a stream object")
        enc = stdin.get("encoding") or "ascii"
        val = stdin.get("value", "")
        if enc == "base64":
            try:
                data = base64.b64decode(val, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, "stdin: invalid base64")
        elif enc == "ascii":
            data = val.encode("utf-8")
        else:
            raise ApiError(400, "stdin: unknown encoding %r" % enc)
    files = req.get("files")
    if files is None:
        files = {}
    if not isinstance(files, dict):
        raise ApiError(400, "files must be a map")
    fspecs = {}
    for path, spec in files.items():
        if not path.startswith("/") or path.endswith("/") or "\0" in path:
            raise ApiError(400, "files: %r is not an absolute file path" % path)
        if not isinstance(spec, dict) or not isinstance(spec.get("uuid"), str):
            raise ApiError(400, "files[%s]: uuid is required" % path)
        mode = parse_mode(spec.get("mode", "0644") if spec.get("mode") is not None
                          else "0644")
        if mode is None:
            raise ApiError(400, "files[%s]: bad mode %r" % (path, spec.get("mode")))
        fu, fg = spec.get("uid", 0), spec.get("gid", 0)
        fu = 0 if fu is None else fu
        fg = 0 if fg is None else fg
        if not is_int(fu) or not is_int(fg) or fu < 0 or fg < 0:
            raise ApiError(400, "files[%s]: bad uid/gid" % path)
        fspecs[posixpath.normpath(path)] = {"uuid": spec["uuid"].lower(),
                                            "mode": mode, "uid": fu, "gid": fg}
    perm = "spawn_disposable" if disposable else "spawn"
    if not st.cfg["permissions"].get(perm, False):
        raise ApiError(403, "forbidden")
    with st.lock:
        img = st.resolve_image(req["image"])
        if img is None:
            raise ApiError(404, "image not found: %s" % req["image"])
        for path, spec in fspecs.items():
            if spec["uuid"] not in st.files:
                raise ApiError(404, "file not found: %s" % spec["uuid"])
        meta = dict(req)
        meta.update({"image": img.uuid, "command": cmd, "args": args,
                     "shell": shell, "env": env, "cwd": cwd or None,
                     "timeout": timeout, "hostname": hostname,
                     "disposable": disposable, "truncate_output_at": trunc,
                     "files": files, "stdin": stdin})
        op = st.add_op("instance", meta, img.uuid)
        op.spec = {"command": cmd, "args": args, "shell": shell, "env": env,
                   "cwd": cwd or None, "timeout": timeout, "hostname": hostname,
                   "disposable": disposable, "truncate_output_at": trunc,
                   "uid": uid, "gid": gid, "stdin": data, "files": fspecs,
                   "preserve_env": preserve}
    st.runner.start(op, st.runner.do_instance)
    h.reply_json(201, {"uuid": op.uuid, "status": "PENDING"},
                 [("Location", "%s/v1/operations/%s" % (st.prefix, op.uuid))])


def h_ops(h, st, q, body):
    since, until = time_window(q)
    status = q.get("status", [None])[-1]
    kind = q.get("kind", [None])[-1]
    if status not in (None, "") and status not in ACTIVE + TERMINAL:
        raise ApiError(400, "invalid status: %s" % status)
    if kind not in (None, "") and kind not in ("instance", "image_import"):
        raise ApiError(400, "invalid kind: %s" % kind)
    with st.lock:
        items = [o for o in st.sorted_list("ops")
                 if (not status or o.status == status)
                 and (not kind or o.kind == kind)
                 and in_window(o.created, since, until)]
        res = [o.summary() for o in page(st, q, items)]
    h.reply_json(200, res)


def get_op(st, ref):
    op = st.ops.get(ref.lower()) if UUID_RE.match(ref) else None
    if op is None:
        raise ApiError(404, "operation not found")
    return op


def h_op(h, st, q, body, ref):
    with st.lock:
        rec = get_op(st, ref).full()
    h.reply_json(200, rec)


def h_cancel(h, st, q, body, ref):
    with st.lock:
        op = get_op(st, ref)
        if op.status in TERMINAL:
            raise ApiError(409, "operation is not cancellable")
        op.cancel.set()
    st.runner.kill(op)
    h.reply(202, b"", None)


def sse_frame(ev):
    return ("id: %d\nevent: %s\ndata: %s\n\n" % (
        ev["id"], ev["type"], json.dumps(ev, separators=(",", ":")))).encode()


def h_events(h, st, q, body, ref):
    """SSE event log (api.md §2.15, §4.5)."""
    with st.lock:
        op = get_op(st, ref)
    follow = flag(q, "follow")
    spid = q.get("spid", [None])[-1]
    try:
        spid = int(spid) if spid not in (None, "") else None
    except ValueError:
        raise ApiError(400, "spid must be an integer")
    last = h.headers.get("Last-Event-Id")
    try:
        nxt = int(last) + 1 if last not in (None, "") else 0
    except ValueError:
        nxt = 0
    nxt = max(nxt, 0)
    fault = h.sse_fault
    w = h.start_stream(200, "text/event-stream", [("Cache-Control", "no-cache")])
    if h.command == "HEAD":
        return
    sent = 0

    def inject():
        if fault.kind == "sse_error":
            w.write((": %s; resume with Last-Event-Id\n\nevent: sse_error\n"
                     "data: %s\n\n" % (fault.message, fault.message)).encode())
            w.end()
        else:
            h.cut()

    if fault is not None and fault.after <= 0:
        return inject()
    keepalive = float(st.cfg["keepalive"])
    while True:
        with st.lock:
            evs = op.events[nxt:]
            done = op.status in TERMINAL
            deadline = time.monotonic() + keepalive
            while follow and not evs and not done:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                st.cond.wait(left)
                evs = op.events[nxt:]
                done = op.status in TERMINAL
        if not evs:
            if not follow or done:
                return w.end()     # replay finished / nothing after the cursor
            w.write(b": keepalive\n\n")
            continue
        for ev in evs:
            nxt = ev["id"] + 1
            if spid is not None and ev["spid"] != spid and ev["type"] != "completion":
                continue
            w.write(sse_frame(ev))
            sent += 1
            if ev["type"] == "completion":
                return w.end()
            if fault is not None and sent >= fault.after:
                return inject()


def h_inspect_tag(h, st, q, body):
    tag = q.get("tag", [None])[-1]
    if tag in (None, ""):
        raise ApiError(400, "tag is required")
    with st.lock:
        u = st.by_tag.get(tag)
    if u is None:
        raise ApiError(404, "no image with tag %s" % tag)
    h.reply(302, b"", None, [("Location", u + "/")])


def h_inspect_noslash(h, st, q, body, ref):
    with st.lock:
        img = get_image(st, ref)
    h.reply(301, b"", None, [("Location", img.uuid + "/")])


def h_inspect(h, st, q, body, ref):
    with st.lock:
        rec = get_image(st, ref).record()
    h.reply_json(200, rec)


def need_path(q):
    p = q.get("path", [None])[-1]
    if p in (None, ""):
        raise ApiError(400, "path is required")
    if not p.startswith("/"):
        p = "/" + p
    return posixpath.normpath(p) if p != "/" else "/"


def human(n):
    v = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if v < 1024 or unit == "TB":
            return "%.2f %s" % (v, unit)
        v /= 1024


def mode_string(m):
    t = {stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFREG: "-"}.get(
        stat.S_IFMT(m), "?")
    s = ""
    for who, (r, w, x, special, sch) in enumerate((
            (4, 2, 1, stat.S_ISUID, "s"), (4, 2, 1, stat.S_ISGID, "s"),
            (4, 2, 1, stat.S_ISVTX, "t"))):
        bits = (m >> (6 - 3 * who)) & 7
        s += "r" if bits & r else "-"
        s += "w" if bits & w else "-"
        if m & special:
            s += sch if bits & x else sch.upper()
        else:
            s += "x" if bits & x else "-"
    return t + s


def h_list(h, st, q, body, ref):
    with st.lock:
        img = get_image(st, ref)
    path = need_path(q)
    tree = img.tree
    real = tree_resolve(tree, path)
    node = tree.get(real) if real else None
    if node is None:
        raise ApiError(404, "path not found: %s" % path)
    if node.type != "dir":
        raise ApiError(422, "not a directory: %s" % path)
    users = id_names(st.blobs, tree, "/etc/passwd")
    groups = id_names(st.blobs, tree, "/etc/group")
    entries = []
    for name in children(tree, real):
        n = tree[posixpath.join(real, name)]
        nlink = 1
        if n.type == "dir":
            sub = posixpath.join(real, name)
            nlink = 2 + sum(1 for c in children(tree, sub)
                            if tree[posixpath.join(sub, c)].type == "dir")
        entries.append({
            "path": name, "size": 4096 if n.type == "dir" else n.size,
            "owner": users.get(n.uid, n.uid), "group": groups.get(n.gid, n.gid),
            "uid": n.uid, "gid": n.gid, "mode": n.st_mode(), "mtime": n.mtime,
            "nlink": nlink, "is_dir": n.type == "dir",
            "is_regular": n.type == "file", "is_symlink": n.type == "symlink",
            "is_socket": False, "is_fifo": False, "symlink_to": n.target or ""})
    if not flag(q, "text"):
        return h.reply_json(200, {"path": path, "files": entries})
    sizes = [human(e["size"]) if not e["is_symlink"] else str(e["size"])
             for e in entries]
    width = max([len(s) for s in sizes] + [1])
    lines = ["total " + human(sum(e["size"] for e in entries))]
    for e, sz in zip(entries, sizes):
        when = time.strftime("%b %e %H:%M", time.gmtime(e["mtime"]))
        line = "%s %d %d %d %s %s %s" % (mode_string(e["mode"]), e["nlink"],
                                         e["uid"], e["gid"], sz.rjust(width),
                                         when, e["path"])
        if e["is_symlink"]:
            line += " -> " + e["symlink_to"]
        lines.append(line)
    h.reply(200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8")


def h_download(h, st, q, body, ref):
    with st.lock:
        img = get_image(st, ref)
    path = need_path(q)
    real = tree_resolve(img.tree, path)
    node = img.tree.get(real) if real else None
    if node is None:
        raise ApiError(404, "file not found")
    if node.type != "file":
        raise ApiError(422, "not a regular file: %s" % path)
    fname = st.blobs.path(node.blob)
    if h.command == "HEAD":
        h.wfile.write(h.head_lines(200, [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(node.size))]))
        return h.log_request(200, node.size)
    if h.accepts_gzip():
        w = h.start_stream(200, "application/octet-stream")
        with open(fname, "rb") as f:
            while True:
                b = f.read(1 << 18)
                if not b:
                    break
                w.write(b)
        return w.end()
    h.wfile.write(h.head_lines(200, [("Content-Type", "application/octet-stream"),
                                     ("Content-Length", str(node.size))]))
    h.log_request(200, node.size)
    with open(fname, "rb") as f:
        if h.capture is None and node.size > 65536:
            h.connection.sendfile(f)
        else:
            while True:
                b = f.read(1 << 18)
                if not b:
                    break
                h.wfile.write(b)


def h_archive(h, st, q, body, ref):
    with st.lock:
        img = get_image(st, ref)
    path = need_path(q)
    tree = img.tree
    real = tree_resolve(tree, path)
    if not real or real not in tree:
        raise ApiError(404, "path not found")
    w = h.start_stream(200, "application/x-tar")
    if h.command == "HEAD":
        return
    users = id_names(st.blobs, tree, "/etc/passwd")
    groups = id_names(st.blobs, tree, "/etc/group")
    top = path.lstrip("/")
    tf = tarfile.open(fileobj=w, mode="w|", format=tarfile.PAX_FORMAT)
    for p in subtree(tree, real):
        n = tree[p]
        rel = p[len(real):].lstrip("/") if real != "/" else p.lstrip("/")
        name = posixpath.join(top, rel) if top else rel
        if not name:
            continue
        ti = tarfile.TarInfo(name.rstrip("/"))
        ti.mode, ti.uid, ti.gid, ti.mtime = n.mode, n.uid, n.gid, n.mtime
        ti.uname = str(users.get(n.uid, ""))
        ti.gname = str(groups.get(n.gid, ""))
        if n.type == "dir":
            ti.type = tarfile.DIRTYPE
            tf.addfile(ti)
        elif n.type == "symlink":
            ti.type = tarfile.SYMTYPE
            ti.linkname = n.target
            tf.addfile(ti)
        else:
            ti.size = n.size
            with open(st.blobs.path(n.blob), "rb") as f:
                tf.addfile(ti, f)
    tf.close()
    w.end()


# (method, regex, handler, permission); regex groups are path parameters.
SEG = r"([^/]+)"

# ---- grep (api.md §2.21, [GEN] only and partial), for contree mcp's grep
# tool.  What the sources show: pattern (repeatable), path and glob
# (repeatable), case; the answer {path, patterns, matches: [{path,
# line_text}]}.  Where api.md is silent the fake chooses: patterns are
# regular expressions (Python re) and a line matching any of them is a
# match; case=insensitive ignores case; path defaults to /; a glob matches
# the file name; matches carry line_number too; files with a NUL byte
# are skipped.
def h_grep(h, st, q, body, ref):
    import fnmatch
    with st.lock:
        img = get_image(st, ref)
    pats = q.get("pattern") or []
    if not pats or "" in pats:
        raise ApiError(400, "pattern is required")
    fl = re.I if q.get("case", [""])[-1] == "insensitive" else 0
    try:
        rx = [re.compile(p, fl) for p in pats]
    except re.error as e:
        raise ApiError(400, "bad pattern: %s" % e)
    roots = [posixpath.normpath("/" + p.lstrip("/"))
             for p in (q.get("path") or ["/"])]
    globs = q.get("glob") or []
    matches = []
    for root in roots:
        if tree_resolve(img.tree, root) not in img.tree:
            raise ApiError(404, "path not found: %s" % root)
        for p in subtree(img.tree, root):
            n = img.tree[p]
            if n.type != "file" or (globs and not any(
                    fnmatch.fnmatch(posixpath.basename(p), g) for g in globs)):
                continue
            data = st.blobs.read(n.blob) if n.blob else b""
            if b"\0" in data:
                continue
            for i, line in enumerate(data.decode("utf-8", "replace")
                                     .splitlines(), 1):
                if any(r.search(line) for r in rx):
                    matches.append({"path": p, "line_number": i,
                                    "line_text": line})
    return h.reply_json(200, {"path": roots[0], "patterns": pats,
                              "matches": matches})

ROUTES = [
    ("GET", r"/v1/whoami", h_whoami, None),
    ("GET", r"/v1/images", h_images, "list"),
    ("POST", r"/v1/images/import", h_import, "import"),
    ("PATCH", r"/v1/images/%s/tag" % SEG, h_tag_set, "set_image_tag"),
    ("DELETE", r"/v1/images/%s/tag" % SEG, h_tag_del, "set_image_tag"),
    ("POST", r"/v1/files", h_upload, None),
    ("GET", r"/v1/files", h_files, "list"),
    ("GET", r"/v1/files/%s" % SEG, h_file_get, None),
    ("POST", r"/v1/instances", h_spawn, None),
    ("GET", r"/v1/operations", h_ops, "list"),
    ("GET", r"/v1/operations/%s" % SEG, h_op, None),
    ("DELETE", r"/v1/operations/%s" % SEG, h_cancel, "cancel"),
    ("GET", r"/v1/operations/%s/events" % SEG, h_events, None),
    ("GET", r"/v1/inspect/", h_inspect_tag, None),
    ("GET", r"/v1/inspect/%s" % SEG, h_inspect_noslash, None),
    ("GET", r"/v1/inspect/%s/" % SEG, h_inspect, None),
    ("GET", r"/v1/inspect/%s/list" % SEG, h_list, None),
    ("GET", r"/v1/inspect/%s/download" % SEG, h_download, None),
    ("GET", r"/v1/inspect/%s/archive" % SEG, h_archive, None),
    ("GET", r"/v1/inspect/%s/grep" % SEG, h_grep, None),      # h_grep block
]
ROUTES = [(m, re.compile(r), f, p) for m, r, f, p in ROUTES]


def match_route(prefix, method, path):
    """-> (route, params) | (None, 404) | (None, 405)."""
    if prefix:
        if not path.startswith(prefix + "/"):
            return None, 404
        path = path[len(prefix):]
    found = False
    for r in ROUTES:
        m = r[1].fullmatch(path)
        if not m:
            continue
        found = True
        want = r[0]
        if method == want or (method == "HEAD" and want == "GET"):
            return r, tuple(urllib.parse.unquote(g) for g in m.groups())
    return None, (405 if found else 404)


# ---------------------------------------------------------------------------
# 8. Admin routes
# ---------------------------------------------------------------------------

CFG_TYPES = {"delay": float, "keepalive": float, "default_limit": int,
             "default_timeout": int, "max_timeout": int, "token": str,
             "project": (str, type(None)), "gzip": bool, "permissions": dict,
             "snapshot_unchanged": bool, "import_fail": str, "fail_ops": int,
             "fail_error": str, "chroot": bool}


def admin_dispatch(h, path, query):
    st = h.server.state
    method = h.command
    buf = io.BytesIO()
    try:
        h.read_body(buf, MAX_JSON_BODY)
        obj = json.loads(buf.getvalue() or b"null")
    except (BadRequestBody, ValueError) as e:
        return h.reply_error(400, "admin: %s" % e)
    p = path[len("/_admin"):].rstrip("/")
    try:
        res = admin_route(h, st, method, p, query, obj)
    except ApiError as e:
        return h.reply_error(e.status, e.msg)
    except (ValueError, TypeError, KeyError, re.error) as e:
        return h.reply_error(400, "admin: %s" % e)
    h.reply_json(200, res)


def admin_route(h, st, method, p, query, obj):
    if p == "/requests" and method == "GET":
        with st.lock:
            return [dict(e) for e in st.reqlog]
    if p == "/requests" and method == "DELETE":
        with st.lock:
            n = len(st.reqlog)
            st.reqlog.clear()
        return {"cleared": n}
    if p == "/fault" and method == "POST":
        with st.lock:
            st.fault_seq += 1
            f = Fault(st.fault_seq, obj or {})
            st.faults.append(f)
        return {"id": f.id}
    if p == "/faults" and method == "GET":
        with st.lock:
            return [f.view() for f in st.faults]
    if p == "/faults" and method == "DELETE":
        with st.lock:
            st.faults.clear()
        return {}
    if p == "/config":
        if method == "POST":
            with st.lock:
                for k, v in (obj or {}).items():
                    if k not in CFG_TYPES:
                        raise ApiError(400, "unknown config key %s" % k)
                    want = CFG_TYPES[k]
                    if want is float and isinstance(v, int):
                        v = float(v)
                    if not isinstance(v, want) or (want is int and isinstance(v, bool)):
                        raise ApiError(400, "bad value for %s" % k)
                    if k == "permissions":
                        st.cfg["permissions"].update(v)
                    else:
                        st.cfg[k] = v
        with st.lock:
            return dict(st.cfg, exec_mode=st.exec_mode)
    if p == "/seed" and method == "POST":
        n = int((obj or {}).get("n", 0))
        st.seed(n)
        return {"added": n, "images": len(st.images)}
    if p == "/state" and method == "GET":
        with st.lock:
            return {"images": len(st.images), "files": len(st.files),
                    "operations": len(st.ops), "exec_mode": st.exec_mode,
                    "chroot": st.runner.chroot(), "prefix": st.prefix,
                    "state_dir": st.root,
                    "active": sum(1 for o in st.ops.values() if o.status in ACTIVE)}
    m = re.fullmatch(r"/image/([^/]+)/tree", p)
    if m and method == "GET":
        with st.lock:
            img = st.images.get(m.group(1).lower())
            if img is None:
                raise ApiError(404, "image not found")
            tree = img.tree
        content = query.get("content", ["1"])[-1] not in ("0", "false")
        out = {}
        for path in sorted(tree):
            n = tree[path]
            e = {"type": n.type, "mode": n.mode, "uid": n.uid, "gid": n.gid,
                 "mtime": n.mtime, "size": n.size}
            if n.type == "symlink":
                e["target"] = n.target
            if n.type == "file" and content:
                e["content_b64"] = base64.b64encode(st.blobs.read(n.blob)).decode()
            out[path] = e
        return out
    if p == "/image" and method == "POST":
        return admin_make_image(st, obj or {})
    # -- build (e2e_build.py): the server loses an image, as a real one
    # may after retention; its tag goes with it
    m = re.fullmatch(r"/image/([^/]+)", p)
    if m and method == "DELETE":
        with st.lock:
            img = st.images.get(m.group(1).lower())
            if img is None:
                raise ApiError(404, "image not found")
            st.untag(img)
            del st.images[img.uuid]
            st.dirty("images")
        return {"deleted": img.uuid}
    # -- end build
    raise ApiError(404, "no admin route %s %s" % (method, p))


def admin_make_image(st, obj):
    parent = obj.get("parent")
    if parent:
        img = st.resolve_image(parent)
        if img is None:
            raise ApiError(404, "parent image not found")
        tree = dict(img.tree)
    else:
        tree = {"/": Node("dir", 0o755, mtime=SEED_MTIME)}
    for path in obj.get("delete") or []:
        for p in subtree(tree, path):
            del tree[p]
    mt = int(time.time())
    for path, spec in sorted((obj.get("files") or {}).items()):
        path = posixpath.normpath(path)
        parent_dir = posixpath.dirname(path)
        missing = []
        while parent_dir not in tree:
            missing.append(parent_dir)
            parent_dir = posixpath.dirname(parent_dir)
        for d in reversed(missing):
            tree[d] = Node("dir", 0o755, mtime=mt)
        typ = spec.get("type", "file")
        mode = parse_mode(spec.get("mode", 0o755 if typ == "dir" else 0o644))
        uid, gid = int(spec.get("uid", 0)), int(spec.get("gid", 0))
        mtime = int(spec.get("mtime", mt))
        if typ == "dir":
            tree[path] = Node("dir", mode, uid, gid, mtime)
        elif typ == "symlink":
            t = spec["target"]
            tree[path] = Node("symlink", 0o777, uid, gid, mtime, len(t.encode()),
                              target=t)
        else:
            if "host_path" in spec:
                sha, size = st.blobs.put_file(spec["host_path"])
            elif "content_b64" in spec:
                sha, size = st.blobs.put_bytes(base64.b64decode(spec["content_b64"]))
            else:
                sha, size = st.blobs.put_bytes(spec.get("text", "").encode())
            tree[path] = Node("file", mode, uid, gid, mtime, size, sha)
    tag = obj.get("tag")
    if tag is not None and not valid_tag(tag):
        raise ApiError(400, "invalid tag format")
    return st.add_image(tree, tag=tag).record()


# ---------------------------------------------------------------------------
# 9. main
# ---------------------------------------------------------------------------

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, state, tls_ctx, verbose):
        self.state = state
        self.tls_ctx = tls_ctx
        self.verbose = verbose
        super().__init__(addr, Handler)

    def process_request_thread(self, request, client_address):
        # TLS handshake in the connection's own thread, never in accept().
        if self.tls_ctx is not None:
            try:
                request.settimeout(30)
                request = self.tls_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                if self.verbose:
                    sys.stderr.write("fake: TLS handshake failed: %s\n" % e)
                try:
                    request.close()
                except OSError:
                    pass
                return
        super().process_request_thread(request, client_address)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake ConTree API server")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--prefix", default="")
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--project", default=None)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--seed-images", type=int, default=0)
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--no-chroot", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.prefix and not args.prefix.startswith("/"):
        args.prefix = "/" + args.prefix
    own_dir = args.state_dir is None
    if own_dir:
        args.state_dir = tempfile.mkdtemp(prefix="contree-fake-")
    else:
        os.makedirs(args.state_dir, exist_ok=True)
        args.state_dir = tempfile.mkdtemp(prefix="fake-", dir=args.state_dir)
    st = State(args)
    want_chroot = not args.no_chroot and os.environ.get(
        "CONTREE_FAKE_CHROOT", "1") not in ("0", "no", "false")
    st.runner = Runner(st, want_chroot)
    day = 86400 * 1000000
    for i, (tag, spec) in enumerate(seeded_specs()):
        st.add_image(build_tree(st.blobs, spec), tag=tag,
                     created=st.start_us - (i + 1) * day)
    if args.seed_images:
        st.seed(args.seed_images)
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key or args.tls_cert)
    srv = Server(("127.0.0.1", args.port), st, ctx, args.verbose)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.verbose:
        sys.stderr.write("fake: exec mode %s, state %s\n" % (st.exec_mode, st.root))
    print("listening on %s://127.0.0.1:%d" % ("https" if ctx else "http",
                                              srv.server_address[1]), flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    finally:
        st.runner.kill_all()
        srv.server_close()
        Runner._rmtree(st.runs_dir)
        Runner._rmtree(args.state_dir)


if __name__ == "__main__":
    main()
