// Attention against PyTorch (tests/reference/cases_attention.py): scaled dot-product
// attention, multi-head attention with the weights as inputs (forward, gradients, float64
// gradcheck and double backward), and the layer's names, initialisation, masks and errors.
// The gcn_conv cases share this family's file; the GCN's own tests are in gcn_test.cpp.
#include <cmath>

#include "kiln.h"
#include "nn/attention.h"
#include "nn/gcn.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

namespace F = nn::functional;
using nn::AttentionOutput;
using test::allclose;
using test::error_of;
using test::one;
using test::OpTable;

constexpr int64_t kHeads = 2;

TensorList outputs(const AttentionOutput& r) {
  return r.weights.defined() ? TensorList{r.output, r.weights} : TensorList{r.output};
}

// x = {query, key, value, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, ...}
AttentionOutput mha(const TensorList& x, const Tensor& key_padding_mask = {}, const Tensor& attn_mask = {},
                    bool need_weights = true, bool average = true) {
  return F::multi_head_attention_forward(x[0], x[1], x[2], kHeads, x[3], x[4], x[5], x[6], key_padding_mask,
                                         need_weights, attn_mask, 0.0, false, average);
}

// The masks the cases build inside their functions (cases_attention.py: KPM, CAUSAL_BOOL).
Tensor kpm() { return tensor<bool>({false, false, false, true, false, true, false, true}, {2, 4}); }
Tensor causal_bool(int64_t n) { return gt(triu(ones({n, n}), 1), 0.0); }

const OpTable& attention_ops() {
  static const OpTable table = {
      {"sdpa", [](const TensorList& x) { return one(F::scaled_dot_product_attention(x[0], x[1], x[2])); }},
      {"sdpa.bool_mask",
       [](const TensorList& x) { return one(F::scaled_dot_product_attention(x[0], x[1], x[2], x[3])); }},
      {"sdpa.float_mask",
       [](const TensorList& x) { return one(F::scaled_dot_product_attention(x[0], x[1], x[2], x[3])); }},
      {"sdpa.causal_4d",
       [](const TensorList& x) { return one(F::scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.0, true)); }},
      {"mha.basic", [](const TensorList& x) { return outputs(mha(x)); }},
      {"mha.key_padding_mask", [](const TensorList& x) { return outputs(mha(x, kpm())); }},
      {"mha.causal_float_self",
       [](const TensorList& x) {
         TensorList self = {x[0], x[0], x[0], x[3], x[4], x[5], x[6]};
         return outputs(mha(self, {}, nn::generate_square_subsequent_mask(3, x[0].dtype())));
       }},
      {"mha.causal_bool_and_padding",
       [](const TensorList& x) {
         TensorList self = {x[0], x[0], x[0], x[3], x[4], x[5], x[6]};
         Tensor padding = tensor<bool>({false, false, true, false, false, false}, {2, 3});
         return outputs(mha(self, padding, causal_bool(3)));
       }},
      {"mha.per_head_3d_mask", [](const TensorList& x) { return outputs(mha(x, {}, x[7], true, false)); }},
      {"mha.float_key_padding_mask", [](const TensorList& x) { return outputs(mha(x, x[7])); }},
      {"mha.no_weights", [](const TensorList& x) { return outputs(mha(x, {}, {}, false)); }},
      {"mha.unbatched", [](const TensorList& x) { return outputs(mha(x, kpm().select(0, 1))); }},
      {"mha.batch_first_module",
       [](const TensorList& x) {
         // The layer's own forward, with the case's tensors put in place of its parameters
         // so that the gradients reach them.
         nn::MultiheadAttention layer(8, kHeads, 0.0, true, false, false, 0, 0, /*batch_first=*/true);
         layer.in_proj_weight = x[3];
         layer.in_proj_bias = x[4];
         layer.out_proj->weight = x[5];
         layer.out_proj->bias = x[6];
         return outputs(layer.forward(x[0], x[1], x[2], kpm()));
       }},
      {"mha.bias_kv",
       [](const TensorList& x) {
         return outputs(F::multi_head_attention_forward(x[0], x[1], x[2], kHeads, x[3], x[4], x[5], x[6], {}, true,
                                                        {}, 0.0, false, true, {}, {}, {}, x[7], x[8]));
       }},
      {"mha.zero_attn",
       [](const TensorList& x) {
         return outputs(F::multi_head_attention_forward(x[0], x[1], x[2], kHeads, x[3], x[4], x[5], x[6], {}, true,
                                                        {}, 0.0, false, false, {}, {}, {}, {}, {}, true));
       }},
      {"mha.bias_kv_zero_attn_masks",
       [](const TensorList& x) {
         return outputs(F::multi_head_attention_forward(x[0], x[0], x[0], kHeads, x[3], x[4], x[5], x[6],
                                                        kpm().narrow(1, 0, 3), true, causal_bool(3), 0.0, false, true,
                                                        {}, {}, {}, x[7], x[8], true));
       }},
      {"mha.bias_kv_unbatched_float_masks",
       [](const TensorList& x) {
         return outputs(F::multi_head_attention_forward(x[0], x[1], x[2], kHeads, x[3], x[4], x[5], x[6],
                                                        kpm().select(0, 1), true, x[9], 0.0, false, true, {}, {}, {},
                                                        x[7], x[8], true));
       }},
      {"mha.kdim_vdim",
       [](const TensorList& x) {
         // x = {query, key, value, in_proj_bias, out_w, out_b, q_proj_weight, k_proj_weight, v_proj_weight}
         return outputs(F::multi_head_attention_forward(x[0], x[1], x[2], kHeads, {}, x[3], x[4], x[5], {}, true, {},
                                                        0.0, false, true, x[6], x[7], x[8]));
       }},
      {"gcn_conv.basic", [](const TensorList& x) { return one(F::gcn_conv(x[0], x[1], x[2], x[3])); }},
      {"gcn_conv.edge_weight_nobias", [](const TensorList& x) { return one(F::gcn_conv(x[0], x[1], x[2], {}, x[3])); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(AttentionRef, "attention", attention_ops());

TEST(ScaledDotProductAttention, BoolMaskKeepsTrueAndMatchesTheFloatMask) {
  Tensor q = randn({2, 3, 4}), k = randn({2, 5, 4}), v = randn({2, 5, 2});
  Tensor keep = gt(rand({3, 5}), 0.4);
  keep = logical_or(keep, gt(eye(3, 5), 0.0));  // every row keeps at least one key
  Tensor additive = masked_fill(zeros({3, 5}), logical_not(keep), -INFINITY);
  EXPECT_TRUE(allclose(F::scaled_dot_product_attention(q, k, v, keep),
                       F::scaled_dot_product_attention(q, k, v, additive), 1e-6, 1e-6));
  // is_causal is the subsequent mask
  Tensor qs = randn({2, 4, 4}), ks = randn({2, 4, 4}), vs = randn({2, 4, 3});
  EXPECT_TRUE(allclose(F::scaled_dot_product_attention(qs, ks, vs, {}, 0.0, true),
                       F::scaled_dot_product_attention(qs, ks, vs, nn::generate_square_subsequent_mask(4)), 1e-6,
                       1e-6));
  // the first query sees only the first key: its output is that value row
  Tensor first = F::scaled_dot_product_attention(qs, ks, vs, {}, 0.0, true).select(1, 0);
  EXPECT_TRUE(allclose(first, vs.select(1, 0), 1e-6, 1e-6));
}

TEST(ScaledDotProductAttention, DropoutOnTheWeightsKeepsTheExpectation) {
  // With every key equal, each output row is that value whatever the weights, so dropout's
  // 1/(1-p) rescaling shows in the mean over many draws.
  Tensor q = randn({1, 2000, 4}), k = zeros({1, 3, 4}), v = ones({1, 3, 1});
  Tensor y = F::scaled_dot_product_attention(q, k, v, {}, 0.5);
  EXPECT_NEAR(mean(y).item(), 1.0, 0.05);
  EXPECT_GT(amax(y).item(), 1.0);
}

TEST(ScaledDotProductAttention, ErrorsNameShapes) {
  EXPECT_EQ(error_of([] { F::scaled_dot_product_attention(randn({2, 3, 4}), randn({2, 5, 3}), randn({2, 5, 2})); }),
            "scaled_dot_product_attention: query float32[2, 3, 4] on cpu and key float32[2, 5, 3] on cpu differ in "
            "the embedding dim E");
  EXPECT_EQ(error_of([] { F::scaled_dot_product_attention(randn({3, 4}), randn({5, 4}), randn({4, 2})); }),
            "scaled_dot_product_attention: key float32[5, 4] on cpu and value float32[4, 2] on cpu differ in the "
            "source length S");
  EXPECT_EQ(error_of([] {
              F::scaled_dot_product_attention(randn({3, 4}), randn({5, 4}), randn({5, 2}), zeros({3, 5}), 0.0, true);
            }),
            "scaled_dot_product_attention: pass either attn_mask or is_causal, not both");
  EXPECT_EQ(error_of([] {
              F::scaled_dot_product_attention(randn({3, 4}), randn({5, 4}), randn({5, 2}), zeros({5, 3}));
            }),
            "scaled_dot_product_attention: attn_mask float32[5, 3] on cpu does not end in (L, S) = (3, 5)");
  EXPECT_EQ(error_of([] {
              F::scaled_dot_product_attention(randn({3, 4}), randn({5, 4}), randn({5, 2}), zeros({3, 5}, kInt64));
            }),
            "scaled_dot_product_attention: attn_mask must be a bool or floating tensor, got int64[3, 5] on cpu");
}

TEST(GenerateSquareSubsequentMask, IsMinusInfinityAboveTheDiagonal) {
  Tensor m = nn::generate_square_subsequent_mask(3);
  float inf = INFINITY;
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{0, -inf, -inf, 0, 0, -inf, 0, 0, 0}));
  EXPECT_EQ(nn::generate_square_subsequent_mask(2, kFloat64).dtype(), kFloat64);
}

TEST(MultiheadAttention, ParametersAndInitAsPyTorch) {
  nn::MultiheadAttention attn(8, 2);
  std::vector<std::string> names;
  for (const auto& [name, t] : attn.state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(attn.in_proj_weight.shape(), (Shape{24, 8}));
  // xavier_uniform: fan_in 8, fan_out 24
  EXPECT_LE(amax(abs(attn.in_proj_weight)).item(), std::sqrt(6.0 / 32.0));
  EXPECT_GT(amax(abs(attn.in_proj_weight)).item(), 0.5 * std::sqrt(6.0 / 32.0));
  EXPECT_EQ(amax(abs(attn.in_proj_bias)).item(), 0.0);
  EXPECT_EQ(amax(abs(attn.out_proj->bias)).item(), 0.0);
  EXPECT_LE(amax(abs(attn.out_proj->weight)).item(), 1.0 / std::sqrt(8.0));  // Linear's init

  nn::MultiheadAttention cross(8, 2, 0.0, /*bias=*/false, false, false, 5, 6);
  names.clear();
  for (const auto& [name, t] : cross.state_dict()) names.push_back(name + shape_str(t.shape()));
  EXPECT_EQ(names, (std::vector<std::string>{"q_proj_weight[8, 8]", "k_proj_weight[8, 5]", "v_proj_weight[8, 6]",
                                             "out_proj.weight[8, 8]"}));
  auto r = cross.forward(randn({3, 2, 8}), randn({4, 2, 5}), randn({4, 2, 6}));
  EXPECT_EQ(r.output.shape(), (Shape{3, 2, 8}));
  EXPECT_EQ(r.weights.shape(), (Shape{2, 3, 4}));
}

TEST(MultiheadAttention, ForwardIsTheFunctionalFormAndWeightsAreDistributions) {
  nn::MultiheadAttention attn(8, 2, 0.0, true, false, false, 0, 0, /*batch_first=*/true);
  Tensor q = randn({2, 3, 8}), kv = randn({2, 4, 8});
  auto [out, weights] = attn.forward(q, kv, kv, kpm());
  auto ref = F::multi_head_attention_forward(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1), 2,
                                             attn.in_proj_weight, attn.in_proj_bias, attn.out_proj->weight,
                                             attn.out_proj->bias, kpm());
  EXPECT_TRUE(allclose(out, ref.output.transpose(0, 1), 1e-6, 1e-6));
  EXPECT_TRUE(allclose(sum(weights, {-1}), ones({2, 3}), 1e-6, 1e-6));
  // padded keys get no weight
  EXPECT_EQ(amax(abs(weights.select(2, 3))).item(), 0.0);
  auto per_head = attn.forward(q, kv, kv, {}, true, {}, false);
  EXPECT_EQ(per_head.weights.shape(), (Shape{2, 2, 3, 4}));
  EXPECT_FALSE(attn.forward(q, kv, kv, {}, false).weights.defined());
}

TEST(MultiheadAttention, BiasKvAndZeroAttnAppendKeyPositions) {
  nn::MultiheadAttention attn(8, 2, 0.0, true, /*add_bias_kv=*/true, /*add_zero_attn=*/true);
  std::vector<std::string> names;
  for (const auto& [name, t] : attn.state_dict()) names.push_back(name + shape_str(t.shape()));
  EXPECT_EQ(names, (std::vector<std::string>{"in_proj_weight[24, 8]", "in_proj_bias[24]", "bias_k[1, 1, 8]",
                                             "bias_v[1, 1, 8]", "out_proj.weight[8, 8]", "out_proj.bias[8]"}));
  EXPECT_GT(amax(abs(attn.bias_k)).item(), 0.0);  // xavier_normal, not zeros
  Tensor q = randn({3, 2, 8}), kv = randn({4, 2, 8});
  auto [out, weights] = attn.forward(q, kv, kv, kpm());
  EXPECT_EQ(weights.shape(), (Shape{2, 3, 6}));  // 4 keys + bias_k + the zero key
  auto ref = F::multi_head_attention_forward(q, kv, kv, 2, attn.in_proj_weight, attn.in_proj_bias,
                                             attn.out_proj->weight, attn.out_proj->bias, kpm(), true, {}, 0.0, false,
                                             true, {}, {}, {}, attn.bias_k, attn.bias_v, true);
  EXPECT_TRUE(allclose(out, ref.output, 0, 0));
  EXPECT_TRUE(allclose(sum(weights, {-1}), ones({2, 3}), 1e-6, 1e-6));
  EXPECT_GT(amin(weights.narrow(2, 4, 2)).item(), 0.0);  // the appended keys are never padded out
  EXPECT_EQ(error_of([&] {
              F::multi_head_attention_forward(q, kv, kv, 2, attn.in_proj_weight, attn.in_proj_bias,
                                              attn.out_proj->weight, attn.out_proj->bias, {}, true, {}, 0.0, false,
                                              true, {}, {}, {}, attn.bias_k, {});
            }),
            "multi_head_attention_forward: bias_k and bias_v come together, got bias_k only");
}

TEST(MultiheadAttention, DropoutOnlyInTraining) {
  nn::MultiheadAttention attn(8, 2, 0.5);
  Tensor x = randn({4, 2, 8});
  attn.eval();
  Tensor a = attn.forward(x, x, x).output, b = attn.forward(x, x, x).output;
  EXPECT_TRUE(allclose(a, b, 0, 0));
  attn.train();
  Tensor c = attn.forward(x, x, x).output;
  EXPECT_FALSE(allclose(a, c, 1e-3, 1e-3));
}

TEST(MultiheadAttention, ErrorsNameShapes) {
  EXPECT_EQ(error_of([] { nn::MultiheadAttention(8, 3); }),
            "MultiheadAttention: embed_dim 8 must be positive and divisible by num_heads 3");
  nn::MultiheadAttention attn(8, 2);
  Tensor x = randn({3, 2, 8});
  EXPECT_EQ(error_of([&] { attn.forward(x, x, x, zeros({2, 4}, kBool)); }),
            "multi_head_attention_forward: expected key_padding_mask of shape [2, 3], got bool[2, 4] on cpu");
  EXPECT_EQ(error_of([&] { attn.forward(x, x, x, {}, true, zeros({3, 4})); }),
            "multi_head_attention_forward: expected attn_mask of shape [3, 3], got float32[3, 4] on cpu");
  EXPECT_EQ(error_of([&] { attn.forward(x, x, x, {}, true, zeros({2, 3, 3})); }),
            "multi_head_attention_forward: expected attn_mask of shape [4, 3, 3], got float32[2, 3, 3] on cpu");
  EXPECT_EQ(error_of([&] { attn.forward(x, randn({3, 1, 8}), randn({3, 1, 8})); }),
            "multi_head_attention_forward: query float32[3, 2, 8] on cpu and key float32[3, 1, 8] on cpu differ in "
            "the batch dim");
  EXPECT_EQ(error_of([&] { attn.forward(randn({3, 2, 6}), x, x); }),
            "MultiheadAttention: expected query with embed_dim 8 in its last dim, got float32[3, 2, 6] on cpu");
  EXPECT_EQ(error_of([&] { attn.forward(x, randn({3, 8}), randn({3, 8})); }),
            "multi_head_attention_forward: expected key and value 3-D like query float32[3, 2, 8] on cpu, got "
            "float32[3, 8] on cpu and float32[3, 8] on cpu");
}

}  // namespace
}  // namespace kiln
