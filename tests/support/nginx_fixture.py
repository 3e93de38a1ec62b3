#!/usr/bin/env python3
"""A real nginx on a free 127.0.0.1 port, for integration tests and benchmarks.

Usage (from a test script; Python 3 standard library only):

    import sys; sys.path.insert(0, "<repo>/tests/support")
    import nginx_fixture
    port, access_log = nginx_fixture.start("/path/to/root")
    # http://127.0.0.1:<port>/        autoindex_format json (exact sizes, mtimes)
    # http://127.0.0.1:<port>/html/   the same tree, autoindex_format html (exact sizes)
    # http://127.0.0.1:<port>/rough/  html with autoindex_exact_size off ("1K", "2M")
    # every location has etag on, keep-alive, byte ranges.
    ...
    nginx_fixture.stop()            # kills nginx by PID, removes its temp dir

Or as a context manager:  with nginx_fixture.Nginx(root) as n: n.port, n.access_log

From a shell:  python3 nginx_fixture.py ROOT   prints "PORT ACCESS_LOG PID" and
keeps nginx running until killed (SIGTERM/SIGINT stop it cleanly).

NGINX env var overrides the binary (default /usr/sbin/nginx).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp, root, port, host="127.0.0.1"):
    root = os.path.abspath(root).rstrip("/")
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(f"  {d}_temp_path {tmp}/{d};\n"
                    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {tmp}/access.log;
{temps}  types {{ text/plain txt; text/html html; application/json json; }}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  etag on;
  server {{
    listen {host}:{port};
    server_name localhost;
    root {root};
    location / {{ autoindex on; autoindex_format json; }}
    location /html/ {{ alias {root}/; autoindex on; autoindex_format html; }}
    location /rough/ {{ alias {root}/; autoindex on; autoindex_format html;
                       autoindex_exact_size off; }}
  }}
}}
"""


class Nginx:
    """One nginx instance serving `root`. start() picks a free port (retrying
    if another process grabs it first) and waits until nginx answers.

    netns/host (the benchmark's WAN mode only): run nginx inside that network
    namespace (`ip netns exec`), listening on `host`, an address of a veth
    that only this machine's root namespace can reach."""

    def __init__(self, root, netns=None, host="127.0.0.1"):
        self.root = root
        self.netns = netns
        self.host = host
        self.port = None
        self.proc = None
        self.tmp = None
        self.access_log = None

    def start(self, timeout=10.0):
        for _ in range(5):
            self.tmp = tempfile.mkdtemp(prefix="dj-nginx-")
            self.port = free_port()
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(config(self.tmp, self.root, self.port, self.host))
            self.access_log = os.path.join(self.tmp, "access.log")
            prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
            self.proc = subprocess.Popen(
                prefix + [NGINX, "-p", self.tmp, "-c", conf, "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(self.tmp, "stderr.log"), "w"))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection((self.host, self.port), 0.2):
                        return self.port, self.access_log
                except OSError:
                    time.sleep(0.02)
            err = self._log_tail()
            self.stop()
            if "Address already in use" not in err:
                raise RuntimeError("nginx did not start: " + err)
        raise RuntimeError("nginx: no free port after 5 tries")

    def _log_tail(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            p = os.path.join(self.tmp or "", name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read()[-2000:]
        return out

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGQUIT)  # graceful; by PID
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


_default = None


def start(root):
    """Starts the module's nginx on `root`; returns (port, access_log_path)."""
    global _default
    stop()
    _default = Nginx(root)
    return _default.start()


def stop():
    """Stops the nginx started by start(), if any."""
    global _default
    if _default is not None:
        _default.stop()
        _default = None


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: nginx_fixture.py ROOT")
    n = Nginx(sys.argv[1])
    port, log = n.start()
    print(port, log, n.proc.pid, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: (n.stop(), sys.exit(0)))
    try:
        n.proc.wait()
    except KeyboardInterrupt:
        pass
    n.stop()
