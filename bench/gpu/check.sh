#!/usr/bin/env bash
# One prepared GPU session (about 8 minutes at most): configure and build kiln with CUDA,
# run the device tests (Cuda*, *Cuda*, OpRegistry*), a compute-sanitizer memcheck pass
# when the tool and the time allow (leaving BENCH_RESERVE_S for the benchmarks), then the
# Gpu/* benchmarks (bench/gpu_bench.cu), and print a summary and a table of their rates.
# Run from the repository root on the GPU machine. Logs: ${OUT:-/tmp}/gpu_check/.
# Exits non-zero when a test failed (or the build or the test run did not finish).
set -u

# Overridable for a trial run elsewhere (fewer cores, more time, another build dir).
LOG_DIR="${OUT:-/tmp}/gpu_check"
BUILD_DIR="${KILN_CHECK_BUILD_DIR:-build/gpu}"
BUDGET_S="${KILN_CHECK_BUDGET_S:-470}"  # the whole script, in seconds (under 8 minutes)
JOBS="${KILN_CHECK_JOBS:-$(nproc)}"
TEST_FILTER='Cuda*:*Cuda*:OpRegistry*'
# The GPU benchmarks; the Train/* steps have no device option, so they stay out.
BENCH_FILTER='Gpu'
BENCH_RESERVE_S="${KILN_CHECK_BENCH_RESERVE_S:-75}"  # kept from memcheck for the benchmark run
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

# The benchmarks are built right after the tests (most of their objects are already
# built), so that memcheck can use the time that is left without starving them. A
# failure here costs only the benchmarks.
BENCH_BUILT=0
if ((FAILED == 0)); then
  bench_limit=$(($(left) - 150))
  ((bench_limit > 120)) && bench_limit=120
  phase build_bench $bench_limit cmake --build "$BUILD_DIR" -j "$JOBS" --target kiln_bench && BENCH_BUILT=1
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
if ((FAILED == 0)) && [[ -x $SANITIZER ]] && (($(left) > BENCH_RESERVE_S + 60)); then
  phase memcheck $(($(left) - BENCH_RESERVE_S)) "$SANITIZER" --tool memcheck --error-exitcode 99 \
    "$TESTS" --gtest_filter="$TEST_FILTER"
  rc=$?
  ((rc != 0 && rc != 124 && rc != 137)) && FAILED=1
  SAN_COUNTS=$(gtest_counts "$LOG_DIR/memcheck.log")
else
  SUMMARY+=("$(printf '%-14s %-10s %6s' memcheck skipped -)")
fi

# Benchmarks: run with the time left (each skips with its reason when there is no device).
BENCH="$BUILD_DIR/bench/kiln_bench"
if ((BENCH_BUILT == 1)) && [[ -x $BENCH ]] &&
  "$BENCH" --benchmark_list_tests=true --benchmark_filter="$BENCH_FILTER" 2>/dev/null | grep -q .; then
  phase bench $(($(left) - 5)) "$BENCH" --benchmark_filter="$BENCH_FILTER" --benchmark_min_time=0.05 \
    --benchmark_out="$LOG_DIR/bench.json" --benchmark_out_format=json || true
else
  SUMMARY+=("$(printf '%-14s %-10s %6s' bench "none" -)")
fi

# bench_table LOG: one line per Gpu/* benchmark of the console log: name, time, rate
# (GFLOP/s or GB/s) and fraction (of cuBLAS for GEMMs, of the device copy for the
# memory-bound kernels, of the DRAM peak for the copy, of cuDNN's rate for conv2d on
# ResNet-18's layers, of the pinned copy's rate for host-to-device copies), or why it
# was skipped. The console prints counters with SI suffixes (44.1k, 812m): converted back here.
bench_table() {
  awk '
    function num(v,   s, m) {
      s = substr(v, length(v)); m = 1
      if (s == "k") m = 1e3; else if (s == "M") m = 1e6; else if (s == "G") m = 1e9
      else if (s == "m") m = 1e-3; else if (s == "u") m = 1e-6; else if (s == "n") m = 1e-9
      if (m != 1) v = substr(v, 1, length(v) - 1)
      return v * m
    }
    BEGIN { printf "%-44s %12s %18s %8s\n", "benchmark", "time", "rate", "fraction" }
    /^Gpu\// {
      name = $1; sub(/\/manual_time$/, "", name)
      if ($2 == "ERROR") { msg = $0; sub(/.*ERROR OCCURRED: */, "", msg); printf "%-44s skipped: %s\n", name, msg; next }
      rate = "-"; frac = "-"
      for (i = 4; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "GFLOP/s") rate = sprintf("%.0f GFLOP/s", num(kv[2]))
        else if (kv[1] == "GB/s") rate = sprintf("%.0f GB/s", num(kv[2]))
        else if (kv[1] == "fraction") frac = sprintf("%.3f", num(kv[2]))
      }
      printf "%-44s %9s %-2s %18s %8s\n", name, $2, $3, rate, frac
    }' "$1"
}

echo
echo "== summary (logs in $LOG_DIR)"
printf '%-14s %-10s %6s\n' phase status wall
for line in "${SUMMARY[@]}"; do echo "$line"; done
read -r P F S <<<"$COUNTS"
printf 'tests:    passed %s  failed %s  skipped %s\n' "$P" "$F" "$S"
read -r P2 F2 S2 <<<"$SAN_COUNTS"
printf 'memcheck: passed %s  failed %s  skipped %s\n' "$P2" "$F2" "$S2"
if [[ -s $LOG_DIR/bench.log ]]; then
  echo
  echo "== GPU benchmarks ($LOG_DIR/bench.log, bench.json)"
  bench_table "$LOG_DIR/bench.log"
fi
printf 'total wall: %ss\n' "$(($(date +%s) - START))"
if [[ $F != "-" && $F != 0 ]] || [[ $F2 != "-" && $F2 != 0 ]]; then FAILED=1; fi
exit $FAILED
