// CPU ISA detection and the switch that forces a lower kernel path
// (ops/cpu/cpu_features.h): names, parsing of KILN_CPU_ISA values, and the errors for
// asking more than the CPU has.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/cpu/cpu_features.h"

namespace kiln {
namespace {

using cpu::CpuIsa;
using ::testing::HasSubstr;

std::string error_of(const auto& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "no error";
}

TEST(CpuFeatures, NamesAreTheEnvironmentSpellings) {
  EXPECT_STREQ(cpu::isa_name(CpuIsa::Generic), "generic");
  EXPECT_STREQ(cpu::isa_name(CpuIsa::Avx2), "avx2");
  EXPECT_STREQ(cpu::isa_name(CpuIsa::Avx512), "avx512");
}

TEST(CpuFeatures, ParseAcceptsEveryLevelUpToTheSupportedOne) {
  EXPECT_EQ(cpu::parse_isa("generic", CpuIsa::Generic), CpuIsa::Generic);
  EXPECT_EQ(cpu::parse_isa("generic", CpuIsa::Avx512), CpuIsa::Generic);
  EXPECT_EQ(cpu::parse_isa("avx2", CpuIsa::Avx2), CpuIsa::Avx2);
  EXPECT_EQ(cpu::parse_isa("avx2", CpuIsa::Avx512), CpuIsa::Avx2);
  EXPECT_EQ(cpu::parse_isa("avx512", CpuIsa::Avx512), CpuIsa::Avx512);
}

TEST(CpuFeatures, ParseRejectsALevelAboveTheSupportedOneNamingBoth) {
  EXPECT_EQ(error_of([] { cpu::parse_isa("avx512", CpuIsa::Avx2); }),
            "KILN_CPU_ISA: the avx512 kernels were asked for, but this CPU supports at most avx2");
  EXPECT_EQ(error_of([] { cpu::parse_isa("avx2", CpuIsa::Generic); }),
            "KILN_CPU_ISA: the avx2 kernels were asked for, but this CPU supports at most generic");
}

TEST(CpuFeatures, ParseRejectsUnknownNames) {
  EXPECT_EQ(error_of([] { cpu::parse_isa("AVX2", CpuIsa::Avx512); }),
            "KILN_CPU_ISA: expected generic, avx2 or avx512, got 'AVX2'");
  EXPECT_THAT(error_of([] { cpu::parse_isa("sse4", CpuIsa::Avx512); }), HasSubstr("got 'sse4'"));
}

TEST(CpuFeatures, SetActiveIsaSwitchesDownAndBack) {
  const CpuIsa before = cpu::active_isa();
  EXPECT_LE(int(before), int(cpu::detected_isa()));
  cpu::set_active_isa(CpuIsa::Generic);
  EXPECT_EQ(cpu::active_isa(), CpuIsa::Generic);
  cpu::set_active_isa(cpu::detected_isa());
  EXPECT_EQ(cpu::active_isa(), cpu::detected_isa());
  cpu::set_active_isa(before);
}

TEST(CpuFeatures, SetActiveIsaAboveTheDetectedOneIsAnError) {
  if (cpu::detected_isa() == CpuIsa::Avx512) GTEST_SKIP() << "this CPU has the highest level (avx512)";
  const CpuIsa above = CpuIsa(int(cpu::detected_isa()) + 1);
  const CpuIsa before = cpu::active_isa();
  EXPECT_EQ(error_of([&] { cpu::set_active_isa(above); }),
            std::string("set_active_isa: the ") + cpu::isa_name(above) +
                " kernels were asked for, but this CPU supports at most " + cpu::isa_name(cpu::detected_isa()));
  EXPECT_EQ(cpu::active_isa(), before);
}

// Linux lists in /proc/cpuinfo the features that both the CPU and the kernel support
// (it clears the AVX flags when it does not save the registers): the same answer.
TEST(CpuFeatures, DetectionAgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;
  }
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line (not Linux on x86)";
  auto has = [&](const char* f) { return flags.contains(f); };
  CpuIsa expected = CpuIsa::Generic;
  if (has("avx2") && has("fma")) expected = CpuIsa::Avx2;
  if (expected == CpuIsa::Avx2 && has("avx512f") && has("avx512dq") && has("avx512bw") && has("avx512vl"))
    expected = CpuIsa::Avx512;
  EXPECT_EQ(cpu::isa_name(cpu::detected_isa()), std::string(cpu::isa_name(expected)));
}

}  // namespace
}  // namespace kiln
