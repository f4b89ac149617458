// Arithmetic on float16 and bfloat16 tensors against torch 1.13 (tests/reference/
// gen_amp.py): each op computes in float32 and rounds its result once, so elementwise
// results match bit for bit; sums and matrix products accumulate in wider types and may
// differ by one 16-bit ulp from torch's float32 accumulation. Also the backward in 16 bits and
// the error of ops that do not take the 16-bit types.
#include <cmath>
#include <functional>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kiln.h"
#include "nn/data/npy.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln {
namespace {

using test::error_of;
using ::testing::HasSubstr;

const std::string kDir = std::string(KILN_REFERENCE_DIR) + "/amp/";

Tensor load(const std::string& name) { return nn::data::read_npy(kDir + name + ".npy"); }

using Op3 = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

const std::map<std::string, Op3>& elementwise_ops() {
  static const std::map<std::string, Op3> ops{
      {"add", [](const Tensor& a, const Tensor& b, const Tensor&) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b, const Tensor&) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b, const Tensor&) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b, const Tensor&) { return a / b; }},
      {"neg", [](const Tensor& a, const Tensor&, const Tensor&) { return -a; }},
      {"relu", [](const Tensor& a, const Tensor&, const Tensor&) { return relu(a); }},
      {"exp", [](const Tensor& a, const Tensor&, const Tensor&) { return exp(a); }},
      {"log", [](const Tensor&, const Tensor& b, const Tensor&) { return log(b); }},
      {"sigmoid", [](const Tensor& a, const Tensor&, const Tensor&) { return sigmoid(a); }},
      {"tanh", [](const Tensor& a, const Tensor&, const Tensor&) { return tanh(a); }},
      {"sqrt", [](const Tensor&, const Tensor& b, const Tensor&) { return sqrt(b); }},
      {"where", [](const Tensor& a, const Tensor& b, const Tensor&) { return where(gt(a, 0.0), a, b); }},
  };
  return ops;
}

const std::map<std::string, Op3>& accumulating_ops() {
  static const std::map<std::string, Op3> ops{
      {"sum_dim1", [](const Tensor& a, const Tensor&, const Tensor&) { return sum(a, {1}); }},
      {"mean_dim0", [](const Tensor& a, const Tensor&, const Tensor&) { return mean(a, {0}); }},
      {"mm", [](const Tensor& a, const Tensor&, const Tensor& c) { return mm(a, c); }},
  };
  return ops;
}

class HalfOps : public ::testing::TestWithParam<DType> {};

std::string prefix(DType dt) { return dt == kBFloat16 ? "bf16_" : "f16_"; }

TEST_P(HalfOps, ElementwiseMatchTorchBitForBit) {
  const DType dt = GetParam();
  Tensor a = load("a").to(dt), b = load("b").to(dt), c = load("c").to(dt);
  for (const auto& [name, op] : elementwise_ops()) {
    Tensor got = op(a, b, c);
    EXPECT_EQ(got.dtype(), dt) << name;
    EXPECT_TRUE(test::same_tensor(got.to(kFloat32), load(prefix(dt) + name))) << name;
  }
}

TEST_P(HalfOps, SumsAndProductsMatchTorchWithinOneUlp) {
  const DType dt = GetParam();
  const double ulp = dt == kBFloat16 ? 0x1p-7 : 0x1p-10;  // relative spacing of the type
  Tensor a = load("a").to(dt), b = load("b").to(dt), c = load("c").to(dt);
  for (const auto& [name, op] : accumulating_ops()) {
    Tensor got = op(a, b, c);
    EXPECT_EQ(got.dtype(), dt) << name;
    EXPECT_TRUE(test::allclose(got.to(kFloat32), load(prefix(dt) + name), ulp, 0.0)) << name;
  }
}

TEST_P(HalfOps, NonContiguousAndBroadcastInputs) {
  const DType dt = GetParam();
  Tensor a = load("a").to(dt), b = load("b").to(dt);
  Tensor at = a.t().contiguous().t();  // same values, column-major
  EXPECT_TRUE(test::same_tensor((at * b).to(kFloat32), load(prefix(dt) + "mul")));
  EXPECT_TRUE(test::same_tensor(exp(at).to(kFloat32), load(prefix(dt) + "exp")));
  // A broadcast row: each output is one float32 product rounded once.
  Tensor row = b.narrow(0, 0, 1);
  std::vector<float> got = (a * row).to(kFloat32).to_vector<float>();
  std::vector<float> av = a.to(kFloat32).to_vector<float>(), rv = row.to(kFloat32).to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], float(full({}, av[i] * rv[i % 7]).to(dt).item<float>())) << i;
  }
}

TEST_P(HalfOps, BackwardRunsIn16BitsAndMatchesFloat32) {
  const DType dt = GetParam();
  Tensor a32 = load("a").to(dt).to(kFloat32).requires_grad_();
  Tensor a16 = load("a").to(dt).requires_grad_();
  Tensor b = load("b").to(dt);
  auto f = [&](const Tensor& x, const Tensor& y) { return sum(tanh(x) * y + sigmoid(x) - exp(x * 0.25) / y); };
  f(a32, b.to(kFloat32)).backward();
  f(a16, b).backward();
  ASSERT_EQ(a16.grad().dtype(), dt);
  const double tol = dt == kBFloat16 ? 0.05 : 0.01;
  EXPECT_TRUE(test::allclose(a16.grad().to(kFloat32), a32.grad(), tol, tol));
}

TEST_P(HalfOps, SumOfManyElementsAccumulatesWide) {
  const DType dt = GetParam();
  // 2^15 ones: a 16-bit running sum would stop at 256 (bfloat16) or 2048 (float16).
  EXPECT_EQ(sum(ones({32768}, dt)).to(kFloat32).item<float>(), 32768.0f);
  // The sum of 2^16 ones is past float16's largest value (65504): inf.
  if (dt == kFloat16) {
    EXPECT_TRUE(std::isinf(sum(ones({65536}, dt)).to(kFloat32).item<float>()));
  }
  EXPECT_EQ(mean(full({4099}, 0.5, dt)).to(kFloat32).item<float>(), 0.5f);
}

INSTANTIATE_TEST_SUITE_P(Types, HalfOps, ::testing::Values(kFloat16, kBFloat16),
                         [](const ::testing::TestParamInfo<DType>& param) {
                           return std::string(param.param == kFloat16 ? "Float16" : "BFloat16");
                         });

TEST(HalfOpsErrors, OpsThatDoNotTake16BitTypesSaySo) {
  Tensor h = ones({2}, kFloat16), bf = ones({2}, kBFloat16);
  EXPECT_THAT(error_of([&] { sin(h); }), HasSubstr("sin: expected a floating dtype (float32 or float64), got float16"));
  EXPECT_THAT(error_of([&] { pow(bf, 2.5); }), HasSubstr("got bfloat16"));
  EXPECT_THAT(error_of([&] { add(ones({2}, kBool), ones({2}, kBool)); }),
              HasSubstr("expected float32, float64, float16, bfloat16 or int64, got bool"));
  EXPECT_THAT(error_of([&] { mm(ones({2, 2}, kFloat16), ones({2, 2}, kBFloat16)); }),
              HasSubstr("same dtype"));
}

}  // namespace
}  // namespace kiln
