// float16 and bfloat16 (core/half.h): conversions from float32 bit for bit as torch 1.13
// does them (tests/reference/gen_half.py: rounding ties, subnormals, the overflow edge,
// NaN, random bit patterns), every float16 widened exactly, type promotion, what works
// on 16-bit tensors (copies, indexing, comparisons, checkpoints) and the error the
// arithmetic ops give.
#include <cmath>
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kiln.h"
#include "nn/data/npy.h"
#include "nn/serialize.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln {
namespace {

using test::error_of;
using test::same_tensor;
using ::testing::HasSubstr;

const std::string kDir = std::string(KILN_REFERENCE_DIR) + "/half/";

// The raw 16-bit patterns of a float16/bfloat16 tensor, as int64 like numpy's uint16
// arrays read back.
Tensor bits_of(const Tensor& t) {
  Tensor c = t.contiguous();
  const auto* p = static_cast<const uint16_t*>(c.raw_data());
  std::vector<int64_t> bits(p, p + c.numel());
  return tensor<int64_t>(bits, c.shape());
}

TEST(Half, Float32ToFloat16RoundsAsTorch) {
  Tensor src = nn::data::read_npy(kDir + "src_f4.npy");
  Tensor expected = nn::data::read_npy(kDir + "to_f16.npy");
  ASSERT_EQ(expected.dtype(), kFloat16);
  ASSERT_GT(src.numel(), 7000);
  EXPECT_TRUE(same_tensor(src.to(kFloat16), expected));
}

// NaN inputs are only checked to stay NaN: torch's own paths disagree on the pattern
// (its scalar c10 conversion gives 0x7FC0, which kiln follows; its vectorised CPU
// conversion gives 0xFFFF).
TEST(Half, Float32ToBFloat16RoundsAsTorch) {
  Tensor src = nn::data::read_npy(kDir + "src_f4.npy");
  std::vector<int64_t> expected = nn::data::read_npy(kDir + "to_bf16_bits.npy").to_vector<int64_t>();
  std::vector<int64_t> got = bits_of(src.to(kBFloat16)).to_vector<int64_t>();
  std::vector<float> in = src.to_vector<float>();
  ASSERT_EQ(got.size(), expected.size());
  int64_t nans = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(in[i])) {
      ++nans;
      EXPECT_EQ(got[i], 0x7FC0) << "input " << i;
    } else {
      ASSERT_EQ(got[i], expected[i]) << "input " << i << " = " << in[i];
    }
  }
  EXPECT_GT(nans, 0);
}

TEST(Half, EveryFloat16WidensExactly) {
  std::vector<float> expected = nn::data::read_npy(kDir + "f16_all_f4.npy").to_vector<float>();
  ASSERT_EQ(expected.size(), 65536u);
  Tensor all = empty({65536}, kFloat16);
  auto* p = static_cast<uint16_t*>(all.raw_data());
  for (uint32_t b = 0; b < 65536; ++b) p[b] = uint16_t(b);
  std::vector<float> widened = all.to(kFloat32).to_vector<float>();
  for (size_t b = 0; b < widened.size(); ++b) {
    if (std::isnan(expected[b])) {  // NaN stays NaN with its sign; torch may quieten the payload
      EXPECT_TRUE(std::isnan(widened[b]) && std::signbit(widened[b]) == std::signbit(expected[b])) << b;
    } else {
      uint32_t got, want;
      std::memcpy(&got, &widened[b], 4);
      std::memcpy(&want, &expected[b], 4);
      ASSERT_EQ(got, want) << "float16 bits " << b;
    }
  }
}

TEST(Half, BFloat16IsTheTopHalfOfFloat32) {
  Tensor x = tensor<float>({1.0f, -2.0f, 3.140625f, std::ldexp(1.0f, -133), -0.0f});  // 2^-133: subnormal
  EXPECT_TRUE(same_tensor(x.to(kBFloat16).to(kFloat32), x));  // all exact in bfloat16
  EXPECT_TRUE(same_tensor(bits_of(x.to(kBFloat16)), tensor<int64_t>({0x3F80, 0xC000, 0x4049, 0x0001, 0x8000})));
}

TEST(Half, NamesSizesAndPromotion) {
  EXPECT_STREQ(dtype_name(kFloat16), "float16");
  EXPECT_STREQ(dtype_name(kBFloat16), "bfloat16");
  EXPECT_EQ(element_size(kFloat16), 2u);
  EXPECT_EQ(element_size(kBFloat16), 2u);
  EXPECT_TRUE(is_floating(kFloat16) && is_floating(kBFloat16));
  // torch.promote_types
  EXPECT_EQ(promote_types(kFloat16, kBFloat16), kFloat32);
  EXPECT_EQ(promote_types(kBFloat16, kFloat16), kFloat32);
  EXPECT_EQ(promote_types(kFloat16, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kFloat64, kBFloat16), kFloat64);
  EXPECT_EQ(promote_types(kInt64, kFloat16), kFloat16);
  EXPECT_EQ(promote_types(kBFloat16, kUInt8), kBFloat16);
  EXPECT_EQ(promote_types(kFloat16, kFloat16), kFloat16);
  EXPECT_EQ(zeros({2}, kFloat16).meta_str(), "float16[2] on cpu");
}

TEST(Half, CopiesIndexingAndComparisonsWork) {
  Tensor h = tensor<float>({0.5f, -1.0f, 2.0f, 65504.0f, 3.0f, -0.25f}, {2, 3}).to(kFloat16);
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{0.5f, -1.0f, 2.0f, 65504.0f, 3.0f, -0.25f}));
  EXPECT_TRUE(same_tensor(index_select(h, 1, tensor<int64_t>({2, 0})).to(kFloat32),
                          tensor<float>({2.0f, 0.5f, -0.25f, 65504.0f}, {2, 2})));
  EXPECT_TRUE(same_tensor(h.t().contiguous().to(kFloat32), tensor<float>({0.5f, 65504.0f, -1.0f, 3.0f, 2.0f, -0.25f}, {3, 2})));
  EXPECT_TRUE(same_tensor(cat({h, h}, 0).narrow(0, 2, 2), h));
  EXPECT_TRUE(same_tensor(gt(h, 1.0), tensor<bool>({false, false, true, true, true, false}, {2, 3})));
  EXPECT_TRUE(same_tensor(full({3}, 1.0 / 3.0, kFloat16), tensor<float>({1.0f / 3.0f}).expand({3}).to(kFloat16)));
  EXPECT_EQ(h.narrow(1, 1, 1).select(0, 1).item<double>(), 3.0);
  // bfloat16 -> float16 goes through float: 65504 is 65536 in bfloat16, past float16's range.
  EXPECT_TRUE(std::isinf(h.to(kBFloat16).to(kFloat16).to_vector<float>()[3]));
}

TEST(Half, ArithmeticSaysWhichDtypesItTakes) {
  Tensor h = ones({2}, kFloat16);
  // The ops that take 16-bit floats are tested in tests/ops/half_ops_test.cpp; the others
  // name the dtype they were given.
  EXPECT_THAT(error_of([&] { sin(h); }), HasSubstr("float16"));
  EXPECT_THAT(error_of([&] { pow(h, h); }), HasSubstr("float16"));
  EXPECT_THAT(error_of([&] { var(ones({2, 2}, kBFloat16)); }), HasSubstr("bfloat16"));
}

TEST(Half, SafetensorsRoundTripKeepsTheBits) {
  Tensor src = nn::data::read_npy(kDir + "src_f4.npy").narrow(0, 0, 500);
  Tensor h = src.to(kFloat16), b = src.to(kBFloat16).reshape({20, 25});
  const std::string bytes = nn::save_safetensors_to_memory({{"h", h}, {"b", b}});
  EXPECT_NE(bytes.find(R"("dtype":"F16")"), std::string::npos);
  EXPECT_NE(bytes.find(R"("dtype":"BF16")"), std::string::npos);
  nn::NamedTensors loaded = nn::load_safetensors_from_memory(bytes);
  ASSERT_EQ(loaded.size(), 2u);
  for (const auto& [name, t] : loaded) EXPECT_TRUE(same_tensor(t, name == "h" ? h : b)) << name;
}

}  // namespace
}  // namespace kiln
