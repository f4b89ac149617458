// The fused optimizer updates (ops/optim.h) against the same formulas written with
// unfused kiln ops, on tensors large enough to be split over threads; non-contiguous
// operands; version counters; argument errors. The optimizers' trajectories against
// PyTorch are in tests/nn/optim_test.cpp.
#include <cmath>

#include "kiln.h"
#include "ops/cpu/parallel.h"
#include "ops/optim.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/isa.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

// The unfused Adam step of ops/optim.h's comment, one op at a time.
void adam_reference(Tensor& p, const Tensor& grad, Tensor& m, Tensor& v, Tensor& vmax, const AdamStep& a) {
  Tensor g = a.maximize ? neg(grad) : grad;
  if (a.decoupled) p = p * (1.0 - a.lr * a.weight_decay);
  else if (a.weight_decay != 0.0) g = g + p * a.weight_decay;
  m = m * a.beta1 + g * (1.0 - a.beta1);
  v = v * a.beta2 + g * g * (1.0 - a.beta2);
  Tensor second = v;
  if (a.amsgrad) second = vmax = maximum(vmax, v);
  const double bc1 = 1.0 - std::pow(a.beta1, double(a.step)), bc2 = 1.0 - std::pow(a.beta2, double(a.step));
  p = p - (m / (sqrt(second) / std::sqrt(bc2) + a.eps)) * (a.lr / bc1);
}

class FusedAdam : public ::testing::TestWithParam<std::tuple<bool, bool, bool, double>> {};

TEST_P(FusedAdam, MatchesTheUnfusedFormulasOverSteps) {
  auto [decoupled, amsgrad, maximize, weight_decay] = GetParam();
  const int64_t n = 2 * cpu::kElementwiseGrain + 17;  // several threads' chunks and a ragged end
  Tensor p = randn({n}, DType::Float64), m = zeros({n}, DType::Float64), v = zeros({n}, DType::Float64);
  Tensor vmax = amsgrad ? zeros({n}, DType::Float64) : Tensor();
  Tensor rp = p.clone(), rm = m.clone(), rv = v.clone(), rvmax = amsgrad ? vmax.clone() : Tensor();
  for (int64_t step = 1; step <= 3; ++step) {
    Tensor g = randn({n}, DType::Float64);
    AdamStep a{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.5, .eps = 1e-8, .weight_decay = weight_decay, .step = step,
               .decoupled = decoupled, .amsgrad = amsgrad, .maximize = maximize};
    adam_step_(p, g, m, v, vmax, a);
    adam_reference(rp, g, rm, rv, rvmax, a);
  }
  EXPECT_TRUE(allclose(p, rp, 1e-13, 1e-15));
  EXPECT_TRUE(allclose(m, rm, 1e-13, 1e-15));
  EXPECT_TRUE(allclose(v, rv, 1e-13, 1e-15));
}

INSTANTIATE_TEST_SUITE_P(Variants, FusedAdam,
                         ::testing::Values(std::make_tuple(false, false, false, 0.0),
                                           std::make_tuple(false, true, false, 0.1),
                                           std::make_tuple(true, false, true, 0.1),
                                           std::make_tuple(true, true, false, 0.01)));

// Note [Optimizer loops per ISA]: every ISA's copy of every Adam variant and of SGD
// (with and without momentum), float32 and float64, against the generic loops on the
// same data. A multiply-add fused into an FMA may change the last bit, no more.
class OptimIsa : public test::IsaTest {};

TEST_P(OptimIsa, EveryLoopMatchesTheGenericOne) {
  const int64_t n = 4099;  // whole vectors of every width and a ragged end
  const cpu::CpuIsa isa = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const double tol = dtype == DType::Float32 ? 2e-6 : 1e-14;
    for (int variant = 0; variant < 16; ++variant) {
      const bool decoupled = variant & 8, l2 = variant & 4, amsgrad = variant & 2, maximize = variant & 1;
      const double wd = decoupled || l2 ? 0.1 : 0.0;
      TensorList state, reference;  // p, m, v, vmax for this ISA and for the generic loops
      for (int t = 0; t < 4; ++t) state.push_back(t == 0 ? randn({n}, dtype) : rand({n}, dtype));
      for (const Tensor& t : state) reference.push_back(t.clone());
      for (int64_t step = 1; step <= 2; ++step) {
        Tensor g = randn({n}, dtype);
        AdamStep a{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = wd, .step = step,
                   .decoupled = decoupled, .amsgrad = amsgrad, .maximize = maximize};
        adam_step_(state[0], g, state[1], state[2], amsgrad ? state[3] : Tensor(), a);
        cpu::set_active_isa(cpu::CpuIsa::Generic);
        adam_step_(reference[0], g, reference[1], reference[2], amsgrad ? reference[3] : Tensor(), a);
        cpu::set_active_isa(isa);
      }
      for (int t = 0; t < 4; ++t)
        EXPECT_TRUE(allclose(state[size_t(t)], reference[size_t(t)], tol, tol))
            << dtype_name(dtype) << " adam variant " << variant << " operand " << t;
    }
    // SGD's 16 momentum variants (first step, nesterov, weight decay, maximize) and its
    // 4 plain ones (weight decay, maximize).
    for (int variant = 0; variant < 20; ++variant) {
      const bool momentum = variant < 16, first = variant & 8, nesterov = variant & 4, decay = variant & 2,
                 maximize = variant & 1;
      Tensor p = randn({n}, dtype), buf = randn({n}, dtype), g = randn({n}, dtype);
      Tensor rp = p.clone(), rbuf = buf.clone();
      SgdStep a{.lr = 0.1, .momentum = momentum ? 0.9 : 0.0, .dampening = 0.1, .weight_decay = decay ? 0.01 : 0.0,
                .nesterov = momentum && nesterov, .maximize = maximize, .first_step = momentum && first};
      sgd_step_(p, g, momentum ? buf : Tensor(), a);
      cpu::set_active_isa(cpu::CpuIsa::Generic);
      sgd_step_(rp, g, momentum ? rbuf : Tensor(), a);
      cpu::set_active_isa(isa);
      EXPECT_TRUE(allclose(p, rp, tol, tol)) << dtype_name(dtype) << " sgd variant " << variant;
      EXPECT_TRUE(allclose(buf, rbuf, tol, tol)) << dtype_name(dtype) << " sgd variant " << variant;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, OptimIsa,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

TEST(FusedSgd, MomentumNesterovAndDecayMatchTheUnfusedFormulas) {
  const int64_t n = 2 * cpu::kElementwiseGrain + 5;
  for (bool nesterov : {false, true}) {
    Tensor p = randn({n}, DType::Float64), buf = empty({n}, DType::Float64);
    Tensor rp = p.clone(), rbuf;
    const double lr = 0.05, momentum = 0.9, dampening = nesterov ? 0.0 : 0.3, wd = 0.01;
    for (int step = 0; step < 3; ++step) {
      Tensor g = randn({n}, DType::Float64);
      sgd_step_(p, g, buf,
                {.lr = lr, .momentum = momentum, .dampening = dampening, .weight_decay = wd, .nesterov = nesterov,
                 .maximize = false, .first_step = step == 0});
      Tensor d = g + rp * wd;
      rbuf = step == 0 ? d : rbuf * momentum + d * (1.0 - dampening);
      d = nesterov ? d + rbuf * momentum : rbuf;
      rp = rp - d * lr;
    }
    EXPECT_TRUE(allclose(p, rp, 1e-13, 1e-15)) << "nesterov " << nesterov;
    EXPECT_TRUE(allclose(buf, rbuf, 1e-13, 1e-15)) << "nesterov " << nesterov;
  }
}

TEST(FusedSgd, PlainStepOnANonContiguousParameterAndGradient) {
  Tensor base = randn({4, 6}), p = base.t();  // (6, 4) view with strides (1, 6)
  Tensor g = randn({4, 6}).t();
  Tensor expected = p - g * 0.5;
  const uint64_t version = p.version();
  sgd_step_(p, g, {}, {.lr = 0.5, .momentum = 0, .dampening = 0, .weight_decay = 0, .nesterov = false,
                       .maximize = false, .first_step = true});
  EXPECT_TRUE(allclose(p, expected, 1e-6, 1e-7));
  EXPECT_TRUE(allclose(base, expected.t(), 1e-6, 1e-7));  // written through the view
  EXPECT_GT(p.version(), version);
}

TEST(FusedOptim, BadOperandsAreClearErrors) {
  Tensor p = zeros({3}), g = zeros({3}), m = zeros({3}), v = zeros({3});
  AdamStep a{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0, .step = 1,
             .decoupled = false, .amsgrad = false, .maximize = false};
  EXPECT_EQ(error_of([&] { adam_step_(p, zeros({4}), m, v, {}, a); }),
            "adam_step_: grad float32[4] on cpu does not match the parameter float32[3] on cpu");
  EXPECT_EQ(error_of([&] { adam_step_(p, g, m, zeros({3}, DType::Float64), {}, a); }),
            "adam_step_: exp_avg_sq float64[3] on cpu does not match the parameter float32[3] on cpu");
  EXPECT_EQ(error_of([&] { adam_step_(zeros({3}, DType::Int64), g, m, v, {}, a); }),
            "adam_step_: expected a floating-point parameter, got int64[3] on cpu");
  a.amsgrad = true;
  EXPECT_EQ(error_of([&] { adam_step_(p, g, m, v, {}, a); }),
            "adam_step_: max_exp_avg_sq is needed exactly when amsgrad is on");
  a.amsgrad = false;
  a.step = 0;
  EXPECT_EQ(error_of([&] { adam_step_(p, g, m, v, {}, a); }), "adam_step_: step counts from 1, got 0");
  EXPECT_EQ(error_of([&] {
              sgd_step_(p, g, {}, {.lr = 0.1, .momentum = 0.9, .dampening = 0, .weight_decay = 0, .nesterov = false,
                                   .maximize = false, .first_step = true});
            }),
            "sgd_step_: a momentum buffer is needed exactly when momentum is non-zero");
}

}  // namespace
}  // namespace kiln
