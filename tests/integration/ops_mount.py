#!/usr/bin/env python3
"""Mounting as an operator does: `mount -t fuse.daramjwee-fs ORIGIN DIR -o
...` and an fstab line (`mount -T FSTAB DIR`), both through mount(8) and
mount.fuse3; the daemon forks, mount(8) returns once the mount answers, and
daramjwee-ctl -m DIR finds its default control socket; umount stops it.

mount(8) runs helpers with a fixed PATH, so for the duration of the test
/usr/local/sbin/daramjwee-fs is a symlink to the binary under test (made
and removed by this test; an existing file there is left alone and the
test fails rather than test another binary).

usage: ops_mount.py DAEMON_BINARY CTL_BINARY SOURCE_ROOT"""
import json
import os
import subprocess
import sys
import time

import mountlib
from mountlib import check

CTL = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
LINK = "/usr/local/sbin/daramjwee-fs"


def wait_gone(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def exercise(how, cmd, mnt, root, work):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%s: mount(8) exits 0 (%s)" % (how, (r.stderr or "").strip()[-300:]))
    try:
        check(os.path.ismount(mnt), "%s: mounted when mount(8) returns" % how)
        with open(os.path.join(mnt, "hello.txt")) as f:
            check(f.read() == "hello\n", "%s: reads the origin's file" % how)
        r = subprocess.run([CTL, "-m", mnt, "status", "--json"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "%s: daramjwee-ctl -m finds the default socket (%s)" % (how, r.stderr.strip()))
        st = json.loads(r.stdout)
        check(os.path.realpath(st["mountpoint"]) == os.path.realpath(mnt), "%s: status names the mount point" % how)
        pid = st["pid"]
        opts = [l for l in open("/proc/self/mounts") if " %s " % mnt in l]
        check(opts and "fuse.daramjwee-fs" in opts[0], "%s: /proc/mounts type fuse.daramjwee-fs" % how)
    finally:
        r = subprocess.run(["umount", mnt], capture_output=True, text=True)
    check(r.returncode == 0, "%s: umount succeeds" % how)
    check(wait_gone(pid), "%s: the daemon exits after umount" % how)


def main(binary, work):
    if not CTL:
        sys.exit("usage: ops_mount.py DAEMON_BINARY CTL_BINARY SOURCE_ROOT")
    made_link = False
    if os.path.lexists(LINK):
        if os.path.realpath(LINK) != os.path.realpath(binary):
            raise mountlib.Failure("%s exists and is not the binary under test; remove it to run this test" % LINK)
    else:
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(binary, LINK)
        made_link = True
    root = os.path.join(work, "root")
    os.makedirs(root)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello\n")
    origin = mountlib.Origin(root)
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    try:
        cache = os.path.join(work, "cache")
        exercise("mount -t", ["mount", "-t", "fuse.daramjwee-fs", origin.url, mnt,
                              "-o", "cache_dir=%s,ttl=30,ram_size=64M" % cache], mnt, root, work)
        fstab = os.path.join(work, "fstab")
        # Its own cache_dir: this test is about mount(8), not about reopening a cache.
        with open(fstab, "w") as f:
            f.write("# test fstab\n%s  %s  fuse.daramjwee-fs  cache_dir=%s,ttl=30,noauto,_netdev,nofail  0  0\n"
                    % (origin.url, mnt, cache + "-fstab"))
        exercise("fstab", ["mount", "-T", fstab, mnt], mnt, root, work)
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        if made_link:
            os.remove(LINK)
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
