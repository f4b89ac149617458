// LSTM and GRU: a cell is a few matmuls and elementwise gates; a layer runs the cell
// over time (the input projection for all steps in one GEMM first); a stack feeds
// each layer's outputs to the next. Autograd unrolls GRU step by step; an LSTM layer's
// direction is one lstm_recurrence node (ops/rnn.h), backprop through time fused.
#include "nn/rnn.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/rnn.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln::nn {

namespace functional {

namespace {
// x W^T (+ b): the affine map of every gate at once.
Tensor gates_of(const Tensor& x, const Tensor& w, const Tensor& b) {
  return b.defined() ? addmm(b, x, w.t()) : matmul(x, w.t());
}
}  // namespace

LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih, const Tensor& b_hh) {
  Tensor gates = gates_of(x, w_ih, b_ih) + gates_of(state.h, w_hh, b_hh);  // i, f, g, o
  if (x.dim() == 1) {  // unbatched: the fused op takes (N, 4H)
    TensorList hc = lstm_cell_pointwise(gates.unsqueeze(0), state.c.unsqueeze(0));
    return {hc[0].squeeze(0), hc[1].squeeze(0)};
  }
  TensorList hc = lstm_cell_pointwise(gates, state.c);
  return {hc[0], hc[1]};
}

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh) {
  TensorList gi = chunk(gates_of(x, w_ih, b_ih), 3, -1);  // r, z, n parts of the input
  TensorList gh = chunk(gates_of(h, w_hh, b_hh), 3, -1);  // ... and of the hidden state
  Tensor r = sigmoid(gi[0] + gh[0]);
  Tensor z = sigmoid(gi[1] + gh[1]);
  Tensor n = tanh(gi[2] + r * gh[2]);
  return (1.0 - z) * n + z * h;
}

namespace {

// What every recurrent layer checks and normalises: input to (T, N, F), states to
// (L * D, N, H); `unbatched` for a (T, F) input.
struct Sequence {
  Tensor x;  // (T, N, F)
  bool unbatched = false;
};

Sequence to_time_major(const Tensor& x, const RNNOptions& o, int64_t input_size, const char* op) {
  KILN_CHECK(x.dim() == 2 || x.dim() == 3, op, ": expected a 2-D (T, F) or 3-D input, got ", x.meta_str());
  Sequence s;
  s.unbatched = x.dim() == 2;
  s.x = s.unbatched ? x.unsqueeze(1) : (o.batch_first ? x.transpose(0, 1) : x);
  KILN_CHECK(s.x.size(2) == input_size, op, ": expected input_size ", input_size, ", got input ", x.meta_str());
  return s;
}

Tensor initial_state(const Tensor& given, int64_t layers_dirs, int64_t n, int64_t hidden, const Tensor& like,
                     bool unbatched, const char* op, const char* what) {
  if (!given.defined()) return zeros({layers_dirs, n, hidden}, options_of(like));
  Tensor s = unbatched ? given.unsqueeze(1) : given;
  KILN_CHECK(s.dim() == 3 && s.size(0) == layers_dirs && s.size(1) == n && s.size(2) == hidden, op, ": expected ",
             what, " of shape ", Shape{layers_dirs, n, hidden}, ", got ", given.meta_str());
  return s;
}

size_t weights_per_direction(const RNNOptions& o) { return o.bias ? 4 : 2; }

void check_weights(const TensorList& w, const RNNOptions& o, const char* op) {
  size_t dirs = o.bidirectional ? 2 : 1;
  KILN_CHECK(w.size() == size_t(o.num_layers) * dirs * weights_per_direction(o), op, ": expected ",
             size_t(o.num_layers) * dirs * weights_per_direction(o), " weight tensors, got ", w.size());
}

// Runs one GRU direction of one layer over the whole sequence with `step`, which maps
// (input projection at t, h) to the new h; returns the outputs (T, N, H).
template <typename Step>
Tensor run_direction(const Tensor& xproj, Tensor& h, bool reverse, Step step) {
  const int64_t t_len = xproj.size(0);
  TensorList steps = unbind(xproj, 0);  // one node: its backward stacks the step gradients
  TensorList outs(static_cast<size_t>(t_len));
  for (int64_t s = 0; s < t_len; ++s) {
    int64_t t = reverse ? t_len - 1 - s : s;
    h = step(steps[size_t(t)], h);
    outs[size_t(t)] = h;
  }
  return stack(outs, 0);
}

}  // namespace

LSTMOutput lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const TensorList& weights,
                const RNNOptions& o, bool training) {
  check_weights(weights, o, "lstm");
  const int64_t dirs = o.bidirectional ? 2 : 1, hidden = weights[1].size(1);
  Sequence seq = to_time_major(x, o, weights[0].size(1), "lstm");
  const int64_t n = seq.x.size(1);
  Tensor h_all = initial_state(h0, o.num_layers * dirs, n, hidden, seq.x, seq.unbatched, "lstm", "h0");
  Tensor c_all = initial_state(c0, o.num_layers * dirs, n, hidden, seq.x, seq.unbatched, "lstm", "c0");
  Tensor layer_in = seq.x;
  TensorList h_n, c_n;
  const size_t per = weights_per_direction(o);
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    TensorList dir_outs;
    for (int64_t d = 0; d < dirs; ++d) {
      const Tensor* w = &weights[size_t(layer * dirs + d) * per];
      // The input half of every gate for all time steps in one GEMM: (T, N, 4H).
      // lstm_recurrence adds both biases as one vector and runs the steps, each adding
      // h W_hh^T to its slice.
      Tensor xproj = matmul(layer_in.reshape({-1, layer_in.size(2)}), w[0].t()).reshape({layer_in.size(0), n, -1});
      TensorList r = lstm_recurrence(xproj, h_all.select(0, layer * dirs + d), c_all.select(0, layer * dirs + d),
                                     w[1], o.bias ? w[2] + w[3] : Tensor(), d == 1);
      dir_outs.push_back(r[0]);
      h_n.push_back(r[1]);
      c_n.push_back(r[2]);
    }
    layer_in = dirs == 1 ? dir_outs[0] : cat(dir_outs, 2);
    if (layer + 1 < o.num_layers) layer_in = dropout(layer_in, o.dropout, training);
  }
  Tensor out = seq.unbatched ? layer_in.squeeze(1) : (o.batch_first ? layer_in.transpose(0, 1) : layer_in);
  Tensor hn = stack(h_n, 0), cn = stack(c_n, 0);
  if (seq.unbatched) hn = hn.squeeze(1), cn = cn.squeeze(1);
  return {out, {hn, cn}};
}

GRUOutput gru(const Tensor& x, const Tensor& h0, const TensorList& weights, const RNNOptions& o, bool training) {
  check_weights(weights, o, "gru");
  const int64_t dirs = o.bidirectional ? 2 : 1, hidden = weights[1].size(1);
  Sequence seq = to_time_major(x, o, weights[0].size(1), "gru");
  const int64_t n = seq.x.size(1);
  Tensor h_all = initial_state(h0, o.num_layers * dirs, n, hidden, seq.x, seq.unbatched, "gru", "h0");
  Tensor layer_in = seq.x;
  TensorList h_n;
  const size_t per = weights_per_direction(o);
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    TensorList dir_outs;
    for (int64_t d = 0; d < dirs; ++d) {
      const Tensor* w = &weights[size_t(layer * dirs + d) * per];
      Tensor b_ih = o.bias ? w[2] : Tensor(), b_hh = o.bias ? w[3] : Tensor();
      Tensor xproj = gates_of(layer_in.reshape({-1, layer_in.size(2)}), w[0], b_ih).reshape({layer_in.size(0), n, -1});
      Tensor state = h_all.select(0, layer * dirs + d);
      Tensor out = run_direction(
          xproj, state, d == 1,
          [&](const Tensor& xp, const Tensor& h) {
            TensorList gi = chunk(xp, 3, -1), gh = chunk(gates_of(h, w[1], b_hh), 3, -1);
            Tensor r = sigmoid(gi[0] + gh[0]), z = sigmoid(gi[1] + gh[1]);
            Tensor nn_ = tanh(gi[2] + r * gh[2]);
            return (1.0 - z) * nn_ + z * h;
          });
      dir_outs.push_back(out);
      h_n.push_back(state);
    }
    layer_in = dirs == 1 ? dir_outs[0] : cat(dir_outs, 2);
    if (layer + 1 < o.num_layers) layer_in = dropout(layer_in, o.dropout, training);
  }
  Tensor out = seq.unbatched ? layer_in.squeeze(1) : (o.batch_first ? layer_in.transpose(0, 1) : layer_in);
  Tensor hn = stack(h_n, 0);
  return {out, seq.unbatched ? hn.squeeze(1) : hn};
}

}  // namespace functional

namespace {

std::string rnn_repr(int64_t input_size, int64_t hidden, const RNNOptions& o) {
  std::string s = repr_join(input_size, ", ", hidden);
  if (o.num_layers != 1) s += repr_join(", num_layers=", o.num_layers);
  if (!o.bias) s += ", bias=False";
  if (o.batch_first) s += ", batch_first=True";
  if (o.dropout != 0) s += repr_join(", dropout=", o.dropout);
  if (o.bidirectional) s += ", bidirectional=True";
  return s;
}

}  // namespace

RNNBase::RNNBase(const char* type_name, int64_t gates, int64_t in, int64_t hidden, RNNOptions o,
                 TensorOptions topts)
    : Module(type_name), input_size(in), hidden_size(hidden), options(o) {
  KILN_CHECK(in > 0 && hidden > 0 && o.num_layers > 0, type_name,
             ": input_size, hidden_size and num_layers must be positive");
  KILN_CHECK(o.dropout >= 0 && o.dropout <= 1, type_name, ": dropout must be in [0, 1], got ", o.dropout);
  topts.requires_grad = false;
  double bound = 1.0 / std::sqrt(double(hidden));
  int64_t dirs = o.bidirectional ? 2 : 1;
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    int64_t layer_in = layer == 0 ? in : hidden * dirs;
    for (int64_t d = 0; d < dirs; ++d) {
      std::string sfx = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
      Shape shapes[4] = {{gates * hidden, layer_in}, {gates * hidden, hidden}, {gates * hidden}, {gates * hidden}};
      const char* names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
      for (int k = 0; k < (o.bias ? 4 : 2); ++k) {
        Tensor t = register_parameter(names[k] + sfx, empty(shapes[k], topts));
        init::uniform_(t, -bound, bound);
        weights_.push_back(t);
      }
    }
  }
}

std::string RNNBase::extra_repr() const { return rnn_repr(input_size, hidden_size, options); }

LSTMOutput LSTM::forward(const Tensor& x, const LSTMState& state) {
  return functional::lstm(x, state.h, state.c, weights_, options, is_training());
}

GRUOutput GRU::forward(const Tensor& x, const Tensor& h0) {
  return functional::gru(x, h0, weights_, options, is_training());
}

RNNCellBase::RNNCellBase(const char* type_name, int64_t gates, int64_t in, int64_t hidden, bool bias,
                         TensorOptions topts)
    : Module(type_name), input_size(in), hidden_size(hidden) {
  KILN_CHECK(in > 0 && hidden > 0, type_name, ": input_size and hidden_size must be positive");
  topts.requires_grad = false;
  double bound = 1.0 / std::sqrt(double(hidden));
  weight_ih = register_parameter("weight_ih", empty({gates * hidden, in}, topts));
  weight_hh = register_parameter("weight_hh", empty({gates * hidden, hidden}, topts));
  bias_ih = register_parameter("bias_ih", bias ? empty({gates * hidden}, topts) : Tensor());
  bias_hh = register_parameter("bias_hh", bias ? empty({gates * hidden}, topts) : Tensor());
  for (Tensor* t : {&weight_ih, &weight_hh, &bias_ih, &bias_hh})
    if (t->defined()) init::uniform_(*t, -bound, bound);
}

std::string RNNCellBase::extra_repr() const {
  return repr_join(input_size, ", ", hidden_size, bias_ih.defined() ? "" : ", bias=False");
}

Tensor RNNCellBase::checked_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 2 && x.size(1) == input_size, type_name(), ": expected input (N, ", input_size, "), got ",
             x.meta_str());
  return x;
}

LSTMState LSTMCell::forward(const Tensor& x, const LSTMState& state) {
  checked_input(x);
  LSTMState s = state;
  if (!s.h.defined()) s.h = zeros({x.size(0), hidden_size}, options_of(x));
  if (!s.c.defined()) s.c = zeros({x.size(0), hidden_size}, options_of(x));
  return functional::lstm_cell(x, s, weight_ih, weight_hh, bias_ih, bias_hh);
}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) {
  checked_input(x);
  Tensor h0 = h.defined() ? h : zeros({x.size(0), hidden_size}, options_of(x));
  return functional::gru_cell(x, h0, weight_ih, weight_hh, bias_ih, bias_hh);
}

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> pad, TensorOptions topts)
    : Module("Embedding"), num_embeddings(num), embedding_dim(dim) {
  KILN_CHECK(num > 0 && dim > 0, "Embedding: num_embeddings and embedding_dim must be positive");
  if (pad) {
    KILN_CHECK(*pad >= -num && *pad < num, "Embedding: padding_idx ", *pad, " is out of range for ", num,
               " embeddings");
    padding_idx = *pad < 0 ? *pad + num : *pad;
  }
  topts.requires_grad = false;
  weight = register_parameter("weight", empty({num, dim}, topts));
  init::normal_(weight);
  if (padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *padding_idx).fill_(0.0);
  }
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx.value_or(-1)); }

std::string Embedding::extra_repr() const {
  return repr_join(num_embeddings, ", ", embedding_dim, padding_idx ? repr_join(", padding_idx=", *padding_idx) : "");
}

}  // namespace kiln::nn
