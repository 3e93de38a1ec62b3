#!/usr/bin/env python3
"""Issue 14, finding 5: a warm cache mounts while the origin is down.

Fill a cache from nginx, unmount, stop nginx, mount again: what the cache
holds is served (ls, stat, cat, cp), the rest fails with EIO within
origin_timeout, `daramjwee-ctl status` says the origin is down, and the log
says so once, not once per request. When nginx comes back, the mount
reconnects by itself. require_origin=true keeps the old strict check.

    python3 test_origin_down_mount.py DAEMON CTL"""
import errno
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mountlib  # noqa: E402
from mountlib import check  # noqa: E402

MiB = 1 << 20
ORIGIN_TIMEOUT = 2
SLACK = 1.5


def status(ctl, m):
    r = subprocess.run([ctl, "-m", m.mnt, "status", "--json"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise mountlib.Failure("daramjwee-ctl status failed: %s" % r.stderr)
    return json.loads(r.stdout)


def main(binary, work):
    ctl = os.path.abspath(sys.argv[2])
    root = os.path.join(work, "root")
    cached = {"dir/small.txt": 5 * 1024, "dir/big.bin": 3 * MiB + 77, "top.txt": 100}
    for i, (rel, size) in enumerate(cached.items()):
        mountlib.write_random(os.path.join(root, rel), size, seed=i)
    mountlib.write_random(os.path.join(root, "dir/uncached.bin"), 2 * MiB, seed=9)
    want = {rel: open(os.path.join(root, rel), "rb").read() for rel in cached}
    origin = mountlib.Origin(root)
    cache_dir = os.path.join(work, "cache")
    opts = ["ttl=1", "origin_timeout=%d" % ORIGIN_TIMEOUT]
    try:
        m = mountlib.Mount(binary, origin.url, os.path.join(work, "m1"), cache_dir=cache_dir, opts=opts)
        try:
            for rel in cached:
                check(open(m.path(rel), "rb").read() == want[rel], "first mount reads %s" % rel)
            check(sorted(os.listdir(m.path("dir"))) == ["big.bin", "small.txt", "uncached.bin"], "first mount lists dir")
            check(status(ctl, m)["origin_state"] == "up", "status: origin up")
        finally:
            check(m.unmount() == 0, "first mount unmounts cleanly")

        origin.stop()
        time.sleep(1.5)  # past ttl: every cached entry is stale now
        # Strict: refuses to mount, as before.
        strict = os.path.join(work, "m-strict", "mnt")
        os.makedirs(strict)
        r = subprocess.run([binary, origin.url, strict, "-f", "-o",
                            ",".join(["cache_dir=" + os.path.join(work, "cache-strict"), "require_origin=true"] + opts)],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and not os.path.ismount(strict),
              "require_origin=true refuses to mount with the origin down (rc=%d)" % r.returncode)

        m = mountlib.Mount(binary, origin.url, os.path.join(work, "m2"), cache_dir=cache_dir, opts=opts)
        try:
            check(True, "a warm cache mounts with the origin down")
            check(sorted(os.listdir(m.path("dir"))) == ["big.bin", "small.txt", "uncached.bin"],
                  "ls of a cached directory")
            for rel in cached:
                check(os.stat(m.path(rel)).st_size == len(want[rel]), "stat %s" % rel)
                dst = os.path.join(work, "copy")
                rc = subprocess.run(["cp", m.path(rel), dst]).returncode
                check(rc == 0 and open(dst, "rb").read() == want[rel], "cp of cached %s is exact" % rel)
            t0 = time.monotonic()
            try:
                open(m.path("dir/uncached.bin"), "rb").read()
                check(False, "an uncached file fails")
            except OSError as e:
                took = time.monotonic() - t0
                check(e.errno == errno.EIO, "an uncached file fails with EIO")
                # open (a HEAD for the multi-chunk file) and the read each get
                # origin_timeout.
                check(took <= 2 * ORIGIN_TIMEOUT + SLACK,
                      "... within 2 x origin_timeout + %.1f s (took %.2f s)" % (SLACK, took))
            s = status(ctl, m)
            check(s["origin_state"] == "down" and s["origin_last_error"],
                  "status: origin down (%s)" % s.get("origin_last_error"))
            for _ in range(3):
                try:
                    open(m.path("dir/uncached.bin"), "rb").read(10)
                except OSError:
                    pass
            log = m.log_tail(1 << 20)
            if log.count("origin unreachable") != 1:
                print(log[-5000:])
            check(log.count("origin unreachable") == 1, "the outage is logged once (%d times)" % log.count("origin unreachable"))

            origin.restart_same_port()
            deadline = time.monotonic() + 20
            data = None
            while time.monotonic() < deadline:
                try:
                    data = open(m.path("dir/uncached.bin"), "rb").read()
                    break
                except OSError:
                    time.sleep(0.5)
            check(data == open(os.path.join(root, "dir/uncached.bin"), "rb").read(),
                  "the mount reconnects by itself when the origin is back")
            check(status(ctl, m)["origin_state"] == "up", "status: origin up again")
            check("origin reachable again" in m.log_tail(1 << 20), "the recovery is logged")
        finally:
            check(m.unmount() == 0, "second mount unmounts cleanly")
    finally:
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
