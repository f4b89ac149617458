#!/usr/bin/env bash
# Builds kiln and runs the whole test suite twice: the release build (with the CUDA
# backend compiled when nvcc is present; CUDA tests skip without a GPU), then an
# AddressSanitizer + UndefinedBehaviorSanitizer build of the CPU code. In between, the
# file parsers' tests run once more under valgrind.
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kiln_install_packages "${KILN_BUILD_PACKAGES[@]}" "${KILN_TEST_PACKAGES[@]}"
jobs=$(kiln_jobs)
# ctest runs tests in parallel, each with its own OpenMP team: idle threads must sleep,
# not spin, or they steal the cores the other tests need.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

echo "== release build =="
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_TESTS=ON \
  -DKILN_BUILD_BENCH=ON -DKILN_BUILD_MODELS=ON >/dev/null
cmake --build build/release -j "$jobs"
ctest --test-dir build/release -j "$jobs" --output-on-failure --timeout 600

if [[ ${1:-} != --no-sanitize ]]; then
  # The parsers of untrusted files under valgrind: AddressSanitizer does not see reads
  # of uninitialised memory, which crash on one machine and pass on another (how a
  # JPEG decoder once failed CI). About 30 s.
  echo "== valgrind: the file parsers and their fuzz tests =="
  valgrind --quiet --error-exitcode=1 --suppressions=tests/valgrind.supp build/release/tests/kiln_tests \
    --gtest_brief=1 --gtest_filter='Checkpoint*:Csv*:Idx*:Npy*:Safetensors*:ReadImage*:*DecodeReference*'

  echo "== sanitizer build (address, undefined) =="
  # -O1 -g1: quick to compile, enough for readable sanitizer reports. The double-backward
  # checks (GradgradcheckF64) rerun the same kernels as the first-order ones and take a
  # third of the time under the sanitizers; the release run above covers them.
  cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -g1" -DKILN_CUDA=OFF \
    -DKILN_SANITIZE=address,undefined -DKILN_BUILD_TESTS=ON -DKILN_BUILD_BENCH=OFF -DKILN_BUILD_MODELS=OFF >/dev/null
  cmake --build build/sanitize -j "$jobs" --target kiln_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/sanitize -j "$jobs" --output-on-failure --timeout 900 -E GradgradcheckF64
fi
