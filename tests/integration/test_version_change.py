#!/usr/bin/env python3
"""The origin replaces a file (new ETag): after ttl the new content is seen;
a handle opened before keeps its version or gets EIO, never a mix of both;
a new file appearing and a file vanishing are noticed after ttl too."""
import errno
import os
import time

import mountlib
from mountlib import check

KiB = 1 << 10


def replace(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)  # atomic at the origin: nginx serves old or new


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def main(binary, work):
    root = os.path.join(work, "root")
    os.makedirs(root)
    a = bytes([65 + (i // 4096) % 26 for i in range(300 * KiB + 17)])   # "AAAA...BBBB..."
    b = bytes([97 + (i // 4096) % 26 for i in range(410 * KiB + 3)])    # lower case, longer
    with open(os.path.join(root, "v.txt"), "wb") as f:
        f.write(a)
    with open(os.path.join(root, "gone.txt"), "w") as f:
        f.write("soon gone\n")
    origin = mountlib.Origin(root)
    m = None
    ttl = 2
    try:
        # Small chunks and no prefetch, so most of the old version is still
        # uncached when the origin changes: the pinned handle must then fail
        # (If-Match) rather than read the new bytes.
        m = mountlib.Mount(binary, origin.url, work,
                           opts=["ttl=%d" % ttl, "negative_ttl=%d" % ttl, "chunk_size=64K", "readahead=0", "xattrs=true"])
        check(os.stat(m.path("v.txt")).st_size == len(a), "version A is listed with its size")
        check(not os.path.exists(m.path("new.txt")), "new.txt does not exist yet")
        # Twice: the kernel keeps the entries of a directory across opens.
        for _ in range(2):
            names = set(os.listdir(m.mnt))
            check("gone.txt" in names and "new.txt" not in names, "the listing before the change")
        mountlib.drop_page_cache()

        old = open(m.path("v.txt"), "rb")
        first = old.read(64 * KiB)
        check(first == a[:64 * KiB], "a handle opened on version A reads A")
        time.sleep(1.1)  # a different mtime second, so the new version differs in every validator
        replace(os.path.join(root, "v.txt"), b)
        with open(os.path.join(root, "new.txt"), "w") as f:
            f.write("new file\n")
        os.unlink(os.path.join(root, "gone.txt"))
        mountlib.drop_page_cache()

        # The old handle: its version, or EIO; never bytes of B.
        got = bytearray(first)
        err = None
        try:
            while True:
                chunk = old.read(32 * KiB)
                if not chunk:
                    break
                got += chunk
        except OSError as e:
            err = e.errno
        old.close()
        if err is None:
            check(bytes(got) == a, "the handle opened before the change read all of version A")
        else:
            check(err == errno.EIO and bytes(got) == a[:len(got)],
                  "the handle opened before the change got EIO after %d bytes of A, no B" % len(got))

        # After ttl the new content is seen (a stale entry is served once
        # while it is refreshed in the background, so poll briefly).
        time.sleep(ttl + 0.5)
        deadline = time.monotonic() + 15
        seen = None
        while time.monotonic() < deadline:
            try:
                seen = read_all(m.path("v.txt"))
            except OSError:
                seen = None
            if seen == b:
                break
            if not (seen is None or seen == a):
                check(False, "while refreshing a reader sees A or B whole, never a mix: read %d bytes "
                      "(A is %d, B %d); first byte that differs from A at %s, from B at %s"
                      % (len(seen), len(a), len(b), first_diff(seen, a), first_diff(seen, b)))
            time.sleep(0.5)
        check(seen == b, "after ttl the new version B is read")
        # New and vanished names.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (os.path.exists(m.path("new.txt"))
                                                   and not os.path.exists(m.path("gone.txt"))):
            time.sleep(0.5)
        check(os.path.exists(m.path("new.txt")), "a file added at the origin appears after ttl")
        check(not os.path.exists(m.path("gone.txt")), "a file removed at the origin disappears after ttl")
        # The kernel's cached directory entries are dropped too.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            names = set(os.listdir(m.mnt))
            if "new.txt" in names and "gone.txt" not in names:
                break
            time.sleep(0.5)
        check("new.txt" in names and "gone.txt" not in names,
              "after ttl readdir lists the new file and not the removed one: %s" % sorted(names))
        check(os.getxattr(m.path("v.txt"), "user.daramjwee.version") != b"", "version xattr is set")
        rc = m.unmount()
        check(rc == 0, "clean unmount, exit 0")
    finally:
        if m:
            m.close()
        origin.stop()


def first_diff(x, y):
    for i, (p, q) in enumerate(zip(x, y)):
        if p != q:
            return i
    return "none" if len(x) == len(y) else min(len(x), len(y))


if __name__ == "__main__":
    mountlib.run(main)
