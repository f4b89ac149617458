// CPU kernels of the fused optimizer updates: one loop over the elements of a parameter
// and its state, split over threads above the elementwise grain. The arithmetic is the
// element formulas of ops/kernels/optim.h, which the CUDA kernels share.
#include <array>
#include <utility>

#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/optim.h"

namespace kiln {

namespace {

// One Adam update of elements [begin, end). The variant flags are template parameters,
// so each instantiation is a branch-free loop the compiler vectorises (c by value: a local
// copy that the stores through p cannot alias, so its fields stay in registers).
template <typename T, bool kDecoupled, bool kL2, bool kAmsgrad, bool kMaximize>
void adam_range(int64_t begin, int64_t end, T* p, const T* gr, T* m, T* v, T* vmax, AdamConstants<T> c) {
  for (int64_t i = begin; i < end; ++i)
    adam_update_element(i, p, gr, m, v, vmax, c, kDecoupled, kL2, kAmsgrad, kMaximize);
}

// param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq: (n) contiguous.
void adam_step_cpu(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const Tensor& max_exp_avg_sq, const AdamStep& a) {
  dispatch_floating(param.dtype(), "adam_step", [&]<typename T>() {
    T* p = param.data_ptr<T>();
    const T* gr = grad.data_ptr<T>();
    T* m = exp_avg.data_ptr<T>();
    T* v = exp_avg_sq.data_ptr<T>();
    T* vmax = a.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    const AdamConstants<T> c = adam_constants<T>(a);
    // The 16 variants as one table of instantiations, indexed by the four flags.
    using Range = void (*)(int64_t, int64_t, T*, const T*, T*, T*, T*, AdamConstants<T>);
    auto variants = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<Range, 16>{&adam_range<T, bool(I & 8), bool(I & 4), bool(I & 2), bool(I & 1)>...};
    }(std::make_integer_sequence<int, 16>{});
    const Range run = variants[size_t(c.decoupled) * 8 + size_t(c.l2) * 4 + size_t(c.amsgrad) * 2 + size_t(c.maximize)];
    cpu::parallel_for(0, param.numel(), cpu::kElementwiseGrain,
                      [&](int64_t begin, int64_t end) { run(begin, end, p, gr, m, v, vmax, c); });
  });
}

// param, grad, momentum_buffer: (n) contiguous; momentum_buffer unused when momentum == 0.
void sgd_step_cpu(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdStep& a) {
  dispatch_floating(param.dtype(), "sgd_step", [&]<typename T>() {
    T* p = param.data_ptr<T>();
    const T* gr = grad.data_ptr<T>();
    T* buf = a.momentum != 0.0 ? momentum_buffer.data_ptr<T>() : nullptr;
    const SgdConstants<T> c = sgd_constants<T>(a);
    cpu::parallel_for(0, param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sgd_update_element(i, p, gr, buf, c);
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(adam_step_stub, DeviceType::CPU, adam_step_cpu);
KILN_REGISTER_KERNEL(sgd_step_stub, DeviceType::CPU, sgd_step_cpu);

}  // namespace kiln
