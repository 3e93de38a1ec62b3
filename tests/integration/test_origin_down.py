#!/usr/bin/env python3
"""The origin goes away (hung, then refused): cached files still read
correctly (stale if need be); an uncached file fails with EIO within the
configured bound, never hangs; when the origin returns, reads work again
without a remount."""
import errno
import os
import signal
import subprocess
import time

import mountlib
from mountlib import check

MiB = 1 << 20
ORIGIN_TIMEOUT = 2
BOUND = 3 * ORIGIN_TIMEOUT + 5  # what "bounded" means here, with slack for a loaded machine


def nginx_pids(origin):
    master = origin.pid()
    kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [master] + [int(k) for k in kids]


def timed_read(path):
    start = time.monotonic()
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data, None, time.monotonic() - start
    except OSError as e:
        return None, e.errno, time.monotonic() - start


def main(binary, work):
    root = os.path.join(work, "root")
    mountlib.write_random(os.path.join(root, "cached.bin"), 3 * MiB + 7, 1)
    mountlib.write_random(os.path.join(root, "uncached.bin"), 2 * MiB + 9, 2)
    mountlib.write_random(os.path.join(root, "later.bin"), 1 * MiB + 3, 3)
    mountlib.write_random(os.path.join(root, "sub", "deep.bin"), 100, 4)
    origin = mountlib.Origin(root)
    want = {p: mountlib.sha256(os.path.join(root, p)) for p in ["cached.bin", "uncached.bin", "later.bin"]}
    m = None
    stopped = []
    try:
        m = mountlib.Mount(binary, origin.url, work,
                           opts=["ttl=1", "negative_ttl=1", "origin_timeout=%d" % ORIGIN_TIMEOUT])
        check(mountlib.sha256(m.path("cached.bin")) == want["cached.bin"], "cached.bin read while the origin is up")

        # 1. Origin hung: nginx processes stopped (connections pile up unanswered).
        for pid in nginx_pids(origin):
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        time.sleep(1.5)  # past ttl: everything cached is now stale
        mountlib.drop_page_cache()
        data, err, took = timed_read(m.path("cached.bin"))
        check(err is None and mountlib.hashlib.sha256(data).hexdigest() == want["cached.bin"],
              "origin hung: a cached (stale) file still reads correctly (%.1fs)" % took)
        data, err, took = timed_read(m.path("uncached.bin"))
        check(err == errno.EIO, "origin hung: an uncached file fails with EIO (errno=%s)" % err)
        check(took <= BOUND, "origin hung: the failure came within %.1fs (bound %ds)" % (took, BOUND))
        start = time.monotonic()
        try:
            os.listdir(m.path("sub"))
            listed = None
        except OSError as e:
            listed = e.errno
        took = time.monotonic() - start
        check(listed == errno.EIO and took <= BOUND,
              "origin hung: an uncached directory fails with EIO within %.1fs" % took)

        # Back.
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        stopped.clear()
        deadline = time.monotonic() + 20
        ok = False
        while time.monotonic() < deadline and not ok:
            data, err, _ = timed_read(m.path("uncached.bin"))
            ok = err is None and mountlib.hashlib.sha256(data).hexdigest() == want["uncached.bin"]
            if not ok:
                time.sleep(0.5)
        check(ok, "origin back: the previously failing file reads correctly without a remount")

        # 2. Origin refused: nginx stopped entirely.
        origin.stop()
        time.sleep(1.5)
        mountlib.drop_page_cache()
        data, err, took = timed_read(m.path("cached.bin"))
        check(err is None and mountlib.hashlib.sha256(data).hexdigest() == want["cached.bin"],
              "origin down: a cached file still reads correctly (%.1fs)" % took)
        data, err, took = timed_read(m.path("later.bin"))
        check(err == errno.EIO and took <= BOUND,
              "origin down: an uncached file fails with EIO within %.1fs (errno=%s)" % (took, err))
        origin.restart_same_port()
        deadline = time.monotonic() + 20
        ok = False
        while time.monotonic() < deadline and not ok:
            data, err, _ = timed_read(m.path("later.bin"))
            ok = err is None and mountlib.hashlib.sha256(data).hexdigest() == want["later.bin"]
            if not ok:
                time.sleep(0.5)
        check(ok, "origin restarted: reads work again without a remount")
        rc = m.unmount()
        check(rc == 0, "clean unmount, exit 0")
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if m:
            m.close()
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
