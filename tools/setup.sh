#!/usr/bin/env bash
# Installs the Debian 12 packages daramjwee-fs needs to build, test and run.
# Idempotent: packages already present are left alone, so running it twice is
# cheap. Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential meson ninja-build pkg-config git
  # libraries (dependency() in meson.build)
  libfuse3-dev fuse3 librocksdb-dev liblz4-dev libspdlog-dev libfmt-dev
  catch2 libcurl4-openssl-dev libxxhash-dev libtomlplusplus-dev
  libsystemd-dev nlohmann-json3-dev libcpp-httplib-dev
  # sanitizer/fuzz toolchain
  clang libclang-rt-14-dev
  # test peers and programs the mounted tests drive
  nginx-light curl openssl python3 sqlite3 fio attr psmisc procps
  # ops tests: systemd-analyze (systemd), runuser (util-linux), mount(8) (mount)
  systemd util-linux mount
  # the benchmark's WAN mode and its test: ip netns, veth, tc
  iproute2
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's package starts a system nginx on port 80; the tests run their
# own instances on free loopback ports and never need it.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi
echo "setup: done"
