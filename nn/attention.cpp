// Scaled dot-product and multi-head attention (nn/attention.h), composed of kiln ops:
// the backward comes from matmul, softmax, masked_fill and the views.
#include "nn/attention.h"

#include <cmath>
#include <limits>

#include "nn/functional.h"
#include "nn/init.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln::nn {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Applies a mask to attention scores (..., L, S). masked_out_when_true: the bool mask
// convention (true = removed for MultiheadAttention, true = kept for SDPA); see
// Note [Attention masks]. A floating mask is added.
Tensor apply_mask(const Tensor& scores, const Tensor& mask, bool masked_out_when_true) {
  if (!mask.defined()) return scores;
  if (mask.dtype() == kBool) return masked_fill(scores, masked_out_when_true ? mask : logical_not(mask), kNegInf);
  return scores + mask;
}

void check_mask_dtype(const Tensor& mask, const char* op, const char* what) {
  KILN_CHECK(!mask.defined() || mask.dtype() == kBool || mask.is_floating_point(), op, ": ", what,
             " must be a bool or floating tensor, got ", mask.meta_str());
}

}  // namespace

namespace functional {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal) {
  const char* op = "scaled_dot_product_attention";
  KILN_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, op,
             ": expected query (..., L, E), key (..., S, E) and value (..., S, Ev), got ", q.meta_str(), ", ",
             k.meta_str(), " and ", v.meta_str());
  KILN_CHECK(q.is_floating_point() && q.dtype() == k.dtype() && q.dtype() == v.dtype(), op,
             ": expected floating query, key and value of one dtype, got ", q.meta_str(), ", ", k.meta_str(), " and ",
             v.meta_str());
  KILN_CHECK(q.size(-1) == k.size(-1), op, ": query ", q.meta_str(), " and key ", k.meta_str(),
             " differ in the embedding dim E");
  KILN_CHECK(k.size(-2) == v.size(-2), op, ": key ", k.meta_str(), " and value ", v.meta_str(),
             " differ in the source length S");
  check_mask_dtype(attn_mask, op, "attn_mask");
  KILN_CHECK(!(is_causal && attn_mask.defined()), op, ": pass either attn_mask or is_causal, not both");
  KILN_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, op, ": dropout_p must be in [0, 1], got ", dropout_p);
  int64_t L = q.size(-2), S = k.size(-2);
  // scores = q k^T / sqrt(E): (..., L, S)
  Tensor scores = matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(q.size(-1))));
  if (attn_mask.defined()) {
    KILN_CHECK(attn_mask.dim() >= 2 && attn_mask.size(-2) == L && attn_mask.size(-1) == S, op, ": attn_mask ",
               attn_mask.meta_str(), " does not end in (L, S) = (", L, ", ", S, ")");
    scores = apply_mask(scores, attn_mask, /*masked_out_when_true=*/false);
  }
  if (is_causal) {
    // j > i is removed: the strict upper triangle of an (L, S) matrix of ones.
    Tensor upper = gt(triu(ones({L, S}, options_of(scores)), 1), 0.0);
    scores = masked_fill(scores, upper, kNegInf);
  }
  Tensor weights = softmax(scores, -1);
  if (dropout_p > 0.0) weights = dropout(weights, dropout_p, true);
  return matmul(weights, v);
}

AttentionOutput multi_head_attention_forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                             int64_t num_heads, const Tensor& in_proj_weight,
                                             const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                                             const Tensor& out_proj_bias, const Tensor& key_padding_mask,
                                             bool need_weights, const Tensor& attn_mask, double dropout_p,
                                             bool training, bool average_attn_weights, const Tensor& q_proj_weight,
                                             const Tensor& k_proj_weight, const Tensor& v_proj_weight,
                                             const Tensor& bias_k, const Tensor& bias_v, bool add_zero_attn) {
  const char* op = "multi_head_attention_forward";
  // ---- shapes: (L, N, E) batched or (L, E) unbatched, as torch's _mha_shape_check ----
  KILN_CHECK(query.dim() == 2 || query.dim() == 3, op, ": expected query (L, N, E) or unbatched (L, E), got ",
             query.meta_str());
  bool batched = query.dim() == 3;
  KILN_CHECK(key.dim() == query.dim() && value.dim() == query.dim(), op, ": expected key and value ",
             query.dim(), "-D like query ", query.meta_str(), ", got ", key.meta_str(), " and ", value.meta_str());
  KILN_CHECK(key.size(0) == value.size(0) && (!batched || key.size(1) == value.size(1)), op, ": key ",
             key.meta_str(), " and value ", value.meta_str(), " differ in their sequence or batch dims");
  KILN_CHECK(!batched || key.size(1) == query.size(1), op, ": query ", query.meta_str(), " and key ",
             key.meta_str(), " differ in the batch dim");
  int64_t L = query.size(0), S = key.size(0), N = batched ? query.size(1) : 1, E = query.size(-1);
  KILN_CHECK(num_heads > 0 && E % num_heads == 0, op, ": embed_dim ", E, " is not divisible by num_heads ",
             num_heads);
  int64_t H = num_heads, hd = E / num_heads;
  check_mask_dtype(key_padding_mask, op, "key_padding_mask");
  check_mask_dtype(attn_mask, op, "attn_mask");
  if (key_padding_mask.defined()) {
    Shape want = batched ? Shape{N, S} : Shape{S};
    KILN_CHECK(key_padding_mask.shape() == want, op, ": expected key_padding_mask of shape ", want, ", got ",
               key_padding_mask.meta_str());
  }
  if (attn_mask.defined()) {
    KILN_CHECK(attn_mask.dim() == 2 || attn_mask.dim() == 3, op, ": attn_mask must be 2-D (L, S) or 3-D (N * ",
               "num_heads, L, S), got ", attn_mask.meta_str());
    Shape want = attn_mask.dim() == 2 ? Shape{L, S} : Shape{N * H, L, S};
    KILN_CHECK(attn_mask.shape() == want, op, ": expected attn_mask of shape ", want, ", got ",
               attn_mask.meta_str());
  }
  KILN_CHECK(out_proj_weight.defined() && out_proj_weight.shape() == (Shape{E, E}), op,
             ": expected out_proj_weight of shape [", E, ", ", E, "], got ", out_proj_weight.meta_str());
  KILN_CHECK(!in_proj_bias.defined() || in_proj_bias.shape() == (Shape{3 * E}), op, ": expected in_proj_bias of ",
             "shape [", 3 * E, "], got ", in_proj_bias.meta_str());

  // ---- in-projection: q = query W_q^T + b_q, etc. ----
  Tensor w_q, w_k, w_v;
  if (in_proj_weight.defined()) {
    KILN_CHECK(in_proj_weight.shape() == (Shape{3 * E, E}), op, ": expected in_proj_weight of shape [", 3 * E, ", ",
               E, "], got ", in_proj_weight.meta_str());
    KILN_CHECK(key.size(-1) == E && value.size(-1) == E, op, ": packed in_proj_weight needs key and value with ",
               "embed_dim ", E, ", got ", key.meta_str(), " and ", value.meta_str());
    w_q = in_proj_weight.narrow(0, 0, E);
    w_k = in_proj_weight.narrow(0, E, E);
    w_v = in_proj_weight.narrow(0, 2 * E, E);
  } else {
    KILN_CHECK(q_proj_weight.defined() && k_proj_weight.defined() && v_proj_weight.defined(), op,
               ": without in_proj_weight, q_proj_weight, k_proj_weight and v_proj_weight are all required");
    KILN_CHECK(q_proj_weight.shape() == (Shape{E, E}) && k_proj_weight.shape() == (Shape{E, key.size(-1)}) &&
                   v_proj_weight.shape() == (Shape{E, value.size(-1)}),
               op, ": expected q/k/v_proj_weight of shapes [", E, ", ", E, "], [", E, ", ", key.size(-1), "], [", E,
               ", ", value.size(-1), "], got ", q_proj_weight.meta_str(), ", ", k_proj_weight.meta_str(), ", ",
               v_proj_weight.meta_str());
    w_q = q_proj_weight;
    w_k = k_proj_weight;
    w_v = v_proj_weight;
  }
  Tensor b_q, b_k, b_v;
  if (in_proj_bias.defined()) {
    b_q = in_proj_bias.narrow(0, 0, E);
    b_k = in_proj_bias.narrow(0, E, E);
    b_v = in_proj_bias.narrow(0, 2 * E, E);
  }
  KILN_CHECK(bias_k.defined() == bias_v.defined(), op, ": bias_k and bias_v come together, got ",
             bias_k.defined() ? "bias_k only" : "bias_v only");
  KILN_CHECK(!bias_k.defined() || (bias_k.shape() == (Shape{1, 1, E}) && bias_v.shape() == (Shape{1, 1, E})), op,
             ": expected bias_k and bias_v of shape [1, 1, ", E, "], got ", bias_k.meta_str(), " and ",
             bias_v.meta_str());
  Tensor q = linear(query, w_q, b_q), k = linear(key, w_k, b_k), v = linear(value, w_v, b_v);

  // Appending a key position: the masks get a column that allows it (0 / false).
  Tensor attn_mask_ = attn_mask, key_padding_mask_ = key_padding_mask;
  auto allow_one_more_key = [&] {
    if (attn_mask_.defined()) attn_mask_ = pad(attn_mask_, {0, 1});
    if (key_padding_mask_.defined()) key_padding_mask_ = pad(key_padding_mask_, {0, 1});
    S += 1;
  };
  if (bias_k.defined()) {  // (S, N, E) -> (S + 1, N, E), the biases broadcast over the batch
    k = cat({k.reshape({S, N, E}), bias_k.expand({1, N, E})}, 0);
    v = cat({v.reshape({S, N, E}), bias_v.expand({1, N, E})}, 0);
    allow_one_more_key();
  }

  // ---- heads: (L, N, E) -> (L, N * H, hd) -> (N * H, L, hd); head h of batch n is row n * H + h ----
  q = q.reshape({L, N * H, hd}).transpose(0, 1);
  k = k.reshape({S, N * H, hd}).transpose(0, 1);
  v = v.reshape({S, N * H, hd}).transpose(0, 1);
  if (add_zero_attn) {  // (N * H, S, hd) -> (N * H, S + 1, hd) with a zero key and value
    k = cat({k, zeros({N * H, 1, hd}, options_of(k))}, 1);
    v = cat({v, zeros({N * H, 1, hd}, options_of(v))}, 1);
    allow_one_more_key();
  }

  // scores: (N * H, L, S) = (q / sqrt(hd)) k^T, then the masks (true = not allowed).
  Tensor scores = matmul(q * (1.0 / std::sqrt(double(hd))), k.transpose(1, 2));
  if (attn_mask_.defined()) scores = apply_mask(scores, attn_mask_, /*masked_out_when_true=*/true);
  if (key_padding_mask_.defined()) {
    // (N, S) -> (N, H, 1, S) -> (N * H, 1, S): the same row for every head and query.
    Tensor kpm = key_padding_mask_.reshape({N, 1, 1, S}).expand({N, H, 1, S}).reshape({N * H, 1, S});
    scores = apply_mask(scores, kpm, /*masked_out_when_true=*/true);
  }
  Tensor weights = softmax(scores, -1);
  if (training && dropout_p > 0.0) weights = dropout(weights, dropout_p, true);

  // (N * H, L, hd) -> (L, N * H, hd) -> (L * N, E) -> out_proj -> (L, N, E)
  Tensor out = matmul(weights, v).transpose(0, 1).reshape({L * N, E});
  out = linear(out, out_proj_weight, out_proj_bias).reshape({L, N, E});

  AttentionOutput result;
  result.output = batched ? out : out.squeeze(1);
  if (need_weights) {
    Tensor w = weights.reshape({N, H, L, S});
    if (average_attn_weights) w = sum(w, {1}) / double(H);
    result.weights = batched ? w : w.squeeze(0);
  }
  return result;
}

}  // namespace functional

Tensor generate_square_subsequent_mask(int64_t size, TensorOptions opts) {
  KILN_CHECK(size >= 0, "generate_square_subsequent_mask: size must be non-negative, got ", size);
  opts.requires_grad = false;
  return triu(full({size, size}, kNegInf, opts), 1);
}

MultiheadAttention::MultiheadAttention(int64_t embed_dim_, int64_t num_heads_, double dropout_, bool bias,
                                       bool add_bias_kv, bool add_zero_attn_, int64_t kdim_, int64_t vdim_,
                                       bool batch_first_, TensorOptions opts)
    : Module("MultiheadAttention"),
      embed_dim(embed_dim_),
      num_heads(num_heads_),
      head_dim(0),
      kdim(kdim_ > 0 ? kdim_ : embed_dim_),
      vdim(vdim_ > 0 ? vdim_ : embed_dim_),
      dropout(dropout_),
      add_zero_attn(add_zero_attn_),
      batch_first(batch_first_) {
  KILN_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "MultiheadAttention: embed_dim ",
             embed_dim, " must be positive and divisible by num_heads ", num_heads);
  KILN_CHECK(dropout >= 0.0 && dropout <= 1.0, "MultiheadAttention: dropout must be in [0, 1], got ", dropout);
  head_dim = embed_dim / num_heads;
  opts.requires_grad = false;
  int64_t E = embed_dim;
  // Registration order as PyTorch's __init__, so state dicts list the same keys in the same order.
  if (kdim == E && vdim == E) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}, opts));
    init::xavier_uniform_(in_proj_weight);
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({E, E}, opts));
    k_proj_weight = register_parameter("k_proj_weight", empty({E, kdim}, opts));
    v_proj_weight = register_parameter("v_proj_weight", empty({E, vdim}, opts));
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  in_proj_bias = register_parameter("in_proj_bias", bias ? zeros({3 * E}, opts) : Tensor());
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, bias, opts));
  if (add_bias_kv) {
    bias_k = register_parameter("bias_k", empty({1, 1, E}, opts));
    bias_v = register_parameter("bias_v", empty({1, 1, E}, opts));
    init::xavier_normal_(bias_k);
    init::xavier_normal_(bias_v);
  }
  if (bias) init::zeros_(out_proj->bias);
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, bool need_weights,
                                            const Tensor& attn_mask, bool average_attn_weights) {
  KILN_CHECK(query.dim() >= 1 && query.size(-1) == embed_dim, "MultiheadAttention: expected query with embed_dim ",
             embed_dim, " in its last dim, got ", query.meta_str());
  // batch_first: (N, L, E) in and out; the functional form is sequence first.
  bool swap = batch_first && query.dim() == 3;
  Tensor q = swap ? query.transpose(0, 1) : query;
  Tensor k = swap && key.dim() == 3 ? key.transpose(0, 1) : key;
  Tensor v = swap && value.dim() == 3 ? value.transpose(0, 1) : value;
  AttentionOutput r = functional::multi_head_attention_forward(
      q, k, v, num_heads, in_proj_weight, in_proj_bias, out_proj->weight, out_proj->bias, key_padding_mask,
      need_weights, attn_mask, dropout, is_training(), average_attn_weights, q_proj_weight, k_proj_weight,
      v_proj_weight, bias_k, bias_v, add_zero_attn);
  if (swap) r.output = r.output.transpose(0, 1);
  return r;
}

}  // namespace kiln::nn
