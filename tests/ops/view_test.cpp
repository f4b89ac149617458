// Views and copies: PyTorch references, storage sharing, strides, errors.
#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;
using test::OpTable;
using test::one;

const OpTable& view_ops() {
  static const OpTable table = {
      {"view.basic", [](const TensorList& x) { return one(x[0].contiguous().view({4, 3})); }},
      {"view.infer", [](const TensorList& x) { return one(x[0].contiguous().view({-1, 2})); }},
      {"reshape", [](const TensorList& x) { return one(x[0].t().reshape({12})); }},
      {"permute", [](const TensorList& x) { return one(x[0].permute({2, 0, 1})); }},
      {"transpose", [](const TensorList& x) { return one(x[0].transpose(0, 2)); }},
      {"t", [](const TensorList& x) { return one(x[0].t()); }},
      {"narrow", [](const TensorList& x) { return one(x[0].narrow(1, 1, 2)); }},
      {"slice.step", [](const TensorList& x) { return one(x[0].slice(1, 1, 5, 2)); }},
      {"slice.negative", [](const TensorList& x) { return one(x[0].slice(0, -2, INT64_MAX)); }},
      {"select.basic", [](const TensorList& x) { return one(x[0].select(1, 2)); }},
      {"select.negative", [](const TensorList& x) { return one(x[0].select(0, -1)); }},
      {"unbind.dim1", [](const TensorList& x) { return unbind(x[0], 1); }},
      {"unbind.last", [](const TensorList& x) { return unbind(x[0], -1); }},
      {"expand", [](const TensorList& x) { return one(x[0].expand({2, 3, 4})); }},
      {"squeeze.all", [](const TensorList& x) { return one(x[0].squeeze()); }},
      {"squeeze.dim", [](const TensorList& x) { return one(x[0].squeeze(2)); }},
      {"unsqueeze.basic", [](const TensorList& x) { return one(x[0].unsqueeze(1)); }},
      {"unsqueeze.negative", [](const TensorList& x) { return one(x[0].unsqueeze(-1)); }},
      {"flatten", [](const TensorList& x) { return one(x[0].flatten(1)); }},
      {"contiguous", [](const TensorList& x) { return one(x[0].t().contiguous()); }},
      {"clone", [](const TensorList& x) { return one(x[0].clone() * 2.0); }},
      {"to.f64", [](const TensorList& x) { return one(x[0].to(kFloat64) * 2.0); }},
      {"chain", [](const TensorList& x) { return one(x[0].t().slice(0, 1, 3).unsqueeze(0).expand({2, 2, 3}) * 1.5); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(ViewRef, "view", view_ops());

TEST(View, ViewsShareStorageAndSeeWrites) {
  Tensor x = zeros({2, 3});
  Tensor v = x.t();
  EXPECT_TRUE(v.same_storage(x));
  EXPECT_EQ(v.strides(), (IntList{1, 3}));
  EXPECT_FALSE(v.is_contiguous());
  x.select(0, 1).fill_(5.0);
  EXPECT_EQ(v.contiguous().to_vector<float>(), (std::vector<float>{0, 5, 0, 5, 0, 5}));
}

TEST(View, ExpandHasZeroStride) {
  Tensor e = ones({3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides(), (IntList{1, 0}));
  EXPECT_EQ(e.sum().item<float>(), 12.f);
}

TEST(View, ReshapeCopiesOnlyWhenNeeded) {
  Tensor x = arange(12.0, kFloat32).view({3, 4});
  EXPECT_TRUE(x.reshape({2, 6}).same_storage(x));
  EXPECT_FALSE(x.t().reshape({12}).same_storage(x));
  // a transposed tensor can still be viewed when the merged dims are contiguous
  Tensor p = arange(24.0, kFloat32).view({2, 3, 4}).permute({1, 0, 2});
  EXPECT_TRUE(p.reshape({3, 2, 2, 2}).same_storage(p));
}

TEST(View, ErrorsNameOpAndShapes) {
  EXPECT_EQ(error_of([] { zeros({3, 4}).view({5, -1}); }), "view: shape [5, -1] is invalid for input of size 12");
  EXPECT_EQ(error_of([] { zeros({3, 4}).t().view({12}); }),
            "view: shape [12] is not compatible with the input's strides (float32[4, 3] on cpu, strides [1, 4]); use "
            "reshape(), which copies when needed");
  EXPECT_EQ(error_of([] { zeros({3, 4}).permute({0, 0}); }), "permute: dim 0 appears twice in [0, 0]");
  EXPECT_EQ(error_of([] { zeros({3, 4}).select(1, 4); }),
            "select: index 4 is out of range for dim 1 of size 4 (float32[3, 4] on cpu)");
  EXPECT_EQ(error_of([] { zeros({3, 4}).expand({2, 4}); }),
            "expand: cannot expand float32[3, 4] on cpu to [2, 4] (dim 0: size 3 is not 1 and differs from 2)");
  EXPECT_EQ(error_of([] { zeros({3, 4}).unsqueeze(3); }),
            "unsqueeze: dim 3 is out of range for a tensor with 3 dims (expected a dim in [-3, 2])");
  EXPECT_EQ(error_of([] { zeros({3}).narrow(0, 2, 2); }),
            "narrow: start 2 and length 2 are out of range for dim 0 of size 3 (float32[3] on cpu)");
}

TEST(View, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, kFloat64);
  dst.copy_(tensor<int64_t>({1, 2, 3}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(View, CopyGradientFlowsToSource) {
  Tensor src = tensor<double>({1.0, 2.0}).requires_grad_();
  Tensor dst = zeros({3, 2}, kFloat64);
  Tensor buf = dst * 1.0;  // a non-leaf to write into
  buf.copy_(src);
  (buf * buf).sum().backward();
  EXPECT_EQ(src.grad().to_vector<double>(), (std::vector<double>{6.0, 12.0}));
}

TEST(View, SumToReducesBroadcastDims) {
  Tensor g = ones({2, 3, 4});
  EXPECT_EQ(sum_to(g, {3, 1}).to_vector<float>(), (std::vector<float>{8, 8, 8}));
  EXPECT_EQ(sum_to(g, {}).item<float>(), 24.f);
}

TEST(Unbind, ViewsOfOnePieceEachAndZerosForUnusedGradients) {
  Tensor x = randn({3, 4}).requires_grad_();
  TensorList pieces = unbind(x, 0);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_TRUE(pieces[1].same_storage(x));
  EXPECT_TRUE(allclose(pieces[2], x.select(0, 2), 0, 0));
  sum(pieces[1] * 2.0).backward();  // pieces 0 and 2 unused
  Tensor expected = zeros({3, 4});
  expected.select(0, 1).fill_(2.0);
  EXPECT_TRUE(allclose(x.grad(), expected, 0, 0));
  EXPECT_TRUE(unbind(zeros({0, 2}), 0).empty());
  EXPECT_EQ(error_of([] { unbind(zeros({}), 0); }), "unbind: cannot unbind a 0-d tensor");
}

}  // namespace
}  // namespace kiln
