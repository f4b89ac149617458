// lane_sum: a double-precision sum that vectorises, for the row kernels (softmax, layer
// norm) whose statistics accumulate in double.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// The sum of term(j) for j in [0, n), in double, kept as 8 running sums side by side and
// added up at the end: the loop then vectorises, where a single double sum would have to
// be added in order (the compiler may not reassociate it). The result differs from the
// in-order sum only by rounding.
template <typename Term>
double lane_sum(int64_t n, Term term) {
  constexpr int64_t kLanes = 8;
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += term(j + l);
  double sum = 0;
  for (int64_t l = 0; l < kLanes; ++l) sum += acc[l];
  for (; j < n; ++j) sum += term(j);
  return sum;
}

}  // namespace kiln::cpu
