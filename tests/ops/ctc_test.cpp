// ctc_loss and nn::CTCLoss: losses and gradients against PyTorch (tests/reference/data/ctc.txt,
// made by tests/reference/gen_ctc.py, which documents the format), float64 gradchecks through
// log_softmax, long sequences, zero input lengths, the batch split across threads, errors.
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "kiln.h"
#include "nn/ctc_loss.h"
#include "ops/cpu/parallel.h"
#include "ops/ctc.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using test::allclose;
using test::error_of;

// ---- reading ctc.txt ----

struct CtcCase {
  std::string name;
  DType dtype = DType::Float64;
  int64_t T = 0, N = 0, C = 0, blank = 0;
  std::string reduction;
  bool zero_infinity = false;
  Tensor x, targets, loss, gout, grad_log_probs, grad_x;  // grad_log_probs may be undefined
  IntList input_lengths, target_lengths;
};

std::vector<double> read_numbers(std::istringstream& in) {
  std::vector<double> v;
  std::string tok;
  while (in >> tok) v.push_back(std::strtod(tok.c_str(), nullptr));
  return v;
}

// "<ndim> <dims...> <values...>" as a tensor of `dtype`.
Tensor read_shaped(std::istringstream& in, DType dtype) {
  int64_t ndim = 0;
  in >> ndim;
  Shape shape(size_t(ndim), 0);
  for (int64_t& d : shape) in >> d;
  return tensor(read_numbers(in), shape, dtype);
}

IntList to_ints(const std::vector<double>& v) { return IntList(v.begin(), v.end()); }

const std::map<std::string, CtcCase>& cases() {
  static const std::map<std::string, CtcCase> all = [] {
    std::map<std::string, CtcCase> out;
    const std::string path = std::string(KILN_REFERENCE_DIR) + "/ctc.txt";
    std::ifstream file(path);
    KILN_CHECK(file.good(), "ctc_test: cannot open ", path);
    std::string line;
    CtcCase c;
    while (std::getline(file, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream in(line);
      std::string key;
      in >> key;
      if (key == "case") {
        c = CtcCase();
        std::string dtype, layout;
        int zero_infinity = 0;
        in >> c.name >> dtype >> c.T >> c.N >> c.C >> c.blank >> c.reduction >> zero_infinity >> layout;
        c.dtype = dtype == "float32" ? DType::Float32 : DType::Float64;
        c.zero_infinity = zero_infinity != 0;
      } else if (key == "x") {
        c.x = tensor(read_numbers(in), Shape{c.T, c.N, c.C}, c.dtype);
      } else if (key == "targets") {
        c.targets = read_shaped(in, DType::Int64);
      } else if (key == "input_lengths") {
        c.input_lengths = to_ints(read_numbers(in));
      } else if (key == "target_lengths") {
        c.target_lengths = to_ints(read_numbers(in));
      } else if (key == "loss") {
        c.loss = read_shaped(in, c.dtype);
      } else if (key == "gout") {
        c.gout = read_shaped(in, c.dtype);
      } else if (key == "grad_log_probs") {
        c.grad_log_probs = tensor(read_numbers(in), Shape{c.T, c.N, c.C}, c.dtype);
      } else if (key == "grad_x") {
        c.grad_x = tensor(read_numbers(in), Shape{c.T, c.N, c.C}, c.dtype);
      } else if (key == "end") {
        out[c.name] = c;
      } else {
        KILN_FAIL("ctc_test: unknown record '", key, "' in ", path);
      }
    }
    return out;
  }();
  return all;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, c] : cases()) names.push_back(name);
  return names;
}

struct Tolerance {
  double rtol, atol;
};
// float64 differs from PyTorch only in the order of the log-sum-exps; PyTorch runs the
// float32 recursions in float32 (kiln in double), so float32 values agree to its rounding
// (the long case's reference is PyTorch's float64 result, see gen_ctc.py).
Tolerance tolerance(const CtcCase& c) {
  if (c.dtype == DType::Float64) return {1e-9, 1e-11};
  return {2e-4, 2e-6};
}

// ---- RefParity: loss, grad of log_probs and grad of the logits against PyTorch ----

class CtcRef : public ::testing::TestWithParam<std::string> {};

TEST_P(CtcRef, LossAndGradientsMatchTorch) {
  const CtcCase& c = cases().at(GetParam());
  const Tolerance tol = tolerance(c);
  Tensor x = c.x.clone().requires_grad_();
  Tensor log_probs = log_softmax(x, 2);
  log_probs.retain_grad();
  Tensor loss = ctc_loss(log_probs, c.targets, c.input_lengths, c.target_lengths, c.blank, c.reduction,
                         c.zero_infinity);
  EXPECT_TRUE(allclose(loss, c.loss, tol.rtol, tol.atol)) << "loss";
  loss.backward(c.gout);
  if (c.grad_log_probs.defined()) {
    EXPECT_TRUE(allclose(log_probs.grad(), c.grad_log_probs, tol.rtol, tol.atol)) << "grad of log_probs";
  } else {
    EXPECT_TRUE(all(isfinite(log_probs.grad())).item<bool>()) << "grad of log_probs";
  }
  EXPECT_TRUE(allclose(x.grad(), c.grad_x, tol.rtol, tol.atol)) << "grad of x";
}

// Batch-first log-probabilities transposed to (T, N, C), as a model's output usually is:
// the op reads a non-contiguous input and its gradient flows back through the permute.
TEST_P(CtcRef, NonContiguousLogProbsMatchTorch) {
  const CtcCase& c = cases().at(GetParam());
  const Tolerance tol = tolerance(c);
  Tensor batch_first = log_softmax(c.x, 2).permute({1, 0, 2}).contiguous().requires_grad_();
  Tensor log_probs = batch_first.permute({1, 0, 2});
  if (c.N > 1) {
    ASSERT_FALSE(log_probs.is_contiguous());  // with N = 1 the permute moves no data
  }
  Tensor loss = ctc_loss(log_probs, c.targets, c.input_lengths, c.target_lengths, c.blank, c.reduction,
                         c.zero_infinity);
  EXPECT_TRUE(allclose(loss, c.loss, tol.rtol, tol.atol)) << "loss";
  loss.backward(c.gout);
  // Where no log_probs gradient is stored (the long case) it equals grad_x.
  const Tensor& expected = c.grad_log_probs.defined() ? c.grad_log_probs : c.grad_x;
  EXPECT_TRUE(allclose(batch_first.grad().permute({1, 0, 2}).contiguous(), expected, tol.rtol, tol.atol));
}

INSTANTIATE_TEST_SUITE_P(Ops, CtcRef, ::testing::ValuesIn(case_names()), test::case_test_name);

TEST(CtcLoss, ReferenceFileHasEveryKindOfCase) {
  for (const char* name : {"random_padded_none_float64", "random_concat_mean_float32", "repeats_float64",
                           "longest_target_no_repeats", "longest_target_repeats", "impossible_none_zinf0",
                           "impossible_mean_zinf1", "blank_last", "blank_middle_concat", "padded_wide",
                           "long_T500_C20_float32"})
    EXPECT_EQ(cases().count(name), 1u) << name;
}

TEST(CtcLoss, LongSequenceStaysFinite) {
  const CtcCase& c = cases().at("long_T500_C20_float32");
  Tensor loss = ctc_loss(log_softmax(c.x, 2), c.targets, c.input_lengths, c.target_lengths);
  EXPECT_TRUE(std::isfinite(loss.item()));
  EXPECT_GT(loss.item(), 0.0);
}

// ---- gradcheck through log_softmax ----

// The gradient ctc_loss returns for log_probs is PyTorch's exp(log_probs) - posterior, not
// d loss / d log_probs; through log_softmax it is the exact gradient of the logits.
void expect_gradcheck(const Tensor& targets, const IntList& input_lengths, const IntList& target_lengths,
                      int64_t blank, const std::string& reduction, bool zero_infinity = false) {
  Generator gen(7);
  Tensor x = randn({5, 3, 4}, DType::Float64, &gen).requires_grad_();
  auto f = [&](const TensorList& in) {
    return TensorList{
        ctc_loss(log_softmax(in[0], 2), targets, input_lengths, target_lengths, blank, reduction, zero_infinity)};
  };
  GradcheckResult result = gradcheck(f, {x});
  EXPECT_TRUE(result.ok) << result.message;
}

TEST(CtcLoss, GradcheckF64ThroughLogSoftmax) {
  Tensor padded = tensor(std::vector<int64_t>{1, 1, 2, 3, 0, 0, 2, 3, 2}, Shape{3, 3});
  for (const char* reduction : {"none", "sum", "mean"}) expect_gradcheck(padded, {5, 4, 5}, {3, 1, 3}, 0, reduction);
  Tensor concat = tensor(std::vector<int64_t>{0, 0, 2, 3, 3}, Shape{5});
  expect_gradcheck(concat, {5, 5, 3}, {2, 1, 2}, 1, "mean");
  // An impossible sample (3 equal labels need 5 frames, it has 4) with zero_infinity.
  Tensor impossible = tensor(std::vector<int64_t>{2, 2, 2, 1, 3, 0, 0, 0, 0}, Shape{3, 3});
  expect_gradcheck(impossible, {4, 5, 5}, {3, 2, 0}, 0, "sum", /*zero_infinity=*/true);
}

TEST(CtcLoss, DoubleBackwardThrowsNamingCtcLoss) {
  Generator gen(1);
  Tensor x = randn({4, 1, 3}, DType::Float64, &gen).requires_grad_();
  Tensor loss = ctc_loss(log_softmax(x, 2), tensor(std::vector<int64_t>{1, 2}, Shape{1, 2}), {4}, {2});
  TensorList g = grad({loss}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true);
  const std::string message = error_of([&] { sum(g[0] * g[0]).backward(); });
  EXPECT_THAT(message, HasSubstr("ctc_loss"));
  EXPECT_THAT(message, HasSubstr("not differentiable"));
}

// ---- edge cases ----

TEST(CtcLoss, ZeroInputLengthGivesZeroOrInfiniteLossAndNoGradient) {
  // PyTorch >= 2.1's rule (1.13 reads out of bounds here): no frames explain an empty
  // target with probability 1 and anything else with probability 0.
  Generator gen(2);
  Tensor x = randn({3, 3, 4}, DType::Float64, &gen);
  Tensor log_probs = log_softmax(x, 2).requires_grad_();
  Tensor targets = tensor(std::vector<int64_t>{0, 0, 1, 2, 3, 0}, Shape{3, 2});
  Tensor loss = ctc_loss(log_probs, targets, {0, 0, 3}, {0, 2, 1}, 0, "none");
  std::vector<double> l = loss.to_vector<double>();
  EXPECT_EQ(l[0], 0.0);
  EXPECT_EQ(l[1], std::numeric_limits<double>::infinity());
  Tensor alone = ctc_loss(log_probs.detach().narrow(1, 2, 1), tensor(std::vector<int64_t>{3}), {3}, {1}, 0, "none");
  EXPECT_NEAR(l[2], alone.item(), 1e-12);
  sum(loss).backward();
  Tensor g = log_probs.grad();
  EXPECT_TRUE(allclose(g.narrow(1, 0, 2).contiguous(), zeros({3, 2, 4}, DType::Float64)));
  EXPECT_TRUE(all(isfinite(g)).item<bool>());
  Tensor zeroed = ctc_loss(log_probs.detach(), targets, {0, 0, 3}, {0, 2, 1}, 0, "none", /*zero_infinity=*/true);
  EXPECT_EQ(zeroed.to_vector<double>()[1], 0.0);
}

TEST(CtcLoss, VeryLongSequenceStaysFiniteAndAgreesAcrossDtypes) {
  Generator gen(3);
  const int64_t T = 2000, C = 20, S = 400;
  Tensor log_probs = log_softmax(randn({T, 1, C}, DType::Float64, &gen), 2);
  Tensor targets = randint(1, C, {1, S}, DType::Int64, &gen);
  Tensor lp32 = log_probs.to(DType::Float32).requires_grad_();
  Tensor loss32 = ctc_loss(lp32, targets, {T}, {S}, 0, "sum");
  Tensor loss64 = ctc_loss(log_probs, targets, {T}, {S}, 0, "sum");
  EXPECT_TRUE(std::isfinite(loss32.item()));
  EXPECT_NEAR(loss32.item(), loss64.item(), 1e-5 * loss64.item());
  loss32.backward();
  EXPECT_TRUE(all(isfinite(lp32.grad())).item<bool>());
}

TEST(CtcLoss, BatchedEqualsOneSampleAtATime) {
  // Enough work for the batch to be split across 4 threads.
  cpu::set_num_threads(4);
  Generator gen(4);
  const int64_t T = 60, N = 24, C = 7, S = 12;
  Tensor log_probs = log_softmax(randn({T, N, C}, DType::Float64, &gen), 2).requires_grad_();
  Tensor targets = randint(1, C, {N, S}, DType::Int64, &gen);
  IntList input_lengths, target_lengths;
  for (int64_t b = 0; b < N; ++b) {
    input_lengths.push_back(T - b % 5);
    target_lengths.push_back(S - b % 7);
  }
  Tensor loss = ctc_loss(log_probs, targets, input_lengths, target_lengths, 0, "sum");
  loss.backward();
  for (int64_t b = 0; b < N; ++b) {
    Tensor one = log_probs.detach().narrow(1, b, 1).contiguous().requires_grad_();
    Tensor l = ctc_loss(one, targets.narrow(0, b, 1), {input_lengths[size_t(b)]}, {target_lengths[size_t(b)]}, 0,
                        "sum");
    l.backward();
    EXPECT_TRUE(allclose(log_probs.grad().narrow(1, b, 1).contiguous(), one.grad(), 1e-12, 1e-14)) << "sample " << b;
  }
  cpu::set_num_threads(0);
}

TEST(CtcLoss, EmptyBatchAndEmptyTargets) {
  Tensor empty_batch = zeros({4, 0, 3});
  EXPECT_EQ(ctc_loss(empty_batch, zeros({0, 2}, DType::Int64), {}, {}, 0, "none").shape(), (Shape{0}));
  EXPECT_EQ(ctc_loss(empty_batch, zeros({0}, DType::Int64), {}, {}, 0, "sum").item(), 0.0);
  // Only blanks: -sum_t log y_t(blank).
  Tensor log_probs = log_softmax(tensor(std::vector<double>{0.1, 0.2, 0.3, -1.0, 0.5, 0.4}, Shape{2, 1, 3}), 2);
  Tensor loss = ctc_loss(log_probs, zeros({0}, DType::Int64), {2}, {0}, 0, "mean");
  std::vector<double> lp = log_probs.to_vector<double>();
  EXPECT_NEAR(loss.item(), -(lp[0] + lp[3]), 1e-12);
}

// ---- the module ----

TEST(CTCLossModule, MatchesTheFunctionAndPrintsItsOptions) {
  const CtcCase& c = cases().at("blank_middle_concat");
  nn::CTCLoss criterion(/*blank=*/2, "mean");
  Tensor log_probs = log_softmax(c.x, 2);
  Tensor loss = criterion(log_probs, c.targets, c.input_lengths, c.target_lengths);
  EXPECT_TRUE(allclose(loss, c.loss, 2e-4, 2e-6));
  EXPECT_EQ(criterion.repr(), "CTCLoss(blank=2, reduction='mean', zero_infinity=False)");
  EXPECT_TRUE(criterion.parameters().empty());
  const CtcCase& z = cases().at("impossible_sum_zinf1");
  EXPECT_TRUE(allclose(nn::CTCLoss(0, "sum", true)(log_softmax(z.x, 2), z.targets, z.input_lengths,
                                                   z.target_lengths),
                       z.loss, 1e-9, 1e-11));
  EXPECT_THAT(error_of([] { nn::CTCLoss(0, "avg"); }), HasSubstr("CTCLoss: expected reduction"));
  EXPECT_THAT(error_of([] { nn::CTCLoss(-1); }), HasSubstr("CTCLoss: expected blank >= 0, got -1"));
}

// ---- errors ----

TEST(CtcLoss, ErrorsNameTheProblem) {
  Tensor lp = log_softmax(zeros({5, 2, 4}), 2);
  Tensor targets = tensor(std::vector<int64_t>{1, 2, 3, 1, 0, 0}, Shape{2, 3});
  auto call = [&](const Tensor& l, const Tensor& t, IntList il, IntList tl, int64_t blank = 0,
                  const std::string& reduction = "mean") {
    return error_of([&] { ctc_loss(l, t, il, tl, blank, reduction); });
  };
  EXPECT_THAT(call(zeros({5, 4}), targets, {5, 5}, {3, 1}),
              HasSubstr("ctc_loss: expected log_probs of shape (T, N, C), got float32[5, 4] on cpu"));
  EXPECT_THAT(call(zeros({5, 2, 4}, DType::Int64), targets, {5, 5}, {3, 1}),
              HasSubstr("ctc_loss: expected log_probs of dtype float32 or float64, got int64[5, 2, 4]"));
  EXPECT_THAT(call(lp, targets.to(DType::Float32), {5, 5}, {3, 1}),
              HasSubstr("ctc_loss: expected targets of dtype int64, got float32[2, 3]"));
  EXPECT_THAT(call(lp, zeros({2, 3, 1}, DType::Int64), {5, 5}, {3, 1}),
              HasSubstr("expected targets padded as (N, S) or concatenated"));
  EXPECT_THAT(call(lp, targets, {5}, {3, 1}), HasSubstr("ctc_loss: expected 2 input_lengths"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3}), HasSubstr("ctc_loss: expected 2 target_lengths"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3, 1}, 4), HasSubstr("ctc_loss: expected blank in [0, C) = [0, 4)"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3, 1}, -1), HasSubstr("got -1"));
  EXPECT_THAT(call(lp, targets, {5, 6}, {3, 1}),
              HasSubstr("ctc_loss: expected input_lengths[1] in [0, T] = [0, 5], got 6"));
  EXPECT_THAT(call(lp, targets, {-1, 5}, {3, 1}), HasSubstr("expected input_lengths[0] in [0, T]"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3, 4}),
              HasSubstr("ctc_loss: expected target_lengths[1] in [0, S] = [0, 3] for padded targets int64[2, 3]"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3, -2}), HasSubstr("ctc_loss: expected target_lengths[1] >= 0, got -2"));
  EXPECT_THAT(call(lp, tensor(std::vector<int64_t>{1, 2, 3}, Shape{1, 3}), {5, 5}, {3, 1}),
              HasSubstr("expected padded targets of shape (N, S) with N = 2"));
  EXPECT_THAT(call(lp, tensor(std::vector<int64_t>{1, 2, 3}), {5, 5}, {3, 1}),
              HasSubstr("ctc_loss: expected concatenated targets of length sum(target_lengths) = 4, got int64[3]"));
  EXPECT_THAT(call(lp, tensor(std::vector<int64_t>{1, 7, 3, 1, 0, 0}, Shape{2, 3}), {5, 5}, {3, 1}),
              HasSubstr("ctc_loss: expected target labels in [0, C) = [0, 4), got 7 at position 1 of sample 0"));
  EXPECT_THAT(call(lp, tensor(std::vector<int64_t>{1, 2, 3, -1, 0, 0}, Shape{2, 3}), {5, 5}, {3, 1}),
              HasSubstr("got -1 at position 0 of sample 1"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3, 1}, 2),
              HasSubstr("ctc_loss: target label 2 at position 1 of sample 0 is the blank (blank = 2)"));
  EXPECT_THAT(call(lp, targets, {5, 5}, {3, 1}, 0, "avg"),
              HasSubstr("ctc_loss: expected reduction \"none\", \"mean\" or \"sum\", got \"avg\""));
  // Padding past a sample's target length is never read, so it may hold anything.
  Tensor padded_with_junk = tensor(std::vector<int64_t>{1, 2, 3, 1, -5, 99}, Shape{2, 3});
  EXPECT_EQ(call(lp, padded_with_junk, {5, 5}, {3, 1}), "(no error)");
}

}  // namespace
}  // namespace kiln
