// GCNConv: against the dense formula D^-1/2 (A + I) D^-1/2 X W^T + b built in the test,
// float64 gradcheck of the layer, PyG's parameter names, and errors. The PyTorch reference
// cases (PyG's computation written with index ops) run in the "attention" family's suite,
// whose file they share (tests/reference/cases_attention.py, attention_test.cpp).
#include <cmath>
#include <vector>

#include "kiln.h"
#include "nn/gcn.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

namespace F = nn::functional;
using test::allclose;
using test::error_of;

// Â[i][j] = number of edges j -> i (no self-loops), plus one loop per node; then
// D^-1/2 Â D^-1/2 with D the row sums (in-degrees), as a dense (N, N) float64 matrix.
Tensor dense_propagation(int64_t n, const std::vector<int64_t>& src, const std::vector<int64_t>& dst) {
  std::vector<double> a(size_t(n * n), 0.0);
  for (size_t e = 0; e < src.size(); ++e)
    if (src[e] != dst[e]) a[size_t(dst[e] * n + src[e])] += 1.0;
  for (int64_t i = 0; i < n; ++i) a[size_t(i * n + i)] = 1.0;
  std::vector<double> deg(size_t(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) deg[size_t(i)] += a[size_t(i * n + j)];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[size_t(i * n + j)] /= std::sqrt(deg[size_t(i)] * deg[size_t(j)]);
  return tensor<double>(a, {n, n});
}

Tensor edges(const std::vector<int64_t>& src, const std::vector<int64_t>& dst) {
  std::vector<int64_t> both = src;
  both.insert(both.end(), dst.begin(), dst.end());
  return tensor<int64_t>(both, {2, int64_t(src.size())});
}

TEST(GCNConv, MatchesTheDenseFormula) {
  // a duplicate edge (1 -> 2), an existing self-loop (3 -> 3), a node without in-edges (5)
  std::vector<int64_t> src = {0, 1, 1, 2, 3, 0, 4, 1, 5}, dst = {1, 2, 2, 0, 3, 3, 1, 4, 2};
  Tensor x = randn({6, 3}, kFloat64), w = randn({4, 3}, kFloat64), b = randn({4}, kFloat64);
  Tensor expected = matmul(dense_propagation(6, src, dst), matmul(x, w.t())) + b;
  EXPECT_TRUE(allclose(F::gcn_conv(x, edges(src, dst), w, b), expected, 1e-12, 1e-12));
}

TEST(GCNConv, NoEdgesLeavesTheSelfLoopsOnly) {
  Tensor x = randn({4, 3}), w = randn({2, 3});
  Tensor out = F::gcn_conv(x, zeros({2, 0}, kInt64), w);
  EXPECT_TRUE(allclose(out, matmul(x, w.t()), 1e-5, 1e-6));
}

TEST(GCNConv, LayerGradcheckF64WithEdgeWeights) {
  nn::GCNConv conv(3, 2);
  conv.to(kFloat64);
  Tensor ei = edges({0, 1, 2, 2, 3}, {1, 2, 0, 2, 1});
  Tensor x = randn({4, 3}, kFloat64).requires_grad_(true);
  Tensor ew = (rand({5}, kFloat64) + 0.5).requires_grad_(true);
  Tensor w = conv.lin->weight.detach().clone().requires_grad_(true);
  Tensor b = randn({2}, kFloat64).requires_grad_(true);
  auto fn = [&](const TensorList& in) { return TensorList{F::gcn_conv(in[0], ei, in[1], in[2], in[3])}; };
  GradcheckResult r = gradcheck(fn, {x, w, b, ew});  // edge 2 -> 2 is a weighted self-loop
  EXPECT_TRUE(r.ok) << r.message;
  // the layer is the functional form on its parameters
  EXPECT_TRUE(allclose(conv.forward(x, ei, ew), F::gcn_conv(x, ei, conv.lin->weight, conv.bias, ew), 0, 0));
  // and its parameters get gradients
  conv.forward(x, ei).sum().backward();
  EXPECT_TRUE(conv.lin->weight.grad().defined());
  EXPECT_TRUE(conv.bias.grad().defined());
}

TEST(GCNConv, ParametersAndInitAsPyTorchGeometric) {
  nn::GCNConv conv(16, 32);
  std::vector<std::string> names;
  for (const auto& [name, t] : conv.state_dict()) names.push_back(name + shape_str(t.shape()));
  EXPECT_EQ(names, (std::vector<std::string>{"bias[32]", "lin.weight[32, 16]"}));
  double bound = std::sqrt(6.0 / (16 + 32));  // glorot
  EXPECT_LE(amax(abs(conv.lin->weight)).item(), bound);
  EXPECT_GT(amax(abs(conv.lin->weight)).item(), 0.8 * bound);
  EXPECT_EQ(amax(abs(conv.bias)).item(), 0.0);
  EXPECT_FALSE(nn::GCNConv(4, 2, false).bias.defined());
  EXPECT_EQ(nn::GCNConv(4, 2).forward(randn({3, 4}), edges({0, 1}, {1, 2})).shape(), (Shape{3, 2}));
}

TEST(GCNConv, ErrorsNameShapesAndBadIndices) {
  Tensor x = randn({3, 4}), w = randn({2, 4});
  EXPECT_EQ(error_of([&] { F::gcn_conv(x, edges({0, 1}, {1, 3}), w); }),
            "gcn_conv: edge 1 (1 -> 3) has a node index out of range for 3 nodes");
  EXPECT_EQ(error_of([&] { F::gcn_conv(x, edges({-1}, {0}), w); }),
            "gcn_conv: edge 0 (-1 -> 0) has a node index out of range for 3 nodes");
  EXPECT_EQ(error_of([&] { F::gcn_conv(x, zeros({3, 2}, kInt64), w); }),
            "gcn_conv: expected int64 edge_index of shape (2, E), got int64[3, 2] on cpu");
  EXPECT_EQ(error_of([&] { F::gcn_conv(x, zeros({2, 2}), w); }),
            "gcn_conv: expected int64 edge_index of shape (2, E), got float32[2, 2] on cpu");
  EXPECT_EQ(error_of([&] { F::gcn_conv(x, edges({0}, {1}), randn({2, 3})); }),
            "gcn_conv: weight float32[2, 3] on cpu does not match (out_channels, in_channels) for x float32[3, 4] "
            "on cpu");
  EXPECT_EQ(error_of([&] { F::gcn_conv(x, edges({0}, {1}), w, {}, ones({2})); }),
            "gcn_conv: expected edge_weight of shape [1] and dtype float32, got float32[2] on cpu");
}

}  // namespace
}  // namespace kiln
