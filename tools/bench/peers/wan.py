#!/usr/bin/env python3
"""The benchmark's WAN mode: the origin behind a slow, distant link.

Wan(rtt_ms, rate_mbit).up() makes a network namespace with a veth pair to
this machine's root namespace (addresses 10.213.<k>.1 and .2/30; only this
machine can reach them) and shapes the namespace's egress, i.e. every byte
the origin sends:

  - netem, when the kernel has it: `netem delay RTT rate RATE`. Every packet
    the origin sends, the SYN-ACK included, waits RTT, so a request costs one
    round trip and a new connection one more, as over a real WAN.
  - otherwise (sch_netem is not built into every kernel; this project's
    development VM lacks it): TBF for the rate, and the delay from
    `wan.py relay`, a TCP relay in the namespace that holds every byte the
    origin sends for RTT and holds a new connection's first request for RTT
    (the round trip its handshake would have cost). `method` in the results
    says which one ran.

down() removes the namespace and the veth (by name; only what up() made).
Run as a script, `wan.py relay LISTEN_HOST LISTEN_PORT TO_HOST TO_PORT
DELAY_MS` is that relay (standard library only)."""
import asyncio
import os
import socket
import subprocess
import sys
import time


def sh(*argv, check=True):
    p = subprocess.run(list(argv), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), (p.stderr or p.stdout).strip()))
    return p


class Wan:
    def __init__(self, rtt_ms, rate_mbit):
        if rtt_ms < 0 or rate_mbit <= 0:
            raise ValueError("--wan RTT_MS,RATE_MBIT: RTT >= 0 and RATE > 0")
        self.rtt_ms = rtt_ms
        self.rate_mbit = rate_mbit
        k = os.getpid() % 250 + 1
        self.ns = "dj-wan-%d" % os.getpid()
        self.host_if = "djw%dh" % os.getpid()
        self.ns_if = "djw%dn" % os.getpid()
        self.host_ip = "10.213.%d.1" % k
        self.ip = "10.213.%d.2" % k  # the origin's address, seen from the root namespace
        self.method = None
        self.relay = None
        self.made = False

    def up(self):
        sh("ip", "netns", "add", self.ns)
        self.made = True
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        sh("ip", "link", "set", self.ns_if, "netns", self.ns)
        sh("ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        nsx = ("ip", "netns", "exec", self.ns)
        sh(*nsx, "ip", "addr", "add", self.ip + "/30", "dev", self.ns_if)
        sh(*nsx, "ip", "link", "set", self.ns_if, "up")
        sh(*nsx, "ip", "link", "set", "lo", "up")
        rate = "%gmbit" % self.rate_mbit
        # limit: packets queued in netem, at least one bandwidth-delay product.
        bdp_pkts = int(self.rate_mbit * 1e6 / 8 * max(self.rtt_ms, 1) / 1000 / 1500) * 4 + 1000
        p = sh(*nsx, "tc", "qdisc", "add", "dev", self.ns_if, "root", "netem",
               "delay", "%gms" % self.rtt_ms, "rate", rate, "limit", str(bdp_pkts), check=False)
        if p.returncode == 0:
            self.method = "netem delay %gms rate %s" % (self.rtt_ms, rate)
        else:
            # burst: >= one 64 KiB GSO packet, or TBF drops it.
            sh(*nsx, "tc", "qdisc", "add", "dev", self.ns_if, "root", "tbf", "rate", rate,
               "burst", "256kb", "latency", "100ms")
            self.method = ("tbf rate %s, and a user-space relay that delays every byte the "
                           "origin sends by %gms: this kernel has no sch_netem" % (rate, self.rtt_ms))
        return self

    def origin_endpoint(self, port):
        """(host, port) that clients use for an origin listening on
        self.ip:port inside the namespace. Starts the relay when netem is
        missing."""
        if self.method.startswith("netem"):
            return self.ip, port
        with socket.socket() as s:  # any port is free in a fresh namespace; keep it distinct
            s.bind(("127.0.0.1", 0))
            rport = s.getsockname()[1]
        self.relay = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, os.path.abspath(__file__), "relay",
             self.ip, str(rport), self.ip, str(port), str(self.rtt_ms)],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.relay.poll() is not None:
                raise RuntimeError("wan relay exited rc=%d" % self.relay.returncode)
            try:
                with socket.create_connection((self.ip, rport), 0.5):
                    return self.ip, rport
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("wan relay did not listen within 10s")

    def down(self):
        if self.relay is not None and self.relay.poll() is None:
            self.relay.terminate()
            try:
                self.relay.wait(5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
        self.relay = None
        if self.made:
            sh("ip", "link", "del", self.host_if, check=False)  # removes its peer too
            sh("ip", "netns", "del", self.ns, check=False)
            self.made = False

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()


# ---------------------------------------------------------------- the relay

QUEUE_CHUNKS = 64      # x READ_BYTES: what one connection may hold in flight
READ_BYTES = 256 * 1024


async def pipe_delayed(reader, writer, delay):
    """Copies reader to writer, each byte leaving `delay` seconds after it
    arrived; a bounded queue keeps a slow client from growing the relay."""
    loop = asyncio.get_running_loop()
    q = asyncio.Queue(QUEUE_CHUNKS)

    async def fill():
        while True:
            data = await reader.read(READ_BYTES)
            await q.put((loop.time() + delay, data))
            if not data:
                return

    filler = asyncio.ensure_future(fill())
    try:
        while True:
            due, data = await q.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        filler.cancel()
        writer.close()


async def pipe(reader, writer):
    """Copies the client's requests upstream. At the client's EOF it passes
    the EOF on, so that nginx ends a keep-alive connection now instead of at
    its keepalive_timeout."""
    while True:
        data = await reader.read(READ_BYTES)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def relay(listen_host, listen_port, to_host, to_port, delay_ms):
    delay = delay_ms / 1000.0

    async def handle(cr, cw):
        try:
            await asyncio.sleep(delay)  # the round trip a real handshake would cost
            ur, uw = await asyncio.open_connection(to_host, to_port)
        except OSError:
            cw.close()
            return
        up = asyncio.ensure_future(pipe(cr, uw))
        down = asyncio.ensure_future(pipe_delayed(ur, cw, delay))
        try:
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
            if up.done() and not down.done():
                await down  # the client half-closed: finish the response
        except (ConnectionError, OSError):
            pass
        finally:
            for t in (up, down):
                t.cancel()
            cw.close()
            uw.close()

    server = await asyncio.start_server(handle, listen_host, listen_port, backlog=256)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 7 or sys.argv[1] != "relay":
        sys.exit("usage: wan.py relay LISTEN_HOST LISTEN_PORT TO_HOST TO_PORT DELAY_MS")
    try:
        asyncio.run(relay(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]),
                          float(sys.argv[6])))
    except KeyboardInterrupt:
        pass
