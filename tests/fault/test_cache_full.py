#!/usr/bin/env python3
"""Issue 14, finding 8: a cache filesystem that fills up is reported once and
costs no read. The cache directory is a 48 MiB tmpfs and disk_size is far
larger, so the filesystem runs out first; reading 96 MiB through the mount
must stay exact, the daemon must say once that the disk is full, and keep
the free-space floor (disk_free_min)."""
import hashlib
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mountlib  # noqa: E402
from mountlib import check  # noqa: E402

MiB = 1 << 20


def main(binary, work):
    root = os.path.join(work, "root")
    os.makedirs(root)
    sums = {}
    for i in range(32):
        data = random.Random(i).randbytes(3 * MiB)
        with open(os.path.join(root, "f%02d.bin" % i), "wb") as f:
            f.write(data)
        sums["f%02d.bin" % i] = hashlib.sha256(data).hexdigest()
    cache = os.path.join(work, "cache")
    os.makedirs(cache)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", cache])
    if r.returncode != 0:
        raise mountlib.Failure("cannot mount a tmpfs for the cache (root needed)")
    origin = mountlib.Origin(root)
    try:
        # Round 0 runs into ENOSPC itself (no floor); round 1 remounts the
        # full cache with an 8 MiB floor; round 2 with the default (256M,
        # more than this filesystem: nothing more is written).
        floors = ["disk_free_min=0", "disk_free_min=8M", None]
        for rnd, floor in enumerate(floors):
            m = mountlib.Mount(binary, origin.url, os.path.join(work, "m%d" % rnd), cache_dir=cache,
                               opts=["disk_size=10G", "ram_size=16M"] + ([floor] if floor else []))
            try:
                bad = [n for n in sorted(sums) if mountlib.sha256(m.path(n)) != sums[n]]
                check(not bad, "round %d: every file reads exactly with the cache filesystem full (%s)" % (rnd, bad))
                st = os.statvfs(cache)
                free = st.f_bavail * st.f_frsize
                print("cache tmpfs: %.1f MiB free of 48" % (free / MiB), flush=True)
                log = m.log_tail(1 << 20)
            finally:
                check(m.unmount() == 0, "round %d: clean unmount" % rnd)
            full = [line for line in log.splitlines() if "filesystem is full" in line]
            # With a floor the tier can keep, it evicts to keep it and never
            # has to refuse a fill: nothing to report.
            lo = 0 if floor == "disk_free_min=8M" else 1
            if not lo <= len(full) <= 1:
                print("\n".join(full[:20]), flush=True)
            check(lo <= len(full) <= 1, "round %d (%s): the full disk is reported at most once (%d lines)" %
                  (rnd, floor or "default floor", len(full)))
            if floor == "disk_free_min=8M":
                check(free >= 8 * MiB - 64 * 1024, "round %d: the 8 MiB floor is kept (%.1f MiB free)" % (rnd, free / MiB))
    finally:
        origin.stop()
        subprocess.run(["umount", "-l", cache])


if __name__ == "__main__":
    mountlib.run(main)
