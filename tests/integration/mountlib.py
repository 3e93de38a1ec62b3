"""Shared helpers for the mounted tests: a real nginx (tests/support/
nginx_fixture.py), a real daramjwee-fs mount in a temp dir, request counts
from nginx's access log, and tree generators. Standard library only.

Every test script: `python3 test_x.py DAEMON_BINARY`. Each starts its own
nginx and mount and always unmounts (fusermount3 -u, then -uz) and kills what
it started, by PID, in finally blocks."""
import hashlib  # noqa: F401 (tests use mountlib.hashlib)
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import nginx_fixture  # noqa: E402


def require_fuse():
    """Skips loudly (exit 77, meson's skip code) without /dev/fuse, or fails
    when CI is set."""
    if os.path.exists("/dev/fuse") and shutil.which("fusermount3"):
        return
    msg = "SKIP: /dev/fuse or fusermount3 missing: mounted tests cannot run here"
    if os.environ.get("CI"):
        print("FAIL (CI set): " + msg, flush=True)
        sys.exit(1)
    print(msg, flush=True)
    sys.exit(77)


def daemon_binary():
    if len(sys.argv) < 2:
        sys.exit("usage: %s DAEMON_BINARY" % sys.argv[0])
    return os.path.abspath(sys.argv[1])


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok - " + what, flush=True)


class Origin:
    """nginx serving `root`; restartable on the same port."""

    def __init__(self, root):
        self.root = root
        self.nginx = nginx_fixture.Nginx(root)
        self.port, self.access_log = self.nginx.start()
        self.url = "http://127.0.0.1:%d/" % self.port

    def pid(self):
        return self.nginx.proc.pid if self.nginx.proc else None

    def lines(self):
        try:
            with open(self.access_log, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def mark(self):
        return len(self.lines())

    def requests_since(self, mark, path=None, data_only=False):
        out = []
        for line in self.lines()[mark:]:
            try:
                parts = line.split('"')
                method, target = parts[1].split(" ")[:2]
                status, nbytes = parts[2].split()[:2]
            except (IndexError, ValueError):
                continue
            target = urllib.parse.unquote(target)
            if path is not None and target != "/" + path:
                continue
            if data_only and (method != "GET" or target.endswith("/")):
                continue
            out.append((method, target, int(status), int(nbytes) if nbytes.isdigit() else 0))
        return out

    def stop(self):
        self.nginx.stop()

    def restart_same_port(self):
        """Starts a fresh nginx on the same port (the fixture picks ports
        with free_port(); pin it for this one start)."""
        port = self.port
        saved = nginx_fixture.free_port
        nginx_fixture.free_port = lambda: port
        try:
            self.nginx = nginx_fixture.Nginx(self.root)
            _, self.access_log = self.nginx.start()
        finally:
            nginx_fixture.free_port = saved


class Mount:
    """daramjwee-fs -f on a fresh empty directory."""

    def __init__(self, binary, origin_url, workdir, cache_dir=None, opts=(), timeout=20):
        self.binary = binary
        self.mnt = os.path.join(workdir, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.cache_dir = cache_dir or os.path.join(workdir, "cache")
        self.log_path = os.path.join(workdir, "daemon.log")
        o = ["cache_dir=" + self.cache_dir] + list(opts)
        self.argv = [binary, origin_url, self.mnt, "-f", "-o", ",".join(o)]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                raise Failure("daemon exited rc=%s before mounting: %s" % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise Failure("mount did not appear within %ss" % timeout)
            time.sleep(0.05)

    def path(self, rel=""):
        return os.path.join(self.mnt, rel)

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except FileNotFoundError:
            return ""

    def unmount(self, timeout=30):
        """Unmounts and returns the daemon's exit code."""
        if self.proc is None:
            return 0
        subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("daemon did not exit within %ss of fusermount3 -u" % timeout)
        self.proc = None
        self.log.close()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)

    def close(self):
        try:
            if self.proc is not None:
                self.unmount()
        except Failure:
            pass
        finally:
            self.kill()


def run(main):
    """Runs main(binary, workdir) with cleanup of the temp dir; exit 1 on failure."""
    require_fuse()
    binary = daemon_binary()
    work = tempfile.mkdtemp(prefix="dj-it-")
    try:
        main(binary, work)
    except Failure as e:
        print("FAIL - %s" % e, flush=True)
        sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS", flush=True)


def drop_page_cache():
    """Makes the next read reach the daemon (root only; tests run as root)."""
    subprocess.run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def sha256(path, bufsize=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bufsize)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def write_random(path, size, seed):
    """Deterministic pseudo-random content, fast (sha256 counter stream)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    with open(path, "wb") as f:
        left, i = size, 0
        while left > 0:
            piece = block[: min(len(block), left)]
            # vary each block so chunks are not identical
            f.write(bytes([i & 0xFF]) + piece[1:])
            left -= len(piece)
            i += 1
