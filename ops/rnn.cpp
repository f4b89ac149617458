// The fused LSTM cell pointwise op: checks, the Function with its one-pass backward, and
// the same backward written with kiln ops for create_graph. Kernels: ops/cpu/rnn.cpp.
#include "ops/rnn.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/kernels/rnn.h"
#include "ops/unary.h"

namespace kiln {

KILN_DEFINE_STUB(lstm_pointwise_stub, "lstm_cell_pointwise", LstmPointwiseKernel);
KILN_DEFINE_STUB(lstm_pointwise_backward_stub, "lstm_cell_pointwise", LstmPointwiseBackwardKernel);

namespace {

struct LstmCellPointwise : Function<LstmCellPointwise> {
  static constexpr const char* kName = "lstm_cell_pointwise";
  TensorList forward(const Tensor& gates_in, const Tensor& c_in) {
    Tensor gates = gates_in.contiguous(), c = c_in.contiguous();
    const int64_t n = c.size(0), hidden = c.size(1);
    TensorOptions o = options_of(c);
    Tensor h = empty({n, hidden}, o), c_new = empty({n, hidden}, o), tanh_c = empty({n, hidden}, o);
    Tensor act = empty({n, 4 * hidden}, o);
    lstm_pointwise_stub(c.device(), h, c_new, act, tanh_c, gates, c);
    save(gates_in, c_in, act, tanh_c);
    return {h, c_new};
  }

  TensorList backward(const TensorList& grads) {
    auto [gates, c, act, tanh_c] = saved<4>();
    const Tensor &dh = grads[0], &dc = grads[1];
    if (!GradMode::is_enabled()) {
      Tensor dgates = empty(gates.shape(), options_of(gates)), dc_prev = empty(c.shape(), options_of(c));
      lstm_pointwise_backward_stub(c.device(), dgates, dc_prev, dh.defined() ? dh.contiguous() : dh,
                                   dc.defined() ? dc.contiguous() : dc, act, tanh_c, c.contiguous());
      return {needs_input_grad(0) ? dgates : Tensor(), needs_input_grad(1) ? dc_prev : Tensor()};
    }
    // create_graph: the same derivative from the inputs, with differentiable ops.
    TensorList g = chunk(gates, 4, -1);
    Tensor i = sigmoid(g[0]), f = sigmoid(g[1]), gg = tanh(g[2]), o = sigmoid(g[3]);
    Tensor tc = tanh(f * c + i * gg);
    Tensor dh_ = dh.defined() ? dh : zeros_like(c), dc_ = dc.defined() ? dc : zeros_like(c);
    Tensor dct = dc_ + dh_ * o * (1.0 - tc * tc);
    Tensor dgates = cat({dct * gg * i * (1.0 - i), dct * c * f * (1.0 - f), dct * i * (1.0 - gg * gg),
                         dh_ * tc * o * (1.0 - o)},
                        -1);
    return {needs_input_grad(0) ? dgates : Tensor(), needs_input_grad(1) ? dct * f : Tensor()};
  }
};

}  // namespace

TensorList lstm_cell_pointwise(const Tensor& gates, const Tensor& c) {
  const char* op = "lstm_cell_pointwise";
  KILN_CHECK(c.dim() == 2 && gates.dim() == 2 && gates.size(0) == c.size(0) && gates.size(1) == 4 * c.size(1), op,
             ": expected gates (N, 4H) and c (N, H), got gates ", gates.meta_str(), " and c ", c.meta_str());
  KILN_CHECK(is_floating(c.dtype()) && gates.dtype() == c.dtype() && gates.device() == c.device(), op,
             ": expected floating gates and c of one dtype and device, got ", gates.meta_str(), " and ",
             c.meta_str());
  return apply<LstmCellPointwise>(gates, c);
}

}  // namespace kiln
