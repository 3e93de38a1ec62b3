#!/usr/bin/env python3
"""The daemon and systemd: the units pass systemd-analyze verify; with
NOTIFY_SOCKET pointing at a socket this test owns, READY=1 (with a STATUS=
line naming the origin and the hit ratio) arrives only once the mount
answers, and STOPPING=1 on SIGTERM, after which the daemon unmounts and
exits 0; SIGHUP reopens the log file and reloads log_level, and the mount
keeps serving.

usage: ops_systemd.py DAEMON_BINARY CTL_BINARY SOURCE_ROOT"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import mountlib
from mountlib import check

SRC = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else os.path.join(mountlib.HERE, "..", "..")


def verify_units(binary, work):
    if not shutil.which("systemd-analyze"):
        check(not os.environ.get("CI"), "systemd-analyze present (CI set)")
        print("SKIP: systemd-analyze missing: units not verified", flush=True)
        return
    d = os.path.join(work, "units")
    os.makedirs(d)
    with open(os.path.join(SRC, "systemd", "daramjwee-fs@.service.in")) as f:
        unit = f.read().replace("@BINDIR@", os.path.dirname(binary))
    check(re.search(r"@[A-Z_]+@", unit) is None, "the unit template has no unexpanded @VAR@")
    with open(os.path.join(d, "daramjwee-fs@test.service"), "w") as f:
        f.write(unit)
    shutil.copy(os.path.join(SRC, "systemd", "mnt-mirror.mount"), d)
    for name in ("daramjwee-fs@test.service", "mnt-mirror.mount"):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", name], cwd=d, capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "",
              "systemd-analyze verify %s: clean (rc %d, %r)" % (name, r.returncode, (r.stdout + r.stderr)[-400:]))
    # The check can fail: a broken unit does produce complaints.
    with open(os.path.join(d, "broken.service"), "w") as f:
        f.write("[Service]\nType=notifyy\nExecStart=/bin/true\n")
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "broken.service"], cwd=d, capture_output=True, text=True)
    check("notifyy" in r.stdout + r.stderr, "systemd-analyze verify reports a broken unit")
    for key in ("Type=notify", "Restart=on-failure", "CacheDirectory=", "RuntimeDirectory=", "DeviceAllow=/dev/fuse"):
        check(key in unit, "the unit has %s" % key)


def recv_until(sock, want, timeout):
    deadline = time.monotonic() + timeout
    got = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if any(line == want for line in msg.split("\n")):
            return got
    raise mountlib.Failure("no %s within %ss (got %r)" % (want, timeout, got))


def main(binary, work):
    verify_units(binary, work)

    root = os.path.join(work, "root")
    mountlib.write_random(os.path.join(root, "f.bin"), 100000, 3)
    origin = mountlib.Origin(root)
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    notify_path = os.path.join(work, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify_path)
    conf = os.path.join(work, "fs.toml")
    with open(conf, "w") as f:
        f.write('log_level = "info"\n')
    log_path = os.path.join(work, "daemon.log")
    log = open(log_path, "ab")
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    argv = [binary, origin.url, mnt, "-f", "-o",
            "config=%s,cache_dir=%s,control=%s" % (conf, os.path.join(work, "cache"), os.path.join(work, "ctl.sock"))]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    try:
        msgs = recv_until(ns, "READY=1", 30)
        # The moment READY=1 arrives the mount must already answer.
        check(os.path.ismount(mnt), "READY=1 arrives when the mount point is mounted")
        check(os.listdir(mnt) == ["f.bin"], "and answers (readdir) right away")
        ready = [m for m in msgs if "READY=1" in m][0]
        status = [l for l in ready.split("\n") if l.startswith("STATUS=")]
        check(status and "origin=" + origin.url in status[0] and "hit_ratio=" in status[0],
              "READY=1 comes with a STATUS= line: %r" % (status[0] if status else ready))
        check(not any("READY=1" in m for m in msgs[:-1]) and len([m for m in msgs if "READY=1" in m]) == 1,
              "READY=1 is sent once")

        # SIGHUP: reopen the log (after rotation) and reload log_level.
        with open(os.path.join(mnt, "f.bin"), "rb") as f:
            f.read()
        os.rename(log_path, log_path + ".1")
        with open(conf, "w") as f:
            f.write('log_level = "debug"\n')
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(log_path):
            time.sleep(0.05)
        check(os.path.exists(log_path), "SIGHUP reopens the log file at its path (after rotation)")
        time.sleep(0.3)
        with open(log_path, errors="replace") as f:
            text = f.read()
        check("SIGHUP: logs reopened log_level=debug" in text, "SIGHUP reloads log_level from the configuration")
        check(proc.poll() is None and os.path.ismount(mnt), "the daemon keeps serving after SIGHUP")
        with open(os.path.join(mnt, "f.bin"), "rb") as f:
            check(len(f.read()) == 100000, "reads work after SIGHUP")

        # SIGTERM: STOPPING=1, unmount, exit 0.
        proc.send_signal(signal.SIGTERM)
        recv_until(ns, "STOPPING=1", 20)
        check(True, "STOPPING=1 arrives on SIGTERM")
        rc = proc.wait(60)
        check(rc == 0, "the daemon exits 0 after SIGTERM")
        check(not os.path.ismount(mnt), "and the mount is gone")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], stderr=subprocess.DEVNULL)
        ns.close()
        log.close()
        origin.stop()


if __name__ == "__main__":
    mountlib.run(main)
