// The fused LSTM ops (ops/rnn.h) against the same math written with unfused kiln ops:
// lstm_cell_pointwise against its formulas, lstm_recurrence against the per-step
// composition (addmm + lstm_cell_pointwise), forward and every gradient, float64
// gradcheck and gradgradcheck, and errors. The LSTM layers' PyTorch references are in
// tests/nn/rnn_test.cpp.
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "autograd/gradcheck.h"
#include "kiln.h"
#include "ops/cpu/parallel.h"
#include "ops/rnn.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"
#include "support/files.h"
#include "support/isa.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;
using ::testing::HasSubstr;

TensorList unfused(const Tensor& gates, const Tensor& c) {
  TensorList g = chunk(gates, 4, -1);
  Tensor c_new = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
  return {sigmoid(g[3]) * tanh(c_new), c_new};
}

// use: which outputs the loss reads (1: h, 2: c, 3: both).
void expect_matches_unfused(int64_t n, int64_t hidden, int use) {
  Tensor gates = randn({n, 4 * hidden}, DType::Float64).requires_grad_();
  Tensor c = randn({n, hidden}, DType::Float64).requires_grad_();
  Tensor wh = randn({n, hidden}, DType::Float64), wc = randn({n, hidden}, DType::Float64);
  auto loss_of = [&](const TensorList& hc) {
    Tensor l = zeros({}, DType::Float64);
    if (use & 1) l = l + sum(hc[0] * wh);
    if (use & 2) l = l + sum(hc[1] * wc);
    return l;
  };
  TensorList fused = lstm_cell_pointwise(gates, c), ref = unfused(gates, c);
  EXPECT_TRUE(allclose(fused[0], ref[0], 1e-14, 1e-15));
  EXPECT_TRUE(allclose(fused[1], ref[1], 1e-14, 1e-15));
  TensorList got = grad({loss_of(fused)}, {gates, c}), want = grad({loss_of(ref)}, {gates, c});
  EXPECT_TRUE(allclose(got[0], want[0], 1e-13, 1e-15)) << "use " << use;
  EXPECT_TRUE(allclose(got[1], want[1], 1e-13, 1e-15)) << "use " << use;
}

TEST(LstmCellPointwise, MatchesTheUnfusedCellWithEitherOrBothOutputsUsed) {
  for (int use : {1, 2, 3}) expect_matches_unfused(3, 5, use);
  expect_matches_unfused(64, cpu::kElementwiseGrain / 64 + 3, 3);  // split over threads
}

// The float32 backward row loop is compiled per ISA (ops/cpu/rnn_loops.h): each level's
// gradients, for every combination of used outputs, against the generic loop's (an FMA
// may change the last bit).
class LstmBackwardIsa : public test::IsaTest {};

TEST_P(LstmBackwardIsa, MatchesTheGenericLoop) {
  const int64_t n = 5, hidden = 37;  // whole vectors of every width and a ragged end
  Tensor gates = randn({n, 4 * hidden}).requires_grad_(), c = randn({n, hidden}).requires_grad_();
  Tensor wh = randn({n, hidden}), wc = randn({n, hidden});
  for (int use : {1, 2, 3}) {
    auto grads = [&] {
      TensorList hc = lstm_cell_pointwise(gates, c);
      Tensor l = zeros({});
      if (use & 1) l = l + sum(hc[0] * wh);
      if (use & 2) l = l + sum(hc[1] * wc);
      return grad({l}, {gates, c});
    };
    TensorList got = grads();
    cpu::set_active_isa(cpu::CpuIsa::Generic);
    TensorList want = grads();
    cpu::set_active_isa(GetParam());
    EXPECT_TRUE(allclose(got[0], want[0], 1e-5, 1e-6)) << "use " << use;
    EXPECT_TRUE(allclose(got[1], want[1], 1e-5, 1e-6)) << "use " << use;
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, LstmBackwardIsa,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

// The float32 forward row (SimdElementwise::lstm_cell_row: one pass per row with the
// vector sigmoid and tanh) on each ISA against the generic loop: the cell alone, and the
// recurrence, which adds xproj and the bias and activates its gate buffer in place.
class LstmForwardIsa : public test::IsaTest {};

TEST_P(LstmForwardIsa, MatchesTheGenericLoop) {
  const int64_t n = 5, hidden = 37, t_len = 4;  // whole vectors of every width and a ragged end
  Tensor gates = randn({n, 4 * hidden}), c = randn({n, hidden}), xproj = randn({t_len, n, 4 * hidden});
  Tensor h0 = randn({n, hidden}), c0 = randn({n, hidden}), w = randn({4 * hidden, hidden}) * 0.3;
  Tensor bias = randn({4 * hidden});
  auto run = [&] {
    TensorList cell = lstm_cell_pointwise(gates, c), with_bias = lstm_recurrence(xproj, h0, c0, w, bias, false);
    TensorList without_bias = lstm_recurrence(xproj, h0, c0, w, {}, true);
    return TensorList{cell[0], cell[1], with_bias[0], with_bias[2], without_bias[0], without_bias[2]};
  };
  TensorList got = run();
  cpu::set_active_isa(cpu::CpuIsa::Generic);
  TensorList want = run();
  cpu::set_active_isa(GetParam());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(allclose(got[k], want[k], 1e-5, 1e-6)) << "output " << k;
}

INSTANTIATE_TEST_SUITE_P(Isa, LstmForwardIsa,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

TEST(LstmCellPointwise, NonContiguousInputs) {
  Tensor gates = randn({12, 3}).t(), c = randn({5, 3}).t();  // (3, 12) and (3, 5)
  TensorList fused = lstm_cell_pointwise(gates.narrow(1, 0, 8), c.narrow(1, 0, 2));
  TensorList ref = unfused(gates.narrow(1, 0, 8), c.narrow(1, 0, 2));
  EXPECT_TRUE(allclose(fused[0], ref[0], 1e-6, 1e-7));
  EXPECT_TRUE(allclose(fused[1], ref[1], 1e-6, 1e-7));
}

TEST(LstmCellPointwise, BadShapesAndDtypes) {
  EXPECT_EQ(error_of([] { lstm_cell_pointwise(zeros({2, 7}), zeros({2, 2})); }),
            "lstm_cell_pointwise: expected gates (N, 4H) and c (N, H), got gates float32[2, 7] on cpu and c "
            "float32[2, 2] on cpu");
  EXPECT_EQ(error_of([] { lstm_cell_pointwise(zeros({2, 8}), zeros({2, 2}, DType::Float64)); }),
            "lstm_cell_pointwise: expected floating gates and c of one dtype and device, got float32[2, 8] on cpu "
            "and float64[2, 2] on cpu");
}

// ---- lstm_recurrence ----

// The recurrence as separate ops, one addmm and one cell per step.
TensorList per_step(const Tensor& xproj, const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& bias,
                    bool reverse) {
  const int64_t t_len = xproj.size(0);
  TensorList outs(static_cast<size_t>(t_len));
  Tensor h = h0, c = c0;
  for (int64_t s = 0; s < t_len; ++s) {
    const int64_t t = reverse ? t_len - 1 - s : s;
    Tensor xp = bias.defined() ? xproj.select(0, t) + bias : xproj.select(0, t);
    TensorList hc = lstm_cell_pointwise(addmm(xp, h, w_hh.t()), c);
    h = hc[0], c = hc[1];
    outs[size_t(t)] = h;
  }
  return {stack(outs, 0), h, c};
}

struct RecurrenceInputs {
  Tensor xproj, h0, c0, w_hh, bias;  // bias undefined when made without
  TensorList list() const {
    TensorList l{xproj, h0, c0, w_hh};
    if (bias.defined()) l.push_back(bias);
    return l;
  }
  TensorList run(bool reverse) const { return lstm_recurrence(xproj, h0, c0, w_hh, bias, reverse); }
  TensorList run_per_step(bool reverse) const { return per_step(xproj, h0, c0, w_hh, bias, reverse); }
};

RecurrenceInputs recurrence_inputs(int64_t t_len, int64_t n, int64_t hidden, DType dtype, Generator& gen,
                                   bool with_bias = true) {
  RecurrenceInputs in;
  in.xproj = randn({t_len, n, 4 * hidden}, {}, &gen).to(dtype).requires_grad_();
  in.h0 = randn({n, hidden}, {}, &gen).to(dtype).requires_grad_();
  in.c0 = randn({n, hidden}, {}, &gen).to(dtype).requires_grad_();
  in.w_hh = (randn({4 * hidden, hidden}, {}, &gen) * 0.5).to(dtype).requires_grad_();
  if (with_bias) in.bias = randn({4 * hidden}, {}, &gen).to(dtype).requires_grad_();
  return in;
}

// Forward values and the gradients of every input against the per-step composition, for
// a loss that reads the outputs selected by `use` (1: output, 2: h_T, 4: c_T).
void expect_matches_per_step(int64_t t_len, int64_t n, int64_t hidden, bool reverse, int use, DType dtype,
                             double rtol, double atol, bool with_bias = true) {
  SCOPED_TRACE("T " + std::to_string(t_len) + " N " + std::to_string(n) + " H " + std::to_string(hidden) +
               (reverse ? " reverse" : "") + " use " + std::to_string(use) + " " + dtype_name(dtype) +
               (with_bias ? "" : " no bias"));
  Generator gen(uint64_t(t_len * 1000 + n * 10 + hidden));
  RecurrenceInputs in = recurrence_inputs(t_len, n, hidden, dtype, gen, with_bias);
  Tensor wo = randn({t_len, n, hidden}, {}, &gen).to(dtype), wh = randn({n, hidden}, {}, &gen).to(dtype);
  Tensor wc = randn({n, hidden}, {}, &gen).to(dtype);
  auto loss_of = [&](const TensorList& r) {
    Tensor l = zeros({}, dtype);
    if (use & 1) l = l + sum(r[0] * wo);
    if (use & 2) l = l + sum(r[1] * wh);
    if (use & 4) l = l + sum(r[2] * wc);
    return l;
  };
  TensorList fused = in.run(reverse), ref = in.run_per_step(reverse);
  ASSERT_EQ(fused.size(), 3u);
  EXPECT_EQ(fused[0].shape(), (Shape{t_len, n, hidden}));
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(allclose(fused[k], ref[k], rtol, atol)) << "output " << k;
  TensorList got = grad({loss_of(fused)}, in.list()), want = grad({loss_of(ref)}, in.list());
  const char* names[] = {"xproj", "h0", "c0", "w_hh", "bias"};
  for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(allclose(got[k], want[k], rtol, atol)) << "d" << names[k];
}

TEST(LstmRecurrence, MatchesThePerStepCompositionOnOddShapesBothDirections) {
  for (bool reverse : {false, true}) {
    expect_matches_per_step(7, 3, 5, reverse, 7, kFloat64, 1e-12, 1e-13);
    expect_matches_per_step(1, 1, 1, reverse, 7, kFloat64, 1e-12, 1e-13);  // one step: only h0 feeds d w_hh
    expect_matches_per_step(2, 5, 3, reverse, 7, kFloat64, 1e-12, 1e-13);
    // Enough elements for the pointwise kernels to split over threads.
    expect_matches_per_step(3, 64, cpu::kElementwiseGrain / 256 + 3, reverse, 7, kFloat64, 1e-12, 1e-13);
    expect_matches_per_step(9, 4, 6, reverse, 7, kFloat32, 1e-4, 1e-5);
    expect_matches_per_step(5, 3, 4, reverse, 7, kFloat64, 1e-12, 1e-13, /*with_bias=*/false);
  }
}

// Note [LSTM row bands]: one band (one thread) and three uneven bands (17 rows as 6, 6, 5,
// OpenMP starting three threads even on fewer cores) compute every row with the same
// operations in the same order, so outputs and gradients agree bit for bit.
TEST(LstmRecurrence, RowBandsOnSeveralThreadsMatchOneBandExactly) {
  const int before = cpu::num_threads();
  for (bool reverse : {false, true}) {
    SCOPED_TRACE(reverse ? "reverse" : "forward");
    Generator gen(11);
    RecurrenceInputs in = recurrence_inputs(40, 17, 64, kFloat32, gen);
    Tensor wo = randn({40, 17, 64}, {}, &gen), wc = randn({17, 64}, {}, &gen);
    TensorList outs[2], grads[2];
    const int threads[2] = {1, 3};
    for (int k = 0; k < 2; ++k) {
      cpu::set_num_threads(threads[k]);
      outs[k] = in.run(reverse);
      grads[k] = grad({sum(outs[k][0] * wo) + sum(outs[k][2] * wc)}, in.list());
    }
    cpu::set_num_threads(before);
    for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(test::same_tensor(outs[1][k], outs[0][k])) << "output " << k;
    const char* names[] = {"xproj", "h0", "c0", "w_hh", "bias"};
    for (size_t k = 0; k < grads[0].size(); ++k)
      EXPECT_TRUE(test::same_tensor(grads[1][k], grads[0][k])) << "d" << names[k];
  }
}

TEST(LstmRecurrence, GradientsWhenOnlySomeOutputsAreUsed) {
  for (int use : {1, 2, 4, 3, 6})
    for (bool reverse : {false, true}) expect_matches_per_step(4, 2, 3, reverse, use, kFloat64, 1e-12, 1e-13);
}

TEST(LstmRecurrence, NonContiguousInputsAndInputsWithoutGrad) {
  Generator gen(5);
  // xproj as a (N, T, 4H) buffer seen time-major, w_hh as the transpose of a (H, 4H).
  Tensor xproj = randn({3, 4, 8}, {}, &gen).transpose(0, 1), w_hh = (randn({2, 8}, {}, &gen) * 0.5).t();
  Tensor h0 = randn({3, 4}, {}, &gen).narrow(1, 1, 2), c0 = randn({3, 2}, {}, &gen);
  for (bool reverse : {false, true}) {
    Tensor w = w_hh.detach().requires_grad_();
    TensorList fused = lstm_recurrence(xproj, h0, c0, w, {}, reverse);
    TensorList ref = per_step(xproj.contiguous(), h0.contiguous(), c0, w.contiguous(), {}, reverse);
    for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(allclose(fused[k], ref[k], 1e-5, 1e-6));
    // Only w_hh requires grad: the other inputs get none, w_hh's matches.
    Tensor got = grad({sum(fused[0]) + sum(fused[2])}, {w})[0], want = grad({sum(ref[0]) + sum(ref[2])}, {w})[0];
    EXPECT_TRUE(allclose(got, want, 1e-4, 1e-5));
  }
}

TEST(LstmRecurrence, BackwardTwiceWithRetainGraphGivesTheSameGradients) {
  Generator gen(6);
  RecurrenceInputs in = recurrence_inputs(5, 2, 3, kFloat64, gen);
  Tensor loss = sum(in.run(true)[0]);
  TensorList first = grad({loss}, in.list(), {}, /*retain_graph=*/true);
  TensorList second = grad({loss}, in.list());
  for (size_t k = 0; k < first.size(); ++k) EXPECT_TRUE(allclose(first[k], second[k], 0, 0));
}

TEST(LstmRecurrence, GradcheckF64) {
  Generator gen(7);
  for (bool reverse : {false, true}) {
    RecurrenceInputs in = recurrence_inputs(3, 2, 2, kFloat64, gen);
    auto f = [reverse](const TensorList& x) { return lstm_recurrence(x[0], x[1], x[2], x[3], x[4], reverse); };
    GradcheckResult r = gradcheck(f, in.list());
    EXPECT_TRUE(r.ok) << (reverse ? "reverse: " : "") << r.message;
  }
}

TEST(LstmRecurrence, GradgradcheckF64) {
  Generator gen(8);
  for (bool reverse : {false, true}) {
    RecurrenceInputs in = recurrence_inputs(3, 2, 2, kFloat64, gen);
    auto f = [reverse](const TensorList& x) { return lstm_recurrence(x[0], x[1], x[2], x[3], x[4], reverse); };
    GradcheckResult r = gradgradcheck(f, in.list());
    EXPECT_TRUE(r.ok) << (reverse ? "reverse: " : "") << r.message;
  }
}

TEST(LstmRecurrence, DoubleBackwardMatchesThePerStepComposition) {
  // A gradient penalty: d/d(w_hh, bias) of |d loss / d xproj|^2, through the create_graph
  // path.
  Generator gen(9);
  RecurrenceInputs in = recurrence_inputs(4, 3, 2, kFloat64, gen);
  auto penalty_grad = [&](const TensorList& r) {
    Tensor dx = grad({sum(r[0] * r[0]) + sum(r[2])}, {in.xproj}, {}, true, /*create_graph=*/true)[0];
    return grad({sum(dx * dx)}, {in.w_hh, in.bias});
  };
  TensorList got = penalty_grad(in.run(false)), want = penalty_grad(in.run_per_step(false));
  EXPECT_TRUE(allclose(got[0], want[0], 1e-11, 1e-12));
  EXPECT_TRUE(allclose(got[1], want[1], 1e-11, 1e-12));
}

TEST(LstmRecurrence, BadShapesDtypesAndLengths) {
  auto x = [](Shape s, DType d = kFloat32) { return zeros(s, d); };
  EXPECT_EQ(error_of([&] { lstm_recurrence(x({5, 2, 10}), x({2, 3}), x({2, 3}), x({12, 3})); }),
            "lstm_recurrence: expected xproj (T, N, 4H) with T >= 1, h0 and c0 (N, H), w_hh (4H, H), got xproj "
            "float32[5, 2, 10] on cpu, h0 float32[2, 3] on cpu, c0 float32[2, 3] on cpu, w_hh float32[12, 3] on cpu");
  EXPECT_THAT(error_of([&] { lstm_recurrence(x({5, 3, 12}), x({2, 3}), x({2, 3}), x({12, 3})); }),
              HasSubstr("xproj float32[5, 3, 12] on cpu, h0 float32[2, 3] on cpu"));
  EXPECT_THAT(error_of([&] { lstm_recurrence(x({5, 2, 12}), x({2, 3}), x({2, 4}), x({12, 3})); }),
              HasSubstr("c0 float32[2, 4] on cpu"));
  EXPECT_THAT(error_of([&] { lstm_recurrence(x({5, 2, 12}), x({2, 3}), x({2, 3}), x({12, 4})); }),
              HasSubstr("w_hh float32[12, 4] on cpu"));
  EXPECT_THAT(error_of([&] { lstm_recurrence(x({0, 2, 12}), x({2, 3}), x({2, 3}), x({12, 3})); }),
              HasSubstr("with T >= 1, h0 and c0 (N, H), w_hh (4H, H), got xproj float32[0, 2, 12]"));
  EXPECT_THAT(error_of([&] { lstm_recurrence(x({2, 12}), x({2, 3}), x({2, 3}), x({12, 3})); }),
              HasSubstr("got xproj float32[2, 12] on cpu"));
  EXPECT_EQ(error_of([&] { lstm_recurrence(x({5, 2, 12}), x({2, 3}), x({2, 3}, kFloat64), x({12, 3})); }),
            "lstm_recurrence: expected floating xproj, h0, c0, w_hh of one dtype and device, got float32[5, 2, 12] "
            "on cpu, float32[2, 3] on cpu, float64[2, 3] on cpu, float32[12, 3] on cpu");
  EXPECT_EQ(error_of([&] { lstm_recurrence(x({5, 2, 12}), x({2, 3}), x({2, 3}), x({12, 3}), x({3, 4})); }),
            "lstm_recurrence: expected bias (4H) = (12), got float32[3, 4] on cpu");
  EXPECT_EQ(error_of([&] { lstm_recurrence(x({5, 2, 12}), x({2, 3}), x({2, 3}), x({12, 3}), x({12}, kFloat64)); }),
            "lstm_recurrence: expected floating xproj, h0, c0, w_hh, bias of one dtype and device, got float32[5, 2, "
            "12] on cpu, float32[2, 3] on cpu, float32[2, 3] on cpu, float32[12, 3] on cpu, float64[12] on cpu");
  EXPECT_THAT(error_of([&] {
                lstm_recurrence(zeros({1, 1, 4}, kInt64), zeros({1, 1}, kInt64), zeros({1, 1}, kInt64),
                                zeros({4, 1}, kInt64));
              }),
              HasSubstr("lstm_recurrence: expected floating xproj, h0, c0, w_hh of one dtype and device"));
}

#ifdef KILN_WITH_CUDA
TEST(LstmRecurrence, DeviceParityCudaMatchesCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(10);
  for (DType d : {kFloat32, kFloat64}) {
    for (bool reverse : {false, true}) {
      RecurrenceInputs in = recurrence_inputs(6, 5, 33, d, gen);
      Tensor wo = randn({6, 5, 33}, {}, &gen).to(d);
      auto run = [&](Device device) {
        TensorList leaves;
        for (const Tensor& t : in.list()) leaves.push_back(t.detach().to(device).requires_grad_());
        TensorList r = lstm_recurrence(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], reverse);
        TensorList all = grad({sum(r[0] * wo.to(device)) + sum(r[2])}, leaves);
        all.insert(all.begin(), r.begin(), r.end());
        return all;
      };
      TensorList cpu = run(Device::cpu()), cuda = run(Device::cuda());
      const double tol = d == kFloat64 ? 1e-12 : 1e-4;
      for (size_t k = 0; k < cpu.size(); ++k)
        EXPECT_TRUE(allclose(test::on_cpu(cuda[k]), cpu[k], tol, tol)) << dtype_name(d) << " tensor " << k;
    }
  }
}
#endif

}  // namespace
}  // namespace kiln
