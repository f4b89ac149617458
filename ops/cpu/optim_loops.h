// Internal to the optimizer kernels (ops/cpu/optim.cpp): the loops over a range of
// elements, written once here and compiled three times, by optim.cpp for any x86-64 CPU
// and by optim_avx512.cpp / optim_avx2.cpp with those ISAs' -m flags, where the
// compiler vectorises the same loops 16 / 8 floats wide. Note [Optimizer loops per ISA].
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "ops/kernels/optim.h"

namespace kiln::cpu {

// Note [Optimizer loops per ISA]
// An Adam step is a dozen flops, a square root and a division per element: with SSE2,
// the baseline every x86-64 CPU has, it is compute-bound (4 floats per instruction, and
// the square root and the division are slow ones). So the loops below are also compiled
// with AVX2 and with AVX-512 and optim.cpp runs the active ISA's copy (cpu_features.h).
// The arithmetic stays the element formulas of ops/kernels/optim.h, which are forced
// inline (KILN_ALWAYS_INLINE) and everything here sits in an unnamed namespace, so each
// file keeps its own copy and no AVX-512 code can be linked into the generic path.
// The wider builds may fuse a multiply and an add into one FMA, so their results can
// differ from the generic loop in the last bit (tests/ops/optim_test.cpp bounds it).

template <typename T>
using AdamRange = void (*)(int64_t begin, int64_t end, T* p, const T* grad, T* m, T* v, T* vmax,
                           AdamConstants<T> c);
template <typename T>
using SgdRange = void (*)(int64_t begin, int64_t end, T* p, const T* grad, T* buf, SgdConstants<T> c);

// A loop of each kind for one ISA: Adam's 16 variants indexed by its four flags
// (decoupled * 8 + l2 * 4 + amsgrad * 2 + maximize), and SGD with and without momentum.
template <typename T>
struct OptimLoops {
  std::array<AdamRange<T>, 16> adam;
  SgdRange<T> sgd, sgd_momentum;
};

inline size_t adam_variant(bool decoupled, bool l2, bool amsgrad, bool maximize) {
  return size_t(decoupled) * 8 + size_t(l2) * 4 + size_t(amsgrad) * 2 + size_t(maximize);
}

namespace {

// The variant flags are template parameters, so each instantiation is a branch-free loop
// the compiler vectorises (c by value: a local copy that the stores through p cannot
// alias, so its fields stay in registers).
template <typename T, bool kDecoupled, bool kL2, bool kAmsgrad, bool kMaximize>
void adam_range(int64_t begin, int64_t end, T* p, const T* gr, T* m, T* v, T* vmax, AdamConstants<T> c) {
  for (int64_t i = begin; i < end; ++i)
    adam_update_element(i, p, gr, m, v, vmax, c, kDecoupled, kL2, kAmsgrad, kMaximize);
}

// SGD's flags live in its constants; each variant overwrites them with its template
// arguments, so after inlining the element formula has no branch left and the loop
// vectorises like Adam's (with the flags read at run time GCC kept a scalar loop with a
// branch per element: 9.5 % of a single-thread ResNet-18 step).
template <typename T, bool kMomentum, bool kFirst, bool kNesterov, bool kDecay, bool kMaximize>
void sgd_variant(int64_t begin, int64_t end, T* p, const T* gr, T* buf, SgdConstants<T> c) {
  c.first = kFirst, c.nesterov = kNesterov, c.decay = kDecay, c.maximize = kMaximize;
  for (int64_t i = begin; i < end; ++i) sgd_update_element(i, p, gr, kMomentum ? buf : nullptr, c);
}

// The variant for c's flags: first * 8 + nesterov * 4 + decay * 2 + maximize, the first
// two only with momentum.
template <typename T, bool kMomentum>
void sgd_range(int64_t begin, int64_t end, T* p, const T* gr, T* buf, SgdConstants<T> c) {
  constexpr int kVariants = kMomentum ? 16 : 4;
  static constexpr auto variants = []<int... I>(std::integer_sequence<int, I...>) {
    return std::array<SgdRange<T>, kVariants>{
        &sgd_variant<T, kMomentum, bool(I & 8), bool(I & 4), bool(I & 2), bool(I & 1)>...};
  }(std::make_integer_sequence<int, kVariants>{});
  const size_t index = (kMomentum ? size_t(c.first) * 8 + size_t(c.nesterov) * 4 : 0) + size_t(c.decay) * 2 +
                       size_t(c.maximize);
  variants[index](begin, end, p, gr, buf, c);
}

template <typename T>
OptimLoops<T> make_optim_loops() {
  auto adam = []<int... I>(std::integer_sequence<int, I...>) {
    return std::array<AdamRange<T>, 16>{&adam_range<T, bool(I & 8), bool(I & 4), bool(I & 2), bool(I & 1)>...};
  }(std::make_integer_sequence<int, 16>{});
  return {adam, &sgd_range<T, false>, &sgd_range<T, true>};
}

}  // namespace

// The loops compiled with AVX-512 and with AVX2 (optim_avx512.cpp, optim_avx2.cpp).
const OptimLoops<float>& optim_loops_avx512_f32();
const OptimLoops<double>& optim_loops_avx512_f64();
const OptimLoops<float>& optim_loops_avx2_f32();
const OptimLoops<double>& optim_loops_avx2_f64();

}  // namespace kiln::cpu
