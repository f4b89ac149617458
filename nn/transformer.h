// Transformer layers as torch.nn (1.13): TransformerEncoderLayer, TransformerDecoderLayer
// and the TransformerEncoder/TransformerDecoder stacks, with PyTorch's submodule and
// parameter names (self_attn.in_proj_weight, linear1.weight, norm1.weight, layers.0...),
// so a PyTorch state dict loads as is. Attention itself is in nn/attention.h.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "nn/attention.h"
#include "nn/layers.h"
#include "nn/norm.h"

namespace kiln::nn {

// What both layer kinds are built from. activation: "relu" or "gelu".
struct TransformerLayerOptions {
  int64_t d_model = 0, nhead = 0, dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";
  double layer_norm_eps = 1e-5;
  bool batch_first = false, norm_first = false;
};

// Post-norm (norm_first = false):  x = norm1(x + SA(x)); x = norm2(x + FF(x))
// Pre-norm  (norm_first = true):   x = x + SA(norm1(x)); x = x + FF(norm2(x))
// SA: self-attention then dropout1; FF: linear2(dropout(act(linear1(x)))) then dropout2.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool batch_first = false, bool norm_first = false, TensorOptions opts = {});
  // src: (S, N, E) ((N, S, E) if batch_first) or (S, E). src_mask: (S, S) or (N * nhead, S, S),
  // src_key_padding_mask: (N, S); bool masks: true = not allowed (see Note [Attention masks]).
  Tensor forward(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {});

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;
};

// Post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x))
// Pre-norm:  x = x + SA(norm1(x)); x = x + MHA(norm2(x), memory); x = x + FF(norm3(x))
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool batch_first = false, bool norm_first = false, TensorOptions opts = {});
  // tgt: (T, N, E), memory: (S, N, E) (batch first if batch_first). tgt_mask: (T, T),
  // memory_mask: (T, S), tgt_key_padding_mask: (N, T), memory_key_padding_mask: (N, S).
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {});

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
};

// A stack of encoder layers ("layers.0", "layers.1", ...) and an optional final "norm".
class TransformerEncoder : public Module {
 public:
  // num_layers copies of `layer`: same options and the same initial weights (PyTorch
  // deep-copies its prototype layer).
  TransformerEncoder(const TransformerEncoderLayer& layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  // num_layers layers made by make_layer (each its own initialisation).
  TransformerEncoder(const std::function<std::shared_ptr<TransformerEncoderLayer>()>& make_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  Tensor forward(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {});

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null: none
  int64_t num_layers;
};

// A stack of decoder layers ("layers.0", ...) and an optional final "norm".
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayer& layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  TransformerDecoder(const std::function<std::shared_ptr<TransformerDecoderLayer>()>& make_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {});

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;
  int64_t num_layers;
};

}  // namespace kiln::nn
