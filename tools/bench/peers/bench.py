#!/usr/bin/env python3
"""daramjwee-fs against its physical limits and its peers, in one run.

    tools/bench/run_peers.sh [--quick] [--out DIR] [--only ours,rclone,httpdirfs]
                             [--wan RTT_MS,RATE_MBIT]
    (or: python3 tools/bench/peers/bench.py --daemon BUILD/src/daemon/daramjwee-fs ...)

One nginx on a free 127.0.0.1 port (tests/support/nginx_fixture.py) serves a
generated dataset. Every workload is run, in this order, by
  - the limits: reading the origin's files natively, and curl from the same nginx;
  - daramjwee-fs, rclone mount (:http: remote, --vfs-cache-mode full) and
    httpdirfs --cache (both from Debian), with the flags recorded in PEER_FLAGS.
Workload-major order (limit, ours, rclone, httpdirfs for one workload, then the
next) so that the load of a shared machine drifts over all systems alike; the
repeated sequential and 4-reader workloads run in interleaved rounds (round k:
limit sample k, then session k of every system) for the same reason.

States: "cold" = fresh cache dir + page cache dropped; "warm" = unmount, drop
the page cache, mount again on the same cache dir; "hot" = read again without
dropping anything.

Every byte read is checked against the sha256 taken when the dataset was
written; listings are checked against the dataset's names and sizes; negative
lookups must be ENOENT. A mismatch marks that cell FAIL (whoever returned it)
and stays in the outputs. Origin requests per cell come from nginx's access log.
Peak RSS is VmHWM of each daemon, read before every unmount.

WAN mode (--wan 20,200): the same run with nginx in a network namespace
behind a shaped veth (wan.py: netem where the kernel has it, else TBF plus a
delaying relay), on the smaller "wan" dataset; outputs in results/wan.

Outputs in --out: results.json (raw), results.md (tables), chart.png (gnuplot).
Standard library only. Needs root (drop_caches), /dev/fuse, nginx, curl, fio,
gnuplot; rclone and httpdirfs for the peers (a missing peer is reported, not
dropped)."""
import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import nginx_fixture  # noqa: E402
sys.path.insert(0, HERE)
import wan  # noqa: E402

MiB = 1 << 20
SYSTEMS = ("ours", "rclone", "httpdirfs")
LABEL = {"ours": "daramjwee-fs", "rclone": "rclone", "httpdirfs": "httpdirfs",
         "limit": "limit"}

SIZES = {
    "full": dict(big_mib=256, par_mib=128, small_n=10000, neg_n=1000, fio_s=10,
                 cell_timeout=300, small_budget=90),
    "quick": dict(big_mib=32, par_mib=16, small_n=1000, neg_n=1000, fio_s=3,
                  cell_timeout=120, small_budget=30),
    # --wan: every byte crosses the shaped link (25 MB/s at 200 Mbit), and a
    # one-file-at-a-time reader of 10,000 files would take minutes per system.
    "wan": dict(big_mib=64, par_mib=32, small_n=1000, neg_n=1000, fio_s=10,
                cell_timeout=300, small_budget=90),
}

# Peer flags and why (recorded in the JSON and docs/BENCHMARKS.md).
PEER_FLAGS = {
    "ours": {
        "flags": ["-f", "-o", "cache_dir=<fresh>,ram_size=1G,disk_size=8G,ttl=3600"],
        "why": "defaults (chunk_size=1M, readahead=64M, prefetch_threads=4, "
               "compress=true) except cache sizes large enough for the dataset and "
               "ttl=3600 to match the peers' 1h directory/attribute caching",
    },
    "rclone": {
        "flags": ["--http-url", "<origin>/html/", "--vfs-cache-mode", "full",
                  "--cache-dir", "<fresh>", "--read-only", "--no-checksum", "--no-modtime",
                  "--vfs-fast-fingerprint", "--dir-cache-time", "1h", "--attr-timeout", "1h",
                  "--vfs-cache-max-age", "1h", "--vfs-cache-max-size", "8G",
                  "--vfs-read-ahead", "64M", "--buffer-size", "16M"],
        "why": "rclone mount docs, 'VFS Performance': --no-checksum, --no-modtime, "
               "--read-only; 'Fingerprinting': --vfs-fast-fingerprint speeds opening "
               "cached files; --dir-cache-time/--attr-timeout 1h (docs: longer attr "
               "timeout = fewer kernel callbacks, only risk is remote changes, none "
               "here); --vfs-read-ahead 64M = our readahead; --buffer-size and "
               "--vfs-read-chunk-size (128M) left at their defaults. Not used: "
               "--http-no-head (docs: files then have no size, so they read as empty). "
               "The :http: remote parses HTML listings, so it mounts nginx's html "
               "autoindex (/html/), exact sizes; rclone still HEADs every file.",
    },
    "httpdirfs": {
        "flags": ["-f", "--cache", "--cache-location", "<fresh>", "--no-range-check",
                  "<origin>/html/./"],
        "why": "httpdirfs man page: --cache enables the on-disk cache (the mode "
               "that keeps data across reads and remounts); no other option is "
               "documented as a speed-up, so --dl-seg-size (8 MB) and --max-conns "
               "(10) stay at their defaults. --no-range-check: its built-in range "
               "check rejects this nginx (which does answer ranged GETs with 206) and "
               "httpdirfs then exits at the first open (ENOTCONN); the man page "
               "documents this flag for that. Parses HTML listings: mounts /html/./ "
               "(it strips one trailing slash, and nginx's /html alias needs one).",
    },
}


# ---------------------------------------------------------------- helpers

def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def drop_caches():
    subprocess.run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def load1():
    return round(os.getloadavg()[0], 2)


class Buffers:
    """Pre-faulted read buffers, reused by every system so page-fault cost is
    the same for all."""

    def __init__(self):
        self.bufs = {}

    def get(self, size, slot=0):
        key = (size, slot)
        if key not in self.bufs:
            b = bytearray(size)
            b[0::4096] = bytes(len(range(0, size, 4096)))  # touch every page
            self.bufs[key] = b
        return self.bufs[key]


BUFS = Buffers()


def read_into(path, size, slot=0, chunk=1 * MiB):
    """Reads path into a pre-faulted buffer. Returns (n, eof_ok, view)."""
    buf = BUFS.get(size, slot)
    mv = memoryview(buf)
    n = 0
    with open(path, "rb", buffering=0) as f:
        while n < size:
            r = f.readinto(mv[n:n + chunk])
            if not r:
                break
            n += r
        eof_ok = (n == size and f.read(1) == b"")
    return n, eof_ok, mv[:n]


def folio_profile(path, max_bytes=256 * MiB):
    """How the page cache holds path's (hot) pages: maps and touches them,
    then reads each page's flags (/proc/self/pagemap, /proc/kpageflags; needs
    root). Returns {pages, large_pct, mean_folio_kib}. Explains the hot rows:
    a file system whose page cache is made of 4 KiB folios pays per-page
    costs a large-folio one (ext4, xfs) does not, on every cached read."""
    import mmap
    import struct
    kpf_head, kpf_tail = 1 << 15, 1 << 16
    with open(path, "rb") as f:
        n = min(os.fstat(f.fileno()).st_size, max_bytes) // 4096 * 4096
        if n == 0:
            return None
        m = mmap.mmap(f.fileno(), n, prot=mmap.PROT_READ)
        try:
            for off in range(0, n, 4096):
                m[off]
            addr = None
            real = os.path.realpath(path)
            with open("/proc/self/maps") as maps:
                for line in maps:
                    if line.rstrip().endswith(real):
                        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                        if hi - lo == n:
                            addr = lo
            if addr is None:
                return None
            with open("/proc/self/pagemap", "rb") as pm:
                pm.seek(addr // 4096 * 8)
                entries = struct.unpack("%dQ" % (n // 4096), pm.read(n // 4096 * 8))
        finally:
            m.close()
    heads = tails = small = 0
    with open("/proc/kpageflags", "rb") as kf:
        for e in entries:
            if not e >> 63:
                continue
            kf.seek((e & ((1 << 55) - 1)) * 8)
            fl = struct.unpack("Q", kf.read(8))[0]
            if fl & kpf_head:
                heads += 1
            elif fl & kpf_tail:
                tails += 1
            else:
                small += 1
    pages = heads + tails + small
    if pages == 0:
        return None
    return dict(pages=pages, large_pct=round(100.0 * (heads + tails) / pages, 1),
                mean_folio_kib=round(4.0 * pages / (heads + small), 1))


# ---------------------------------------------------------------- dataset

def make_dataset(root, sz):
    """Random (incompressible) big files, a tree of small files. Returns the
    manifest {relpath: (size, sha256)}."""
    man = {}

    def put(rel, data):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        man[rel] = (len(data), sha256_bytes(data))

    def put_big(rel, mib):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        h = hashlib.sha256()
        with open(p, "wb") as f:
            for _ in range(mib // 8 if mib >= 8 else 1):
                b = os.urandom(8 * MiB if mib >= 8 else mib * MiB)
                h.update(b)
                f.write(b)
        man[rel] = (mib * MiB, h.hexdigest())

    put_big("big.bin", sz["big_mib"])
    for i in range(4):
        put_big("par/p%d.bin" % i, sz["par_mib"])
    rng = random.Random(7)
    per = 500
    for i in range(sz["small_n"]):
        put("many/d%03d/f%05d.txt" % (i // per, i), rng.randbytes(100 + (i * 37) % 4000))
    return man


# ---------------------------------------------------------------- origin log

class OriginLog:
    def __init__(self, path):
        self.path = path

    def mark(self):
        try:
            return os.path.getsize(self.path)
        except FileNotFoundError:
            return 0

    def since(self, mark):
        """{'requests': n, 'bytes': b, 'by': {'GET 206': n, ...}}"""
        time.sleep(0.05)  # nginx writes the line after the response
        out = {"requests": 0, "bytes": 0, "by": {}}
        try:
            with open(self.path, "rb") as f:
                f.seek(mark)
                data = f.read().decode(errors="replace")
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            try:
                parts = line.split('"')
                method = parts[1].split(" ")[0]
                status, nbytes = parts[2].split()[:2]
            except (IndexError, ValueError):
                continue
            out["requests"] += 1
            out["bytes"] += int(nbytes) if nbytes.isdigit() else 0
            k = method + " " + status
            out["by"][k] = out["by"].get(k, 0) + 1
        return out


# ---------------------------------------------------------------- mounts

class MountError(Exception):
    pass


class FS:
    """One FUSE daemon (ours or a peer) in the foreground, by PID."""

    def __init__(self, name, work, origin_url, daemon):
        self.name = name
        self.work = work
        self.origin_url = origin_url
        self.daemon = daemon
        self.proc = None
        self.mnt = os.path.join(work, "mnt-" + name)
        self.cache = None
        self.peak_rss_kb = 0
        self.log_path = os.path.join(work, name + ".log")
        self.argv_used = None
        os.makedirs(self.mnt, exist_ok=True)

    def fresh_cache(self):
        self.cache = tempfile.mkdtemp(prefix="cache-%s-" % self.name, dir=self.work)
        if self.name == "ours":  # the disk tier wants to create its own dir
            os.rmdir(self.cache)
        return self.cache

    def argv(self):
        if self.name == "ours":
            return [self.daemon, self.origin_url, self.mnt, "-f", "-o",
                    "cache_dir=%s,ram_size=1G,disk_size=8G,ttl=3600" % self.cache]
        if self.name == "rclone":
            flags = [self.cache if a == "<fresh>" else a for a in PEER_FLAGS["rclone"]["flags"]]
            flags = [a.replace("<origin>/", self.origin_url) for a in flags]
            return ["rclone", "mount", ":http:", self.mnt] + flags
        if self.name == "httpdirfs":
            flags = [self.cache if a == "<fresh>" else a for a in PEER_FLAGS["httpdirfs"]["flags"]]
            flags = [a.replace("<origin>/", self.origin_url) for a in flags]
            return ["httpdirfs"] + flags + [self.mnt]
        raise ValueError(self.name)

    def mount(self, timeout=30):
        argv = self.argv()
        self.argv_used = argv
        env = dict(os.environ)
        if self.name == "rclone":
            env["RCLONE_CONFIG"] = os.path.join(self.work, "rclone.conf")  # empty: :http: needs none
            open(env["RCLONE_CONFIG"], "a").close()
        logf = open(self.log_path, "ab")
        logf.write(("\n$ %s\n" % " ".join(argv)).encode())
        logf.flush()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         env=env)
        except FileNotFoundError as e:
            raise MountError("cannot start %s: %s" % (argv[0], e))
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                how = ("killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)) if rc < 0 else "rc=%d" % rc
                raise MountError("%s %s before mounting; log: %s" % (self.name, how, self.log_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise MountError("%s: mount did not appear within %ss" % (self.name, timeout))
            time.sleep(0.02)

    def log_tail(self, n=300):
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read()
                return text[text.rfind("\n$ "):][-n:].replace("\n", " | ")
        except FileNotFoundError:
            return ""

    def sample_rss(self):
        if self.proc is None:
            return
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
        except OSError:
            pass

    def unmount(self, timeout=30):
        if self.proc is None:
            return
        self.sample_rss()
        subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log("%s did not exit within %ss of fusermount3 -u: killing it" % (self.name, timeout))
            self.kill()
        self.proc = None
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- workloads
# Each returns a dict: value, unit, higher_better, seconds, verify ("ok" or
# "FAIL: ..."), plus extras. They raise nothing on wrong data: they report it.

def w_seq(base, man, rel="big.bin"):
    size, want = man[rel]
    t0 = time.monotonic()
    n, eof_ok, view = read_into(os.path.join(base, rel), size)
    dt = time.monotonic() - t0
    if not eof_ok:
        verify = "FAIL: read %d bytes of %d" % (n, size)
    elif sha256_bytes(view) != want:
        verify = "FAIL: sha256 mismatch on %s" % rel
    else:
        verify = "ok"
    return dict(value=n / MiB / dt, unit="MiB/s", higher_better=True, seconds=dt, bytes=n,
                verify=verify)


def w_par(base, man):
    rels = ["par/p%d.bin" % i for i in range(4)]
    res = [None] * 4

    def one(i):
        try:
            res[i] = read_into(os.path.join(base, rels[i]), man[rels[i]][0], slot=i)
        except OSError as e:
            res[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    bad, total = [], 0
    for i, r in enumerate(res):
        if isinstance(r, Exception) or r is None:
            bad.append("%s: %s" % (rels[i], r))
            continue
        n, eof_ok, view = r
        total += n
        if not eof_ok:
            bad.append("%s: short read %d" % (rels[i], n))
        elif sha256_bytes(view) != man[rels[i]][1]:
            bad.append("%s: sha256 mismatch" % rels[i])
    return dict(value=total / MiB / dt, unit="MiB/s", higher_better=True, seconds=dt, bytes=total,
                verify="ok" if not bad else "FAIL: " + "; ".join(bad))


def fio_run(path, size, seconds):
    argv = ["fio", "--name=rr", "--filename=" + path, "--rw=randread", "--bs=4k",
            "--size=%d" % size, "--runtime=%d" % seconds, "--time_based", "--ioengine=psync",
            "--direct=0", "--invalidate=0", "--norandommap", "--randrepeat=1",
            "--output-format=json"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    if p.returncode != 0:
        raise RuntimeError("fio rc=%d: %s" % (p.returncode, p.stderr[-400:]))
    j = json.loads(p.stdout[p.stdout.index("{"):])
    rd = j["jobs"][0]["read"]
    pct = rd.get("clat_ns", {}).get("percentile", {})
    p99 = pct.get("99.000000", 0) / 1000.0
    errs = j["jobs"][0].get("error", 0)
    return rd["iops"], p99, rd.get("io_bytes", 0), errs


def w_fio(base, man, seconds, src_root):
    """fio 4 KiB random reads, then 512 random 4 KiB preads checked against the
    origin's file (fio itself does not check what it read)."""
    rel = "big.bin"
    size = man[rel][0]
    path = os.path.join(base, rel)
    iops, p99, nbytes, errs = fio_run(path, size, seconds)
    rng = random.Random(99)
    bad = 0
    fd = os.open(path, os.O_RDONLY)
    sfd = os.open(os.path.join(src_root, rel), os.O_RDONLY)
    try:
        for _ in range(512):
            off = rng.randrange(0, size // 4096) * 4096
            if os.pread(fd, 4096, off) != os.pread(sfd, 4096, off):
                bad += 1
    finally:
        os.close(fd)
        os.close(sfd)
    verify = "ok"
    if errs:
        verify = "FAIL: fio reported error %s" % errs
    elif bad:
        verify = "FAIL: %d of 512 random 4 KiB blocks differ from the origin" % bad
    return dict(value=iops, unit="IOPS", higher_better=True, seconds=seconds, bytes=nbytes,
                p99_us=p99, verify=verify)


def expected_tree(man):
    files = {rel[len("many/"):]: size for rel, (size, _) in man.items() if rel.startswith("many/")}
    dirs = {os.path.dirname(r) for r in files}
    return files, dirs


def w_find(base, man):
    files, dirs = expected_tree(man)
    t0 = time.monotonic()
    p = subprocess.run(["find", os.path.join(base, "many")], capture_output=True, text=True,
                       timeout=600)
    dt = time.monotonic() - t0
    prefix = os.path.join(base, "many")
    got = {line[len(prefix) + 1:] for line in p.stdout.splitlines() if line != prefix}
    want = set(files) | dirs
    verify = "ok"
    if p.returncode != 0:
        verify = "FAIL: find rc=%d %s" % (p.returncode, p.stderr[-200:])
    elif got != want:
        verify = "FAIL: find listed %d entries, %d missing, %d extra" % (
            len(got), len(want - got), len(got - want))
    return dict(value=dt, unit="s", higher_better=False, seconds=dt, entries=len(got),
                verify=verify)


def w_lslr(base, man):
    files, _ = expected_tree(man)
    t0 = time.monotonic()
    p = subprocess.run(["ls", "-lR", os.path.join(base, "many")], capture_output=True,
                       text=True, timeout=600, env=dict(os.environ, LC_ALL="C"))
    dt = time.monotonic() - t0
    got, cur = {}, ""
    prefix = os.path.join(base, "many")
    for line in p.stdout.splitlines():
        if line.endswith(":") and line.startswith(prefix):
            cur = line[len(prefix):-1].lstrip("/")
            continue
        f = line.split(None, 8)
        if len(f) == 9 and f[0].startswith("-"):
            got[os.path.join(cur, f[8])] = int(f[4])
    verify = "ok"
    if p.returncode != 0:
        verify = "FAIL: ls rc=%d %s" % (p.returncode, p.stderr[-200:])
    elif got != files:
        wrong = sum(1 for k in files if k in got and got[k] != files[k])
        verify = "FAIL: ls -lR: %d files listed of %d, %d wrong sizes" % (len(got), len(files), wrong)
    return dict(value=dt, unit="s", higher_better=False, seconds=dt, entries=len(got),
                verify=verify)


def w_small(base, man, budget=None):
    """Reads every small file. With a budget (seconds), stops when it is spent
    and reports an estimate for all files (marked partial) so that one very
    slow system cannot take the whole run."""
    rels = sorted(r for r in man if r.startswith("many/"))
    out, errors = [], []
    t0 = time.monotonic()
    for r in rels:
        if budget is not None and time.monotonic() - t0 > budget:
            break
        try:
            with open(os.path.join(base, r), "rb", buffering=0) as f:
                out.append(f.read())
        except OSError as e:
            out.append(None)
            errors.append("%s: %s" % (r, e))
    dt = time.monotonic() - t0
    done = len(out)
    bad = [r for r, b in zip(rels, out) if b is not None and sha256_bytes(b) != man[r][1]]
    total = sum(len(b) for b in out if b is not None)
    verify = "ok"
    if errors or bad:
        verify = "FAIL: %d read errors, %d files with wrong bytes%s" % (
            len(errors), len(bad), (" (e.g. %s)" % (errors + bad)[0]) if errors or bad else "")
    res = dict(value=dt, unit="s", higher_better=False, seconds=dt, bytes=total,
               files=len(rels), files_read=done, verify=verify)
    if done < len(rels):
        res.update(partial=True, value=dt * len(rels) / max(done, 1),
                   note="budget of %ds spent after %d of %d files; value is the estimate "
                   "for all files at the measured rate" % (budget, done, len(rels)))
    return res


def w_neg(base, man, n):
    names = [os.path.join(base, "many", "d000", "missing-%d.txt" % (i % 10)) for i in range(n)]
    wrong = 0
    t0 = time.monotonic()
    for p in names:
        try:
            os.stat(p)
            wrong += 1
        except FileNotFoundError:
            pass
        except OSError:
            wrong += 1
    dt = time.monotonic() - t0
    return dict(value=dt, unit="s", higher_better=False, seconds=dt, lookups=n,
                verify="ok" if not wrong else "FAIL: %d lookups of missing names did not "
                "return ENOENT" % wrong)


def median_run(got):
    """got: [(result, origin)] of repeated runs of one cell, in run order.
    Returns the median run's (result, origin); with more than one run the
    result carries every sample and the first failed verification, if any:
    one cold sample on a shared 2-core VM is mostly noise."""
    if len(got) == 1:
        return got[0]
    vals = sorted((r["value"], k) for k, (r, _) in enumerate(got) if r.get("value") is not None)
    k = vals[len(vals) // 2][1] if vals else 0
    res, origin = dict(got[k][0]), got[k][1]
    res["samples"] = [r.get("value") for r, _ in got]
    bad = [r["verify"] for r, _ in got if r.get("verify") != "ok"]
    res["verify"] = bad[0] if bad else "ok"
    return res, origin


def median_of(fn, n):
    """Runs a short cell n times (hot cells take well under a second, and one
    sample on a loaded machine is noise); reports the median, keeps every
    sample, and the first failed verification if any."""
    runs = [fn() for _ in range(n)]
    vals = sorted(r["value"] for r in runs if r.get("value") is not None)
    out = dict(runs[0])
    if vals:
        out["value"] = vals[len(vals) // 2]
    out["samples"] = [r.get("value") for r in runs]
    bad = [r["verify"] for r in runs if r.get("verify") != "ok"]
    out["verify"] = bad[0] if bad else "ok"
    return out


# curl limits

def curl_one(url, out):
    return subprocess.Popen(["curl", "-s", "--fail", "-o", out, url])


def l_curl_seq(url, man, shm, rel="big.bin"):
    out = os.path.join(shm, "big")
    t0 = time.monotonic()
    rc = curl_one(url + rel, out).wait(600)
    dt = time.monotonic() - t0
    size, want = man[rel]
    ok = rc == 0 and os.path.getsize(out) == size and sha256_file(out) == want
    os.unlink(out)
    return dict(value=size / MiB / dt, unit="MiB/s", higher_better=True, seconds=dt, bytes=size,
                verify="ok" if ok else "FAIL: curl rc=%s or wrong bytes" % rc)


def l_curl_par(url, man, shm):
    rels = ["par/p%d.bin" % i for i in range(4)]
    outs = [os.path.join(shm, "p%d" % i) for i in range(4)]
    t0 = time.monotonic()
    procs = [curl_one(url + r, o) for r, o in zip(rels, outs)]
    rcs = [p.wait(600) for p in procs]
    dt = time.monotonic() - t0
    ok = all(rc == 0 for rc in rcs) and all(sha256_file(o) == man[r][1] for r, o in zip(rels, outs))
    total = sum(man[r][0] for r in rels)
    for o in outs:
        os.unlink(o)
    return dict(value=total / MiB / dt, unit="MiB/s", higher_better=True, seconds=dt, bytes=total,
                verify="ok" if ok else "FAIL: curl rc=%s or wrong bytes" % rcs)


def l_curl_small(url, man, shm):
    rels = sorted(r for r in man if r.startswith("many/"))
    d = os.path.join(shm, "small")
    cfg = os.path.join(shm, "curl.cfg")
    with open(cfg, "w") as f:
        for r in rels:
            f.write('url = "%s%s"\noutput = "%s/%s"\n' % (url, r, d, r))
    t0 = time.monotonic()
    rc = subprocess.run(["curl", "-s", "--fail", "--create-dirs", "-K", cfg], timeout=600).returncode
    dt = time.monotonic() - t0
    bad = 0
    for r in rels:
        try:
            with open(os.path.join(d, r), "rb") as f:
                bad += sha256_bytes(f.read()) != man[r][1]
        except OSError:
            bad += 1
    shutil.rmtree(d, ignore_errors=True)
    os.unlink(cfg)
    return dict(value=dt, unit="s", higher_better=False, seconds=dt, files=len(rels),
                verify="ok" if rc == 0 and not bad else "FAIL: curl rc=%s, %d wrong files" % (rc, bad))


# ---------------------------------------------------------------- runner

class Bench:
    def __init__(self, args):
        self.args = args
        self.mode = "wan" if args.wan else ("quick" if args.quick else "full")
        self.sz = SIZES[self.mode]
        self.wan = None
        self.cells = []  # every measurement
        self.work = tempfile.mkdtemp(prefix="dj-peers-", dir=args.workdir)
        self.shm = tempfile.mkdtemp(prefix="dj-peers-", dir="/dev/shm")
        self.root = os.path.join(self.work, "root")
        self.systems = [s for s in args.only.split(",") if s]
        self.fs = {}
        self.unavailable = {}
        self.folios = {}  # system -> folio_profile of big.bin after its hot reads

    # one measurement
    def record(self, workload, system, res, origin=None, note=""):
        res = dict(res)
        res.update(workload=workload, system=system, load1=load1())
        if origin is not None:
            res["origin"] = origin
        if note:
            res["note"] = note
        self.cells.append(res)
        v = res.get("value")
        vs = ("%.1f %s" % (v, res.get("unit", ""))) if isinstance(v, (int, float)) else "-"
        if "p99_us" in res:
            vs += " p99 %.0f us" % res["p99_us"]
        org = (" origin=%d req" % origin["requests"]) if origin else ""
        if len(res.get("samples") or ()) > 1:
            vs += " (median of %s)" % "/".join("%.0f" % x if isinstance(x, (int, float)) else "-"
                                               for x in res["samples"])
        flag = "" if res.get("verify") == "ok" else "   <<<<< %s" % res.get("verify")
        log("%-22s %-10s %s%s%s" % (workload, LABEL.get(system, system), vs, org, flag))

    def fail(self, workload, system, why):
        self.record(workload, system, dict(value=None, verify="FAIL: " + why))

    def guarded(self, fs, fn):
        """Runs fn() with a deadline; on expiry kills the daemon so a hung FUSE
        read returns (ENOTCONN) and the cell is reported as FAIL."""
        box = {}

        def target():
            try:
                box["r"] = fn()
            except Exception as e:  # report, never hide
                box["e"] = e

        t = threading.Thread(target=target, daemon=True)
        t.start()
        t.join(self.sz["cell_timeout"])
        if t.is_alive():
            fs.kill()
            t.join(30)
            return dict(value=None, verify="FAIL: timeout after %ss (daemon killed)" % self.sz["cell_timeout"])
        if "e" in box:
            return dict(value=None, verify="FAIL: %s: %s" % (type(box["e"]).__name__, box["e"]))
        return box["r"]

    def session(self, system, steps):
        """steps: list of (workload, state, fn(base)) with state in
        cold|warm|hot|prep. 'cold' drops the page cache; 'warm' unmounts,
        drops, remounts on the same cache dir; 'hot' reads as is; 'prep' runs
        unrecorded. One fresh mount; repeated workloads use rounds()."""
        self.record_sessions(system, steps, [self.session_once(system, steps)])

    def record_sessions(self, system, steps, runs):
        """Records per workload the median of the runs (median_run)."""
        for i, (wl, state, _) in enumerate(steps):
            if state != "prep":
                res, origin = median_run([r[i] for r in runs])
                self.record(wl, system, res, origin=origin)

    def rounds(self, repeat, limits, steps):
        """Interleaved repeats: round k takes sample k of every limit, then
        one fresh session of every system, so that the machine's drift (this
        VM's throughput moves by a third within minutes) lands on limit and
        systems alike instead of on whichever ran last. limits: list of
        (workload, fn, what, cold), run in that order (a hot limit right
        after the cold one that filled the page cache). Records medians."""
        lim = {wl: [] for wl, _, _, _ in limits}
        runs = {s: [] for s in self.systems}
        for _ in range(repeat):
            for wl, fn, what, cold in limits:
                lim[wl].append(self.limit_once(fn, what, cold))
            for s in self.systems:
                runs[s].append(self.session_once(s, steps(s)))
        for wl, _, _, _ in limits:
            res, origin = median_run(lim[wl])
            self.record(wl, "limit", res, origin=origin)
        for s in self.systems:
            self.record_sessions(s, steps(s), runs[s])

    def session_once(self, system, steps):
        """One mount on a fresh cache dir. Returns, per step, (result,
        origin requests); failures are results with value None."""
        fs = self.fs[system]
        out = [(dict(value=None, verify="FAIL: not run"), None) for _ in steps]

        def fail_rest(i, why):
            for j in range(i, len(steps)):
                out[j] = (dict(value=None, verify="FAIL: " + (why if j == i else "not run (as above)")), None)
            return out

        if system in self.unavailable:
            return fail_rest(0, self.unavailable[system])
        fs.fresh_cache()
        mark = self.origin.mark()
        try:
            fs.mount()
        except MountError as e:
            return fail_rest(0, "mount: %s" % e)
        try:
            for i, (wl, state, fn) in enumerate(steps):
                if state == "warm":
                    fs.unmount()
                    drop_caches()
                    mark = self.origin.mark()
                    try:
                        fs.mount()
                    except MountError as e:
                        return fail_rest(i, "remount: %s" % e)
                elif state == "cold":
                    drop_caches()
                if fs.proc is None:
                    out[i] = (dict(value=None, verify="FAIL: daemon not running (killed after an "
                                   "earlier timeout)"), None)
                    continue
                res = self.guarded(fs, lambda: fn(fs.mnt))
                fs.sample_rss()
                if state == "prep" and res.get("verify") != "ok":
                    log("%s: preparation step failed: %s" % (system, res.get("verify")))
                out[i] = (res, self.origin.since(mark))
                mark = self.origin.mark()
            return out
        finally:
            fs.unmount()
            shutil.rmtree(fs.cache, ignore_errors=True)

    def probe_folios(self, system, base):
        """A 'prep' step after the hot reads of big.bin: records how the page
        cache holds it (folio_profile). Unrecorded as a cell; a failure to
        probe is logged, never fatal."""
        try:
            self.folios[system] = folio_profile(os.path.join(base, "big.bin"))
        except OSError as e:
            log("%s: page-cache folio probe failed: %s" % (system, e))
        return dict(value=None, verify="ok")

    def limit(self, workload, fn, what, cold=True):
        res, origin = self.limit_once(fn, what, cold)
        self.record(workload, "limit", res, origin=origin)

    def limit_once(self, fn, what, cold):
        """One sample of a limit: (result, origin requests or None)."""
        if cold:
            drop_caches()
        mark = self.origin.mark()
        try:
            res = fn()
        except Exception as e:
            res = dict(value=None, verify="FAIL: %s: %s" % (type(e).__name__, e))
        res["limit_kind"] = what
        return res, (self.origin.since(mark) if what.startswith("curl") else None)

    def check_peers(self):
        for s in self.systems:
            if s == "ours":
                if not (self.args.daemon and os.access(self.args.daemon, os.X_OK)):
                    self.unavailable[s] = "daemon binary not found: %s" % self.args.daemon
            elif shutil.which(s) is None:
                self.unavailable[s] = "%s is not installed" % s

    def versions(self):
        def out(argv):
            try:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
                return (p.stdout + p.stderr).strip().splitlines()[0]
            except Exception as e:
                return "unavailable (%s)" % e
        hd_version = ""
        if shutil.which("httpdirfs"):
            p = subprocess.run(["httpdirfs", "-V"], capture_output=True, text=True, timeout=20)
            hd_version = p.stdout + p.stderr
        return {
            "daramjwee-fs": out([self.args.daemon, "-V"]) if "ours" not in self.unavailable else "unavailable",
            "daramjwee-fs source": os.environ.get("DJ_DAEMON_REV") or "binary %s (work tree HEAD %s)" % (
                self.args.daemon, out(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])),
            "rclone": out(["rclone", "version"]),
            "httpdirfs": next((l for l in hd_version.splitlines() if "HTTPDirFS" in l), "unavailable"),
            "fio": out(["fio", "--version"]),
            "nginx": out(["/usr/sbin/nginx", "-v"]),
            "curl": out(["curl", "--version"]),
            "kernel": platform.release(),
        }

    def machine(self):
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) // 1024
        disk = subprocess.run(["df", "-h", "--output=source,fstype,size", self.work],
                              capture_output=True, text=True).stdout.splitlines()[-1]
        return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "mem_mib": mem,
                "workdir_fs": " ".join(disk.split())}

    def run(self):
        started = datetime.datetime.now(datetime.timezone.utc)
        load_start = os.getloadavg()
        self.check_peers()
        for s, why in self.unavailable.items():
            log("UNAVAILABLE %s: %s (reported as FAIL in every cell)" % (s, why))
        log("dataset: %s in %s" % (self.sz, self.root))
        man = make_dataset(self.root, self.sz)
        if self.args.wan:
            rtt, rate = self.args.wan
            self.wan = wan.Wan(rtt, rate).up()
            log("WAN: namespace %s, origin at %s: %s" % (self.wan.ns, self.wan.ip, self.wan.method))
            ngx = nginx_fixture.Nginx(self.root, netns=self.wan.ns, host=self.wan.ip)
        else:
            ngx = nginx_fixture.Nginx(self.root)
        try:
            port, access_log = ngx.start()
            host, port = self.wan.origin_endpoint(port) if self.wan else ("127.0.0.1", port)
        except Exception:
            if self.wan:
                ngx.stop()
                self.wan.down()
            raise
        self.origin = OriginLog(access_log)
        url = "http://%s:%d/" % (host, port)
        log("nginx on %s (pid %d)" % (url, ngx.proc.pid))
        for s in self.systems:
            self.fs[s] = FS(s, self.work, url, self.args.daemon)
        src = self.root
        sz = self.sz
        try:
            # 1. sequential 256 MiB: cold, warm after remount, hot
            R = self.args.repeat
            self.rounds(R, [("seq cold", lambda: l_curl_seq(url, man, self.shm), "curl (nginx, page cache dropped)", True),
                            ("seq warm", lambda: w_seq(src, man), "native read, page cache dropped", True),
                            ("seq hot", lambda: (median_of(lambda: w_seq(src, man), 3),
                                                 self.probe_folios("limit", src))[0],
                             "native read, page cache hot", False)],
                        lambda s: [("seq cold", "cold", lambda b: w_seq(b, man)),
                                   ("seq warm", "warm", lambda b: w_seq(b, man)),
                                   ("seq hot", "hot", lambda b: median_of(lambda: w_seq(b, man), 3)),
                                   ("folios", "prep", lambda b: self.probe_folios(s, b))])
            # 2. four parallel readers of four files: cold, hot
            self.rounds(R, [("par4 cold", lambda: l_curl_par(url, man, self.shm), "4 x curl (page cache dropped)", True),
                            ("par4 hot", lambda: (w_par(src, man), median_of(lambda: w_par(src, man), 3))[1],
                             "native 4 readers, page cache hot", False)],
                        lambda s: [("par4 cold", "cold", lambda b: w_par(b, man)),
                                   ("par4 hot", "hot", lambda b: median_of(lambda: w_par(b, man), 3))])
            # 3. fio 4 KiB random reads: cold, hot (after one full read)
            self.limit("fio4k cold", lambda: w_fio(src, man, sz["fio_s"], src), "native fio, page cache dropped")
            self.limit("fio4k hot", lambda: (w_seq(src, man), w_fio(src, man, sz["fio_s"], src))[1],
                       "native fio, page cache hot", cold=False)
            for s in self.systems:
                self.session(s, [("fio4k cold", "cold", lambda b: w_fio(b, man, sz["fio_s"], src)),
                                 ("fio4k hot", "prep", lambda b: w_seq(b, man)),
                                 ("fio4k hot", "hot", lambda b: w_fio(b, man, sz["fio_s"], src))])
            # 4./5. find and ls -lR over the small-file tree: cold, hot
            self.limit("find cold", lambda: w_find(src, man), "native find, page cache dropped")
            self.limit("find hot", lambda: median_of(lambda: w_find(src, man), 5), "native find, hot", cold=False)
            for s in self.systems:
                self.session(s, [("find cold", "cold", lambda b: w_find(b, man)),
                                 ("find hot", "hot", lambda b: median_of(lambda: w_find(b, man), 5))])
            self.limit("ls-lR cold", lambda: w_lslr(src, man), "native ls -lR, page cache dropped")
            self.limit("ls-lR hot", lambda: median_of(lambda: w_lslr(src, man), 5), "native ls -lR, hot", cold=False)
            for s in self.systems:
                self.session(s, [("ls-lR cold", "cold", lambda b: w_lslr(b, man)),
                                 ("ls-lR hot", "hot", lambda b: median_of(lambda: w_lslr(b, man), 5))])
            # 6. read every small file: cold, warm after remount
            self.limit("small cold", lambda: l_curl_small(url, man, self.shm), "curl -K, one connection (page cache dropped)")
            self.limit("small warm", lambda: w_small(src, man), "native read, page cache dropped")
            for s in self.systems:
                self.session(s, [("small cold", "cold", lambda b: w_small(b, man, sz["small_budget"])),
                                 ("small warm", "warm", lambda b: w_small(b, man, sz["small_budget"]))])
            # 7. repeated negative lookups (fresh mount)
            self.limit("neg lookups", lambda: median_of(lambda: w_neg(src, man, sz["neg_n"]), 3), "native stat", cold=False)
            for s in self.systems:
                self.session(s, [("neg lookups", "cold", lambda b: w_neg(b, man, sz["neg_n"]))])
        finally:
            for f in self.fs.values():
                f.kill()
            ngx.stop()
            if self.wan:
                self.wan.down()
        finished = datetime.datetime.now(datetime.timezone.utc)
        argvs = {s: (self.fs[s].argv_used or self.fs[s].argv()) if s not in self.unavailable else None
                 for s in self.systems}
        return {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round((finished - started).total_seconds(), 1),
            "mode": self.mode,
            "wan": (dict(rtt_ms=self.wan.rtt_ms, rate_mbit=self.wan.rate_mbit,
                         method=self.wan.method) if self.wan else None),
            "command": ("DAEMON=%s " % os.environ["DAEMON"] if os.environ.get("DAEMON") else "")
                       + "tools/bench/run_peers.sh" + (" --quick" if self.args.quick else "")
                       + (" --wan %g,%g" % tuple(self.args.wan) if self.args.wan else ""),
            "machine": self.machine(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "versions": self.versions(),
            "sizes": sz,
            "repeat": self.args.repeat,
            "interleaved_rounds": True,  # report.py: samples of limit and systems pair up by round
            "flags": {s: {"argv": argvs.get(s), "why": PEER_FLAGS[s]["why"]} for s in self.systems},
            "unavailable": self.unavailable,
            "peak_rss_kb": {s: self.fs[s].peak_rss_kb for s in self.systems},
            "page_cache_folios": self.folios,
            "cells": self.cells,
        }

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)


def wan_arg(text):
    try:
        rtt, rate = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("--wan wants RTT_MS,RATE_MBIT (e.g. 20,200), got %r" % text)
    if rtt < 0 or rate <= 0:
        raise argparse.ArgumentTypeError("--wan: RTT_MS must be >= 0 and RATE_MBIT > 0")
    return rtt, rate


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--daemon", default=os.path.join(REPO, "build-peers", "src", "daemon", "daramjwee-fs"))
    ap.add_argument("--quick", action="store_true", help="small sizes, for development")
    ap.add_argument("--only", default=",".join(SYSTEMS), help="systems to run (default all)")
    ap.add_argument("--workdir", default="/var/tmp", help="dataset + caches (a disk, not tmpfs)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--repeat", type=int, default=3, metavar="N",
                    help="runs of each sequential and parallel-read session, fresh cache each; "
                    "the median is reported (default 3)")
    ap.add_argument("--wan", metavar="RTT_MS,RATE_MBIT", type=wan_arg,
                    help="origin in a network namespace behind RTT_MS of round trip and a "
                    "RATE_MBIT link (e.g. 20,200); smaller dataset; default --out "
                    "tools/bench/results/wan")
    ap.add_argument("--out", default=None, help="output dir (default tools/bench/results, "
                    "or results/wan with --wan)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.out is None:
        args.out = os.path.join(REPO, "tools", "bench", "results", *(["wan"] if args.wan else []))
    args.daemon = os.path.abspath(args.daemon)
    if os.geteuid() != 0:
        sys.exit("bench.py: needs root (drops the page cache, mounts FUSE)")
    sys.path.insert(0, HERE)
    import report  # noqa: E402
    b = Bench(args)
    try:
        res = b.run()
    finally:
        if not args.keep:
            b.cleanup()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    report.write_all(res, args.out)
    fails = [c for c in res["cells"] if c.get("verify") != "ok"]
    log("wrote %s/results.{json,md} and chart.png in %.0fs" % (args.out, res["duration_s"]))
    if fails:
        log("%d cells FAILED (see results.md):" % len(fails))
        for c in fails:
            log("  FAIL %-12s %-10s %s" % (c["workload"], LABEL.get(c["system"], c["system"]), c["verify"]))


if __name__ == "__main__":
    main()
