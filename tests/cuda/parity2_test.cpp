// DeviceParity, second part: the CUDA kernels of dropout, the fused optimizer steps, the
// LSTM cell, layer norm, the indexing family, im2col/col2im and nll_loss against the CPU kernels
// on the same random inputs (odd sizes, float64, non-contiguous inputs). Skips without a
// device. Copies (index_select, gather, pad, im2col, ...) and dropout's mask must match
// bit for bit; arithmetic uses the tolerances of tests/cuda/parity_test.cpp.
#include <functional>
#include <string>
#include <vector>

#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"

#ifdef KILN_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace kiln {
namespace {

#ifdef KILN_WITH_CUDA

using test::on_cpu;
using test::on_cuda;

using test::kFloating;
double rtol_for(DType d) { return d == kFloat64 ? 1e-12 : 1e-5; }
double atol_for(DType d) { return d == kFloat64 ? 1e-12 : 1e-6; }

using test::expect_parity;
using test::ListFn;

// The gradients of sum(f(x...) * weight) with respect to the inputs that are floating.
using TensorFn = std::function<Tensor(const TensorList&)>;
TensorList gradients(const TensorFn& f, const TensorList& inputs, const Tensor& weight) {
  TensorList leaves;
  for (const Tensor& t : inputs)
    leaves.push_back(t.defined() && is_floating(t.dtype()) ? t.detach().requires_grad_(true) : t);
  Tensor out = f(leaves);
  (out * weight.to(out.device())).sum().backward();
  TensorList grads;
  for (const Tensor& t : leaves)
    if (t.defined() && t.requires_grad()) grads.push_back(t.grad());
  return grads;
}

TEST(CudaParity2, DropoutMasksAreBitIdenticalToTheCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator data(21);
  for (DType d : kFloating) {
    for (int64_t n : {1, 3, 7, 1001, 4099}) {
      for (double p : {0.1, 0.5}) {
        SCOPED_TRACE(std::string(dtype_name(d)) + " n=" + std::to_string(n) + " p=" + std::to_string(p));
        Tensor x = (randn({n}, {}, &data) + 5.0).to(d);  // no zeros: out == 0 exactly where dropped
        Generator cpu_gen(1234), gpu_gen(1234);
        // A first call moves both generators' offsets, so the second starts mid-stream.
        fused_dropout(x, p, &cpu_gen);
        fused_dropout(on_cuda(x), p, &gpu_gen);
        EXPECT_EQ(gpu_gen.offset(), cpu_gen.offset());
        Tensor want = fused_dropout(x, p, &cpu_gen);
        Tensor got = on_cpu(fused_dropout(on_cuda(x), p, &gpu_gen));
        EXPECT_TRUE(test::allclose(got, want, 0, 0));
        EXPECT_EQ(gpu_gen.offset(), cpu_gen.offset());
      }
    }
  }
  // The mask itself, as the gradient of sum(out); and a non-contiguous input.
  Tensor x = randn({37, 29}, {}, &data);
  Generator a(99), b(99);
  auto mask_of = [](const Tensor& t, Generator* gen) {
    Tensor leaf = t.detach().requires_grad_(true);
    fused_dropout(leaf, 0.3, gen).sum().backward();
    return leaf.grad();
  };
  EXPECT_TRUE(test::allclose(on_cpu(mask_of(on_cuda(x).t(), &b)), mask_of(x.t(), &a), 0, 0));
}

TEST(CudaParity2, AdamAndSgdStepsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(22);
  for (DType d : kFloating) {
    for (int variant = 0; variant < 4; ++variant) {
      // 0: plain; 1: L2 weight decay, maximize; 2: AdamW; 3: AdamW + amsgrad.
      const bool amsgrad = variant == 3, decoupled = variant >= 2, maximize = variant == 1;
      const double wd = variant == 0 ? 0.0 : 0.05;
      ListFn run = [&](const TensorList& in) {
        Tensor p = in[0].clone(), m = zeros_like(p), v = zeros_like(p);
        Tensor vmax = amsgrad ? zeros_like(p) : Tensor();
        for (int64_t step = 1; step <= 3; ++step) {
          Tensor g = in[1] * double(step) - in[0];  // a different gradient each step
          adam_step_(p, g, m, v, vmax, AdamStep{1e-2, 0.9, 0.999, 1e-8, wd, step, decoupled, amsgrad, maximize});
        }
        return amsgrad ? TensorList{p, m, v, vmax} : TensorList{p, m, v};
      };
      expect_parity(run, {randn({1001}, {}, &gen).to(d), randn({1001}, {}, &gen).to(d)}, rtol_for(d), atol_for(d),
                    "adam variant " + std::to_string(variant) + " " + dtype_name(d));
    }
    for (int variant = 0; variant < 4; ++variant) {
      // 0: plain; 1: momentum + dampening; 2: nesterov + weight decay; 3: maximize + momentum.
      const double momentum = variant == 0 ? 0.0 : 0.9, dampening = variant == 1 ? 0.1 : 0.0;
      const double wd = variant == 2 ? 0.01 : 0.0;
      ListFn run = [&](const TensorList& in) {
        Tensor p = in[0].clone(), buf = momentum != 0.0 ? zeros_like(p) : Tensor();
        for (int step = 1; step <= 3; ++step) {
          Tensor g = in[1] * double(step) - in[0];
          sgd_step_(p, g, buf, SgdStep{0.05, momentum, dampening, wd, variant == 2, variant == 3, step == 1});
        }
        return buf.defined() ? TensorList{p, buf} : TensorList{p};
      };
      expect_parity(run, {randn({77, 3}, {}, &gen).to(d), randn({77, 3}, {}, &gen).to(d)}, rtol_for(d), atol_for(d),
                    "sgd variant " + std::to_string(variant) + " " + dtype_name(d));
    }
  }
}

TEST(CudaParity2, LstmCellPointwiseMatchesCpuForwardAndBackward) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(23);
  for (DType d : kFloating) {
    for (auto [n, h] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 5}, {17, 129}}) {
      Tensor gates = (randn({n, 4 * h}, {}, &gen) * 2.0).to(d), c = randn({n, h}, {}, &gen).to(d);
      Tensor wh = randn({n, h}, {}, &gen).to(d), wc = randn({n, h}, {}, &gen).to(d);
      const std::string what = std::string(dtype_name(d)) + " " + std::to_string(n) + "x" + std::to_string(h);
      expect_parity([](const TensorList& in) { return lstm_cell_pointwise(in[0], in[1]); }, {gates, c}, rtol_for(d),
                    atol_for(d), "forward " + what);
      // Both outputs used (dh and dc defined), and h' alone (dc undefined).
      expect_parity(
          [&](const TensorList& in) {
            return gradients(
                [&](const TensorList& l) {
                  TensorList hc = lstm_cell_pointwise(l[0], l[1]);
                  return hc[0] * wh.to(hc[0].device()) + hc[1] * wc.to(hc[1].device());
                },
                in, ones_like(c));
          },
          {gates, c}, rtol_for(d), atol_for(d), "backward " + what);
      expect_parity(
          [&](const TensorList& in) {
            return gradients([&](const TensorList& l) { return lstm_cell_pointwise(l[0], l[1])[0]; }, in, wh);
          },
          {gates, c}, rtol_for(d), atol_for(d), "backward h only " + what);
    }
  }
}

TEST(CudaParity2, LayerNormMatchesCpuForwardAndBackward) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(24);
  // (shape, normalized dims): single element rows, odd rows, rows longer than a block,
  // two normalized dims, many short rows (more than the 65535 blocks of the grid).
  std::vector<std::pair<Shape, int64_t>> cases = {
      {{5, 1}, 1}, {{7, 13}, 1}, {{9, 1000}, 1}, {{3, 4, 5}, 2}, {{70001, 3}, 1}};
  for (DType d : kFloating) {
    // Row sums are in double on both devices, in another order (float64: rtol 1e-10 for
    // the cancellation in dx); float32 y is computed in float from the rounded mean and
    // rstd, where nvcc may contract h * w + b into one fma (rtol 1e-4, atol 1e-5).
    const double rtol = d == kFloat64 ? 1e-10 : 1e-4, atol = d == kFloat64 ? 1e-10 : 1e-5;
    for (const auto& [shape, nd] : cases) {
      Tensor x = (randn(shape, {}, &gen) * 3.0 + 1.0).to(d);
      Shape norm_shape(shape.end() - nd, shape.end());
      Tensor w = randn(norm_shape, {}, &gen).to(d), b = randn(norm_shape, {}, &gen).to(d);
      Tensor dy = randn(shape, {}, &gen).to(d);
      const std::string what = std::string(dtype_name(d)) + " " + x.meta_str();
      for (bool affine : {true, false}) {
        TensorList in = affine ? TensorList{x, w, b} : TensorList{x};
        auto ln = [nd](const TensorList& l) {
          return native_layer_norm(l[0], nd, l.size() > 1 ? l[1] : Tensor(), l.size() > 2 ? l[2] : Tensor(), 1e-5);
        };
        expect_parity([&](const TensorList& l) { return TensorList{ln(l)}; }, in, rtol, atol, "forward " + what);
        expect_parity([&](const TensorList& l) { return gradients(ln, l, dy); }, in, rtol, atol, "backward " + what);
      }
      if (shape.size() == 2 && shape[1] > 1)  // a transposed (non-contiguous) input
        expect_parity([&](const TensorList& l) { return TensorList{native_layer_norm(l[0].t(), 1, {}, {}, 1e-5)}; },
                      {x}, rtol, atol, "transposed " + what);
    }
  }
}

TEST(CudaParity2, IndexSelectGatherAndEmbeddingCopyExactly) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(25);
  Tensor base = randn({5, 6, 7}, {}, &gen);
  const std::vector<Tensor> xs = {base, base.to(kFloat64), randint(-9, 10, {5, 6, 7}, kInt64, &gen),
                                  gt(base, 0.0), randint(0, 200, {5, 6, 7}, kInt64, &gen).to(kUInt8)};
  for (const Tensor& x : xs) {
    for (int64_t dim = 0; dim < 3; ++dim) {
      const std::string what = x.meta_str() + " dim " + std::to_string(dim);
      Tensor index = randint(0, x.shape()[size_t(dim)], {11}, kInt64, &gen);  // repeats
      expect_parity([dim](const TensorList& l) { return TensorList{index_select(l[0], dim, l[1])}; }, {x, index}, 0,
                    0, "index_select " + what);
      expect_parity([dim](const TensorList& l) { return TensorList{index_select(l[0].transpose(0, 2), dim, l[1])}; },
                    {x, randint(0, x.shape()[size_t(2 - dim)], {4}, kInt64, &gen)}, 0, 0,
                    "index_select transposed " + what);
      // gather with an index smaller than x in the other dims.
      Shape ishape = {4, 3, 5};
      ishape[size_t(dim)] = 9;
      Tensor gi = randint(0, x.shape()[size_t(dim)], ishape, kInt64, &gen);
      expect_parity([dim](const TensorList& l) { return TensorList{gather(l[0], dim, l[1])}; }, {x, gi}, 0, 0,
                    "gather " + what);
      expect_parity(
          [dim](const TensorList& l) { return TensorList{gather(test::make_noncontiguous(l[0]), dim, l[1])}; },
                    {x, gi}, 0, 0, "gather strided " + what);
    }
  }
  for (const Tensor& w : {randn({10, 6}, {}, &gen), randn({10, 6}, {}, &gen).to(kFloat64)}) {
    Tensor idx = randint(0, 10, {3, 7}, kInt64, &gen);
    expect_parity([](const TensorList& l) { return TensorList{embedding(l[0], l[1])}; }, {w, idx}, 0, 0,
                  "embedding " + w.meta_str());
    expect_parity([](const TensorList& l) { return TensorList{embedding(l[0].t().t(), l[1].t())}; }, {w, idx}, 0, 0,
                  "embedding transposed indices " + w.meta_str());
  }
  Tensor classes = randint(0, 13, {4, 9}, kInt64, &gen);
  expect_parity([](const TensorList& l) { return TensorList{one_hot(l[0], 13), one_hot(l[0])}; }, {classes}, 0, 0,
                "one_hot");
}

TEST(CudaParity2, AccumulatingIndexKernelsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(26);
  for (DType d : kFloating) {
    // atomicAdd sums in another order: float32 sums of ~8 terms of size ~3 differ by a
    // few 1e-7 absolute, hence atol 1e-5 (float64: 1e-12).
    const double rtol = rtol_for(d), atol = d == kFloat64 ? 1e-12 : 1e-5;
    Tensor x = randn({5, 6, 7}, {}, &gen).to(d);
    for (int64_t dim = 0; dim < 3; ++dim) {
      const std::string what = std::string(dtype_name(d)) + " dim " + std::to_string(dim);
      // index_select's backward is index_add; 40 indices into at most 7 slots repeat often.
      Tensor index = randint(0, x.shape()[size_t(dim)], {40}, kInt64, &gen);
      Shape out_shape = x.shape();
      out_shape[size_t(dim)] = 40;
      Tensor wsel = randn(out_shape, {}, &gen).to(d);
      expect_parity(
          [&](const TensorList& l) {
            return gradients([dim](const TensorList& in) { return index_select(in[0], dim, in[1]); }, l, wsel);
          },
          {x, index}, rtol, atol, "index_add " + what);
      // scatter_add, and gather's backward (scatter_add of the gradient).
      Shape ishape = {4, 3, 5};
      ishape[size_t(dim)] = 12;
      Tensor si = randint(0, x.shape()[size_t(dim)], ishape, kInt64, &gen);
      Shape src_shape = {5, 6, 7};
      src_shape[size_t(dim)] = 13;  // larger than the index in every dim
      Tensor src = randn(src_shape, {}, &gen).to(d);
      expect_parity([dim](const TensorList& l) { return TensorList{scatter_add(l[0], dim, l[1], l[2])}; },
                    {x, si, src}, rtol, atol, "scatter_add " + what);
      expect_parity(
          [dim](const TensorList& l) {
            return TensorList{scatter_add(l[0], dim, l[1], test::make_noncontiguous(l[2]))};
          },
          {x, si, src}, rtol, atol, "scatter_add strided src " + what);
      Tensor wg = randn(ishape, {}, &gen).to(d);
      expect_parity(
          [&](const TensorList& l) {
            return gradients([dim](const TensorList& in) { return gather(in[0], dim, in[1]); }, l, wg);
          },
          {x, si}, rtol, atol, "gather backward " + what);
    }
    // embedding's backward, with and without padding_idx.
    Tensor w = randn({9, 5}, {}, &gen).to(d), idx = randint(0, 9, {6, 11}, kInt64, &gen);
    Tensor wo = randn({6, 11, 5}, {}, &gen).to(d);
    for (int64_t padding_idx : {-1, 3}) {
      expect_parity(
          [&](const TensorList& l) {
            return gradients([padding_idx](const TensorList& in) { return embedding(in[0], in[1], padding_idx); }, l,
                             wo);
          },
          {w, idx}, rtol, atol, "embedding backward padding_idx " + std::to_string(padding_idx));
    }
  }
  // int64 scatter_add is exact.
  Tensor xi = randint(-50, 50, {6, 8}, kInt64, &gen), ii = randint(0, 8, {6, 20}, kInt64, &gen);
  Tensor si = randint(-50, 50, {6, 20}, kInt64, &gen);
  expect_parity([](const TensorList& l) { return TensorList{scatter_add(l[0], 1, l[1], l[2])}; }, {xi, ii, si}, 0, 0,
                "scatter_add int64");
}

TEST(CudaParity2, TrilTriuAndReflectPadMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(27);
  Tensor base = randn({3, 5, 7}, {}, &gen);
  for (const Tensor& x : {base, base.to(kFloat64), gt(base, 0.0), randint(0, 9, {6, 4}, kInt64, &gen).to(kUInt8)}) {
    for (int64_t diagonal : {-7, -2, 0, 1, 3, 9}) {
      const std::string what = x.meta_str() + " diagonal " + std::to_string(diagonal);
      expect_parity([diagonal](const TensorList& l) { return TensorList{tril(l[0], diagonal), triu(l[0], diagonal)}; },
                    {x}, 0, 0, what);
      expect_parity(
          [diagonal](const TensorList& l) {
            return TensorList{tril(l[0].transpose(-1, -2), diagonal), triu(l[0].transpose(-1, -2), diagonal)};
          },
          {x}, 0, 0, "transposed " + what);
    }
  }
  // Reflect padding of the last 1, 2 and 3 dims, each pad up to size - 1.
  std::vector<std::pair<Shape, IntList>> cases = {
      {{2, 3, 9}, {3, 8}}, {{2, 3, 5, 7}, {1, 2, 4, 0}}, {{1, 2, 4, 5, 6}, {5, 1, 0, 3, 2, 2}}, {{4, 1}, {0, 0}}};
  for (DType d : kFloating) {
    for (const auto& [shape, pads] : cases) {
      Tensor x = randn(shape, {}, &gen).to(d);
      const std::string what = x.meta_str();
      expect_parity([&](const TensorList& l) { return TensorList{pad(l[0], pads, "reflect")}; }, {x}, 0, 0,
                    "reflect pad " + what);
      expect_parity(
          [&](const TensorList& l) { return TensorList{pad(test::make_noncontiguous(l[0]), pads, "reflect")}; },
                    {x}, 0, 0, "reflect pad strided " + what);
      Tensor out = pad(x, pads, "reflect");
      Tensor wout = randn(out.shape(), {}, &gen).to(d);
      expect_parity(
          [&](const TensorList& l) {
            return gradients([&](const TensorList& in) { return pad(in[0], pads, "reflect"); }, l, wout);
          },
          {x}, rtol_for(d), d == kFloat64 ? 1e-12 : 1e-5, "reflect pad backward " + what);
    }
  }
}

TEST(CudaParity2, Im2colAndCol2imMatchCpuExactly) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(28);
  struct Case {
    Shape x;
    IntList kernel, dilation, padding, stride;
  };
  const std::vector<Case> cases = {
      {{2, 3, 7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},  {{1, 2, 11, 6}, {3, 2}, {2, 1}, {2, 0}, {2, 3}},
      {{3, 1, 5, 5}, {5, 5}, {1, 1}, {0, 0}, {1, 1}},  {{2, 4, 8, 13}, {2, 3}, {3, 2}, {1, 2}, {3, 2}},
      {{1, 1, 1, 1}, {1, 1}, {1, 1}, {0, 0}, {1, 1}},
  };
  for (DType d : kFloating) {
    for (const Case& c : cases) {
      Tensor x = randn(c.x, {}, &gen).to(d);
      const std::string what = x.meta_str();
      expect_parity(
          [&](const TensorList& l) { return TensorList{im2col(l[0], c.kernel, c.dilation, c.padding, c.stride)}; },
                    {x}, 0, 0, "im2col " + what);
      Tensor cols = randn(im2col(x, c.kernel, c.dilation, c.padding, c.stride).shape(), {}, &gen).to(d);
      // One thread per pixel adds its entries in the CPU's order: the sums are identical.
      const IntList hw = {c.x[2], c.x[3]};
      expect_parity(
          [&](const TensorList& l) { return TensorList{col2im(l[0], hw, c.kernel, c.dilation, c.padding, c.stride)}; },
          {cols}, 0, 0, "col2im " + what);
      // The batch-in-columns layout (Note [Column layouts]), the one conv2d uses.
      expect_parity(
          [&](const TensorList& l) {
            return TensorList{im2col_batch(l[0], c.kernel, c.dilation, c.padding, c.stride)};
          },
          {x}, 0, 0, "im2col_batch " + what);
      Tensor batch_cols = randn(im2col_batch(x, c.kernel, c.dilation, c.padding, c.stride).shape(), {}, &gen).to(d);
      expect_parity(
          [&](const TensorList& l) {
            return TensorList{col2im_batch(l[0], hw, c.kernel, c.dilation, c.padding, c.stride)};
          },
          {batch_cols}, 0, 0, "col2im_batch " + what);
    }
  }
}

// relu's fused gradient: a comparison and a select, exact on both devices; contiguous
// operands and a transposed x (the strided path).
TEST(CudaParity2, ThresholdBackwardMatchesCpuExactly) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(29);
  for (DType d : kFloating) {
    Tensor g = randn({33, 65}, {}, &gen).to(d), x = randn({33, 65}, {}, &gen).to(d);
    expect_parity([](const TensorList& l) { return TensorList{threshold_backward(l[0], l[1], 0.0)}; }, {g, x}, 0, 0,
                  "threshold_backward " + x.meta_str());
    Tensor xt = randn({65, 33}, {}, &gen).to(d);
    expect_parity([](const TensorList& l) { return TensorList{threshold_backward(l[0], l[1].t(), 0.5)}; },
                  {g, xt}, 0, 0, "threshold_backward, x transposed");
  }
}

// class_nll_loss (the kernels behind nll_loss and cross_entropy): every reduction, with
// and without class weights, ignored targets, a (N, C, d1, d2) input and a transposed
// one; forward values and the gradients of a weighted sum. A target out of range is an
// error naming it on the device too.
TEST(CudaParity2, NllLossMatchesCpuForwardAndBackward) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(30);
  for (DType d : kFloating) {
    const double rtol = rtol_for(d), atol = atol_for(d);
    for (bool weighted : {false, true}) {
      for (NllReduction r : {NllReduction::None, NllReduction::Sum, NllReduction::Mean}) {
        const std::string what = std::string(dtype_name(d)) + (weighted ? " weighted" : "") + " reduction " +
                                 std::to_string(int(r));
        Tensor logp = log_softmax(randn({37, 11}, {}, &gen).to(d), 1);
        Tensor target = randint(0, 11, {37}, kInt64, &gen);
        target = where(lt(rand({37}, {}, &gen), 0.2), full({37}, 3.0, kInt64), target);  // ignore_index 3
        Tensor w = weighted ? (rand({11}, {}, &gen) + 0.5).to(d) : Tensor();
        auto loss = [&](const TensorList& l) { return class_nll_loss(l[0], l[1], l[2], 3, r); };
        Tensor dy = r == NllReduction::None ? randn({37}, {}, &gen).to(d) : scalar_tensor(1.7, d);
        expect_parity([&](const TensorList& l) { return TensorList{loss(l)}; }, {logp, target, w}, rtol, atol,
                      "forward " + what);
        expect_parity([&](const TensorList& l) { return gradients(loss, l, dy); }, {logp, target, w}, rtol, atol,
                      "backward " + what);
        Tensor logp4 = log_softmax(randn({3, 5, 4, 2}, {}, &gen).to(d), 1);
        Tensor target4 = randint(0, 5, {3, 4, 2}, kInt64, &gen);
        Tensor w4 = weighted ? (rand({5}, {}, &gen) + 0.5).to(d) : Tensor();
        Tensor dy4 = r == NllReduction::None ? randn({3, 4, 2}, {}, &gen).to(d) : scalar_tensor(0.3, d);
        auto loss4 = [&](const TensorList& l) { return class_nll_loss(l[0], l[1], l[2], -100, r); };
        expect_parity([&](const TensorList& l) { return gradients(loss4, l, dy4); }, {logp4, target4, w4}, rtol,
                      atol, "backward (N, C, d1, d2) " + what);
        Tensor logpt = log_softmax(randn({11, 37}, {}, &gen).to(d), 0);
        expect_parity([&](const TensorList& l) { return TensorList{class_nll_loss(l[0].t(), l[1], l[2], 3, r)}; },
                      {logpt, target, w}, rtol, atol, "forward, input transposed " + what);
      }
    }
  }
  Tensor bad = on_cuda(tensor(std::vector<int64_t>{1, 11, 2}));
  const std::string msg = test::error_of(
      [&] { class_nll_loss(on_cuda(log_softmax(randn({3, 11}, {}, &gen), 1)), bad, {}, -100, NllReduction::Sum); });
  EXPECT_NE(msg.find("target class index 11 is out of range for 11 classes"), std::string::npos) << msg;
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
