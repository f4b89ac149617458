// Recurrent layers: LSTM and GRU (num_layers, batch_first, bidirectional, dropout
// between layers, initial states) and their single-step cells, as torch.nn names and
// initialises them. docs/nn.md walks through LSTM as the worked example of a layer.
#pragma once

#include <optional>
#include <string>

#include "nn/module.h"

namespace kiln::nn {

struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // input (N, T, F) instead of (T, N, F)
  double dropout = 0.0;      // on the outputs of every layer but the last, in training
  bool bidirectional = false;
};

struct LSTMState {
  Tensor h, c;  // (num_layers * directions, N, H), or without N for unbatched input
};
struct LSTMOutput {
  Tensor output;  // (T, N, directions * H), or (N, T, ...) with batch_first
  LSTMState state;
};
struct GRUOutput {
  Tensor output;
  Tensor h;
};

namespace functional {
// One step. x: (N, in), h, c: (N, H); w_ih: (4H, in), w_hh: (4H, H), biases (4H) or
// undefined. Gates in PyTorch's order i, f, g, o:
//   [i f g o] = x w_ih^T + b_ih + h w_hh^T + b_hh
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')
LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih = {}, const Tensor& b_hh = {});
// One step. Gates r, z, n:
//   r = sigmoid(x W_ir + b_ir + h W_hr + b_hr),  z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
//   n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h' = (1 - z) * n + z * h
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = {},
                const Tensor& b_hh = {});
// Whole sequences. `weights` in PyTorch's flat order: for each layer, for each
// direction (forward, then reverse): w_ih, w_hh, and b_ih, b_hh when opts.bias.
// Undefined h0/c0 mean zeros.
LSTMOutput lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const TensorList& weights,
                const RNNOptions& opts, bool training = false);
GRUOutput gru(const Tensor& x, const Tensor& h0, const TensorList& weights, const RNNOptions& opts,
              bool training = false);
}  // namespace functional

// What LSTM and GRU share: parameters weight_ih_l{k}[_reverse], weight_hh_l{k},
// bias_ih_l{k}, bias_hh_l{k} (gates * hidden rows), all initialised
// U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch, kept in PyTorch's flat order.
class RNNBase : public Module {
 public:
  RNNBase(const char* type_name, int64_t gates, int64_t input_size, int64_t hidden_size, RNNOptions opts,
          TensorOptions topts);
  std::string extra_repr() const override;
  const TensorList& flat_weights() const { return weights_; }
  int64_t input_size, hidden_size;
  RNNOptions options;

 protected:
  TensorList weights_;
};

class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, RNNOptions opts = {}, TensorOptions topts = {})
      : RNNBase("LSTM", 4, input_size, hidden_size, opts, topts) {}
  LSTMOutput forward(const Tensor& x, const LSTMState& state = {});
  LSTMOutput operator()(const Tensor& x, const LSTMState& state = {}) { return forward(x, state); }
};

class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, RNNOptions opts = {}, TensorOptions topts = {})
      : RNNBase("GRU", 3, input_size, hidden_size, opts, topts) {}
  GRUOutput forward(const Tensor& x, const Tensor& h0 = {});
  GRUOutput operator()(const Tensor& x, const Tensor& h0 = {}) { return forward(x, h0); }
};

// What the single-step cells share: weight_ih (gates*H, in), weight_hh (gates*H, H),
// bias_ih, bias_hh (gates*H), U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
class RNNCellBase : public Module {
 public:
  RNNCellBase(const char* type_name, int64_t gates, int64_t input_size, int64_t hidden_size, bool bias,
              TensorOptions topts);
  std::string extra_repr() const override;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
  int64_t input_size, hidden_size;

 protected:
  Tensor checked_input(const Tensor& x) const;  // (N, input_size)
};

class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true, TensorOptions topts = {})
      : RNNCellBase("LSTMCell", 4, input_size, hidden_size, bias, topts) {}
  LSTMState forward(const Tensor& x, const LSTMState& state = {});
};

class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true, TensorOptions topts = {})
      : RNNCellBase("GRUCell", 3, input_size, hidden_size, bias, topts) {}
  Tensor forward(const Tensor& x, const Tensor& h = {});
};

// Embedding: a lookup table (num_embeddings, embedding_dim), init N(0, 1), with the
// padding_idx row (negative counts from the end, as PyTorch) zeroed and given no gradient.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            TensorOptions topts = {});
  Tensor forward(const Tensor& indices);
  Tensor operator()(const Tensor& indices) { return forward(indices); }
  std::string extra_repr() const override;
  Tensor weight;
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // normalised to [0, num_embeddings)
};

}  // namespace kiln::nn
