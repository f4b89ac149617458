// DeviceParity of ctc_loss: the CUDA kernels (cuda/ctc.cu) against the CPU kernels
// (ops/cpu/ctc.cpp) on the same random inputs, loss and gradient w.r.t. log_probs, for
// every reduction, both float dtypes, padded and concatenated targets, repeated labels,
// empty targets, zero input lengths and impossible alignments. Skips without a device.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"

namespace kiln {
namespace {

#ifdef KILN_WITH_CUDA

using test::on_cpu;
using test::on_cuda;

constexpr double kInf = std::numeric_limits<double>::infinity();

// The recursions run in float64 on both devices; they differ only in the device's
// exp/log (last bits) and in how the blank's posterior terms are grouped (Note [CUDA
// CTC]). Those differences accumulate over T steps of log values as large as the loss
// (thousands for the long case), so float64 allows 1e-9; a wrong index or a missing
// term is off by far more, as gradients and losses here are of order 1 to 1000.
double rtol_for(DType d) { return d == kFloat64 ? 1e-9 : 1e-5; }
double atol_for(DType d) { return d == kFloat64 ? 1e-9 : 1e-6; }

struct CtcInputs {
  Tensor log_probs;  // (T, N, C) on the CPU
  Tensor targets;    // (N, S) padded or concatenated, on the CPU
  IntList input_lengths, target_lengths;
  int64_t blank = 0;
};

// The loss and the gradient of sum(loss * weight) w.r.t. log_probs, computed on `device`.
TensorList loss_and_grad(const CtcInputs& in, Device device, const std::string& reduction, bool zero_infinity,
                         const Tensor& weight) {
  Tensor leaf = in.log_probs.to(device).detach().requires_grad_(true);
  Tensor loss = ctc_loss(leaf, in.targets.to(device), in.input_lengths, in.target_lengths, in.blank, reduction,
                         zero_infinity);
  sum(loss * (reduction == "none" ? weight.to(device) : weight.sum().to(device))).backward();
  return {loss, leaf.grad()};
}

// The CUDA loss and gradient against the CPU's, for every reduction.
void expect_parity(const CtcInputs& in, bool zero_infinity, const std::string& what) {
  const DType d = in.log_probs.dtype();
  Generator gen(7);
  const Tensor weight = (rand({in.log_probs.size(1)}, d, &gen) + 0.5);
  for (const char* reduction : {"none", "mean", "sum"}) {
    SCOPED_TRACE(what + " reduction=" + reduction + " zero_infinity=" + (zero_infinity ? "true" : "false"));
    TensorList want = loss_and_grad(in, Device::cpu(), reduction, zero_infinity, weight);
    TensorList got = loss_and_grad(in, Device::cuda(), reduction, zero_infinity, weight);
    EXPECT_TRUE(test::allclose(on_cpu(got[0]), want[0], rtol_for(d), atol_for(d))) << "loss";
    EXPECT_TRUE(test::allclose(on_cpu(got[1]), want[1], rtol_for(d), atol_for(d))) << "gradient";
  }
}

// Random labels in [0, C) without the blank, lengths in [min_length, max_length].
std::vector<int64_t> random_labels(int64_t n, int64_t C, int64_t blank, Generator* gen) {
  std::vector<int64_t> labels = randint(0, C - 1, {n}, DType::Int64, gen).to_vector<int64_t>();
  for (int64_t& l : labels) l += l >= blank ? 1 : 0;
  return labels;
}

// Input length needed by target `labels`: one frame per label and one more per repeat.
int64_t frames_needed(const std::vector<int64_t>& labels) {
  int64_t n = int64_t(labels.size());
  for (size_t i = 1; i < labels.size(); ++i) n += labels[i] == labels[i - 1] ? 1 : 0;
  return n;
}

// A random batch whose every alignment is possible: sample 0 (when N > 1) has an empty
// target; input lengths between the frames needed and T.
CtcInputs random_batch(int64_t T, int64_t N, int64_t C, int64_t max_target, int64_t blank, bool padded, DType d,
                       Generator* gen) {
  CtcInputs in;
  in.blank = blank;
  in.log_probs = log_softmax(randn({T, N, C}, kFloat64, gen) * 2.0, 2).to(d);
  std::vector<std::vector<int64_t>> labels;
  for (int64_t b = 0; b < N; ++b) {
    int64_t L = N > 1 && b == 0 ? 0 : randint(0, max_target + 1, {1}, DType::Int64, gen).item<int64_t>();
    std::vector<int64_t> l = random_labels(L, C, blank, gen);
    while (frames_needed(l) > T) l.pop_back();
    const int64_t need = frames_needed(l);
    in.input_lengths.push_back(need + randint(0, T - need + 1, {1}, DType::Int64, gen).item<int64_t>());
    in.target_lengths.push_back(int64_t(l.size()));
    labels.push_back(l);
  }
  std::vector<int64_t> flat;
  if (padded) {
    const int64_t S = std::max<int64_t>(max_target, 1);
    for (const auto& l : labels) {
      flat.insert(flat.end(), l.begin(), l.end());
      flat.insert(flat.end(), size_t(S) - l.size(), blank == 0 ? 1 : 0);  // padding, never read
    }
    in.targets = tensor(flat, Shape{N, S});
  } else {
    for (const auto& l : labels) flat.insert(flat.end(), l.begin(), l.end());
    in.targets = tensor(flat, Shape{int64_t(flat.size())});
  }
  return in;
}

TEST(CtcParity, ForwardAndGradientMatchCpuOnRandomBatches) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(31);
  struct Config {
    int64_t T, N, C, max_target;
  };
  // C = 3 makes repeated labels common; C = 300 and targets of 150 labels need more than
  // one pass of a 256-thread block over the classes and the extended labels.
  const std::vector<Config> configs = {{1, 1, 2, 1},    {5, 3, 4, 3},    {30, 8, 6, 10},  {50, 5, 3, 20},
                                       {17, 13, 300, 6}, {400, 2, 5, 150}, {64, 33, 29, 25}};
  for (DType d : {kFloat32, kFloat64}) {
    for (size_t k = 0; k < configs.size(); ++k) {
      const Config& c = configs[k];
      const bool padded = k % 2 == 0;
      const int64_t blank = k % 3 == 1 ? c.C - 1 : 0;
      CtcInputs in = random_batch(c.T, c.N, c.C, c.max_target, blank, padded, d, &gen);
      expect_parity(in, false,
                    std::string(dtype_name(d)) + " T=" + std::to_string(c.T) + " N=" + std::to_string(c.N) +
                        " C=" + std::to_string(c.C) + " blank=" + std::to_string(blank) +
                        (padded ? " padded" : " concatenated"));
    }
  }
}

TEST(CtcParity, NonContiguousLogProbsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(32);
  CtcInputs in = random_batch(20, 4, 7, 6, 0, true, kFloat64, &gen);
  in.log_probs = in.log_probs.transpose(0, 1).contiguous().transpose(0, 1);  // (T, N, C) with N outermost
  ASSERT_FALSE(in.log_probs.is_contiguous());
  expect_parity(in, false, "transposed log_probs");
}

TEST(CtcParity, RepeatedLabelsNeedABlankBetweenThem) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(33);
  for (DType d : {kFloat32, kFloat64}) {
    CtcInputs in;
    in.log_probs = log_softmax(randn({6, 4, 4}, kFloat64, &gen), 2).to(d);
    // "1 1" needs 3 frames, "2 2 2" needs 5, "1 2 1" needs 3, "3 3 1 1" needs 6.
    in.targets = tensor(std::vector<int64_t>{1, 1, 2, 2, 2, 1, 2, 1, 3, 3, 1, 1}, Shape{12});
    in.target_lengths = {2, 3, 3, 4};
    for (const IntList& lengths : {IntList{3, 5, 3, 6}, IntList{2, 4, 3, 5}}) {
      in.input_lengths = lengths;
      expect_parity(in, false, std::string(dtype_name(d)) + " input lengths " + std::to_string(lengths[0]));
      expect_parity(in, true, std::string(dtype_name(d)) + " input lengths " + std::to_string(lengths[0]));
    }
    // Exactly enough frames is finite; one fewer is impossible.
    Tensor loss = on_cpu(ctc_loss(on_cuda(in.log_probs), on_cuda(in.targets), {3, 5, 3, 6}, in.target_lengths, 0,
                                  "none"));
    for (double l : loss.to_vector<double>()) EXPECT_TRUE(std::isfinite(l)) << l;
    loss = on_cpu(ctc_loss(on_cuda(in.log_probs), on_cuda(in.targets), {2, 4, 3, 5}, in.target_lengths, 0, "none"));
    const std::vector<double> l = loss.to_vector<double>();
    EXPECT_EQ(l[0], kInf);
    EXPECT_EQ(l[1], kInf);
    EXPECT_TRUE(std::isfinite(l[2])) << l[2];
    EXPECT_EQ(l[3], kInf);
  }
}

TEST(CtcParity, ImpossibleAlignmentIsInfiniteOrZeroedAsOnTheCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(34);
  for (DType d : {kFloat32, kFloat64}) {
    // Sample 1 has 4 labels and 3 frames.
    CtcInputs in;
    in.log_probs = log_softmax(randn({8, 3, 5}, kFloat64, &gen), 2).to(d);
    in.targets = tensor(std::vector<int64_t>{1, 2, 0, 0, 3, 4, 1, 2, 4, 4, 0, 0}, Shape{3, 4});
    in.target_lengths = {2, 4, 2};
    in.input_lengths = {8, 3, 7};
    expect_parity(in, false, std::string(dtype_name(d)) + " impossible sample");
    expect_parity(in, true, std::string(dtype_name(d)) + " impossible sample");

    // On the device itself: inf without zero_infinity (the gradient of that sample NaN in
    // its frames, as PyTorch's), 0 with it (and a zero gradient); the others untouched.
    for (bool zero_infinity : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(d)) + (zero_infinity ? " zero_infinity" : " keep infinity"));
      Tensor leaf = on_cuda(in.log_probs).requires_grad_(true);
      Tensor loss = ctc_loss(leaf, on_cuda(in.targets), in.input_lengths, in.target_lengths, 0, "none", zero_infinity);
      sum(loss).backward();
      const std::vector<double> l = on_cpu(loss).to_vector<double>();
      EXPECT_EQ(l[1], zero_infinity ? 0.0 : kInf);
      EXPECT_TRUE(std::isfinite(l[0]) && std::isfinite(l[2]));
      Tensor g = on_cpu(leaf.grad());
      Tensor g1 = g.narrow(1, 1, 1);
      if (zero_infinity) {
        EXPECT_TRUE(test::allclose(g1.contiguous(), zeros({8, 1, 5}, d), 0, 0));
      } else {
        EXPECT_TRUE(all(isnan(g1.narrow(0, 0, 3))).item<bool>());
        EXPECT_TRUE(test::allclose(g1.narrow(0, 3, 5).contiguous(), zeros({5, 1, 5}, d), 0, 0));
      }
      EXPECT_TRUE(all(isfinite(g.narrow(1, 0, 1))).item<bool>());
      EXPECT_TRUE(all(isfinite(g.narrow(1, 2, 1))).item<bool>());
    }
  }
}

TEST(CtcParity, EmptyTargetsZeroInputLengthsAndEmptyBatch) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(35);
  for (DType d : {kFloat32, kFloat64}) {
    CtcInputs in;
    in.log_probs = log_softmax(randn({4, 4, 3}, kFloat64, &gen), 2).to(d);
    in.targets = tensor(std::vector<int64_t>{0, 0, 1, 2, 2, 0, 0, 0}, Shape{4, 2});
    in.target_lengths = {0, 2, 1, 0};
    in.input_lengths = {0, 0, 4, 4};
    expect_parity(in, false, std::string(dtype_name(d)) + " zero lengths");
    expect_parity(in, true, std::string(dtype_name(d)) + " zero lengths");

    // No frames: 0 for an empty target, inf otherwise. Only blanks: -sum_t log y_t(blank).
    const std::vector<double> l =
        on_cpu(ctc_loss(on_cuda(in.log_probs), on_cuda(in.targets), in.input_lengths, in.target_lengths, 0, "none"))
            .to_vector<double>();
    EXPECT_EQ(l[0], 0.0);
    EXPECT_FALSE(std::signbit(l[0]));
    EXPECT_EQ(l[1], kInf);
    const std::vector<double> lp = in.log_probs.to_vector<double>();  // lp[(t * 4 + b) * 3 + c]
    double blanks = 0;
    for (int64_t t = 0; t < 4; ++t) blanks -= lp[size_t((t * 4 + 3) * 3)];
    EXPECT_NEAR(l[3], blanks, d == kFloat64 ? 1e-12 : 1e-5);
  }
  Tensor empty_batch = on_cuda(zeros({4, 0, 3}));
  EXPECT_EQ(ctc_loss(empty_batch, on_cuda(zeros({0, 2}, DType::Int64)), {}, {}, 0, "none").shape(), (Shape{0}));
  EXPECT_EQ(ctc_loss(empty_batch, on_cuda(zeros({0}, DType::Int64)), {}, {}, 0, "sum").item(), 0.0);
}

TEST(CtcParity, LongSequenceMatchesCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(36);
  for (DType d : {kFloat32, kFloat64}) {
    CtcInputs in;
    const int64_t T = 1500, C = 20, S = 300;
    in.log_probs = log_softmax(randn({T, 2, C}, kFloat64, &gen), 2).to(d);
    in.targets = tensor(random_labels(2 * S, C, 0, &gen), Shape{2, S});
    in.input_lengths = {T, T - 100};
    in.target_lengths = {S, S - 20};
    expect_parity(in, false, std::string(dtype_name(d)) + " long");
  }
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
