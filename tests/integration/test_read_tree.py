#!/usr/bin/env python3
"""Unmodified programs read a generated tree through the mount and see
exactly the origin's bytes: sha256sum of every file (large files, 10,000
small files, nested directories, names with spaces, unicode and characters
that need percent-encoding), cp -r, tar -c, find, ls -lR, python reads with
seek, dd at odd offsets across chunk boundaries, mmap, a sqlite3 query
(immutable=1), and EROFS for every write."""
import errno
import mmap
import os
import random
import sqlite3
import subprocess

import mountlib
from mountlib import check

MiB = 1 << 20
ODD_NAMES = ["with space.txt", "ünïcødé-파일.txt", "per%cent#hash?q&x=1+plus;semi'q.txt",
             "brackets [1] (2).txt", "~tilde!bang$dollar@at.txt"]


def make_tree(root):
    mountlib.write_random(os.path.join(root, "big", "forty.bin"), 40 * MiB + 12345, 1)
    mountlib.write_random(os.path.join(root, "big", "odd.bin"), 5 * MiB + 123, 2)
    mountlib.write_random(os.path.join(root, "big", "exact.bin"), 1 * MiB, 3)
    open(os.path.join(root, "empty.txt"), "w").close()
    for i, name in enumerate(ODD_NAMES):
        d = os.path.join(root, "odd names", "dïr %d" % i)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write("content of %s\n" % name * (i + 1))
    deep = os.path.join(root, "a", "b", "c", "d", "e")
    os.makedirs(deep)
    with open(os.path.join(deep, "leaf.txt"), "w") as f:
        f.write("deep leaf\n")
    rnd = random.Random(7)
    for d in range(20):
        sub = os.path.join(root, "many", "d%02d" % d)
        os.makedirs(sub)
        for i in range(500):
            with open(os.path.join(sub, "f%04d.txt" % i), "wb") as f:
                f.write(("%d/%d " % (d, i)).encode() * rnd.randint(0, 300))
    db = sqlite3.connect(os.path.join(root, "data.sqlite"))
    db.execute("create table t(k integer primary key, v text)")
    db.executemany("insert into t(v) values (?)", (("row %d" % i,) for i in range(20000)))
    db.commit()
    db.close()


def files_under(top):
    out = []
    for dirpath, _, names in os.walk(top):
        for n in names:
            out.append(os.path.relpath(os.path.join(dirpath, n), top))
    return sorted(out)


def main(binary, work):
    root = os.path.join(work, "root")
    os.makedirs(root)
    make_tree(root)
    origin = mountlib.Origin(root)
    m = None
    try:
        m = mountlib.Mount(binary, origin.url, work, opts=["ttl=300", "xattrs=true"])
        mnt = m.mnt
        want = files_under(root)
        check(len(want) > 10000, "generated %d files" % len(want))
        # find (names, nesting, odd characters)
        found = subprocess.run(["find", ".", "-type", "f"], cwd=mnt, capture_output=True, check=True,
                               text=True).stdout.split("\n")
        got = sorted(os.path.normpath(p) for p in found if p)
        check(got == want, "find lists exactly the origin's files")
        # sha256sum of every file, by the unmodified program
        listing = "\0".join(want) + "\0"
        sums_mnt = subprocess.run(["xargs", "-0", "sha256sum", "--"], cwd=mnt, input=listing,
                                  capture_output=True, text=True, check=True).stdout
        sums_org = subprocess.run(["xargs", "-0", "sha256sum", "--"], cwd=root, input=listing,
                                  capture_output=True, text=True, check=True).stdout
        check(sums_mnt == sums_org, "sha256sum of all %d files equals the origin's" % len(want))
        # ls -lR
        ls = subprocess.run(["ls", "-lR", mnt], capture_output=True, text=True)
        check(ls.returncode == 0 and "forty.bin" in ls.stdout, "ls -lR succeeds")
        sizes_ok = all(os.stat(os.path.join(mnt, p)).st_size == os.stat(os.path.join(root, p)).st_size
                       for p in want[:2000])
        check(sizes_ok, "stat sizes match the origin")
        # cp -r and diff -r
        dst = os.path.join(work, "copy")
        subprocess.run(["cp", "-r", os.path.join(mnt, "odd names"), dst], check=True)
        check(subprocess.run(["diff", "-r", dst, os.path.join(root, "odd names")]).returncode == 0,
              "cp -r of the odd-names tree equals the origin")
        # tar -c
        tar = subprocess.run("tar -cf - -C '%s' big a | tar -tvf - | wc -l" % mnt, shell=True,
                             capture_output=True, text=True)
        check(tar.returncode == 0 and int(tar.stdout) >= 10, "tar -c of the mount works")
        fixed = ("tar -cf - -C '{}' --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "
                 "--mode=a-w big a 'odd names' | sha256sum")
        tar_m = subprocess.run(fixed.format(mnt), shell=True, capture_output=True, text=True)
        tar_o = subprocess.run(fixed.format(root), shell=True, capture_output=True, text=True)
        check(tar_m.returncode == 0 and tar_m.stdout == tar_o.stdout, "tar -c archive (fixed metadata) equals the origin's")
        # python reads with seek, across chunk boundaries
        rnd = random.Random(3)
        big_m = os.path.join(mnt, "big", "forty.bin")
        big_o = os.path.join(root, "big", "forty.bin")
        with open(big_m, "rb") as fm, open(big_o, "rb") as fo:
            ok = True
            for _ in range(300):
                off = rnd.choice([rnd.randrange(0, 40 * MiB), rnd.randrange(1, 40) * MiB - rnd.randrange(0, 5000)])
                n = rnd.randrange(1, 3 * MiB)
                fm.seek(off)
                fo.seek(off)
                ok = ok and fm.read(n) == fo.read(n)
            fm.seek(40 * MiB + 12000)
            ok = ok and fm.read(1000) == (fo.seek(40 * MiB + 12000), fo.read(1000))[1]
        check(ok, "python seek+read at 300 random offsets equals the origin")
        # dd at odd offsets and sizes across chunk boundaries
        odd_m = os.path.join(mnt, "big", "odd.bin")
        odd_o = os.path.join(root, "big", "odd.bin")
        dd_ok = True
        for skip, count, bs in [(MiB - 777, 5555, 4097), (3 * MiB - 1, 2 * MiB + 3, 65537), (5 * MiB + 100, 1000, 7),
                                (12345, 77, 13)]:
            args = ["dd", "bs=%d" % bs, "skip=%d" % skip, "count=%d" % count, "iflag=skip_bytes,count_bytes",
                    "status=none"]
            a = subprocess.run(args + ["if=" + odd_m], capture_output=True).stdout
            b = subprocess.run(args + ["if=" + odd_o], capture_output=True).stdout
            dd_ok = dd_ok and a == b
        check(dd_ok, "dd at odd offsets and sizes equals the origin")
        # mmap
        with open(odd_m, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            import hashlib
            digest = hashlib.sha256(mm[:]).hexdigest()
            mm.close()
        check(digest == mountlib.sha256(odd_o), "mmap read equals the origin")
        # sqlite3 on the mount, immutable
        q = subprocess.run(["sqlite3", "file:%s?immutable=1" % os.path.join(mnt, "data.sqlite"),
                            "select count(*), max(v) from t where k % 7 = 3;"], capture_output=True, text=True)
        q_o = subprocess.run(["sqlite3", "file:%s?immutable=1" % os.path.join(root, "data.sqlite"),
                              "select count(*), max(v) from t where k % 7 = 3;"], capture_output=True, text=True)
        check(q.returncode == 0 and q.stdout == q_o.stdout and q.stdout.strip() != "",
              "sqlite3 query on the mount equals the origin (%s)" % q.stdout.strip())
        # writes -> EROFS
        def erofs(fn):
            try:
                fn()
            except OSError as e:
                return e.errno == errno.EROFS
            return False
        check(erofs(lambda: open(os.path.join(mnt, "empty.txt"), "w")), "open for write -> EROFS")
        check(erofs(lambda: open(os.path.join(mnt, "new.txt"), "w")), "create -> EROFS")
        check(erofs(lambda: os.mkdir(os.path.join(mnt, "newdir"))), "mkdir -> EROFS")
        check(erofs(lambda: os.unlink(os.path.join(mnt, "empty.txt"))), "unlink -> EROFS")
        check(erofs(lambda: os.rename(os.path.join(mnt, "empty.txt"), os.path.join(mnt, "x"))), "rename -> EROFS")
        check(erofs(lambda: os.chmod(os.path.join(mnt, "empty.txt"), 0o777)), "chmod -> EROFS")
        check(erofs(lambda: os.setxattr(os.path.join(mnt, "empty.txt"), "user.x", b"1")), "setxattr -> EROFS")
        names = os.listxattr(big_m)
        check("user.daramjwee.tiers" in names and "user.daramjwee.version" in names and
              "user.daramjwee.age" in names, "listxattr names the daramjwee xattrs")
        tiers = os.getxattr(big_m, "user.daramjwee.tiers").decode()
        check("memory=" in tiers, "user.daramjwee.tiers after a read: %s" % tiers)
        rc = m.unmount()
        check(rc == 0, "daemon exits 0 after fusermount3 -u")
    finally:
        if m:
            m.close()
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
