#!/usr/bin/env python3
"""A small fault-injecting HTTP/1.1 server for the origin tests: it does on
demand what nginx cannot (5xx bursts, stalls, truncated or overlong bodies,
wrong Content-Range, versions that change between requests, hostile and
huge listings). Python 3 standard library only.

    python3 fault_server.py        # listens on 127.0.0.1:<free port>,
                                   # prints "<port>\\n", serves until killed

Routes (GET and HEAD; N is a size in bytes, K a count):
  /data/N               deterministic bytes (byte i = (i*7) % 251), strong
                        ETag "dN", fixed Last-Modified, Range, If-Match,
                        If-None-Match, If-Unmodified-Since
  /lmonly/N             same bytes, Last-Modified only (no ETag)
  /burst/KEY/K/N        503 for the first K requests of KEY, then /data/N
  /stall/N              Content-Length N, N/2 bytes, then silence (60 s)
  /stallhead            accepts, then sends nothing (60 s)
  /truncated/N          Content-Length N, N/2 bytes, then closes
  /longer/N             206 "bytes 0-(N-1)/(4N)", close-delimited, 2N bytes
  /badrange/N           206 whose Content-Range ignores the requested range
  /cl-mismatch/N        206 whose Content-Length disagrees with Content-Range
  /changing-strong/N    strong ETag changing on every request; honours If-Match
  /changing-weak/N      weak ETag changing on every request; ignores If-Match
  /changing-lm/N        no ETag; Last-Modified changing on every request
  /weak/N               a stable weak ETag W/"wN"
  /badetag/N            a malformed ETag (no quotes), fixed Last-Modified
  /status/CODE          an empty answer with that status
  /auth/N               401 unless "Authorization: Bearer sekrit-token"
  /list/hostile/        an HTML listing full of bad names and foreign links
  /list/apache/         an Apache mod_autoindex fancy listing
  /list/huge-json/K/    an nginx JSON listing of K entries
  /list/huge-html/N/    an HTML listing of about N bytes
  /_log                 JSON list of requests seen: method, path and the
                        Range / If-Match / If-None-Match / Authorization-present
  http://any/ROUTE      (absolute-form request) the server acts as a forward
                        proxy serving ROUTE itself; logged with proxied=true
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Sat, 21 Nov 2026 06:00:00 GMT"
LOCK = threading.Lock()
COUNTERS = {}
LOG = []


_PERIOD = bytes((i * 7) % 251 for i in range(251))


def data(n):
    return (_PERIOD * (n // 251 + 1))[:n]


def bump(key):
    with LOCK:
        COUNTERS[key] = COUNTERS.get(key, 0) + 1
        return COUNTERS[key]


def http_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_GET(self):
        self.handle_any(head=False)

    # -- helpers -----------------------------------------------------------
    def send(self, code, headers, body=b"", head=False):
        self.send_response(code)
        have_len = False
        for k, v in headers:
            self.send_header(k, v)
            have_len |= k.lower() == "content-length"
        if not have_len:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def ranged(self, body, etag, lm, head, weak_ok=False):
        """Serves `body` honouring Range and conditional headers."""
        h = self.headers
        base = []
        if etag:
            base.append(("ETag", etag))
        if lm:
            base.append(("Last-Modified", lm))
        im = h.get("If-Match")
        if im is not None and (etag is None or etag.startswith("W/") or im != etag):
            return self.send(412, base, head=head)
        inm = h.get("If-None-Match")
        if inm is not None and etag and inm.replace("W/", "") == etag.replace("W/", ""):
            return self.send(304, base, head=True)
        ius = h.get("If-Unmodified-Since")
        if ius is not None and lm and ius != lm:
            return self.send(412, base, head=head)
        r = h.get("Range")
        if r and r.startswith("bytes="):
            first, _, last = r[6:].partition("-")
            first = int(first)
            last = int(last) if last else len(body) - 1
            if first >= len(body):
                return self.send(416, base + [("Content-Range", f"bytes */{len(body)}")], head=head)
            last = min(last, len(body) - 1)
            return self.send(206, base + [("Content-Range", f"bytes {first}-{last}/{len(body)}")],
                             body[first:last + 1], head)
        return self.send(200, base, body, head)

    def handle_any(self, head):
        p = self.path
        proxied = p.startswith("http://")
        if proxied:  # acting as a forward proxy: serve the path ourselves
            p = "/" + p[len("http://"):].partition("/")[2]
        with LOCK:
            LOG.append({"method": self.command, "path": p,
                        "range": self.headers.get("Range"),
                        "if_match": self.headers.get("If-Match"),
                        "if_none_match": self.headers.get("If-None-Match"),
                        "auth": self.headers.get("Authorization") is not None,
                        "proxied": proxied})
        parts = [x for x in p.split("?")[0].split("/") if x]
        try:
            route = parts[0] if parts else ""
            fn = getattr(self, "r_" + route.replace("-", "_").lstrip("_"), None)
            if route == "_log":
                with LOCK:
                    body = json.dumps(LOG).encode()
                return self.send(200, [("Content-Type", "application/json")], body, head)
            if fn is None:
                return self.send(404, [], b"not found", head)
            fn(parts[1:], head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- routes ------------------------------------------------------------
    def r_data(self, a, head):
        n = int(a[0])
        self.ranged(data(n), f'"d{n}"', LAST_MODIFIED, head)

    def r_lmonly(self, a, head):
        self.ranged(data(int(a[0])), None, LAST_MODIFIED, head)

    def r_weak(self, a, head):
        n = int(a[0])
        self.ranged(data(n), f'W/"w{n}"', LAST_MODIFIED, head)

    def r_badetag(self, a, head):
        n = int(a[0])
        self.send(200, [("ETag", "no-quotes"), ("Last-Modified", LAST_MODIFIED)], data(n), head)

    def r_burst(self, a, head):
        key, k, n = a[0], int(a[1]), int(a[2])
        if bump("burst/" + key) <= k:
            return self.send(503, [("Retry-After", "0")], b"busy", head)
        self.ranged(data(n), f'"d{n}"', LAST_MODIFIED, head)

    def r_stall(self, a, head):
        n = int(a[0])
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.send_header("ETag", f'"s{n}"')
        self.end_headers()
        if head:
            return
        self.wfile.write(data(n)[: n // 2])
        self.wfile.flush()
        self.sleep_until_gone(60)

    def r_stallhead(self, a, head):
        self.sleep_until_gone(60)
        self.close_connection = True

    def sleep_until_gone(self, seconds):
        self.connection.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    break  # client went away
            except socket.timeout:
                continue
            except OSError:
                break
            time.sleep(0.2)
        self.close_connection = True

    def r_truncated(self, a, head):
        n = int(a[0])
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.send_header("ETag", f'"t{n}"')
        self.end_headers()
        if not head:
            self.wfile.write(data(n)[: n // 2])
        self.close_connection = True

    def r_longer(self, a, head):
        n = int(a[0])
        self.send_response(206)
        self.send_header("Content-Range", f"bytes 0-{n - 1}/{4 * n}")
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data(2 * n))
        self.close_connection = True

    def r_badrange(self, a, head):
        n = int(a[0])
        body = data(n)
        self.send(206, [("Content-Range", f"bytes 0-{n // 2 - 1}/{n}"), ("ETag", f'"d{n}"')],
                  body[: n // 2], head)

    def r_cl_mismatch(self, a, head):
        n = int(a[0])
        body = data(n)
        r = self.headers.get("Range", "bytes=0-")
        first = int(r[6:].partition("-")[0])
        self.send(206, [("Content-Range", f"bytes {first}-{n - 1}/{n}"),
                        ("Content-Length", str(n - first - 1))], body[first:n - 1], head)

    def r_changing_strong(self, a, head):
        n = int(a[0])
        v = bump("cs/" + a[0])
        self.ranged(data(n), f'"v{v}"', LAST_MODIFIED, head)

    def r_changing_weak(self, a, head):
        n = int(a[0])
        v = bump("cw/" + a[0])
        # A weak ETag: If-Match can never succeed, so we ignore it (as a
        # careless server would) and the client must compare the tag itself.
        del self.headers["If-Match"]
        self.ranged(data(n), f'W/"v{v}"', LAST_MODIFIED, head)

    def r_changing_lm(self, a, head):
        n = int(a[0])
        v = bump("cl/" + a[0])
        self.ranged(data(n), None, http_date(1_700_000_000 + v), head)

    def r_status(self, a, head):
        self.send(int(a[0]), [], b"", head)

    def r_auth(self, a, head):
        if self.headers.get("Authorization") != "Bearer sekrit-token":
            return self.send(401, [("WWW-Authenticate", "Bearer")], b"", head)
        self.ranged(data(int(a[0])), '"auth"', LAST_MODIFIED, head)

    def r_list(self, a, head):
        kind = a[0] if a else ""
        if kind == "hostile":
            long = "x" * 300
            links = [
                '<a href="../">../</a>', '<a href="./">self</a>', '<a href="?C=N;O=D">Name</a>',
                '<a href="http://evil.example/x">evil</a>', '<a href="//evil.example/y">evil2</a>',
                '<a href="/elsewhere/file">abs</a>', '<a href="a%2Fb">slash</a>',
                '<a href="nul%00byte">nul</a>', f'<a href="{long}">long</a>', '<a href="%2E%2E/">dotdot</a>',
                '<a href="%2e">dot</a>', '<a href="bad%zzescape">badesc</a>', '<a href="sub/deeper">deep</a>',
                '<a href="#frag">frag</a>', '<a href="ok%20name.txt">ok name.txt</a> 21-Nov-2026 06:28  42',
                '<a href="caf%C3%A9%23%3F%25+.bin">cafe</a> 21-Nov-2026 06:28 1.5K',
                '<a href="good-dir/">good-dir/</a> 21-Nov-2026 06:28 -',
                '<a href="ok%20name.txt">duplicate</a>',
                '<a href="&amp;amp.txt">amp</a> 21-Nov-2026 06:28 7',
            ]
            body = ("<html><body><h1>Index of /list/hostile/</h1><pre>" + "\r\n".join(links) +
                    "</pre></body></html>").encode()
            return self.send(200, [("Content-Type", "text/html")], body, head)
        if kind == "apache":
            body = open(__file__.replace("fault_server.py", "apache_listing.html"), "rb").read()
            return self.send(200, [("Content-Type", "text/html;charset=UTF-8")], body, head)
        if kind == "huge-json":
            k = int(a[1])
            rows = ",\r\n".join('{ "name":"f%07d", "type":"file", "mtime":"%s", "size":%d }'
                                % (i, LAST_MODIFIED, i) for i in range(k))
            return self.send(200, [("Content-Type", "application/json")],
                             ("[\r\n" + rows + "\r\n]").encode(), head)
        if kind == "huge-html":
            n = int(a[1])
            rows, size, i = [], 0, 0
            while size < n:
                row = f'<a href="f{i:08d}">f{i:08d}</a>   21-Nov-2026 06:28   {i}\r\n'
                rows.append(row)
                size += len(row)
                i += 1
            return self.send(200, [("Content-Type", "text/html")],
                             ("<html><pre>" + "".join(rows) + "</pre></html>").encode(), head)
        return self.send(404, [], b"", head)


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that hang up mid-answer are what several tests do on purpose.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
