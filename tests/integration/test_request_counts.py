#!/usr/bin/env python3
"""Origin request counts, from nginx's access log:
- a cold sequential read of a large file costs a few large ranged requests,
  not one per chunk;
- a second read of a file (page cache dropped) costs 0 requests;
- 8 concurrent cold readers of one file cost one set of fetches, not eight;
- repeated lookups of missing names cost nothing after the first;
- after unmount + mount with the same cache_dir, reading the files read
  before costs 0 data requests."""
import errno
import os
import threading
import time

import mountlib
from mountlib import check

MiB = 1 << 20


def main(binary, work):
    root = os.path.join(work, "root")
    mountlib.write_random(os.path.join(root, "seq.bin"), 48 * MiB + 999, 11)
    mountlib.write_random(os.path.join(root, "shared.bin"), 24 * MiB + 5, 12)
    for i in range(50):
        mountlib.write_random(os.path.join(root, "small", "s%02d.txt" % i), 100 + i * 37, 100 + i)
    origin = mountlib.Origin(root)
    cache_dir = os.path.join(work, "cache")
    m = None
    try:
        m = mountlib.Mount(binary, origin.url, work, cache_dir=cache_dir, opts=["ttl=300", "chunk_size=1M"])
        want = {p: mountlib.sha256(os.path.join(root, p))
                for p in ["seq.bin", "shared.bin"] + ["small/s%02d.txt" % i for i in range(50)]}

        # Defaults: the kernel's read-ahead raised to 4 MiB (root may write
        # /sys), and no xattrs, so ls -l costs no request per file.
        if os.geteuid() == 0:
            dev = os.stat(m.mnt).st_dev
            ra_path = "/sys/class/bdi/%d:%d/read_ahead_kb" % (os.major(dev), os.minor(dev))
            # Set by the daemon just after INIT, asynchronously: allow it a moment.
            deadline = time.monotonic() + 10
            while True:
                with open(ra_path) as f:
                    ra = f.read().strip()
                if ra == "4096" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            check(ra == "4096", "kernel read-ahead of the mount is 4096 KiB (got %s)" % ra)
        try:
            os.getxattr(m.path("seq.bin"), "security.selinux")
            check(False, "getxattr with xattrs off fails")
        except OSError as e:
            check(e.errno == errno.EOPNOTSUPP, "getxattr with xattrs off: EOPNOTSUPP (got %s)" % e.strerror)

        # Cold sequential read: a few large requests.
        mark = origin.mark()
        check(mountlib.sha256(m.path("seq.bin")) == want["seq.bin"], "cold read of seq.bin is correct")
        reqs = origin.requests_since(mark, "seq.bin", data_only=True)
        fetched = sum(r[3] for r in reqs)
        print("  seq.bin: %d origin requests, %d bytes" % (len(reqs), fetched))
        check(len(reqs) <= 16, "cold sequential read of 48 MiB: %d requests (<= 16, not one per chunk)" % len(reqs))
        check(fetched <= (48 * MiB + 999) * 1.1, "cold sequential read fetched each byte about once")

        # Second read: nothing from the origin.
        mountlib.drop_page_cache()
        mark = origin.mark()
        check(mountlib.sha256(m.path("seq.bin")) == want["seq.bin"], "second read of seq.bin is correct")
        check(len(origin.requests_since(mark)) == 0, "second read of a file: 0 origin requests")

        # 8 concurrent cold readers.
        mark = origin.mark()
        results = [None] * 8
        def reader(i):
            results[i] = mountlib.sha256(m.path("shared.bin"), bufsize=(64 << 10) * (i + 1))
        threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
        check(all(r == want["shared.bin"] for r in results), "8 concurrent cold readers all read correct data")
        reqs = origin.requests_since(mark, "shared.bin", data_only=True)
        fetched = sum(r[3] for r in reqs)
        print("  shared.bin: %d origin requests, %d bytes for 8 readers" % (len(reqs), fetched))
        check(fetched <= (24 * MiB + 5) * 1.25,
              "8 concurrent readers: one set of fetches (%.2f x file size, not 8x)" % (fetched / (24 * MiB + 5)))

        # Small files, once, to warm them.
        smalls = [p for p in want if p.startswith("small/")]
        check(all(mountlib.sha256(m.path(p)) == want[p] for p in smalls), "50 small files read correctly")

        # Negative lookups: none after the first.
        for i in range(3):
            try:
                os.stat(m.path("small/missing.txt"))
            except FileNotFoundError:
                pass
        mark = origin.mark()
        missing_ok = True
        for i in range(200):
            for name in ("small/missing.txt", "small/missing-%d.txt" % i, "nothing-here-%d" % i):
                try:
                    os.stat(m.path(name))
                    missing_ok = False
                except FileNotFoundError:
                    pass
        check(missing_ok, "missing names are ENOENT")
        check(len(origin.requests_since(mark)) == 0,
              "600 lookups of missing names after the first: 0 origin requests")

        rc = m.unmount()
        check(rc == 0, "clean unmount, exit 0")

        # Remount with the same cache_dir: zero data requests.
        m = mountlib.Mount(binary, origin.url, work, cache_dir=cache_dir, opts=["ttl=300", "chunk_size=1M", "xattrs=true"])
        mountlib.drop_page_cache()
        mark = origin.mark()
        same = all(mountlib.sha256(m.path(p)) == h for p, h in want.items())
        check(same, "after a remount every file reads correctly")
        data = origin.requests_since(mark, data_only=True)
        check(len(data) == 0, "after a remount: 0 origin data requests for cached files (got %d)" % len(data))
        everything = origin.requests_since(mark)
        check(len(everything) == 0, "after a remount: 0 origin requests at all (listings persisted too)")
        tiers = os.getxattr(m.path("seq.bin"), "user.daramjwee.tiers").decode()
        check("disk=49/49" in tiers, "after a remount the chunks are on disk: %s" % tiers)
        rc = m.unmount()
        check(rc == 0, "clean unmount, exit 0")
    finally:
        if m:
            m.close()
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
