#!/bin/bash
# One command: daramjwee-fs against the physical limits (native reads, curl)
# and its peers (rclone mount, httpdirfs), on a generated dataset served by
# nginx on 127.0.0.1. Writes tools/bench/results/{results.json,results.md,chart.png}.
#
#   sudo tools/bench/run_peers.sh [--quick] [--only ours,rclone,httpdirfs] [--out DIR]
#   sudo tools/bench/run_peers.sh --wan 20,200   # origin behind 20 ms RTT, 200 Mbit/s
#
# DAEMON=path overrides the daramjwee-fs binary (default: the committed HEAD,
# built once in /var/tmp/dj-peers-src-REV). Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The bench's own tools (not in tools/setup.sh: the test suite does not need them).
pkgs=()
for pair in rclone:rclone httpdirfs:httpdirfs fio:fio gnuplot:gnuplot-nox curl:curl \
            nginx:nginx-light fusermount3:fuse3; do
  bin=${pair%%:*}; pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || pkgs+=("$pkg")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "run_peers: installing ${pkgs[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
  fi
fi

# daramjwee-fs: by default the committed HEAD, exported and built on its own
# (other work in progress in the tree cannot tear the build), with the
# project's default build type. DAEMON=path uses that binary instead.
if [ -z "${DAEMON:-}" ]; then
  rev=$(git rev-parse --short HEAD)
  src=/var/tmp/dj-peers-src-$rev
  if [ ! -x "$src/build/src/daemon/daramjwee-fs" ]; then
    rm -rf "$src"; mkdir -p "$src"
    git archive HEAD | tar -x -C "$src"
    meson setup "$src/build" "$src" -Dtests=false -Dtest_hooks=false
    nice ninja -C "$src/build" src/daemon/daramjwee-fs
  fi
  DAEMON=$src/build/src/daemon/daramjwee-fs
  export DJ_DAEMON_REV=${DJ_DAEMON_REV:-$rev}
fi
exec python3 tools/bench/peers/bench.py --daemon "$DAEMON" "$@"
