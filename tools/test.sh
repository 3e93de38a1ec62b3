#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, runs every test.
#
#   1. tools/setup.sh (idempotent Debian package install)
#   2. normal build with warnings as errors: unit, contract, integration
#      (mounted filesystem over real nginx), fault (a changing, failing or
#      absent origin; bounded form) and fuzz suites
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

# Builds only the executables of the tests matching a filter (sanitizer trees
# need the test binaries, not the daemon, benchmarks or fuzzers).
build_tests() {  # build_tests DIR PYTHON-EXPR-ON-t
  local dir=$1 expr=$2
  local targets
  mapfile -t targets < <(meson introspect "$dir" --tests | python3 -c '
import json, os, sys
root = os.path.abspath(sys.argv[1])
for t in json.load(sys.stdin):
    suites = [s.split(":")[-1] for s in t["suite"]]
    exe = os.path.abspath(t["cmd"][0])
    if eval(sys.argv[2]) and exe.startswith(root + os.sep):  # skip interpreters
        print(os.path.relpath(exe, root))' "$dir" "$expr" | sort -u)
  ninja -C "$dir" "${targets[@]}"
}

# --- 1. normal build -------------------------------------------------------
configure build -Dwerror=true -Dbuildtype=debugoptimized
ninja -C build
run_suites build "unit+contract+fuzz replay" --suite unit --suite contract --suite fuzz
run_suites build "integration" --suite integration --num-processes 1
run_suites build "fault (bounded; FAULT_FULL=1 for the full sizes)" --suite fault --num-processes 1
if [[ -x tests/fuzz/run.sh ]]; then
  echo "== fuzz (bounded)"
  if bash tests/fuzz/run.sh; then echo "1 0" >>"$SUMMARY"; else echo "0 1" >>"$SUMMARY"; failed_steps+=(fuzz); fi
fi

# --- 2. ASan + UBSan ----------------------------------------------------------
configure build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debugoptimized
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build_tests build-asan '"unit" in suites or "contract" in suites'
run_suites build-asan "asan unit+contract" --no-rebuild --suite unit --suite contract
unset ASAN_OPTIONS UBSAN_OPTIONS

# --- 3. ThreadSanitizer: the engine and the tiers' concurrency tests ---------
# Only these binaries are built in this tree, to keep CI inside its budget.
TSAN_TESTS=(engine memory_store memory_contract null_contract disk_store disk_contract disk_index_rebuild)
configure build-tsan -Dwerror=true -Db_sanitize=thread -Dbuildtype=debugoptimized
build_tests build-tsan "t[\"name\"] in {$(printf '"%s",' "${TSAN_TESTS[@]}")}"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/tests/tsan.supp"
run_suites build-tsan "tsan" --no-rebuild "${TSAN_TESTS[@]}"
unset TSAN_OPTIONS

# --- summary -----------------------------------------------------------------
read -r passed failed < <(awk '{p+=$1; f+=$2} END {print p+0, f+0}' "$SUMMARY")
if ((${#failed_steps[@]})); then echo "failing steps: ${failed_steps[*]}"; fi
echo "$passed passed, $failed failed"
((failed == 0 && ${#failed_steps[@]} == 0))
