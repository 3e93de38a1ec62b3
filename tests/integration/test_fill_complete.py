#!/usr/bin/env python3
"""Issue 15 (bounded form): every chunk a fast reader fetched reaches the
disk tier — backpressure, not drops. Read a file at full speed with 64 KiB
chunks and a small RAM tier, check that no fill was dropped, then remount
with the origin stopped: every byte is served from the disk tier.

    python3 test_fill_complete.py DAEMON CTL"""
import hashlib
import json
import os
import random
import subprocess
import sys

import mountlib
from mountlib import check

MiB = 1 << 20
SIZE = (1024 if os.environ.get("FAULT_FULL") == "1" else 192) * MiB


def stats(ctl, m):
    r = subprocess.run([ctl, "-m", m.mnt, "stats", "--json"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "daramjwee-ctl stats answers")
    return json.loads(r.stdout)


def main(binary, work):
    ctl = os.path.abspath(sys.argv[2])
    root = os.path.join(work, "root")
    os.makedirs(root)
    rng = random.Random(3)
    h = hashlib.sha256()
    with open(os.path.join(root, "big.bin"), "wb") as f:
        for _ in range(SIZE // (4 * MiB)):
            block = rng.randbytes(4 * MiB)  # incompressible: real data files
            h.update(block)
            f.write(block)
    want = h.hexdigest()
    origin = mountlib.Origin(root)
    cache = os.path.join(work, "cache")
    opts = ["chunk_size=64K", "ram_size=32M", "ttl=600", "origin_timeout=2"]
    try:
        m = mountlib.Mount(binary, origin.url, os.path.join(work, "m1"), cache_dir=cache, opts=opts)
        try:
            r = subprocess.run(["dd", "if=" + m.path("big.bin"), "of=/dev/null", "bs=1M"],
                               capture_output=True, text=True)
            check(r.returncode == 0, "dd reads %d MiB at full speed" % (SIZE // MiB))
            s = stats(ctl, m)
            disk = [t for t in s["tiers"] if t["name"] == "disk"][0]
            dropped = sum(t.get("dropped_fills", 0) for t in s["tiers"])
            print("fills: disk %d, dropped %d; worker queue dropped %d" %
                  (disk["fills"], dropped, s["workers"]["dropped"]), flush=True)
            check(dropped == 0 and s["workers"]["dropped"] == 0,
                  "no fill was dropped (%d per tier, %d background jobs)" % (dropped, s["workers"]["dropped"]))
        finally:
            check(m.unmount() == 0, "clean unmount (write-behind drained)")
        origin.stop()
        m = mountlib.Mount(binary, origin.url, os.path.join(work, "m2"), cache_dir=cache, opts=opts)
        try:
            got = mountlib.sha256(m.path("big.bin"))
            check(got == want, "with the origin stopped, every byte is served from the disk tier")
        finally:
            m.close()
    finally:
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
