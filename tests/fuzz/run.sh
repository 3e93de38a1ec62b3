#!/usr/bin/env bash
# Fuzzes every parser target for a bounded time with libFuzzer (clang,
# ASan+UBSan), in its own build directory build-fuzz. New interesting inputs
# go to build-fuzz/fuzz-work/<target> (merge them into tests/fuzz/corpus by
# hand with -merge=1 when worth keeping). Exits non-zero when a target
# crashes; the crashing input is saved as build-fuzz/fuzz-artifacts/<target>-*.
#   FUZZ_SECONDS=20 tests/fuzz/run.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-20}
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then TARGETS=(http_headers nginx_json html_listing); fi

if [[ ! -f build-fuzz/build.ninja ]]; then
  CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C build-fuzz "${TARGETS[@]/#/tests/fuzz/fuzz_}"

mkdir -p build-fuzz/fuzz-artifacts
rc=0
for t in "${TARGETS[@]}"; do
  work=build-fuzz/fuzz-work/$t
  mkdir -p "$work"
  echo "fuzz: $t for ${SECS}s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/fuzz-artifacts/$t-" \
      "$work" "tests/fuzz/corpus/$t" 2>"build-fuzz/fuzz-$t.log"; then
    echo "fuzz: $t FAILED (see build-fuzz/fuzz-$t.log)"
    tail -40 "build-fuzz/fuzz-$t.log"
    rc=1
  else
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added" "build-fuzz/fuzz-$t.log" | tr '\n' ' '
    echo
  fi
done
exit $rc
