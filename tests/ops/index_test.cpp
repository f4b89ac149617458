// Joining, splitting, padding and indexing ops: PyTorch references (forward and
// gradients), float64 gradchecks, double backward, error messages and edge cases.
#include <gmock/gmock.h>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using test::error_of;
using test::OpTable;
using test::one;

const OpTable& index_ops() {
  static const OpTable table = {
      {"cat.dim0", [](const TensorList& x) { return one(cat({x[0], x[1], x[2]}, 0)); }},
      {"cat.neg_dim", [](const TensorList& x) { return one(cat({x[0], x[1]}, -2)); }},
      {"cat.f64_last", [](const TensorList& x) { return one(cat({x[0], x[1]}, 2)); }},
      {"stack.dim0", [](const TensorList& x) { return one(stack({x[0], x[1], x[2]}, 0)); }},
      {"stack.neg_dim", [](const TensorList& x) { return one(stack({x[0], x[1]}, -1)); }},
      {"split.dim1", [](const TensorList& x) { return split(x[0], 2, 1); }},
      {"split_with_sizes.neg_dim", [](const TensorList& x) { return split_with_sizes(x[0], {1, 3}, -2); }},
      {"chunk.dim0", [](const TensorList& x) { return chunk(x[0], 3, 0); }},
      {"chunk.neg_dim", [](const TensorList& x) { return chunk(x[0], 4, -1); }},
      {"pad.constant_1d", [](const TensorList& x) { return one(pad(x[0], {1, 2}, "constant", 0.5)); }},
      {"pad.constant_2d_crop", [](const TensorList& x) { return one(pad(x[0], {1, -1, -1, 2})); }},
      {"pad.constant_3d", [](const TensorList& x) { return one(pad(x[0], {1, 0, 0, 1, 1, 1}, "constant", -1.0)); }},
      {"pad.reflect_1d", [](const TensorList& x) { return one(pad(x[0], {2, 3}, "reflect")); }},
      {"pad.reflect_1d_f64", [](const TensorList& x) { return one(pad(x[0], {3, 1}, "reflect")); }},
      {"pad.reflect_2d", [](const TensorList& x) { return one(pad(x[0], {1, 2, 2, 1}, "reflect")); }},
      {"pad.reflect_3d", [](const TensorList& x) { return one(pad(x[0], {1, 1, 2, 0, 1, 2}, "reflect")); }},
      {"index_select.dim0", [](const TensorList& x) { return one(index_select(x[0], 0, x[1])); }},
      {"index_select.neg_dim", [](const TensorList& x) { return one(index_select(x[0], -1, x[1])); }},
      {"index_select.f64_dim1", [](const TensorList& x) { return one(index_select(x[0], 1, x[1])); }},
      {"gather.dim0", [](const TensorList& x) { return one(gather(x[0], 0, x[1])); }},
      {"gather.dim1", [](const TensorList& x) { return one(gather(x[0], 1, x[1])); }},
      {"gather.neg_dim_small_index", [](const TensorList& x) { return one(gather(x[0], -2, x[1])); }},
      {"scatter_add.dim0", [](const TensorList& x) { return one(scatter_add(x[0], 0, x[1], x[2])); }},
      {"scatter_add.dim1_large_src", [](const TensorList& x) { return one(scatter_add(x[0], 1, x[1], x[2])); }},
      {"scatter_add.f64_neg_dim", [](const TensorList& x) { return one(scatter_add(x[0], -1, x[1], x[2])); }},
      {"masked_fill.broadcast", [](const TensorList& x) { return one(masked_fill(x[0], x[1], 2.5)); }},
      {"masked_fill.full_mask", [](const TensorList& x) { return one(masked_fill(x[0], x[1], -1.0)); }},
      {"embedding.repeated", [](const TensorList& x) { return one(embedding(x[0], x[1])); }},
      {"embedding.padding_idx", [](const TensorList& x) { return one(embedding(x[0], x[1], 1)); }},
      {"embedding.f64_3d_indices", [](const TensorList& x) { return one(embedding(x[0], x[1])); }},
      {"one_hot.infer", [](const TensorList& x) { return one(one_hot(x[0])); }},
      {"one_hot.num_classes", [](const TensorList& x) { return one(one_hot(x[0], 5)); }},
      {"repeat.same_dims", [](const TensorList& x) { return one(repeat(x[0], {2, 3})); }},
      {"repeat.new_dims", [](const TensorList& x) { return one(repeat(x[0], {2, 1, 2})); }},
      {"tril.basic", [](const TensorList& x) { return one(tril(x[0])); }},
      {"tril.batch_diag1", [](const TensorList& x) { return one(tril(x[0], 1)); }},
      {"triu.neg_diag", [](const TensorList& x) { return one(triu(x[0], -1)); }},
      {"triu.f64_diag2", [](const TensorList& x) { return one(triu(x[0], 2)); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(IndexRef, "index", index_ops());

Tensor ints(const std::vector<int64_t>& values, const Shape& shape) { return tensor(values, shape); }
Tensor ints(const std::vector<int64_t>& values) { return tensor(values); }

// Double backward of a linear op: gradcheck of g -> d<op(x), g>/dx in g, which runs the
// backward of the op's backward (it must itself be recorded and correct). gradcheck
// evaluates f under NoGradGuard for its finite differences; grad needs grad mode on.
void expect_double_backward(const std::function<Tensor(const Tensor&)>& op, const Shape& x_shape) {
  Tensor x = randn(x_shape, kFloat64).requires_grad_();
  Shape y_shape = op(x).shape();
  auto vjp = [&](const TensorList& in) {
    EnableGradGuard enable;
    return grad({op(x)}, {x}, {in[0]}, true, true);
  };
  GradcheckResult r = gradcheck(vjp, {randn(y_shape, kFloat64).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Index, DoubleBackwardOfEveryBackwardFormula) {
  Tensor rows = ints({2, 0, 2, 3});
  Tensor g_index = ints({0, 2, 2, 1, 1, 0}, {2, 3});
  expect_double_backward([](const Tensor& x) { return cat({x, x * 2.0}, 1); }, {2, 3});
  expect_double_backward([&](const Tensor& x) { return index_select(x, 0, rows); }, {4, 2});
  expect_double_backward([&](const Tensor& x) { return gather(x, 1, g_index); }, {2, 3});
  expect_double_backward([&](const Tensor& x) { return scatter_add(x, 1, g_index, x * 3.0); }, {2, 3});
  expect_double_backward([](const Tensor& x) { return pad(x, {1, -1, 2, 0}, "constant", 1.0); }, {2, 3});
  expect_double_backward([](const Tensor& x) { return pad(x, {2, 1, 1, 2}, "reflect"); }, {1, 3, 4});
  expect_double_backward([&](const Tensor& x) { return embedding(x, g_index, 2); }, {3, 2});
  expect_double_backward([](const Tensor& x) { return repeat(x, {2, 1, 3}); }, {2, 2});
  expect_double_backward([](const Tensor& x) { return triu(x, 1); }, {2, 3, 3});
  expect_double_backward([](const Tensor& x) { return masked_fill(x, tensor<bool>({true, false, true}), 4.0); },
                         {2, 3});
}

TEST(Index, SecondDerivativeThroughGather) {
  // f(x) = sum(gather(x)^3): d2f/dx2 is diagonal, 6 x * (times each element is read).
  Tensor index = ints({0, 0, 1}, {1, 3});
  auto first = [&](const TensorList& in) {
    EnableGradGuard enable;
    Tensor y = gather(in[0], 1, index);
    return grad({(y * y * y).sum()}, {in[0]}, {}, true, true);
  };
  GradcheckResult r = gradcheck(first, {randn({1, 3}, kFloat64).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Index, ScatterAddGradientIsZeroWhereSrcIsNotRead) {
  Tensor x = zeros({2, 3}, kFloat64).requires_grad_();
  Tensor src = ones({2, 4}, kFloat64).requires_grad_();
  Tensor index = ints({2, 2, 0, 1}, {2, 2});
  Tensor y = scatter_add(x, 1, index, src);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 0, 2, 1, 1, 0}));
  Tensor g = tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  TensorList grads = grad({y}, {x, src}, {g});
  EXPECT_EQ(grads[0].to_vector<double>(), g.to_vector<double>());
  EXPECT_EQ(grads[1].to_vector<double>(), (std::vector<double>{3, 3, 0, 0, 4, 5, 0, 0}));
}

TEST(Index, EmbeddingPaddingRowGetsNoGradient) {
  Tensor w = randn({4, 2}).requires_grad_();
  Tensor idx = ints({1, 3, 1, 0});
  embedding(w, idx, 1).sum().backward();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 1, 0, 0, 0, 0, 1, 1}));
}

TEST(Index, SplitAndChunkReturnViews) {
  Tensor x = arange(10.0, kFloat32).view({2, 5});
  TensorList parts = split(x, 2, 1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].shape(), (Shape{2, 1}));
  for (const Tensor& p : parts) EXPECT_TRUE(p.same_storage(x));
  EXPECT_EQ(chunk(x, 4, 1).size(), 3u);  // ceil(5 / 4) = 2 per piece: 2, 2, 1
  EXPECT_EQ(chunk(zeros({0, 2}), 3).size(), 3u);
  EXPECT_EQ(split(zeros({0}), 2).size(), 1u);
}

TEST(Index, EmptyAndSizeOneEdgeCases) {
  EXPECT_EQ(cat({zeros({2, 0}), ones({2, 3}), zeros({2, 0})}, 1).shape(), (Shape{2, 3}));
  EXPECT_EQ(index_select(ones({3, 2}), 0, ints({})).shape(), (Shape{0, 2}));
  EXPECT_EQ(embedding(ones({3, 2}), zeros({0}, kInt64)).shape(), (Shape{0, 2}));
  EXPECT_EQ(gather(ones({2, 3}), 1, zeros({2, 0}, kInt64)).shape(), (Shape{2, 0}));
  EXPECT_EQ(repeat(ones({2}), {0, 3}).shape(), (Shape{0, 6}));
  EXPECT_EQ(repeat(scalar_tensor(2.0), {}).shape(), Shape{});
  EXPECT_EQ(pad(ones({1, 1}), {0, 0}, "reflect").shape(), (Shape{1, 1}));  // a size-1 dim reflects by 0 only
  EXPECT_EQ(pad(ones({2, 3}), {-3, 0}).shape(), (Shape{2, 0}));
  EXPECT_EQ(pad(ones({2, 3}), {}).to_vector<float>(), std::vector<float>(6, 1.f));
  EXPECT_EQ(tril(ones({1, 1}), -1).item<float>(), 0.f);
  EXPECT_EQ(one_hot(ints({}), 3).shape(), (Shape{0, 3}));
  EXPECT_EQ(stack({scalar_tensor(1.0), scalar_tensor(2.0)}).to_vector<float>(), (std::vector<float>{1, 2}));
}

TEST(Index, IntegerAndBoolInputs) {
  Tensor i = ints({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(cat({i, i}, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(triu(i).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 0, 5, 6}));
  EXPECT_EQ(masked_fill(i, tensor<bool>({true, false, false}), 9.0).to_vector<int64_t>(),
            (std::vector<int64_t>{9, 2, 3, 9, 5, 6}));
  EXPECT_EQ(gather(i, 1, ints({2, 0}, {2, 1})).to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(pad(i, {1, 0}, "reflect").to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 2, 3, 5, 4, 5, 6}));
  EXPECT_EQ(pad(tensor<bool>({true}), {1, 1}).to_vector<bool>(), (std::vector<bool>{false, true, false}));
}

// Sizes above the parallel grain, so the kernels run threaded, against plain loops.
TEST(Index, LargeInputsMatchPlainLoops) {
  const int64_t rows = 300, cols = 400, vocab = 50;
  Tensor idx = randint(0, vocab, {rows});
  Tensor g = randn({rows, cols}, kFloat64);
  Tensor w = randn({vocab, cols}, kFloat64).requires_grad_();
  Tensor e = embedding(w, idx, 7);
  EXPECT_EQ(e.to_vector<double>(), index_select(w, 0, idx).to_vector<double>());
  Tensor got = grad({e}, {w}, {g})[0];
  std::vector<double> expected(size_t(vocab * cols), 0.0);
  auto iv = idx.to_vector<int64_t>();
  auto gv = g.to_vector<double>();
  for (int64_t k = 0; k < rows; ++k)
    if (iv[size_t(k)] != 7)
      for (int64_t j = 0; j < cols; ++j) expected[size_t(iv[size_t(k)] * cols + j)] += gv[size_t(k * cols + j)];
  EXPECT_TRUE(test::allclose(got, tensor(expected, {vocab, cols}), 1e-12, 1e-12));

  // scatter_add along dim 0 with many collisions
  Tensor index = randint(0, vocab, {rows, cols});
  Tensor src = randn({rows, cols}, kFloat64);
  Tensor out = scatter_add(zeros({vocab, cols}, kFloat64), 0, index, src);
  std::vector<double> ref(size_t(vocab * cols), 0.0);
  auto xv = index.to_vector<int64_t>();
  auto sv = src.to_vector<double>();
  for (int64_t k = 0; k < rows; ++k)
    for (int64_t j = 0; j < cols; ++j) ref[size_t(xv[size_t(k * cols + j)] * cols + j)] += sv[size_t(k * cols + j)];
  EXPECT_TRUE(test::allclose(out, tensor(ref, {vocab, cols}), 1e-12, 1e-12));

  // reflect pad backward sums into mirrored rows: total gradient mass is preserved
  Tensor x = randn({4, 3, 60, 70}, kFloat64).requires_grad_();
  Tensor y = pad(x, {5, 6, 7, 8}, "reflect");
  Tensor dx = grad({y}, {x}, {ones_like(y)})[0];
  EXPECT_NEAR(dx.sum().item(), double(y.numel()), 1e-9);
  EXPECT_EQ(y.narrow(2, 7, 60).narrow(3, 5, 70).contiguous().to_vector<double>(), x.to_vector<double>());
}

TEST(Index, ErrorsNameOpShapesAndBadIndex) {
  EXPECT_EQ(error_of([] { index_select(zeros({5, 3}), 0, ints({1, 7})); }),
            "index_select: index 7 is out of range for dim 0 of size 5 (float32[5, 3] on cpu)");
  EXPECT_EQ(error_of([] { index_select(zeros({5, 3}), 1, ints({-1})); }),
            "index_select: index -1 is out of range for dim 1 of size 3 (float32[5, 3] on cpu)");
  EXPECT_EQ(error_of([] { index_select(zeros({5, 3}), 0, zeros({2})); }),
            "index_select: expected an int64 index tensor, got float32[2] on cpu");
  EXPECT_EQ(error_of([] { index_select(zeros({5, 3}), 0, ints({0, 1}, {1, 2})); }),
            "index_select: expected a 1-D index, got int64[1, 2] on cpu");
  EXPECT_EQ(error_of([] { gather(zeros({2, 3}), 1, ints({0, 3}, {2, 1})); }),
            "gather: index 3 is out of range for dim 1 of size 3 (float32[2, 3] on cpu)");
  EXPECT_EQ(error_of([] { gather(zeros({2, 3}), 1, ints({0, 1})); }),
            "gather: expected the index to have as many dims as the input, got index int64[2] on cpu and input "
            "float32[2, 3] on cpu");
  EXPECT_EQ(error_of([] { gather(zeros({2, 3}), 1, zeros({3, 1}, kInt64)); }),
            "gather: index int64[3, 1] on cpu has size 3 in dim 0, larger than the input's size 2 (float32[2, 3] "
            "on cpu)");
  EXPECT_EQ(error_of([] { scatter_add(zeros({2, 3}), 0, ints({0, 2}, {1, 2}), ones({1, 2})); }),
            "scatter_add: index 2 is out of range for dim 0 of size 2 (float32[2, 3] on cpu)");
  EXPECT_EQ(error_of([] { scatter_add(zeros({2, 3}), 0, zeros({1, 2}, kInt64), ones({1, 2}, kFloat64)); }),
            "scatter_add: expected src with the input's dtype and device, got src float64[1, 2] on cpu and input "
            "float32[2, 3] on cpu");
  EXPECT_EQ(error_of([] { scatter_add(zeros({2, 3}), 0, zeros({1, 2}, kInt64), ones({1, 1})); }),
            "scatter_add: index int64[1, 2] on cpu has size 2 in dim 1, larger than src's size 1 (float32[1, 1] "
            "on cpu)");
  EXPECT_EQ(error_of([] { embedding(zeros({10, 4}), ints({3, 12})); }),
            "embedding: index 12 is out of range for num_embeddings 10 (weight float32[10, 4] on cpu)");
  EXPECT_EQ(error_of([] { embedding(zeros({10, 4}), ints({3}), 10); }),
            "embedding: padding_idx 10 is out of range for num_embeddings 10 (weight float32[10, 4] on cpu)");
  EXPECT_EQ(error_of([] { embedding(zeros({10, 4}), zeros({3})); }),
            "embedding: expected int64 indices, got float32[3] on cpu");
  EXPECT_EQ(error_of([] { embedding(zeros({10}), ints({3})); }),
            "embedding: expected a 2-D weight (num_embeddings, embedding_dim), got float32[10] on cpu");
  EXPECT_EQ(error_of([] { one_hot(ints({0, 4}), 3); }),
            "one_hot: class index 4 is out of range for num_classes 3 (int64[2] on cpu)");
  EXPECT_EQ(error_of([] { one_hot(ints({0, -1})); }),
            "one_hot: class index -1 is out of range for num_classes 1 (int64[2] on cpu)");
  EXPECT_THAT(error_of([] { one_hot(ints({})); }), HasSubstr("cannot infer the number of classes"));
  EXPECT_EQ(error_of([] { one_hot(zeros({2})); }), "one_hot: expected int64 class indices, got float32[2] on cpu");
  EXPECT_EQ(error_of([] { masked_fill(zeros({2, 3}), zeros({3}), 1.0); }),
            "masked_fill: expected a bool mask, got float32[3] on cpu");
  EXPECT_EQ(error_of([] { masked_fill(zeros({3}), tensor<bool>({true, false, true, true, false, false}, {2, 3}), 1.0); }),
            "masked_fill: the mask bool[2, 3] on cpu does not broadcast to the input's shape (float32[3] on cpu)");
}

TEST(Index, JoinAndPadErrors) {
  EXPECT_EQ(error_of([] { cat({zeros({2, 3}), zeros({3, 3})}, 1); }),
            "cat: sizes must match except in dim 1, got float32[2, 3] on cpu at position 0 and float32[3, 3] on cpu "
            "at position 1 (dim 0)");
  EXPECT_EQ(error_of([] { cat({zeros({2, 3}), zeros({3})}); }),
            "cat: expected every tensor to have 2 dims, got float32[3] on cpu at position 1 and float32[2, 3] on cpu "
            "at position 0");
  EXPECT_EQ(error_of([] { cat({zeros({2}), zeros({2}, kFloat64)}); }),
            "cat: expected every tensor to have dtype float32, got float64[2] on cpu at position 1");
  EXPECT_EQ(error_of([] { cat({}); }), "cat: expected a non-empty list of tensors");
  EXPECT_THAT(error_of([] { cat({scalar_tensor(1.0)}); }), HasSubstr("cat: a 0-d tensor cannot be concatenated"));
  EXPECT_THAT(error_of([] { cat({zeros({2})}, 1); }), HasSubstr("cat: dim 1 is out of range"));
  EXPECT_EQ(error_of([] { stack({zeros({2, 3}), zeros({3, 2})}); }),
            "stack: expected every tensor to have shape [2, 3], got float32[3, 2] on cpu at position 1");
  EXPECT_EQ(error_of([] { split_with_sizes(zeros({3, 5}), {2, 2}, 1); }),
            "split_with_sizes: sizes [2, 2] sum to 4, but dim 1 of float32[3, 5] on cpu has size 5");
  EXPECT_EQ(error_of([] { split(zeros({3}), 0); }), "split: split_size must be positive, got 0 for float32[3] on cpu");
  EXPECT_EQ(error_of([] { chunk(zeros({3}), 0); }), "chunk: the number of chunks must be positive, got 0");
  EXPECT_EQ(error_of([] { pad(zeros({2, 3}), {1, 2, 3}); }),
            "pad: expected an even number of pads ((left, right) per dim), got 3 values [1, 2, 3]");
  EXPECT_EQ(error_of([] { pad(zeros({3}), {1, 1, 1, 1}); }),
            "pad: pads [1, 1, 1, 1] cover 2 dims, but the input float32[3] on cpu has only 1");
  EXPECT_EQ(error_of([] { pad(zeros({2, 3}), {1, 3}, "reflect"); }),
            "pad: reflect padding (1, 3) of dim 1 must be non-negative and smaller than the dim's size 3 "
            "(float32[2, 3] on cpu)");
  EXPECT_EQ(error_of([] { pad(zeros({2, 3}), {-1, 0}, "reflect"); }),
            "pad: reflect padding (-1, 0) of dim 1 must be non-negative and smaller than the dim's size 3 "
            "(float32[2, 3] on cpu)");
  EXPECT_EQ(error_of([] { pad(zeros({2, 3}), {-2, -2}); }),
            "pad: padding (-2, -2) of dim 1 gives it the negative size -1 (float32[2, 3] on cpu)");
  EXPECT_EQ(error_of([] { pad(zeros({2, 3}), {1, 1}, "circular"); }),
            "pad: unknown mode 'circular'; expected \"constant\" or \"reflect\"");
  EXPECT_EQ(error_of([] { repeat(zeros({2, 3}), {2}); }),
            "repeat: got 1 repeats [2], fewer than the input's 2 dims (float32[2, 3] on cpu)");
  EXPECT_EQ(error_of([] { repeat(zeros({2}), {-1}); }), "repeat: repeats must be non-negative, got [-1]");
  EXPECT_EQ(error_of([] { tril(zeros({3})); }), "tril: expected a tensor with at least 2 dims, got float32[3] on cpu");
  EXPECT_EQ(error_of([] { triu(scalar_tensor(1.0)); }),
            "triu: expected a tensor with at least 2 dims, got float32[] on cpu");
}

}  // namespace
}  // namespace kiln
