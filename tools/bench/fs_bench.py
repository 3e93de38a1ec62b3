#!/usr/bin/env python3
"""Benchmark of the mounted filesystem against the physical limits, in one run
(never pass/fail; not run by meson test).

    python3 tools/bench/fs_bench.py build/src/daemon/daramjwee-fs [--big-mib 256] [--small 10000]

On the same generated data behind nginx on 127.0.0.1 it measures:
  - sequential read of a large file: cold (vs curl of the same URL), warm from
    disk after a remount with the page cache dropped (vs reading the origin's
    file natively with a cold page cache), hot from RAM with the page cache
    dropped (vs a native read with a hot page cache);
  - fio 4 KiB random reads, cold and warm (vs fio on the origin's file);
  - find + stat over the small-file tree, cold and hot (vs native find);
  - reading every small file, cold and warm (vs native cat).
Prints one table with times, rates and ratios (mount / limit: higher = slower).
Needs root (drops the page cache), /dev/fuse, nginx, curl and fio."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import mountlib  # noqa: E402

MiB = 1 << 20


def timed(cmd, **kw):
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - start


def drop():
    mountlib.drop_page_cache()


def fio_iops(path, size_mib, seconds, ios=None):
    """4 KiB random reads: for `seconds`, or the first `ios` reads (cold runs:
    after about one read per chunk everything is cached, so a timed run
    would measure warm reads)."""
    limit = ["--number_ios=%d" % ios] if ios else ["--runtime=%d" % seconds, "--time_based"]
    out = subprocess.run(["fio", "--name=rr", "--filename=" + path, "--rw=randread", "--bs=4k",
                          "--size=%dM" % size_mib, "--ioengine=psync", "--numjobs=1", "--randrepeat=1",
                          "--norandommap", "--output-format=json"] + limit,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["jobs"][0]["read"]["iops"]


def make_small_tree(root, n):
    per = 500
    for i in range(n):
        d = os.path.join(root, "many", "d%03d" % (i // per))
        if i % per == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
            f.write(b"x" * (100 + (i * 37) % 4000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--fio-seconds", type=int, default=10)
    args = ap.parse_args()
    mountlib.require_fuse()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="dj-bench-")
    root = os.path.join(work, "root")
    rows = []

    def row(name, t_mount, t_limit, limit_name, unit_bytes=None):
        rate = " %8.1f MiB/s" % (unit_bytes / MiB / t_mount) if unit_bytes else ""
        rows.append("%-34s %8.3fs%s   %-22s %8.3fs   ratio %5.2f" % (name, t_mount, rate, limit_name, t_limit,
                                                                      t_mount / t_limit if t_limit else 0))
        print(rows[-1], flush=True)

    origin = None
    m = None
    try:
        print("generating data in %s ..." % root, flush=True)
        big = args.big_mib * MiB
        mountlib.write_random(os.path.join(root, "big.bin"), big, 1)
        mountlib.write_random(os.path.join(root, "rand.bin"), 256 * MiB, 2)
        make_small_tree(root, args.small)
        origin = mountlib.Origin(root)
        cache = os.path.join(work, "cache")
        opts = ["ram_size=%dM" % (args.big_mib * 2 + 512), "ttl=3600", "log_level=warn"]

        # Limits.
        timed(["cat", os.path.join(root, "big.bin")])  # origin's page cache hot, as for curl
        t_curl = timed(["curl", "-s", "-o", "/dev/null", origin.url + "big.bin"])
        t_native_hot = timed(["cat", os.path.join(root, "big.bin")])
        drop()
        t_native_cold = timed(["cat", os.path.join(root, "big.bin")])

        m = mountlib.Mount(binary, origin.url, work, cache_dir=cache, opts=opts)
        mark = origin.mark()
        t = timed(["dd", "if=" + m.path("big.bin"), "of=/dev/null", "bs=1M", "status=none"])
        n = len(origin.requests_since(mark, "big.bin", data_only=True))
        row("seq read %d MiB cold (%d requests)" % (args.big_mib, n), t, t_curl, "curl", big)
        drop()
        t = timed(["dd", "if=" + m.path("big.bin"), "of=/dev/null", "bs=1M", "status=none"])
        row("seq read hot (RAM tier)", t, t_native_hot, "native, page cache", big)

        # fio cold: the first pass over an uncached file.
        timed(["cat", os.path.join(root, "rand.bin")])
        drop()
        iops_native_cold = fio_iops(os.path.join(root, "rand.bin"), 256, args.fio_seconds, ios=200)
        iops_native = fio_iops(os.path.join(root, "rand.bin"), 256, args.fio_seconds)
        drop()
        mark = origin.mark()
        iops_cold = fio_iops(m.path("rand.bin"), 256, args.fio_seconds, ios=200)
        n_cold = len(origin.requests_since(mark, "rand.bin", data_only=True))
        rows.append("%-34s %8.0f IOPS   %-22s %8.0f IOPS   ratio %5.2f" % (
            "fio 4K randread cold, 200 IOs (%d req)" % n_cold, iops_cold, "native, cold", iops_native_cold,
            iops_native_cold / max(iops_cold, 1)))
        print(rows[-1], flush=True)
        subprocess.run(["cat", m.path("rand.bin")], stdout=subprocess.DEVNULL, check=True)  # warm all chunks
        drop()
        iops_warm = fio_iops(m.path("rand.bin"), 256, args.fio_seconds)
        rows.append("%-34s %8.0f IOPS   %-22s %8.0f IOPS   ratio %5.2f" % (
            "fio 4K randread warm (RAM tier)", iops_warm, "native, page cache", iops_native,
            iops_native / max(iops_warm, 1)))
        print(rows[-1], flush=True)

        # Small files: find+stat and read-all, cold then hot.
        many_m, many_o = m.path("many"), os.path.join(root, "many")
        find = ["find", "{}", "-type", "f", "-printf", "%s %T@\n"]
        drop()
        t_find_native = timed([a.format(many_o) for a in find])
        t = timed([a.format(many_m) for a in find])
        row("find+stat %d files cold" % args.small, t, t_find_native, "native, cold")
        t_find_native_hot = timed([a.format(many_o) for a in find])
        t = timed([a.format(many_m) for a in find])
        row("find+stat %d files hot" % args.small, t, t_find_native_hot, "native, hot")
        readall = "find '{}' -type f -print0 | xargs -0 cat > /dev/null"
        drop()
        t_read_native = timed(readall.format(many_o), shell=True)
        mark = origin.mark()
        t = timed(readall.format(many_m), shell=True)
        n = len(origin.requests_since(mark))
        row("read %d small files cold (%d req)" % (args.small, n), t, t_read_native, "native, cold")
        drop()
        t = timed(readall.format(many_m), shell=True)
        row("read %d small files warm" % args.small, t, t_read_native, "native, cold")

        # Warm from disk: remount, page cache dropped.
        m.unmount()
        m = mountlib.Mount(binary, origin.url, work, cache_dir=cache, opts=opts)
        drop()
        mark = origin.mark()
        t = timed(["dd", "if=" + m.path("big.bin"), "of=/dev/null", "bs=1M", "status=none"])
        n = len(origin.requests_since(mark, data_only=True))
        row("seq read warm from disk (%d req)" % n, t, t_native_cold, "native, cold cache", big)
        m.unmount()
        m = None
        print("\nsummary (ratio = mount time / limit time; for IOPS limit/mount):")
        for r in rows:
            print("  " + r)
    finally:
        if m:
            m.close()
        if origin:
            origin.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
