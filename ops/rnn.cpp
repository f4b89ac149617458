// The fused recurrent ops: lstm_cell_pointwise (one step's gates) and lstm_recurrence (a
// whole sequence), checks, their Functions with fused backwards, and the same backwards
// written with kiln ops for create_graph. Kernels: ops/cpu/rnn.cpp and the GEMM stub.
#include "ops/rnn.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/kernels/linalg.h"
#include "ops/kernels/rnn.h"
#include "ops/linalg.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(lstm_pointwise_stub, "lstm_cell_pointwise", LstmPointwiseKernel);
KILN_DEFINE_STUB(lstm_pointwise_backward_stub, "lstm_cell_pointwise", LstmPointwiseBackwardKernel);
KILN_DEFINE_STUB(lstm_row_bands_stub, "lstm_recurrence", LstmRowBandsKernel);

namespace {

// The cell's backward from its inputs, with differentiable ops (the create_graph path):
// gates (N, 4H), c (N, H), dh, dc (N, H) -> {dgates, dc_prev}. The formulas are those of
// lstm_pointwise_backward_element in ops/kernels/rnn.h.
TensorList lstm_cell_backward_ops(const Tensor& gates, const Tensor& c, const Tensor& dh, const Tensor& dc) {
  TensorList g = chunk(gates, 4, -1);
  Tensor i = sigmoid(g[0]), f = sigmoid(g[1]), gg = tanh(g[2]), o = sigmoid(g[3]);
  Tensor tc = tanh(f * c + i * gg);
  Tensor dct = dc + dh * o * (1.0 - tc * tc);
  Tensor dgates = cat({dct * gg * i * (1.0 - i), dct * c * f * (1.0 - f), dct * i * (1.0 - gg * gg),
                       dh * tc * o * (1.0 - o)},
                      -1);
  return {dgates, dct * f};
}

struct LstmCellPointwise : Function<LstmCellPointwise> {
  static constexpr const char* kName = "lstm_cell_pointwise";
  TensorList forward(const Tensor& gates_in, const Tensor& c_in) {
    Tensor gates = gates_in.contiguous(), c = c_in.contiguous();
    const int64_t n = c.size(0), hidden = c.size(1);
    TensorOptions o = options_of(c);
    Tensor h = empty({n, hidden}, o), c_new = empty({n, hidden}, o), tanh_c = empty({n, hidden}, o);
    Tensor act = empty({n, 4 * hidden}, o);
    lstm_pointwise_stub(c.device(), h, c_new, act, tanh_c, gates, c, Tensor(), Tensor());
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
    TensorList d =
        lstm_cell_backward_ops(gates, c, dh.defined() ? dh : zeros_like(c), dc.defined() ? dc : zeros_like(c));
    return {needs_input_grad(0) ? d[0] : Tensor(), needs_input_grad(1) ? d[1] : Tensor()};
  }
};

// Note [LSTM recurrence buffers]
// The forward keeps, for every time t (in time order whatever the direction):
//   act (T, N, 4H)    the gate activations: each step writes h w_hh^T into its slice
//                     with one GEMM, and the cell kernel adds xproj[t] + bias to it and
//                     activates it in place (no pass over all of xproj beforehand);
//   cs, tanh_c (T, N, H)   c and tanh(c) after step t; out (T, N, H) the h after step t.
// The state a step starts from is that of the previous step run, t - 1 (t + 1 when
// reversed), or (h0, c0) for the first. The backward runs the steps in the other order:
//   dh_t = dout[t] + dgates_{next step run} @ w_hh     (+ dh_T on the first)
//   dgates_t, dc = the cell's backward at t,            dc starting from dc_T
// and then d w_hh = sum_t dgates_t^T h_{t's previous}: one GEMM over the (T - 1) * N rows
// whose previous h is a row of `out`, plus one for the first step's h0. Both time loops
// run per band of rows (Note [LSTM row bands] in ops/kernels/rnn.h).
struct LstmRecurrence : Function<LstmRecurrence> {
  static constexpr const char* kName = "lstm_recurrence";
  bool reverse = false;

  TensorList forward(const Tensor& xproj_in, const Tensor& h0_in, const Tensor& c0_in, const Tensor& w_in,
                     const Tensor& bias, bool reverse_) {
    reverse = reverse_;
    const Tensor h0 = h0_in.contiguous(), c0 = c0_in.contiguous(), w_t = w_in.contiguous().t();
    const int64_t t_len = xproj_in.size(0), n = h0.size(0), hidden = h0.size(1);
    const Device device = h0.device();
    TensorOptions o = options_of(h0);
    const Tensor xproj = xproj_in.contiguous(), bias_c = bias.defined() ? bias.contiguous() : Tensor();
    Tensor act = empty(xproj.shape(), o);
    Tensor out = empty({t_len, n, hidden}, o), cs = empty({t_len, n, hidden}, o), tanh_c = empty({t_len, n, hidden}, o);
    const Tensor w_t_prepared = gemm_prepare_stub(device, w_t);  // Note [Prepared GEMM operand]
    lstm_row_bands_stub(device, n, t_len * 4 * hidden * hidden, [&](int64_t r0, int64_t r1) {
      NoGradGuard no_grad;  // grad mode is per thread: the bands' views record no graph on any
      const auto rows = [r0, r1](const Tensor& x) { return x.narrow(0, r0, r1 - r0); };
      Tensor h = rows(h0), c = rows(c0);
      for (int64_t s = 0; s < t_len; ++s) {
        const int64_t t = reverse ? t_len - 1 - s : s;
        Tensor gates = rows(act.select(0, t)), h_t = rows(out.select(0, t)), c_t = rows(cs.select(0, t));
        // h w_hh^T; the cell kernel adds xproj[t] + bias
        gemm_prepared_stub(device, gates, h, w_t, w_t_prepared, 0.0, 1.0);
        lstm_pointwise_stub(device, h_t, c_t, gates, rows(tanh_c.select(0, t)), gates, c, rows(xproj.select(0, t)),
                            bias_c);
        h = h_t, c = c_t;
      }
    });
    save(xproj_in, h0_in, c0_in, w_in, bias, act, cs, tanh_c);
    save_output(out, 0);
    const int64_t last = reverse ? 0 : t_len - 1;  // the step run last
    return {out, out.select(0, last).clone(), cs.select(0, last).clone()};
  }

  TensorList backward(const TensorList& grads) {
    auto [xproj, h0, c0, w, bias, act, cs, tanh_c, out] = saved<9>();
    if (GradMode::is_enabled()) return backward_with_ops(grads, xproj, h0, c0, w, bias);
    const int64_t t_len = act.size(0), n = act.size(1), hidden = h0.size(1);
    const Device device = h0.device();
    const Tensor w_c = w.contiguous(), h0_c = h0.contiguous(), c0_c = c0.contiguous();
    const Tensor w_prepared = gemm_prepare_stub(device, w_c);
    Tensor dgates = empty(act.shape(), options_of(act));
    Tensor dh = grads[0].clone().contiguous();  // dout, accumulating dh_t in place
    Tensor dc = grads[2].clone().contiguous();  // dc of the step being run, updated in place
    dh.select(0, reverse ? 0 : t_len - 1).add_(grads[1]);  // the step run last forward, first here
    lstm_row_bands_stub(device, n, 2 * t_len * 4 * hidden * hidden, [&](int64_t r0, int64_t r1) {
      NoGradGuard no_grad;
      const auto rows = [r0, r1](const Tensor& x) { return x.narrow(0, r0, r1 - r0); };
      const Tensor dc_rows = rows(dc);
      int64_t next = -1;  // the step run before this one in the backward
      for (int64_t s = t_len - 1; s >= 0; --s) {
        const int64_t t = reverse ? t_len - 1 - s : s;
        Tensor dh_t = rows(dh.select(0, t));
        if (next >= 0) gemm_prepared_stub(device, dh_t, rows(dgates.select(0, next)), w_c, w_prepared, 1.0, 1.0);
        const bool first = s == 0;  // the step whose state was (h0, c0)
        const int64_t prev = reverse ? t + 1 : t - 1;
        lstm_pointwise_backward_stub(device, rows(dgates.select(0, t)), dc_rows, dh_t, dc_rows, rows(act.select(0, t)),
                                     rows(tanh_c.select(0, t)), rows(first ? c0_c : cs.select(0, prev)));
        next = t;
      }
    });
    const int64_t next = reverse ? t_len - 1 : 0;  // the step that started from (h0, c0)
    Tensor dh0, dw;
    if (needs_input_grad(1)) {
      dh0 = empty({n, hidden}, options_of(h0));
      gemm_stub(device, dh0, dgates.select(0, next), w_c, 0.0, 1.0);
    }
    if (needs_input_grad(3)) {
      dw = empty({4 * hidden, hidden}, options_of(w));
      gemm_stub(device, dw, dgates.select(0, next).t(), h0_c, 0.0, 1.0);
      if (t_len > 1) {
        // Rows of steps 1.. (time order) against out[0 .., T-2], or reversed: steps
        // 0 .. T-2 against out[1 .. T-1].
        Tensor dg = dgates.narrow(0, reverse ? 0 : 1, t_len - 1).reshape({(t_len - 1) * n, 4 * hidden});
        Tensor hp = out.narrow(0, reverse ? 1 : 0, t_len - 1).reshape({(t_len - 1) * n, hidden});
        gemm_stub(device, dw, dg.t(), hp, 1.0, 1.0);
      }
    }
    return {needs_input_grad(0) ? dgates : Tensor(), dh0, needs_input_grad(2) ? dc : Tensor(), dw,
            needs_input_grad(4) ? dgates.sum({0, 1}) : Tensor()};
  }

  // create_graph: the forward again with differentiable ops (addmm and the cell), then
  // the backward of Note [LSTM recurrence buffers] with differentiable ops too.
  TensorList backward_with_ops(const TensorList& grads, const Tensor& xproj, const Tensor& h0, const Tensor& c0,
                               const Tensor& w, const Tensor& bias) {
    const int64_t t_len = xproj.size(0);
    const size_t steps = size_t(t_len);
    TensorList xs = unbind(xproj, 0), gates(steps), h_prev(steps), c_prev(steps);
    Tensor h = h0, c = c0;
    for (int64_t s = 0; s < t_len; ++s) {
      const size_t t = size_t(reverse ? t_len - 1 - s : s);
      gates[t] = addmm(bias.defined() ? xs[t] + bias : xs[t], h, w.t());
      h_prev[t] = h, c_prev[t] = c;
      TensorList hc = lstm_cell_pointwise(gates[t], c);
      h = hc[0], c = hc[1];
    }
    TensorList douts = unbind(grads[0], 0), dgates(steps);
    Tensor dh_next = grads[1], dc = grads[2], dw;
    for (int64_t s = t_len - 1; s >= 0; --s) {
      const size_t t = size_t(reverse ? t_len - 1 - s : s);
      TensorList d = lstm_cell_backward_ops(gates[t], c_prev[t], douts[t] + dh_next, dc);
      dgates[t] = d[0], dc = d[1];
      dh_next = mm(d[0], w);
      Tensor dw_t = mm(d[0].t(), h_prev[t]);
      dw = dw.defined() ? dw + dw_t : dw_t;
    }
    Tensor dxproj = stack(dgates, 0);
    return {needs_input_grad(0) ? dxproj : Tensor(), needs_input_grad(1) ? dh_next : Tensor(),
            needs_input_grad(2) ? dc : Tensor(), needs_input_grad(3) ? dw : Tensor(),
            needs_input_grad(4) ? dxproj.sum({0, 1}) : Tensor()};
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

TensorList lstm_recurrence(const Tensor& xproj, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                           const Tensor& bias, bool reverse) {
  const char* op = "lstm_recurrence";
  const bool shapes_ok = xproj.dim() == 3 && xproj.size(0) >= 1 && h0.dim() == 2 && c0.shape() == h0.shape() &&
                         w_hh.dim() == 2 && w_hh.size(0) == 4 * h0.size(1) && w_hh.size(1) == h0.size(1) &&
                         xproj.size(1) == h0.size(0) && xproj.size(2) == 4 * h0.size(1);
  KILN_CHECK(shapes_ok, op, ": expected xproj (T, N, 4H) with T >= 1, h0 and c0 (N, H), w_hh (4H, H), got xproj ",
             xproj.meta_str(), ", h0 ", h0.meta_str(), ", c0 ", c0.meta_str(), ", w_hh ", w_hh.meta_str());
  KILN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == xproj.size(2)), op, ": expected bias (4H) = (",
             xproj.size(2), "), got ", bias.meta_str());
  bool same = is_floating(xproj.dtype());
  for (const Tensor* t : {&h0, &c0, &w_hh, &bias})
    same = same && (!t->defined() || (t->dtype() == xproj.dtype() && t->device() == xproj.device()));
  KILN_CHECK(same, op, ": expected floating xproj, h0, c0, w_hh", bias.defined() ? ", bias" : "",
             " of one dtype and device, got ", xproj.meta_str(), ", ", h0.meta_str(), ", ", c0.meta_str(), ", ",
             w_hh.meta_str(), bias.defined() ? ", " + bias.meta_str() : "");
  return apply<LstmRecurrence>(xproj, h0, c0, w_hh, bias, reverse);
}

}  // namespace kiln
