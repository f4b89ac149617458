// im2col / col2im: PyTorch references (F.unfold / F.fold), float64 gradchecks, the
// adjoint identity between the two, double backward and error messages.
#include <gmock/gmock.h>

#include <limits>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using test::allclose;
using test::error_of;
using test::OpTable;
using test::one;

// Each case's geometry repeats the one in tests/reference/cases_im2col.py.
const OpTable& im2col_ops() {
  static const OpTable table = {
      {"im2col.basic", [](const TensorList& x) { return one(im2col(x[0], {2, 2}, {1, 1}, {0, 0}, {1, 1})); }},
      {"im2col.stride_padding",
       [](const TensorList& x) { return one(im2col(x[0], {3, 3}, {1, 1}, {1, 1}, {2, 2})); }},
      {"im2col.dilation_rect",
       [](const TensorList& x) { return one(im2col(x[0], {2, 3}, {2, 1}, {1, 0}, {1, 1})); }},
      {"im2col.f64_all", [](const TensorList& x) { return one(im2col(x[0], {3, 2}, {1, 2}, {1, 2}, {2, 1})); }},
      {"col2im.basic",
       [](const TensorList& x) { return one(col2im(x[0], {4, 4}, {2, 2}, {1, 1}, {0, 0}, {1, 1})); }},
      {"col2im.stride_padding",
       [](const TensorList& x) { return one(col2im(x[0], {4, 5}, {3, 3}, {1, 1}, {1, 1}, {2, 2})); }},
      {"col2im.dilation_rect",
       [](const TensorList& x) { return one(col2im(x[0], {5, 4}, {2, 3}, {2, 1}, {1, 0}, {1, 1})); }},
      {"col2im.f64_all",
       [](const TensorList& x) { return one(col2im(x[0], {4, 3}, {3, 2}, {1, 2}, {1, 2}, {2, 1})); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(Im2colRef, "im2col", im2col_ops());

TEST(Im2col, OutputShapeFollowsTheConvolutionFormula) {
  // out = (H + 2p - d (k - 1) - 1) / s + 1: (7 + 2 - 2 - 1) / 2 + 1 = 4, (6 + 0 - 4 - 1) / 1 + 1 = 2
  Tensor cols = im2col(zeros({2, 3, 7, 6}), {2, 3}, {2, 2}, {1, 0}, {2, 1});
  EXPECT_EQ(cols.shape(), (Shape{2, 3 * 2 * 3, 4 * 2}));
}

TEST(Im2col, PatchesOfASmallImage) {
  Tensor x = arange(1.0, 10.0, 1.0, kFloat32).view({1, 1, 3, 3});
  // 2x2 patches at stride 1: rows are kernel offsets (0,0), (0,1), (1,0), (1,1).
  EXPECT_EQ(im2col(x, {2, 2}, {1, 1}, {0, 0}, {1, 1}).to_vector<float>(),
            (std::vector<float>{1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9}));
  // col2im of all-ones columns counts how many patches cover each pixel.
  EXPECT_EQ(col2im(ones({1, 4, 4}), {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}).to_vector<float>(),
            (std::vector<float>{1, 2, 1, 2, 4, 2, 1, 2, 1}));
}

// <im2col(x), c> == <x, col2im(c)>: each is the other's adjoint, on a geometry with
// every feature and sizes above the parallel grain (threads split the planes).
TEST(Im2col, Col2imIsTheAdjointOfIm2col) {
  IntList k{3, 2}, d{2, 1}, p{2, 1}, s{1, 2};
  Tensor x = randn({4, 16, 20, 17}, kFloat64);
  Tensor c = randn(im2col(x, k, d, p, s).shape(), kFloat64);
  double lhs = (im2col(x, k, d, p, s) * c).sum().item();
  double rhs = (x * col2im(c, {20, 17}, k, d, p, s)).sum().item();
  EXPECT_NEAR(lhs, rhs, 1e-9 * std::max(1.0, std::abs(lhs)));
}

TEST(Im2col, DoubleBackward) {
  for (bool forward_is_im2col : {true, false}) {
    Tensor x = forward_is_im2col ? randn({1, 2, 4, 3}, kFloat64) : randn({1, 2 * 2 * 3, 3 * 1}, kFloat64);
    x.requires_grad_();
    auto op = [&](const Tensor& t) {
      return forward_is_im2col ? im2col(t, {2, 3}, {1, 1}, {1, 0}, {2, 1}) : col2im(t, {4, 3}, {2, 3}, {1, 1}, {1, 0}, {2, 1});
    };
    Shape y_shape = op(x).shape();
    auto vjp = [&](const TensorList& in) {
      EnableGradGuard enable;  // gradcheck's finite differences run f under NoGradGuard
      return grad({op(x)}, {x}, {in[0]}, true, true);
    };
    GradcheckResult r = gradcheck(vjp, {randn(y_shape, kFloat64).requires_grad_()});
    EXPECT_TRUE(r.ok) << (forward_is_im2col ? "im2col: " : "col2im: ") << r.message;
  }
}

// The three CPU paths: unit strides with out_w == w take the shifted planes (Note
// [Shifted planes in im2col]); otherwise output rows shorter than 8 take the tap tables
// (Note [Small maps in im2col]), longer ones the row loop. Each against patches gathered
// one pixel at a time, and col2im against the adjoint sum built the same way. Every 7th
// pixel is infinite, so a padding entry that read a pixel would show.
TEST(Im2col, EveryCpuPathMatchesNaivePatches) {
  struct Case {
    Shape x;
    IntList k, d, p, s;
  };
  const Case cases[] = {{{2, 3, 4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},     // shifted
                        {{2, 3, 8, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},     // shifted (ResNet's 8x8)
                        {{2, 2, 7, 6}, {3, 3}, {2, 2}, {2, 2}, {1, 1}},     // shifted, dilated
                        {{1, 2, 5, 6}, {2, 5}, {1, 1}, {0, 2}, {1, 1}},     // shifted, out_h < h
                        {{1, 1, 3, 4}, {1, 5}, {1, 1}, {0, 2}, {1, 1}},     // shifted past the plane's ends
                        {{1, 1, 1, 3}, {5, 3}, {1, 1}, {2, 1}, {1, 1}},     // shifted, taps wholly outside
                        {{2, 3, 5, 5}, {3, 3}, {1, 1}, {0, 0}, {1, 1}},     // table (out_w 3 < w)
                        {{2, 2, 7, 9}, {2, 3}, {2, 1}, {1, 2}, {2, 3}},     // table, every feature
                        {{2, 3, 5, 40}, {3, 3}, {1, 1}, {1, 1}, {2, 1}},    // rows (out_w 40)
                        {{1, 2, 6, 37}, {3, 2}, {1, 2}, {2, 1}, {2, 1}}};   // rows, every feature
  for (const Case& c : cases) {
    Tensor x = randn(c.x, kFloat64);
    for (int64_t e = 0; e < x.numel(); e += 7) x.data_ptr<double>()[e] = std::numeric_limits<double>::infinity();
    Tensor cols = im2col(x, c.k, c.d, c.p, c.s);
    const int64_t n = c.x[0], ch = c.x[1], h = c.x[2], w = c.x[3];
    const int64_t oh = (h + 2 * c.p[0] - c.d[0] * (c.k[0] - 1) - 1) / c.s[0] + 1;
    const int64_t ow = (w + 2 * c.p[1] - c.d[1] * (c.k[1] - 1) - 1) / c.s[1] + 1;
    ASSERT_EQ(cols.shape(), (Shape{n, ch * c.k[0] * c.k[1], oh * ow}));
    Tensor g = randn(cols.shape(), kFloat64);
    std::vector<double> want(size_t(cols.numel())), want_x(size_t(x.numel()), 0.0);
    const double* xp = x.data_ptr<double>();
    const double* gp = g.data_ptr<double>();
    int64_t e = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t cc = 0; cc < ch; ++cc)
        for (int64_t i = 0; i < c.k[0]; ++i)
          for (int64_t j = 0; j < c.k[1]; ++j)
            for (int64_t oy = 0; oy < oh; ++oy)
              for (int64_t ox = 0; ox < ow; ++ox, ++e) {
                const int64_t iy = oy * c.s[0] - c.p[0] + i * c.d[0], ix = ox * c.s[1] - c.p[1] + j * c.d[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const int64_t pixel = ((b * ch + cc) * h + iy) * w + ix;
                want[size_t(e)] = xp[pixel];
                want_x[size_t(pixel)] += gp[e];
              }
    EXPECT_EQ(cols.to_vector<double>(), want) << c.x;
    Tensor folded = col2im(g, {h, w}, c.k, c.d, c.p, c.s);
    EXPECT_TRUE(allclose(folded, tensor<double>(want_x).reshape(c.x), 1e-12, 1e-12)) << c.x;
  }
}

// im2col_batch holds the same entries as im2col with the batch moved into the columns,
// (N, K, L) -> (K, N L); col2im_batch undoes it like col2im. Geometries with every
// feature, odd and prime sizes, a single image, and planes above the parallel grain.
TEST(Im2col, BatchLayoutMatchesPerImageLayout) {
  struct Case {
    Shape x;
    IntList k, d, p, s;
  };
  const Case cases[] = {{{3, 5, 7, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
                        {{1, 2, 5, 5}, {2, 3}, {2, 1}, {1, 0}, {2, 1}},
                        {{4, 16, 20, 17}, {3, 2}, {2, 1}, {2, 1}, {1, 2}},
                        {{2, 3, 1, 1}, {1, 1}, {1, 1}, {0, 0}, {1, 1}},
                        {{5, 1, 13, 11}, {5, 3}, {1, 2}, {2, 2}, {3, 2}}};
  for (const Case& c : cases) {
    for (DType dtype : {kFloat32, kFloat64}) {
      Tensor x = randn(c.x, dtype);
      Tensor per_image = im2col(x, c.k, c.d, c.p, c.s);  // (N, K, L)
      const int64_t n = per_image.size(0), k = per_image.size(1), l = per_image.size(2);
      Tensor batch = im2col_batch(x, c.k, c.d, c.p, c.s);
      ASSERT_EQ(batch.shape(), (Shape{k, n * l}));
      EXPECT_TRUE(allclose(batch, per_image.transpose(0, 1).reshape({k, n * l}), 0, 0)) << c.x;
      Tensor cols = randn({k, n * l}, dtype);
      Tensor expected = col2im(cols.reshape({k, n, l}).transpose(0, 1).contiguous(), {c.x[2], c.x[3]}, c.k, c.d, c.p,
                               c.s);
      EXPECT_TRUE(allclose(col2im_batch(cols, {c.x[2], c.x[3]}, c.k, c.d, c.p, c.s), expected, 0, 0)) << c.x;
    }
  }
}

TEST(Im2col, BatchLayoutGradcheck) {
  IntList k{2, 3}, d{1, 2}, p{1, 1}, s{2, 1};
  Tensor x = randn({2, 3, 5, 6}, kFloat64).requires_grad_();
  GradcheckResult r = gradcheck([&](const TensorList& in) { return one(im2col_batch(in[0], k, d, p, s)); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  Tensor cols = randn(im2col_batch(x, k, d, p, s).shape(), kFloat64).requires_grad_();
  r = gradcheck([&](const TensorList& in) { return one(col2im_batch(in[0], {5, 6}, k, d, p, s)); }, {cols});
  EXPECT_TRUE(r.ok) << r.message;
  // Second order: the backward of each is the other, recorded under create_graph.
  auto vjp = [&](const TensorList& in) {
    EnableGradGuard enable;
    return grad({im2col_batch(x, k, d, p, s)}, {x}, {in[0]}, true, true);
  };
  r = gradcheck(vjp, {randn(cols.shape(), kFloat64).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Im2col, Errors) {
  EXPECT_EQ(error_of([] { im2col(zeros({2, 3, 4}), {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
            "im2col: expected a 4-D (N, C, H, W) input, got float32[2, 3, 4] on cpu");
  EXPECT_EQ(error_of([] { im2col(zeros({1, 1, 4, 4}), {2}, {1, 1}, {0, 0}, {1, 1}); }),
            "im2col: expected kernel as an (h, w) pair, got [2]");
  EXPECT_EQ(error_of([] { im2col(zeros({1, 1, 4, 4}), {2, 2}, {1, 1}, {0, 0}, {0, 1}); }),
            "im2col: expected stride [0, 1] to be at least 1");
  EXPECT_EQ(error_of([] { im2col(zeros({1, 1, 4, 4}), {2, 2}, {1, 1}, {-1, 0}, {1, 1}); }),
            "im2col: expected padding [-1, 0] to be at least 0");
  EXPECT_EQ(error_of([] { im2col(zeros({1, 1, 4, 4}), {3, 3}, {2, 2}, {0, 0}, {1, 1}); }),
            "im2col: kernel [3, 3] with dilation [2, 2] does not fit in the input float32[1, 1, 4, 4] on cpu padded "
            "by [0, 0]");
  EXPECT_EQ(error_of([] { im2col(zeros({1, 1, 4, 4}, kInt64), {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
            "im2col: expected a floating input (float32, float64, float16 or bfloat16), got int64[1, 1, 4, 4] on cpu");
  EXPECT_EQ(error_of([] { col2im(zeros({1, 7, 9}), {4, 4}, {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
            "col2im: expected the rows of the columns float32[1, 7, 9] on cpu to be divisible by the kernel size "
            "kh * kw = 4");
  EXPECT_THAT(error_of([] { col2im(zeros({1, 8, 8}), {4, 4}, {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
              HasSubstr("col2im: expected the columns float32[1, 8, 8] on cpu to hold the number of patches "
                        "3 * 3 = 9 of output_size [4, 4]"));
  EXPECT_EQ(error_of([] { col2im(zeros({8, 9}), {4, 4}, {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
            "col2im: expected 3-D columns (N, C * kh * kw, L), got float32[8, 9] on cpu");
  EXPECT_EQ(error_of([] { col2im_batch(zeros({1, 8, 9}), {4, 4}, {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
            "col2im: expected 2-D columns (C * kh * kw, N * L), got float32[1, 8, 9] on cpu");
  EXPECT_THAT(error_of([] { col2im_batch(zeros({8, 10}), {4, 4}, {2, 2}, {1, 1}, {0, 0}, {1, 1}); }),
              HasSubstr("col2im: expected the columns float32[8, 10] on cpu to hold a multiple of the number of "
                        "patches 3 * 3 = 9 of output_size [4, 4]"));
}

}  // namespace
}  // namespace kiln
