// The fused LSTM cell pointwise op (ops/rnn.h) against the same formulas written with
// unfused kiln ops: forward, first-order gradients through the one-pass backward kernel
// (also when only one output is used), and errors. The LSTM layers' PyTorch references
// and double-backward checks, which run its create_graph path, are in tests/nn/rnn_test.cpp.
#include "kiln.h"
#include "ops/cpu/parallel.h"
#include "ops/rnn.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

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

}  // namespace
}  // namespace kiln
