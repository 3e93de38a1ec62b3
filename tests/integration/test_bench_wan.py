#!/usr/bin/env python3
"""The benchmark's WAN mode (tools/bench/peers/wan.py) shapes what it says
and leaves nothing behind:
  - the delaying relay forwards every byte unchanged, costs a new
    connection's first response at least two delays and a kept-alive one at
    least one, and survives a client that hangs up mid-response;
  - Wan.up() builds the namespace and the shaped veth (netem, or TBF plus the
    relay where the kernel lacks netem), nginx inside it answers through the
    link with the right bytes, and down() removes the namespace and veth.
Lower bounds on latency only: the relay cannot answer before its timer, so
these hold on any machine however loaded. Needs root and iproute2 for the
second part (skips without them; fails if CI is set)."""
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "bench", "peers"))
import wan  # noqa: E402

import mountlib  # noqa: E402
from mountlib import check  # noqa: E402

DELAY_MS = 150


def get(conn, path):
    t0 = time.monotonic()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body, time.monotonic() - t0


def start_relay(listen_port, to_port):
    p = subprocess.Popen([sys.executable, wan.__file__, "relay", "127.0.0.1", str(listen_port),
                          "127.0.0.1", str(to_port), str(DELAY_MS)], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", listen_port), 0.2):
                return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise mountlib.Failure("relay did not listen")


def relay_part(work):
    root = os.path.join(work, "root")
    mountlib.write_random(os.path.join(root, "big.bin"), 5 * (1 << 20) + 123, 1)
    with open(os.path.join(root, "big.bin"), "rb") as f:
        want = f.read()
    origin = mountlib.Origin(root)
    rport = mountlib.nginx_fixture.free_port()
    relay = start_relay(rport, origin.port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", rport, timeout=30)
        t0 = time.monotonic()
        conn.connect()
        st, body, dt = get(conn, "/big.bin")
        dt = time.monotonic() - t0
        check(st == 200 and hashlib.sha256(body).digest() == hashlib.sha256(want).digest(),
              "relay: 5 MiB arrive unchanged")
        check(dt >= 2 * DELAY_MS / 1000.0, "relay: a new connection's first response takes >= 2 delays "
              "(%.0f ms)" % (dt * 1000))
        st, body, dt = get(conn, "/big.bin")
        check(st == 200 and body == want and dt >= DELAY_MS / 1000.0,
              "relay: a kept-alive request takes >= 1 delay (%.0f ms), same bytes" % (dt * 1000))
        conn.close()
        # A client that hangs up mid-response must not take the relay down.
        s = socket.create_connection(("127.0.0.1", rport), 5)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        s.close()
        conn = http.client.HTTPConnection("127.0.0.1", rport, timeout=30)
        st, body, _ = get(conn, "/big.bin")
        check(st == 200 and body == want, "relay: still serves after a client hung up mid-response")
        conn.close()
        check(relay.poll() is None, "relay: still running")
    finally:
        relay.terminate()
        relay.wait(10)
        origin.stop()


def namespace_part(work):
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        msg = "SKIP: the namespace part needs root, ip and tc"
        if os.environ.get("CI"):
            raise mountlib.Failure("(CI set) " + msg)
        print(msg, flush=True)
        return
    root = os.path.join(work, "root")
    with open(os.path.join(root, "big.bin"), "rb") as f:
        want = f.read()
    w = wan.Wan(DELAY_MS, 400)
    ngx = None
    try:
        w.up()
        print("shaping: " + w.method, flush=True)
        ngx = mountlib.nginx_fixture.Nginx(root, netns=w.ns, host=w.ip)
        port, _ = ngx.start()
        host, port = w.origin_endpoint(port)
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.connect()
        st, body, _ = get(conn, "/big.bin")
        check(st == 200 and body == want, "wan: nginx in the namespace serves the file through the link")
        st, _, dt = get(conn, "/")
        check(st == 200 and dt >= DELAY_MS / 1000.0,
              "wan: a request costs at least the round trip (%.0f ms)" % (dt * 1000))
        conn.close()
    finally:
        if ngx:
            ngx.stop()
        w.down()
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    check(w.ns not in ns and w.host_if not in links, "wan: down() removed the namespace and the veth")


def main():
    work = mountlib.tempfile.mkdtemp(prefix="dj-wan-")
    try:
        relay_part(work)
        namespace_part(work)
    except mountlib.Failure as e:
        print("FAIL - %s" % e, flush=True)
        sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
