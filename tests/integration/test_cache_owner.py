#!/usr/bin/env python3
"""A cache directory belongs to one origin. Filled from origin A, then
mounted for origin B: by default the daemon refuses (exits non-zero before
mounting, naming the cache_dir and both origins) instead of serving A's
files under B's names; with cache_mismatch=reset it empties the directory
and serves B's files; A is then refused in turn."""
import os
import subprocess

import mountlib
from mountlib import check


def cat(path):
    return subprocess.run(["cat", path], capture_output=True, check=True).stdout


def refused(binary, origin, work, cache_dir, opts=()):
    """Runs the daemon expecting it to exit before mounting; returns (rc, log)."""
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    argv = [binary, origin.url, mnt, "-f", "-o", ",".join(["cache_dir=" + cache_dir] + list(opts))]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        served = b""
        if os.path.ismount(mnt):
            try:
                served = cat(os.path.join(mnt, "same.txt"))
            except subprocess.CalledProcessError:
                pass
        p.kill()
        p.wait()
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], stderr=subprocess.DEVNULL)
        return None, "still running after 30 s: it mounted, and same.txt reads %r" % served
    if os.path.ismount(mnt):
        subprocess.run(["fusermount3", "-uz", mnt], stderr=subprocess.DEVNULL)
    return p.returncode, out.decode(errors="replace")


def main(binary, work):
    root_a, root_b = os.path.join(work, "a"), os.path.join(work, "b")
    for root, text in ((root_a, b"served by origin A\n"), (root_b, b"served by origin B, longer\n")):
        os.makedirs(os.path.join(root, "sub"), exist_ok=True)
        with open(os.path.join(root, "same.txt"), "wb") as f:
            f.write(text)
        mountlib.write_random(os.path.join(root, "sub", "data.bin"), 300 << 10, len(root))
    want_b = mountlib.sha256(os.path.join(root_b, "sub", "data.bin"))
    a, b = mountlib.Origin(root_a), mountlib.Origin(root_b)
    cache_dir = os.path.join(work, "cache")
    opts = ["ttl=600", "negative_ttl=600"]  # fresh for the whole test: what is cached is served
    m = None
    try:
        m = mountlib.Mount(binary, a.url, work, cache_dir=cache_dir, opts=opts)
        check(cat(m.path("same.txt")) == b"served by origin A\n", "origin A: same.txt read (cached)")
        cat(m.path("sub/data.bin"))
        check(m.unmount() == 0, "origin A: clean unmount")
        m = None

        rc, log = refused(binary, b, work, cache_dir, opts)
        check(rc is not None and rc != 0, "origin B on A's cache_dir: the daemon exits non-zero (rc=%s: %s)" % (rc, log))
        check(cache_dir in log and a.url in log and b.url in log,
              "the error names the cache_dir and both origins: %s" % log.strip()[-400:])
        owner_file = os.path.join(cache_dir, "OWNER")
        check(a.url in open(owner_file).read(), "cache_dir/OWNER still records origin A")
        check(os.stat(owner_file).st_mode & 0o777 == 0o600, "OWNER is 0600")

        m = mountlib.Mount(binary, b.url, work, cache_dir=cache_dir, opts=opts + ["cache_mismatch=reset"])
        check(cat(m.path("same.txt")) == b"served by origin B, longer\n",
              "cache_mismatch=reset: origin B's same.txt, not A's")
        check(mountlib.sha256(m.path("sub/data.bin")) == want_b, "cache_mismatch=reset: origin B's sub/data.bin")
        check(m.unmount() == 0, "origin B: clean unmount")
        m = None
        check(b.url in open(os.path.join(cache_dir, "OWNER")).read(), "cache_dir/OWNER now records origin B")

        rc, log = refused(binary, a, work, cache_dir, opts)
        check(rc is not None and rc != 0 and b.url in log, "origin A on B's cache_dir is refused in turn")
        m = mountlib.Mount(binary, b.url, work, cache_dir=cache_dir, opts=opts)
        check(cat(m.path("same.txt")) == b"served by origin B, longer\n", "origin B mounts its own cache again")
        check(m.unmount() == 0, "clean unmount")
        m = None
    finally:
        if m:
            m.close()
        a.stop()
        b.stop()


if __name__ == "__main__":
    mountlib.run(main)
