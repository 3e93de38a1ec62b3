#!/usr/bin/env python3
"""The command line: --help lists every option with its default; bad values,
unknown options, a bad config file, an unreachable origin and a mount point
that is not an empty directory each exit non-zero with one clear line;
daemon mode returns once the mount is live; SIGTERM, SIGINT and
fusermount3 -u shut down cleanly with exit 0."""
import os
import signal
import socket
import subprocess
import time

import mountlib
from mountlib import check


def run(argv, timeout=60, cwd=None):
    start = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - start


def one_error_line(stderr, needle):
    lines = [l for l in stderr.splitlines() if l.strip()]
    return len(lines) == 1 and lines[0].startswith("daramjwee-fs: error: ") and needle in lines[0]


def daemons_on(mnt):
    """PIDs whose command line names this test's unique mount point."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if mnt.encode() in args and any(a.endswith(b"daramjwee-fs") for a in args):
            out.append(int(pid))
    return out


def main(binary, work):
    root = os.path.join(work, "root")
    os.makedirs(root)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello\n")
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    cache = "cache_dir=" + os.path.join(work, "cache")

    rc, out, err, _ = run([binary, "--help"])
    options = ["config=", "cache_dir=", "ram_size=", "disk_size=", "chunk_size=", "ttl=", "negative_ttl=",
               "control=", "allow_other", "origin_timeout="]
    check(rc == 0 and all(o in out for o in options) and out.count("default:") >= len(options),
          "--help lists every option with its default")

    origin = mountlib.Origin(root)
    try:
        url = origin.url
        cases = [
            ([url, mnt, "-f", "-o", cache + ",ram_size=lots"], "ram_size"),
            ([url, mnt, "-f", "-o", cache + ",chunk_size=1"], "chunk_size"),
            ([url, mnt, "-f", "-o", cache + ",ttl=soon"], "ttl"),
            ([url, mnt, "-f", "-o", cache + ",no_such_option=1"], "no_such_option"),
            (["ftp://example/", mnt, "-f", "-o", cache], "ORIGIN"),
            ([url], "MOUNTPOINT"),
            ([url, mnt, "--bogus"], "--bogus"),
        ]
        for argv, needle in cases:
            rc, _, err, _ = run([binary] + argv)
            check(rc != 0 and one_error_line(err, needle), "bad input names %s: %s" % (needle, err.strip()))

        cfg = os.path.join(work, "bad.toml")
        with open(cfg, "w") as f:
            f.write('ttl = 5\nram_size = "huge"\n')
        rc, _, err, _ = run([binary, url, mnt, "-f", "-o", cache + ",config=" + cfg])
        check(rc != 0 and one_error_line(err, "ram_size"), "a bad config file value is named: %s" % err.strip())
        with open(cfg, "w") as f:
            f.write('ttl = 5\nmystery = 1\n')
        rc, _, err, _ = run([binary, url, mnt, "-f", "-o", cache + ",config=" + cfg])
        check(rc != 0 and one_error_line(err, "mystery"), "an unknown config key is named: %s" % err.strip())
        # Mount point problems.
        full = os.path.join(work, "full")
        os.makedirs(full)
        open(os.path.join(full, "x"), "w").close()
        rc, _, err, _ = run([binary, url, full, "-f", "-o", cache])
        check(rc != 0 and one_error_line(err, "not an empty directory"), "non-empty mount point: %s" % err.strip())
        rc, _, err, _ = run([binary, url, os.path.join(work, "nope"), "-f", "-o", cache])
        check(rc != 0 and one_error_line(err, "nope"), "missing mount point: %s" % err.strip())

        # Unreachable origin: a port nobody listens on. With require_origin
        # the mount is refused in one line; without it the daemon mounts from
        # the cache (tests/fault/test_origin_down_mount.py).
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        rc, _, err, took = run([binary, "http://127.0.0.1:%d/" % dead, mnt, "-f", "-o",
                                cache + "-dead,origin_timeout=2,require_origin=true"])
        check(rc != 0 and one_error_line(err, "unreachable") and not os.path.ismount(mnt),
              "require_origin: an unreachable origin fails before mounting in %.1fs: %s" % (took, err.strip()))

        # Daemon mode: returns once mounted; fusermount3 -u stops it. The
        # mount point is given relative to the caller's directory (the
        # daemon changes to / before it mounts).
        parent, rel = os.path.split(mnt)
        rc, _, err, _ = run([binary, url, rel, "-o", cache], cwd=parent)
        check(rc == 0 and os.path.ismount(mnt), "daemon mode with a relative mount point returns 0 with the mount live")
        with open(os.path.join(mnt, "hello.txt")) as f:
            check(f.read() == "hello\n", "the daemonized mount reads")
        pids = daemons_on(rel)
        subprocess.run(["fusermount3", "-u", mnt], check=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(os.path.exists("/proc/%d" % p) for p in pids):
            time.sleep(0.1)
        check(pids and not any(os.path.exists("/proc/%d" % p) for p in pids),
              "fusermount3 -u stops the daemon")

        # SIGTERM and SIGINT: clean shutdown, exit 0, unmounted.
        for sig in (signal.SIGTERM, signal.SIGINT):
            m = mountlib.Mount(binary, url, work, opts=[])
            try:
                with open(m.path("hello.txt")) as f:
                    f.read()
                m.proc.send_signal(sig)
                rc = m.proc.wait(30)
                m.proc = None
                check(rc == 0 and not os.path.ismount(m.mnt), "%s: exit 0 and unmounted" % sig.name)
            finally:
                m.close()
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-uz", mnt])
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
