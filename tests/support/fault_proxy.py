"""A fault-injecting reverse proxy in front of a real origin (nginx), for the
fault suite: what nginx serves, except where a rule says otherwise. Python
3 standard library only; runs in the test's own process, on 127.0.0.1.

    proxy = FaultProxy(upstream_port)     # starts serving at once
    proxy.url                             # "http://127.0.0.1:<port>/"
    proxy.fail_ranges("big.bin", lo, hi)  # 503 for any GET touching [lo, hi)
    proxy.flap(0.2, seed=1)               # faults on a fifth of the requests
    proxy.down()                          # refuse everything (connection reset)
    proxy.clear()                         # pass everything through again
    proxy.stop()

Flapping picks, per request, one of: a reset before the head, a 503, a
stall before the head, a body cut in the middle (the connection closes),
or a body that stalls in the middle. Stalls last `stall_seconds`, so a test
can show how long a reader waits for them."""
import http.client
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORWARD = ("Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
           "Accept", "User-Agent")
FAULTS = ("reset", "503", "stall_head", "cut_body", "stall_body")


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.ranges = []          # (path, lo, hi)
        self.flap_p = 0.0
        self.rng = random.Random(0)
        self.is_down = False
        self.stall_seconds = 30.0
        self.faults = {k: 0 for k in FAULTS}
        self.requests = 0


def _overlaps(range_header, lo, hi, size_hint):
    if not range_header:
        return True  # the whole body
    try:
        spec = range_header.split("=", 1)[1]
        a, b = spec.split("-", 1)
        a = int(a)
        b = int(b) if b else (size_hint or 1 << 62) - 1
    except (IndexError, ValueError):
        return True
    return a < hi and b >= lo


class FaultProxy:
    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.state = _State()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._handle(self, head=False)

            def do_HEAD(self):
                proxy._handle(self, head=True)

            def handle_error(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # resets and cut bodies are the point

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- rules ---------------------------------------------------------------
    def fail_ranges(self, path, lo, hi):
        with self.state.lock:
            self.state.ranges.append(("/" + path.lstrip("/"), lo, hi))

    def flap(self, p, seed=1, stall_seconds=30.0):
        with self.state.lock:
            self.state.flap_p = p
            self.state.rng = random.Random(seed)
            self.state.stall_seconds = stall_seconds

    def down(self):
        with self.state.lock:
            self.state.is_down = True

    def clear(self):
        with self.state.lock:
            self.state.ranges = []
            self.state.flap_p = 0.0
            self.state.is_down = False

    def faults(self):
        with self.state.lock:
            return dict(self.state.faults)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- serving -------------------------------------------------------------
    def _pick(self, handler, head):
        st = self.state
        with st.lock:
            st.requests += 1
            if st.is_down:
                return "reset"
            path = handler.path.split("?", 1)[0]
            if not head:
                for (p, lo, hi) in st.ranges:
                    if path == p and _overlaps(handler.headers.get("Range"), lo, hi, None):
                        return "503"
            if st.flap_p > 0 and st.rng.random() < st.flap_p:
                return st.rng.choice(FAULTS)
        return None

    def _count(self, fault):
        with self.state.lock:
            self.state.faults[fault] += 1

    def _handle(self, h, head):
        fault = self._pick(h, head)
        if fault == "reset":
            self._count(fault)
            try:
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            h.close_connection = True
            h.connection.close()
            return
        if fault == "503":
            self._count(fault)
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.send_header("Retry-After", "0")
            h.end_headers()
            return
        if fault == "stall_head":
            self._count(fault)
            self._sleep(h)
            h.close_connection = True
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=30)
        try:
            headers = {k: h.headers[k] for k in FORWARD if h.headers.get(k)}
            conn.request("HEAD" if head else "GET", h.path, headers=headers)
            resp = conn.getresponse()
            body = b"" if head else resp.read()
            h.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() in ("connection", "keep-alive", "transfer-encoding", "server", "date"):
                    continue
                h.send_header(k, v)
            if head:
                h.end_headers()
                return
            if resp.getheader("Content-Length") is None:
                h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if fault in ("cut_body", "stall_body") and len(body) > 1:
                self._count(fault)
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                if fault == "stall_body":
                    self._sleep(h)
                h.close_connection = True
                return
            h.wfile.write(body)
        except (OSError, http.client.HTTPException):
            h.close_connection = True
        finally:
            conn.close()

    def _sleep(self, h):
        deadline = time.monotonic() + self.state.stall_seconds
        h.connection.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if h.connection.recv(1, socket.MSG_PEEK) == b"":
                    return  # the client gave up
            except socket.timeout:
                continue
            except OSError:
                return
            time.sleep(0.2)
