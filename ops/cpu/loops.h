// The CPU elementwise iterator: one strided, broadcasting loop that every elementwise
// kernel (unary, binary, where, copy) is written on, so a new op is one lambda.
// See Note [Elementwise loops].
#pragma once

#include <array>
#include <tuple>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "ops/cpu/parallel.h"

namespace kiln::cpu {

// Note [Elementwise loops]
// out (operand 0) and the inputs are walked together over out's shape. Each input's
// strides are first broadcast to that shape (stride 0 on a broadcast dim), then in
// byte units:
//   1. dims of size 1 are dropped;
//   2. neighbouring dims are merged when every operand steps through them as one
//      (stride[d] == stride[d+1] * size[d+1]), so a contiguous tensor is one dim;
//   3. the flat index range [0, numel) is split into chunks across threads, and each
//      chunk runs the innermost dim as a tight loop, the outer dims as a counter.
// The inner loop has a fast path for unit strides (every operand contiguous along
// the inner dim) that the compiler vectorises; elementwise_runs lets an op hand such
// runs to explicit SIMD kernels instead (Note [SIMD elementwise kernels]).
// Threads: chunks of at least kElementwiseGrain elements (ops/cpu/parallel.h), so a
// small tensor runs on the calling thread.
template <int N>
struct LoopPlan {
  std::vector<int64_t> sizes;                  // after merging; innermost last
  std::vector<std::array<int64_t, N>> strides; // bytes, per dim, per operand
  std::array<char*, N> base{};
  int64_t numel = 0;
};

template <int N>
LoopPlan<N> make_loop_plan(const std::array<const Tensor*, N>& ops) {
  const Shape& shape = ops[0]->shape();
  LoopPlan<N> p;
  p.numel = numel_of(shape);
  std::array<IntList, N> st;
  for (int k = 0; k < N; ++k) {
    st[k] = broadcast_strides(ops[k]->shape(), ops[k]->strides(), shape);
    p.base[k] = static_cast<char*>(ops[k]->raw_data());
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (int k = 0; k < N; ++k) s[k] = st[k][d] * int64_t(element_size(ops[k]->dtype()));
    if (!p.sizes.empty()) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k) mergeable = mergeable && p.strides.back()[k] == s[k] * shape[d];
      if (mergeable) {
        p.sizes.back() *= shape[d];
        p.strides.back() = s;
        continue;
      }
    }
    p.sizes.push_back(shape[d]);
    p.strides.push_back(s);
  }
  if (p.sizes.empty()) {  // a single element
    p.sizes.push_back(1);
    p.strides.push_back({});
  }
  return p;
}

// Calls inner(ptrs, inner_strides, n) over runs of the innermost dim covering
// [begin, end) of the flat index. The pointers are computed once, at begin, then moved
// by each dim's stride as the counter ticks: the runs can be short (a transpose of
// (C, N, L) blocks has runs of L = 4 floats), and the walk costs O(1) per run.
template <int N, typename Inner>
void for_each_run(const LoopPlan<N>& p, int64_t begin, int64_t end, Inner&& inner) {
  const int nd = int(p.sizes.size());
  const int64_t inner_size = p.sizes[size_t(nd - 1)];
  const std::array<int64_t, N>& inner_strides = p.strides[size_t(nd - 1)];
  std::vector<int64_t> idx(size_t(nd), 0);
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; --d) {
    idx[size_t(d)] = rem % p.sizes[size_t(d)];
    rem /= p.sizes[size_t(d)];
  }
  std::array<char*, N> ptrs = p.base;
  for (int d = 0; d < nd; ++d)
    for (int k = 0; k < N; ++k) ptrs[k] += idx[size_t(d)] * p.strides[size_t(d)][k];
  int64_t pos = begin;
  while (pos < end) {
    const int64_t n = std::min(inner_size - idx[size_t(nd - 1)], end - pos);
    inner(ptrs, inner_strides, n);
    pos += n;
    idx[size_t(nd - 1)] += n;
    for (int k = 0; k < N; ++k) ptrs[k] += n * inner_strides[k];
    // Carry: a finished dim rewinds to 0 and the next outer one steps.
    for (int d = nd - 1; d > 0 && idx[size_t(d)] == p.sizes[size_t(d)]; --d) {
      idx[size_t(d)] = 0;
      ++idx[size_t(d - 1)];
      for (int k = 0; k < N; ++k) ptrs[k] += p.strides[size_t(d - 1)][k] - p.sizes[size_t(d)] * p.strides[size_t(d)][k];
    }
  }
}

namespace detail {
template <typename R, typename... A, typename F, size_t... I>
void map_run(const std::array<char*, sizeof...(A) + 1>& ptrs, const std::array<int64_t, sizeof...(A) + 1>& s,
             int64_t n, F& f, std::index_sequence<I...>) {
  bool unit = s[0] == int64_t(sizeof(R)) && ((s[I + 1] == int64_t(sizeof(A))) && ...);
  if (unit) {
    R* out = reinterpret_cast<R*>(ptrs[0]);
    std::tuple<const A*...> in{reinterpret_cast<const A*>(ptrs[I + 1])...};
    for (int64_t i = 0; i < n; ++i) out[i] = f(std::get<I>(in)[i]...);
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<R*>(ptrs[0] + i * s[0]) = f(*reinterpret_cast<const A*>(ptrs[I + 1] + i * s[I + 1])...);
  }
}
}  // namespace detail

// elementwise (below) with a kernel for whole runs: each run of the innermost dim (per thread)
// is first offered to run(ptrs, byte_strides, n), which returns true when it wrote the
// run (the SIMD kernels of Note [SIMD elementwise kernels] take unit-stride runs);
// otherwise f's loop runs. The scalar f stays the reference for what run computes.
template <typename R, typename... A, typename F, typename Run>
void elementwise_runs(const Tensor& out, F f, Run run, const std::conditional_t<true, Tensor, A>&... in) {
  constexpr int N = int(sizeof...(A)) + 1;
  auto plan = make_loop_plan<N>({&out, &in...});
  parallel_for(0, plan.numel, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for_each_run<N>(plan, begin, end, [&](const std::array<char*, N>& ptrs, const std::array<int64_t, N>& s, int64_t n) {
      if (!run(ptrs, s, n)) detail::map_run<R, A...>(ptrs, s, n, f, std::index_sequence_for<A...>{});
    });
  });
}

// out[i] = f(in_0[i], in_1[i], ...) over out's shape, inputs broadcast to it.
// R and A... are the element types of out and the inputs (the caller has checked the
// dtypes), e.g. elementwise<float, float, float>(out, f, a, b).
template <typename R, typename... A, typename F>
void elementwise(const Tensor& out, F f, const std::conditional_t<true, Tensor, A>&... in) {
  elementwise_runs<R, A...>(
      out, f, [](const std::array<char*, sizeof...(A) + 1>&, const std::array<int64_t, sizeof...(A) + 1>&, int64_t) {
        return false;
      },
      in...);
}

}  // namespace kiln::cpu
