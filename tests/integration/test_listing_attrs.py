#!/usr/bin/env python3
"""Attributes a listing does not state exactly (issue 14, finding 3), driven
through a real mount with stat, ls -l, cat and cp against a small HTTP origin
of this test's own (127.0.0.1) that serves:
- apache/   an Apache fancy index with rounded sizes ("1.3K", "4.8M") and
            minute times, while the files' Last-Modified has seconds;
- nosize/   a plain page of links: no size, no time;
- many/     200 files listed as "1.0K", HEADs answered after 5 ms;
- json/     an nginx JSON autoindex with exact sizes and one name twice;
- nginxhtml/ an nginx HTML autoindex with exact sizes and minute times.
Checks: every stat and ls -l size is the file's own, reads return exactly that
many bytes, mtimes of HEADed files are the origin's to the second, a name is
shown once, an exact listing costs no HEAD, the HEADs of a directory run in
parallel within the bound, a remount within ttl sends no HEAD again, and
exact_mtime=true gives HTML-listed files their exact mtime."""
import calendar
import hashlib
import json
import os
import subprocess
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mountlib
from mountlib import check

LM = calendar.timegm((2026, 11, 21, 6, 28, 37))  # the listings say 06:28


def content(n, seed):
    block = hashlib.sha256(str(seed).encode()).digest() * 64
    return (block * (n // len(block) + 1))[:n]


FILES = {
    "apache/small.txt": content(1300, 1),
    "apache/big.bin": content(5000000, 2),
    "apache/exact.txt": content(123, 3),
    "nosize/one.txt": content(777, 4),
    "nosize/two.bin": content(3000000, 5),
    "json/a.txt": content(10, 6),
    "json/dup.txt": content(20, 7),
    "nginxhtml/t.txt": content(10, 8),
}
for i in range(200):
    FILES["many/f%03d" % i] = content(1000 + i, 100 + i)


def apache_listing():
    rows = [("small.txt", "1.3K"), ("big.bin", "4.8M"), ("exact.txt", "123")]
    out = ['<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN"><html><head><title>Index of /apache'
           '</title></head><body><h1>Index of /apache</h1><table>'
           '<tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
           '<th><a href="?C=S;O=A">Size</a></th></tr>'
           '<tr><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td></tr>']
    for name, size in rows:
        out.append('<tr><td><a href="%s">%s</a></td><td align="right">2026-11-21 06:28  </td>'
                   '<td align="right">%s</td></tr>' % (name, name, size))
    out.append("</table><address>Apache/2.4.57 (Debian) Server at 127.0.0.1</address></body></html>")
    return "".join(out).encode()


def listing(d):
    if d == "apache":
        return apache_listing(), "text/html"
    if d == "nosize":
        return b'<html><body><ul><li><a href="one.txt">one.txt</a></li><li><a href="two.bin">two.bin</a>' \
               b'</li></ul></body></html>', "text/html"
    if d == "many":
        rows = "".join('<a href="f%03d">f%03d</a>   21-Nov-2026 06:28   1.0K\r\n' % (i, i) for i in range(200))
        return ("<html><head><title>Index of /many/</title></head><body><h1>Index of /many/</h1><hr><pre>"
                + rows + "</pre></body></html>").encode(), "text/html"
    if d == "json":
        mt = formatdate(LM, usegmt=True)
        rows = [{"name": "a.txt", "type": "file", "mtime": mt, "size": 10},
                {"name": "dup.txt", "type": "file", "mtime": mt, "size": 20},
                {"name": "dup.txt", "type": "file", "mtime": mt, "size": 20}]
        return json.dumps(rows).encode(), "application/json"
    if d == "nginxhtml":
        return (b'<html><head><title>Index of /nginxhtml/</title></head><body><h1>Index of /nginxhtml/</h1>'
                b'<hr><pre><a href="../">../</a>\r\n<a href="t.txt">t.txt</a>   21-Nov-2026 06:28   10\r\n'
                b'</pre></body></html>'), "text/html"
    if d == "":
        names = sorted({p.split("/")[0] for p in FILES})
        rows = "".join('<a href="%s/">%s/</a>   21-Nov-2026 06:28   -\r\n' % (n, n) for n in names)
        return ("<html><head><title>Index of /</title></head><body><h1>Index of /</h1><hr><pre>" + rows +
                "</pre></body></html>").encode(), "text/html"
    return None, None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.heads = {}
        self.in_flight = 0
        self.max_in_flight = 0

    def head_count(self, prefix=""):
        with self.lock:
            return sum(n for p, n in self.heads.items() if p.startswith(prefix))


STATS = Stats()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.serve(head=True)

    def do_GET(self):
        self.serve(head=False)

    def send(self, code, headers, body, head):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def serve(self, head):
        path = self.path.split("?")[0].lstrip("/")
        if path == "" or path.endswith("/"):
            body, ctype = listing(path.rstrip("/"))
            if body is None:
                return self.send(404, [], b"", head)
            return self.send(200, [("Content-Type", ctype)], body, head)
        data = FILES.get(path)
        if data is None:
            return self.send(404, [], b"", head)
        if head:
            with STATS.lock:
                STATS.heads[path] = STATS.heads.get(path, 0) + 1
                STATS.in_flight += 1
                STATS.max_in_flight = max(STATS.max_in_flight, STATS.in_flight)
            try:
                if path.startswith("many/"):
                    time.sleep(0.005)
            finally:
                with STATS.lock:
                    STATS.in_flight -= 1
        base = [("ETag", '"%s"' % hashlib.sha256(data).hexdigest()[:16]),
                ("Last-Modified", formatdate(LM, usegmt=True))]
        r = self.headers.get("Range")
        if r and r.startswith("bytes="):
            first, _, last = r[6:].partition("-")
            first = int(first)
            last = min(int(last) if last else len(data) - 1, len(data) - 1)
            if first >= len(data):
                return self.send(416, base + [("Content-Range", "bytes */%d" % len(data))], b"", head)
            return self.send(206, base + [("Content-Range", "bytes %d-%d/%d" % (first, last, len(data)))],
                             data[first:last + 1], head)
        return self.send(200, base, data, head)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops the SYNs of parallel HEADs (1 s retransmits)


def ls_sizes(path):
    """name -> size, from `ls -l`."""
    out = subprocess.run(["ls", "-l", "--time-style=+%s", path], check=True, capture_output=True,
                         text=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 7 and not line.startswith("total"):
            sizes[parts[-1]] = int(parts[4])
    return sizes


def stat_of(path):
    size, mtime = subprocess.run(["stat", "-c", "%s %Y", path], check=True, capture_output=True,
                                 text=True).stdout.split()
    return int(size), int(mtime)


def cat_bytes(path):
    return subprocess.run(["cat", path], check=True, capture_output=True).stdout


def main(binary, work):
    server = Server(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    url = "http://127.0.0.1:%d/" % server.server_address[1]
    cache = os.path.join(work, "cache")
    m = None
    try:
        m = mountlib.Mount(binary, url, os.path.join(work, "a"), cache_dir=cache, opts=["ttl=300"])
        # Rounded sizes (Apache "1.3K", "4.8M"): ls -l, then stat, then the bytes.
        sizes = ls_sizes(m.path("apache"))
        check(sizes == {"small.txt": 1300, "big.bin": 5000000, "exact.txt": 123},
              "ls -l of an Apache listing with rounded sizes shows exact sizes (got %s)" % sizes)
        for name in ("small.txt", "big.bin"):
            size, mtime = stat_of(m.path("apache/" + name))
            want = len(FILES["apache/" + name])
            check(size == want, "stat apache/%s: size %d (want %d)" % (name, size, want))
            check(mtime == LM, "stat apache/%s: the HEAD's mtime to the second (got %d, want %d)" % (name, mtime, LM))
        check(STATS.head_count("apache/") == 2, "one HEAD per inexactly listed file, none for the exact one (%d)"
              % STATS.head_count("apache/"))
        data = cat_bytes(m.path("apache/big.bin"))
        check(data == FILES["apache/big.bin"], "cat apache/big.bin: all %d bytes, as stat said" % len(data))
        copy = os.path.join(work, "copy.bin")
        subprocess.run(["cp", m.path("apache/big.bin"), copy], check=True)
        with open(copy, "rb") as f:
            check(f.read() == FILES["apache/big.bin"], "cp of apache/big.bin is the whole file")

        # No size column: ls -l and stat show the file's size, not 0.
        sizes = ls_sizes(m.path("nosize"))
        check(sizes == {"one.txt": 777, "two.bin": 3000000}, "ls -l of a listing without sizes (got %s)" % sizes)
        check(stat_of(m.path("nosize/two.bin"))[0] == 3000000, "stat nosize/two.bin: 3000000")
        check(cat_bytes(m.path("nosize/one.txt")) == FILES["nosize/one.txt"], "cat nosize/one.txt")

        # A name listed twice is shown once; an exact listing costs no HEAD.
        names = sorted(os.listdir(m.path("json")))
        check(names == ["a.txt", "dup.txt"], "a name listed twice is shown once (got %s)" % names)
        sizes = ls_sizes(m.path("json"))
        check(sizes == {"a.txt": 10, "dup.txt": 20}, "ls -l of the JSON listing (got %s)" % sizes)
        check(STATS.head_count("json/") == 0, "an exact listing costs no HEAD (%d)" % STATS.head_count("json/"))

        # 200 inexact entries: parallel HEADs, within the bound.
        started = time.monotonic()
        sizes = ls_sizes(m.path("many"))
        took = time.monotonic() - started
        check(all(sizes.get("f%03d" % i) == 1000 + i for i in range(200)), "ls -l many/: 200 exact sizes")
        heads = STATS.head_count("many/")
        print("  ls -l of 200 inexact entries: %.3f s, %d HEADs, at most %d at once (5 ms each)"
              % (took, heads, STATS.max_in_flight))
        check(heads == 200, "one HEAD per entry (%d)" % heads)
        check(2 <= STATS.max_in_flight <= 16 + 1, "HEADs in parallel within the bound (%d)" % STATS.max_in_flight)
        rc = m.unmount()
        check(rc == 0, "unmount exits 0")
        m = None

        # A remount within ttl answers from the persisted attributes.
        before = STATS.head_count()
        m = mountlib.Mount(binary, url, os.path.join(work, "b"), cache_dir=cache, opts=["ttl=300"])
        sizes = ls_sizes(m.path("apache"))
        check(sizes == {"small.txt": 1300, "big.bin": 5000000, "exact.txt": 123}, "after remount: exact sizes")
        ls_sizes(m.path("nosize"))
        ls_sizes(m.path("many"))
        check(STATS.head_count() == before, "a remount within ttl sends no HEAD (%d)" % (STATS.head_count() - before))
        m.unmount()
        m = None

        # exact_mtime=true: an HTML listing's minute becomes the file's second.
        m = mountlib.Mount(binary, url, os.path.join(work, "c"), cache_dir=os.path.join(work, "cache2"),
                           opts=["ttl=300", "exact_mtime=true"])
        os.listdir(m.path("nginxhtml"))
        size, mtime = stat_of(m.path("nginxhtml/t.txt"))
        check((size, mtime) == (10, LM), "exact_mtime=true: stat gives the HEAD's mtime (got %d, want %d)"
              % (mtime, LM))
        m.unmount()
        m = None
    finally:
        if m is not None:
            print(m.log_tail())
            m.close()
        server.shutdown()


if __name__ == "__main__":
    mountlib.run(main)
