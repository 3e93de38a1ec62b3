#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, runs every test.
#
#   1. tools/setup.sh (idempotent Debian package install)
#   2. normal build with warnings as errors: unit, contract, integration
#      (mounted filesystem over real nginx) and fuzz suites
#   3. AddressSanitizer + UBSan build: unit and contract suites
#   4. ThreadSanitizer build: the engine and tier concurrency suites ('tsan')
#
# Safe to run twice: build directories are reused (reconfigured) in place.
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash tools/setup.sh

SUMMARY=$(mktemp)
trap 'rm -f "$SUMMARY"' EXIT
failed_steps=()

configure() {  # configure DIR [meson options...]
  local dir=$1; shift
  if [[ -f $dir/build.ninja ]]; then
    meson configure "$dir" "$@" >/dev/null
    meson setup --reconfigure "$dir" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

# Runs meson test, then records the counts from its JSON log.
run_suites() {  # run_suites DIR LABEL [meson test args...]
  local dir=$1 label=$2; shift 2
  echo "== $label: meson test $*"
  local rc=0
  meson test -C "$dir" --print-errorlogs "$@" || rc=$?
  python3 - "$dir/meson-logs/testlog.json" "$label" >>"$SUMMARY" <<'PY'
import json, sys
ok = bad = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("result") in ("OK", "EXPECTEDFAIL"):
            ok += 1
        else:
            bad += 1
            print(f"FAILED {sys.argv[2]}: {r.get('name')} ({r.get('result')})", file=sys.stderr)
except FileNotFoundError:
    pass
print(ok, bad)
PY
  if ((rc != 0)); then failed_steps+=("$label"); fi
}

export CI_STRICT=${CI:-}

# --- 1. normal build -------------------------------------------------------
configure build -Dwerror=true -Dbuildtype=debugoptimized
ninja -C build
run_suites build "unit+contract" --suite unit --suite contract
run_suites build "integration" --suite integration --num-processes 1
if [[ -x tests/fuzz/run.sh ]]; then
  echo "== fuzz (bounded)"
  if bash tests/fuzz/run.sh; then echo "1 0" >>"$SUMMARY"; else echo "0 1" >>"$SUMMARY"; failed_steps+=(fuzz); fi
fi

# --- 2. ASan + UBSan ----------------------------------------------------------
configure build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debugoptimized
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ninja -C build-asan
run_suites build-asan "asan unit+contract" --suite unit --suite contract
unset ASAN_OPTIONS UBSAN_OPTIONS

# --- 3. ThreadSanitizer: only what the 'tsan' suite needs --------------------
configure build-tsan -Dwerror=true -Db_sanitize=thread -Dbuildtype=debugoptimized
mapfile -t tsan_targets < <(meson introspect build-tsan --tests | python3 -c '
import json, os, sys
root = os.path.abspath("build-tsan")
for t in json.load(sys.stdin):
    if "tsan" in t["suite"] or "engine" in t["suite"]:
        print(os.path.relpath(t["cmd"][0], root))' | sort -u)
ninja -C build-tsan "${tsan_targets[@]}"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
run_suites build-tsan "tsan" --no-rebuild --suite engine --suite tsan
unset TSAN_OPTIONS

# --- summary -----------------------------------------------------------------
read -r passed failed < <(awk '{p+=$1; f+=$2} END {print p+0, f+0}' "$SUMMARY")
if ((${#failed_steps[@]})); then echo "failing steps: ${failed_steps[*]}"; fi
echo "$passed passed, $failed failed"
((failed == 0 && ${#failed_steps[@]} == 0))
