#!/usr/bin/env bash
# One prepared GPU session (about 8 minutes at most): configure and build kiln with CUDA,
# run the device tests (Cuda*, *Cuda*, OpRegistry*), a compute-sanitizer memcheck pass
# when the tool and the time allow, then any Cuda/Gpu benchmarks, and print a summary.
# Run from the repository root on the GPU machine. Logs: ${OUT:-/tmp}/gpu_check/.
# Exits non-zero when a test failed (or the build or the test run did not finish).
set -u

# Overridable for a trial run elsewhere (fewer cores, more time, another build dir).
LOG_DIR="${OUT:-/tmp}/gpu_check"
BUILD_DIR="${KILN_CHECK_BUILD_DIR:-build/gpu}"
BUDGET_S="${KILN_CHECK_BUDGET_S:-470}"  # the whole script, in seconds (under 8 minutes)
JOBS="${KILN_CHECK_JOBS:-$(nproc)}"
TEST_FILTER='Cuda*:*Cuda*:OpRegistry*'
mkdir -p "$LOG_DIR"

START=$(date +%s)
left() { echo $((BUDGET_S - ($(date +%s) - START))); }
# phase NAME LIMIT_S CMD...: runs CMD under `timeout`, its output in $LOG_DIR/NAME.log;
# records the status and wall time for the summary.
declare -a SUMMARY=()
phase() {
  local name=$1 limit=$2
  shift 2
  if ((limit < 5)); then
    SUMMARY+=("$(printf '%-14s %-10s %6s' "$name" "no time" "-")")
    return 124
  fi
  local t0 rc
  t0=$(date +%s)
  echo "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" >"$LOG_DIR/$name.log" 2>&1
  rc=$?
  local status="ok"
  ((rc == 124 || rc == 137)) && status="timeout"
  ((rc != 0 && rc != 124 && rc != 137)) && status="rc=$rc"
  SUMMARY+=("$(printf '%-14s %-10s %5ss' "$name" "$status" "$(($(date +%s) - t0))")")
  tail -n 5 "$LOG_DIR/$name.log"
  return $rc
}
# The gtest counts of a log: "passed failed skipped".
gtest_counts() {
  local log=$1 p f s
  p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  f=$(grep -oE '^\[  FAILED  \] [0-9]+ tests?, listed below' "$log" | grep -oE '[0-9]+' | tail -n 1)
  s=$(grep -oE '^\[  SKIPPED \] [0-9]+ tests?, listed below' "$log" | grep -oE '[0-9]+' | tail -n 1)
  echo "${p:-0} ${f:-0} ${s:-0}"
}

echo "== devices"
(nvidia-smi -L || echo "nvidia-smi failed") 2>&1 | tee "$LOG_DIR/devices.log"

FAILED=0
phase configure $(($(left) < 90 ? $(left) : 90)) \
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DKILN_BUILD_MODELS=ON -DKILN_BENCH_TORCH=OFF || FAILED=1

# Tests first, so a slow benchmark build cannot cost the test run.
if ((FAILED == 0)); then
  phase build_tests $(($(left) - 150)) cmake --build "$BUILD_DIR" -j "$JOBS" --target kiln_tests || FAILED=1
fi

TESTS="$BUILD_DIR/tests/kiln_tests"
COUNTS="- - -"
if ((FAILED == 0)) && [[ -x $TESTS ]]; then
  phase tests $(($(left) < 120 ? $(left) : 120)) "$TESTS" --gtest_filter="$TEST_FILTER" || FAILED=1
  COUNTS=$(gtest_counts "$LOG_DIR/tests.log")
fi

# memcheck: a report (exit 99) or a failed test fails the run; running out of time does not.
SAN_COUNTS="- - -"
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if ((FAILED == 0)) && [[ -x $SANITIZER ]] && (($(left) > 150)); then
  phase memcheck $(($(left) - 90)) "$SANITIZER" --tool memcheck --error-exitcode 99 \
    "$TESTS" --gtest_filter="$TEST_FILTER"
  rc=$?
  ((rc != 0 && rc != 124 && rc != 137)) && FAILED=1
  SAN_COUNTS=$(gtest_counts "$LOG_DIR/memcheck.log")
else
  SUMMARY+=("$(printf '%-14s %-10s %6s' memcheck skipped -)")
fi

# Benchmarks: built and run only when there is time left after the tests.
if (($(left) > 60)) && phase build_bench $(($(left) - 40)) cmake --build "$BUILD_DIR" -j "$JOBS" --target kiln_bench; then
  BENCH="$BUILD_DIR/bench/kiln_bench"
  if [[ -x $BENCH ]] && "$BENCH" --benchmark_list_tests=true --benchmark_filter='Cuda|Gpu' 2>/dev/null | grep -q .; then
    phase bench $(($(left) - 5)) "$BENCH" --benchmark_filter='Cuda|Gpu' --benchmark_min_time=0.05 || true
  else
    SUMMARY+=("$(printf '%-14s %-10s %6s' bench "none" -)")
  fi
fi

echo
echo "== summary (logs in $LOG_DIR)"
printf '%-14s %-10s %6s\n' phase status wall
for line in "${SUMMARY[@]}"; do echo "$line"; done
read -r P F S <<<"$COUNTS"
printf 'tests:    passed %s  failed %s  skipped %s\n' "$P" "$F" "$S"
read -r P2 F2 S2 <<<"$SAN_COUNTS"
printf 'memcheck: passed %s  failed %s  skipped %s\n' "$P2" "$F2" "$S2"
printf 'total wall: %ss\n' "$(($(date +%s) - START))"
if [[ $F != "-" && $F != 0 ]] || [[ $F2 != "-" && $F2 != 0 ]]; then FAILED=1; fi
exit $FAILED
