// Attention: scaled dot-product attention, multi-head attention (functional form and
// the MultiheadAttention layer, as torch.nn.MultiheadAttention) and the causal mask
// helper. Composed of kiln ops (matmul, softmax, masked_fill), so autograd comes free.
// The layers that stack these are in nn/transformer.h.
#pragma once


#include "nn/layers.h"
#include "nn/module.h"

namespace kiln::nn {

// An attention result: the output and the attention weights (undefined when not asked for).
struct AttentionOutput {
  Tensor output;
  Tensor weights;
};

// Note [Attention masks]
// Two conventions for bool masks exist in PyTorch and kiln keeps both where PyTorch has them:
// - scaled_dot_product_attention (torch 2.x): true = the position TAKES PART in attention.
// - MultiheadAttention / multi_head_attention_forward / the Transformer layers (torch 1.13):
//   attn_mask and key_padding_mask true = the position is NOT allowed (masked out).
// A floating mask is always added to the scores before the softmax (-inf removes a position).
// A row whose positions are all masked out gives NaN, as in PyTorch.

namespace functional {

// q: (..., L, E), k: (..., S, E), v: (..., S, Ev) -> (..., L, Ev) =
// softmax(q k^T / sqrt(E) + mask) v, batch dims broadcast. attn_mask: bool (true = attend)
// or floating (added), broadcast to (..., L, S). is_causal: position i attends to j <= i
// (cannot be combined with attn_mask). dropout_p: dropout on the attention weights
// (always applied when > 0, as torch's functional form).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask = {},
                                    double dropout_p = 0.0, bool is_causal = false);

// torch.nn.functional.multi_head_attention_forward, sequence first:
// query: (L, N, E) or unbatched (L, E); key: (S, N, kdim), value: (S, N, vdim).
// Packed projections: in_proj_weight (3E, E) holding [W_q; W_k; W_v] (needs kdim = vdim = E);
// or, when in_proj_weight is undefined, q_proj_weight (E, E), k_proj_weight (E, kdim),
// v_proj_weight (E, vdim). in_proj_bias: (3E) or undefined. out_proj: (E, E) and (E).
// key_padding_mask: (N, S) (or (S) unbatched), bool (true = ignore) or floating (added).
// attn_mask: (L, S) or (N * num_heads, L, S), bool (true = not allowed) or floating (added).
// bias_k, bias_v: (1, 1, E) or undefined: appended to the projected keys and values as
// one more position that every query may attend to (masks get an allowed column).
// add_zero_attn: appends a further position whose key and value are zero, per head.
// Returns output (L, N, E) and, if need_weights, weights (N, L, S') averaged over heads
// or (N, num_heads, L, S') (unbatched: without N), S' = S plus the appended positions.
// Dropout on the weights only when training.
AttentionOutput multi_head_attention_forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                             int64_t num_heads, const Tensor& in_proj_weight,
                                             const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                                             const Tensor& out_proj_bias, const Tensor& key_padding_mask = {},
                                             bool need_weights = true, const Tensor& attn_mask = {},
                                             double dropout_p = 0.0, bool training = true,
                                             bool average_attn_weights = true, const Tensor& q_proj_weight = {},
                                             const Tensor& k_proj_weight = {}, const Tensor& v_proj_weight = {},
                                             const Tensor& bias_k = {}, const Tensor& bias_v = {},
                                             bool add_zero_attn = false);

}  // namespace functional

// (L, L) float mask with -inf above the diagonal and 0 elsewhere: position i may attend
// to j <= i (torch.nn.Transformer.generate_square_subsequent_mask).
Tensor generate_square_subsequent_mask(int64_t size, TensorOptions opts = {});

// torch.nn.MultiheadAttention. Parameters as PyTorch (so state dicts line up):
// kdim = vdim = embed_dim: in_proj_weight (3E, E), xavier_uniform;
// otherwise q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim), xavier_uniform;
// in_proj_bias (3E) zeros; out_proj: Linear(E, E) with PyTorch's Linear init and a zero bias;
// with add_bias_kv, bias_k and bias_v (1, 1, E), xavier_normal. kdim/vdim <= 0 mean
// embed_dim. The arguments come in PyTorch's order.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool add_bias_kv = false, bool add_zero_attn = false, int64_t kdim = 0, int64_t vdim = 0,
                     bool batch_first = false, TensorOptions opts = {});
  // query: (L, N, E) ((N, L, E) if batch_first) or (L, E); key/value: (S, N, kdim/vdim).
  // Masks as functional::multi_head_attention_forward (see Note [Attention masks]).
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, bool need_weights = true,
                          const Tensor& attn_mask = {}, bool average_attn_weights = true);

  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias, bias_k, bias_v;
  std::shared_ptr<Linear> out_proj;
  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  double dropout;
  bool add_zero_attn, batch_first;
};

}  // namespace kiln::nn
