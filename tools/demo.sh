#!/usr/bin/env bash
# The README's main-job command: installs what is needed, builds the daemon,
# starts nginx on 127.0.0.1 (free port) over a small generated tree, mounts
# it with daramjwee-fs and reads every file three times — cold, warm, and
# after a remount — printing where each read was served from (the
# user.daramjwee.tiers xattr before the read) and how many requests reached
# the origin (nginx's access log). Unmounts and stops nginx on exit.
# Safe to run twice: everything lives in a fresh temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
bash tools/setup.sh
BUILD=${BUILD:-build}  # build directory (default: build/, as in the README)
[[ -f "$BUILD/build.ninja" ]] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" src/daemon/daramjwee-fs >/dev/null
BIN="$REPO/$BUILD/src/daemon/daramjwee-fs"

WORK=$(mktemp -d /tmp/daramjwee-demo.XXXXXX)
MNT="$WORK/mnt"
NGINX_PID="" DAEMON_PID=""
cleanup() {
  if mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true; fi
  if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [[ -n "$NGINX_PID" ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A small tree: text files, a nested directory, a name with a space, and an
# 8 MiB file (8 chunks of 1 MiB).
mkdir -p "$WORK/root/docs/nested" "$MNT"
echo "hello from the origin" > "$WORK/root/hello.txt"
seq 1 20000 > "$WORK/root/docs/numbers.txt"
echo "a file with a space in its name" > "$WORK/root/docs/nested/read me.txt"
head -c $((8 << 20)) /dev/urandom > "$WORK/root/big.bin"
FILES=(hello.txt docs/numbers.txt "docs/nested/read me.txt" big.bin)

# nginx through the test fixture (free port, its own temp dir), held by a
# small Python process that stops it on SIGTERM.
python3 - "$REPO/tests/support" "$WORK/root" > "$WORK/nginx.out" 2>&1 <<'PY' &
import signal, sys, time
sys.path.insert(0, sys.argv[1])
import nginx_fixture
n = nginx_fixture.Nginx(sys.argv[2])
port, log = n.start()
print(port, log, n.proc.pid, flush=True)
signal.signal(signal.SIGTERM, lambda *a: (n.stop(), sys.exit(0)))
while True:
    time.sleep(3600)
PY
NGINX_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/nginx.out" ]] && break; sleep 0.1; done
read -r PORT ACCESS_LOG _ < "$WORK/nginx.out"
ORIGIN="http://127.0.0.1:$PORT/"
echo "origin: nginx at $ORIGIN serving $WORK/root"

mount_it() {
  "$BIN" "$ORIGIN" "$MNT" -f -o "cache_dir=$WORK/cache,ttl=300,xattrs=true,log_level=warn" 2>>"$WORK/daemon.log" &
  DAEMON_PID=$!
  for _ in $(seq 200); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
  echo "mount failed:"; cat "$WORK/daemon.log"; exit 1
}
unmount_it() {
  fusermount3 -u "$MNT"
  wait "$DAEMON_PID"; local rc=$?
  DAEMON_PID=""
  echo "unmounted (daemon exit code $rc)"
}
requests() { wc -l < "$ACCESS_LOG"; }
tiers_of() { getfattr --only-values -n user.daramjwee.tiers "$1" 2>/dev/null || echo "?"; }

read_all() {
  local label=$1
  echo
  echo "== $label"
  printf '%-26s %-10s %-9s %s\n' FILE "SERVED BY" "ORIGIN" "NOW CACHED IN"
  for f in "${FILES[@]}"; do
    local before after n0 n1 from
    before=$(tiers_of "$MNT/$f")
    n0=$(requests)
    cat "$MNT/$f" > /dev/null
    n1=$(requests)
    after=$(tiers_of "$MNT/$f")
    case "$before" in
      none) from="origin" ;;
      memory=*) from="RAM" ;;
      *disk=*) from="disk" ;;
      *) from="?" ;;
    esac
    printf '%-26s %-10s %-9s %s\n' "$f" "$from" "$((n1 - n0)) req" "$after"
  done
}

mount_it
echo "mounted on $MNT (cache in $WORK/cache)"
ls -l "$MNT" "$MNT/docs"
read_all "first read: cold, every file comes from the origin"
read_all "second read: hot, served from RAM, no origin request"
unmount_it
if [[ -w /proc/sys/vm/drop_caches ]]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
mount_it
read_all "after a remount: warm, served from the disk tier, no origin request"
echo
if diff <(cd "$WORK/root" && sha256sum "${FILES[@]}") <(cd "$MNT" && sha256sum "${FILES[@]}") >/dev/null; then
  echo "sha256 of every file through the mount equals the origin's"
else
  echo "MISMATCH between the mount and the origin"; exit 1
fi
unmount_it
