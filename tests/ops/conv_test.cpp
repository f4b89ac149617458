// The Winograd convolution (ops/conv.h) against im2col + GEMM (nn::functional::conv2d with
// the algorithm forced to im2col) and a direct loop: forward on awkward shapes in float32
// and float64, gradients, gradcheck and gradgradcheck, the algorithm switch, and errors.
// The conv layers' PyTorch references are in tests/nn/conv_test.cpp.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "kiln.h"
#include "nn/conv.h"
#include "ops/conv.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln {
namespace {

namespace F = nn::functional;
using test::allclose;
using test::error_of;

// Sets the conv2d algorithm for a scope and restores Auto after it.
struct AlgoScope {
  explicit AlgoScope(ConvAlgo algo) { set_conv2d_algo(algo); }
  ~AlgoScope() { set_conv2d_algo(ConvAlgo::Auto); }
};

Tensor im2col_conv(const Tensor& x, const Tensor& w, const IntList& padding) {
  AlgoScope scope(ConvAlgo::Im2col);
  return F::conv2d(x, w, {}, {1, 1}, padding);
}

// y[n, o, i, j] = sum_{c, a, b} x[n, c, i + a - ph, j + b - pw] w[o, c, a, b], in double.
Tensor direct_conv(const Tensor& x, const Tensor& w, int64_t ph, int64_t pw) {
  const int64_t n = x.size(0), c_in = x.size(1), h = x.size(2), wd = x.size(3), c_out = w.size(0);
  const int64_t oh = h + 2 * ph - 2, ow = wd + 2 * pw - 2;
  Tensor xd = x.to(DType::Float64).contiguous(), wdbl = w.to(DType::Float64).contiguous();
  const double *xp = xd.data_ptr<double>(), *wp = wdbl.data_ptr<double>();
  std::vector<double> y(size_t(n * c_out * oh * ow), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < c_out; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = 0;
          for (int64_t c = 0; c < c_in; ++c)
            for (int64_t a = 0; a < 3; ++a)
              for (int64_t e = 0; e < 3; ++e) {
                const int64_t yy = i + a - ph, xx = j + e - pw;
                if (yy >= 0 && yy < h && xx >= 0 && xx < wd)
                  s += xp[((b * c_in + c) * h + yy) * wd + xx] * wp[((o * c_in + c) * 3 + a) * 3 + e];
              }
          y[size_t(((b * c_out + o) * oh + i) * ow + j)] = s;
        }
  return tensor<double>(y, {n, c_out, oh, ow});
}

struct Case {
  int64_t n, c_in, c_out, h, w, ph, pw;
};

// Odd and prime sizes, 1x1 images with padding 1 and 2, padding 0, batch 1, one and three
// channels, rectangular images and padding, and enough tiles (64 channels, 2 x 31 x 33)
// for several tile blocks with an uneven last one (Note [Winograd F(2x2, 3x3)]).
const Case kCases[] = {
    {1, 1, 1, 3, 3, 0, 0},    {2, 3, 5, 7, 7, 1, 1},   {1, 1, 4, 1, 1, 1, 1},  {3, 2, 3, 1, 1, 2, 2},
    {2, 5, 7, 11, 13, 1, 1},  {1, 7, 3, 5, 9, 0, 2},   {4, 3, 1, 13, 4, 2, 0}, {1, 13, 11, 2, 2, 1, 1},
    {2, 17, 19, 6, 5, 1, 0},  {3, 4, 6, 8, 8, 1, 1},   {1, 3, 2, 1, 5, 1, 1},  {2, 64, 64, 31, 33, 1, 1},
};

TEST(Conv2dWinograd, MatchesIm2colAndTheDirectLoopOnAwkwardShapesF64) {
  for (const Case& c : kCases) {
    Tensor x = randn({c.n, c.c_in, c.h, c.w}, DType::Float64), w = randn({c.c_out, c.c_in, 3, 3}, DType::Float64);
    Tensor y = conv2d_winograd(x, w, {c.ph, c.pw});
    EXPECT_TRUE(allclose(y, im2col_conv(x, w, {c.ph, c.pw}), 1e-12, 1e-12))
        << c.n << " " << c.c_in << " " << c.c_out << " " << c.h << " " << c.w << " " << c.ph << " " << c.pw;
    if (c.c_in < 64) {
      EXPECT_TRUE(allclose(y, direct_conv(x, w, c.ph, c.pw), 1e-12, 1e-12));
    }
  }
}

// float32: Winograd adds roundings in its transforms (the output sums 9 products of sums
// of 4 inputs), so it is compared to the float64 direct loop with rtol 1e-5 and
// atol 1e-5 * sqrt(9 C_in) (the size of a sum of 9 C_in unit products); im2col + GEMM
// meets the same bound.
TEST(Conv2dWinograd, Float32WithinADocumentedToleranceOfTheExactResult) {
  for (const Case& c : kCases) {
    Tensor x = randn({c.n, c.c_in, c.h, c.w}), w = randn({c.c_out, c.c_in, 3, 3});
    Tensor exact = direct_conv(x, w, c.ph, c.pw);
    const double atol = 1e-5 * std::sqrt(9.0 * double(c.c_in));
    EXPECT_TRUE(allclose(conv2d_winograd(x, w, {c.ph, c.pw}).to(DType::Float64), exact, 1e-5, atol)) << c.c_in;
    EXPECT_TRUE(allclose(im2col_conv(x, w, {c.ph, c.pw}).to(DType::Float64), exact, 1e-5, atol)) << c.c_in;
  }
}

// The float32 gradients (dx from the forward's transformed filters, dw by Note [Winograd
// weight gradient]) against float64 im2col gradients of the same float32 inputs: rtol
// 1e-5 and atol 1e-5 * sqrt(terms), dx summing 9 C_out products and dw N OH OW of them;
// im2col + GEMM meets the same bound.
TEST(Conv2dWinograd, Float32GradientsWithinADocumentedToleranceOfTheExactResult) {
  for (const Case& c : kCases) {
    const int64_t oh = c.h + 2 * c.ph - 2, ow = c.w + 2 * c.pw - 2;
    Tensor x = randn({c.n, c.c_in, c.h, c.w}).requires_grad_(), w = randn({c.c_out, c.c_in, 3, 3}).requires_grad_();
    Tensor v = randn({c.n, c.c_out, oh, ow});
    Tensor x64 = x.detach().to(DType::Float64).requires_grad_(), w64 = w.detach().to(DType::Float64).requires_grad_();
    TensorList exact = grad({sum(im2col_conv(x64, w64, {c.ph, c.pw}) * v.to(DType::Float64))}, {x64, w64});
    const double atol_dx = 1e-5 * std::sqrt(9.0 * double(c.c_out)), atol_dw = 1e-5 * std::sqrt(double(c.n * oh * ow));
    for (bool winograd : {true, false}) {
      Tensor y = winograd ? conv2d_winograd(x, w, {c.ph, c.pw}) : im2col_conv(x, w, {c.ph, c.pw});
      TensorList got = grad({sum(y * v)}, {x, w});
      const char* path = winograd ? " winograd" : " im2col";
      EXPECT_TRUE(allclose(got[0].to(DType::Float64), exact[0], 1e-5, atol_dx)) << c.c_in << path;
      EXPECT_TRUE(allclose(got[1].to(DType::Float64), exact[1], 1e-5, atol_dw)) << c.c_in << path;
    }
  }
}

TEST(Conv2dWinograd, NonContiguousInputAndWeight) {
  Tensor x = randn({5, 2, 7, 6}, DType::Float64).transpose(0, 1);  // (2, 5, 7, 6)
  Tensor w = randn({3, 8, 3, 3}, DType::Float64).transpose(2, 3).narrow(1, 0, 5);
  EXPECT_TRUE(allclose(conv2d_winograd(x, w, {1, 1}), direct_conv(x, w, 1, 1), 1e-12, 1e-12));
}

TEST(Conv2dWinograd, EmptyBatchAndChannels) {
  EXPECT_EQ(conv2d_winograd(zeros({0, 3, 5, 5}), zeros({4, 3, 3, 3}), {1, 1}).shape(), Shape({0, 4, 5, 5}));
  Tensor y = conv2d_winograd(zeros({2, 0, 5, 5}), zeros({4, 0, 3, 3}), {0, 0});
  EXPECT_EQ(y.shape(), Shape({2, 4, 3, 3}));
  EXPECT_EQ(max(abs(y)).item(), 0.0);
}

TEST(Conv2dWinograd, GradientsMatchIm2col) {
  for (const Case& c : kCases) {
    if (c.c_in >= 64) continue;
    Tensor x = randn({c.n, c.c_in, c.h, c.w}, DType::Float64).requires_grad_();
    Tensor w = randn({c.c_out, c.c_in, 3, 3}, DType::Float64).requires_grad_();
    Tensor v = randn({c.n, c.c_out, c.h + 2 * c.ph - 2, c.w + 2 * c.pw - 2}, DType::Float64);
    TensorList got = grad({sum(conv2d_winograd(x, w, {c.ph, c.pw}) * v)}, {x, w});
    TensorList want = grad({sum(im2col_conv(x, w, {c.ph, c.pw}) * v)}, {x, w});
    EXPECT_TRUE(allclose(got[0], want[0], 1e-12, 1e-12)) << c.c_in << " " << c.h << " " << c.ph;
    EXPECT_TRUE(allclose(got[1], want[1], 1e-12, 1e-12)) << c.c_in << " " << c.h << " " << c.ph;
  }
}

TEST(Conv2dWinograd, GradcheckF64) {
  for (auto [h, w, ph, pw] : {std::tuple{4, 5, 1, 1}, {3, 3, 0, 0}, {1, 2, 2, 1}, {5, 3, 0, 2}}) {
    Tensor x = randn({2, 2, h, w}, DType::Float64).requires_grad_();
    Tensor wt = randn({3, 2, 3, 3}, DType::Float64).requires_grad_();
    auto f = [&](const TensorList& in) { return TensorList{conv2d_winograd(in[0], in[1], {ph, pw})}; };
    GradcheckResult r = gradcheck(f, {x, wt});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(Conv2dWinograd, GradgradcheckF64) {
  for (auto [h, w, ph, pw] : {std::tuple{3, 4, 1, 1}, {3, 3, 0, 2}}) {
    Tensor x = randn({1, 2, h, w}, DType::Float64).requires_grad_();
    Tensor wt = randn({2, 2, 3, 3}, DType::Float64).requires_grad_();
    auto f = [&](const TensorList& in) { return TensorList{conv2d_winograd(in[0], in[1], {ph, pw})}; };
    GradcheckResult r = gradgradcheck(f, {x, wt});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

// Every path conv2d can take (Winograd, the centre tap, im2col) gives im2col's values and
// gradients, with a bias, under each setting of the switch.
TEST(Conv2dWinograd, Conv2dPathsAgreeUnderEveryAlgorithmSetting) {
  struct Geo {
    int64_t h, w, k;
    IntList stride, padding, dilation;
  };
  const Geo geos[] = {{6, 5, 3, {1, 1}, {1, 1}, {1, 1}}, {1, 1, 3, {1, 1}, {1, 1}, {1, 1}},
                      {1, 1, 3, {2, 2}, {2, 2}, {2, 2}}, {1, 1, 5, {1, 1}, {2, 2}, {1, 1}},
                      {4, 4, 3, {2, 2}, {1, 1}, {1, 1}}, {7, 7, 3, {1, 1}, {2, 0}, {1, 1}}};
  for (const Geo& g : geos) {
    Tensor x = randn({3, 4, g.h, g.w}, DType::Float64).requires_grad_();
    Tensor w = randn({5, 4, g.k, g.k}, DType::Float64).requires_grad_();
    Tensor b = randn({5}, DType::Float64).requires_grad_();
    auto run = [&](ConvAlgo algo) {
      AlgoScope scope(algo);
      Tensor y = F::conv2d(x, w, b, g.stride, g.padding, g.dilation);
      TensorList grads = grad({sum(y * y)}, {x, w, b});
      return TensorList{y, grads[0], grads[1], grads[2]};
    };
    TensorList want = run(ConvAlgo::Im2col);
    for (ConvAlgo algo : {ConvAlgo::Auto, ConvAlgo::Winograd}) {
      TensorList got = run(algo);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(allclose(got[i], want[i], 1e-12, 1e-12)) << "h " << g.h << " k " << g.k << " output " << i;
    }
  }
}

// Auto's choice (Note [conv2d algorithm]): Winograd for a 3x3 stride-1 convolution with
// at least 32 input and output channels, an output of at least 2 x 2 and at least 2^20
// tiles x C_in x C_out; im2col below any of them. Each path is recognised by its exact
// bits (the two differ by roundings).
TEST(Conv2dWinograd, AutoPicksWinogradOnlyWhereItWins) {
  struct Pick {
    int64_t n, c_in, c_out, h, w, pad;
    bool winograd;
  };
  const Pick picks[] = {
      {2, 64, 64, 32, 32, 1, true},    // 512 tiles x 64 x 64 = 2^21
      {4, 32, 40, 28, 30, 1, true},    // 840 tiles x 32 x 40, just past 2^20
      {2, 31, 64, 32, 32, 1, false},   // too few input channels
      {2, 64, 31, 32, 32, 1, false},   // too few output channels
      {2, 64, 64, 16, 16, 1, false},   // 128 tiles: 2^19
      {2, 64, 64, 3, 34, 0, false},    // one output row
      {2, 64, 64, 1, 1, 1, false},     // the centre tap
  };
  for (const Pick& p : picks) {
    SCOPED_TRACE("n " + std::to_string(p.n) + " c_in " + std::to_string(p.c_in) + " c_out " + std::to_string(p.c_out) +
                 " " + std::to_string(p.h) + "x" + std::to_string(p.w) + " padding " + std::to_string(p.pad));
    Tensor x = randn({p.n, p.c_in, p.h, p.w}), w = randn({p.c_out, p.c_in, 3, 3});
    Tensor got = F::conv2d(x, w, {}, {1, 1}, {p.pad, p.pad});
    Tensor winograd = conv2d_winograd(x, w, {p.pad, p.pad}), im2col = im2col_conv(x, w, {p.pad, p.pad});
    ASSERT_FALSE(test::same_tensor(winograd, im2col)) << "the paths cannot be told apart on these inputs";
    if (p.winograd) {
      EXPECT_TRUE(test::same_tensor(got, winograd));
    } else if (p.h * p.w > 1) {  // a 1x1 input takes the centre tap, which im2col matches to a rounding
      EXPECT_TRUE(test::same_tensor(got, im2col));
    } else {
      EXPECT_FALSE(test::same_tensor(got, winograd));
    }
  }
}

// The centre tap of a non-square kernel with dilation: tap (ph / dh, pw / dw) of (3, 5).
TEST(Conv2dWinograd, CentreTapOfARectangularKernelMatchesIm2col) {
  Tensor x = randn({3, 4, 1, 1}, DType::Float64).requires_grad_();
  Tensor w = randn({5, 4, 3, 5}, DType::Float64).requires_grad_();
  auto run = [&](ConvAlgo algo) {
    AlgoScope scope(algo);
    Tensor y = F::conv2d(x, w, {}, {1, 1}, {2, 2}, {2, 1});
    TensorList grads = grad({sum(y * y)}, {x, w});
    return TensorList{y, grads[0], grads[1]};
  };
  TensorList want = run(ConvAlgo::Im2col), got = run(ConvAlgo::Auto);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(allclose(got[i], want[i], 1e-12, 1e-12)) << "output " << i;
}

TEST(Conv2dWinograd, CentreTapPathGradgradcheckF64) {
  Tensor x = randn({2, 3, 1, 1}, DType::Float64).requires_grad_();
  Tensor w = randn({4, 3, 3, 3}, DType::Float64).requires_grad_();
  auto f = [](const TensorList& in) { return TensorList{F::conv2d(in[0], in[1], {}, {1, 1}, {1, 1})}; };
  GradcheckResult r = gradgradcheck(f, {x, w});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Conv2dWinograd, BadInputs) {
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({3, 5, 5}), zeros({2, 3, 3, 3}), {1, 1}); }),
            "conv2d_winograd: expected a 4-D input (N, C_in, H, W), got float32[3, 5, 5] on cpu");
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({1, 3, 5, 5}), zeros({2, 3, 5, 5}), {1, 1}); }),
            "conv2d_winograd: expected a weight (C_out, 3, 3, 3) for the input float32[1, 3, 5, 5] on cpu, got "
            "float32[2, 3, 5, 5] on cpu");
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({1, 3, 5, 5}), zeros({2, 4, 3, 3}), {1, 1}); }),
            "conv2d_winograd: expected a weight (C_out, 3, 3, 3) for the input float32[1, 3, 5, 5] on cpu, got "
            "float32[2, 4, 3, 3] on cpu");
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({1, 3, 5, 5}), zeros({2, 3, 3, 3}, DType::Float64), {1, 1}); }),
            "conv2d_winograd: input float32[1, 3, 5, 5] on cpu and weight float64[2, 3, 3, 3] on cpu must be "
            "floating with the same dtype");
  EXPECT_EQ(error_of([] {
              conv2d_winograd(zeros({1, 3, 5, 5}, DType::Int64), zeros({2, 3, 3, 3}, DType::Int64), {1, 1});
            }),
            "conv2d_winograd: input int64[1, 3, 5, 5] on cpu and weight int64[2, 3, 3, 3] on cpu must be floating "
            "with the same dtype");
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({1, 3, 5, 5}), zeros({2, 3, 3, 3}), {3, 1}); }),
            "conv2d_winograd: expected padding as an (h, w) pair of values in 0..2, got [3, 1]");
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({1, 3, 5, 5}), zeros({2, 3, 3, 3}), {1}); }),
            "conv2d_winograd: expected padding as an (h, w) pair of values in 0..2, got [1]");
  EXPECT_EQ(error_of([] { conv2d_winograd(zeros({1, 3, 2, 5}), zeros({2, 3, 3, 3}), {0, 0}); }),
            "conv2d_winograd: the 3x3 kernel does not fit in the input float32[1, 3, 2, 5] on cpu padded by [0, 0]");
}

}  // namespace
}  // namespace kiln
