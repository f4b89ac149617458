// CPU kernels of the fused optimizer updates: one loop over the elements of a parameter
// and its state, split over threads above the elementwise grain. The arithmetic is the
// element formulas of ops/kernels/optim.h, which the CUDA kernels share, in the loops of
// ops/cpu/optim_loops.h compiled for the CPU's ISA.
#include <type_traits>

#include "core/dtype.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/optim_loops.h"
#include "ops/cpu/parallel.h"

namespace kiln {

namespace {

// The loops of the active ISA (Note [Optimizer loops per ISA]).
template <typename T>
const cpu::OptimLoops<T>& optim_loops() {
  static const cpu::OptimLoops<T> generic = cpu::make_optim_loops<T>();
  constexpr bool kFloat = std::is_same_v<T, float>;
  switch (cpu::active_isa()) {
    case cpu::CpuIsa::Avx512:
      if constexpr (kFloat) return cpu::optim_loops_avx512_f32();
      else return cpu::optim_loops_avx512_f64();
    case cpu::CpuIsa::Avx2:
      if constexpr (kFloat) return cpu::optim_loops_avx2_f32();
      else return cpu::optim_loops_avx2_f64();
    case cpu::CpuIsa::Generic: break;
  }
  return generic;
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
    const cpu::AdamRange<T> run = optim_loops<T>().adam[cpu::adam_variant(c.decoupled, c.l2, c.amsgrad, c.maximize)];
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
    const cpu::SgdRange<T> run = buf ? optim_loops<T>().sgd_momentum : optim_loops<T>().sgd;
    cpu::parallel_for(0, param.numel(), cpu::kElementwiseGrain,
                      [&](int64_t begin, int64_t end) { run(begin, end, p, gr, buf, c); });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(adam_step_stub, DeviceType::CPU, adam_step_cpu);
KILN_REGISTER_KERNEL(sgd_step_stub, DeviceType::CPU, sgd_step_cpu);

}  // namespace kiln
