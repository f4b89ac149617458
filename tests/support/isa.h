// Tests that run once per CPU instruction-set path (Note [CPU ISA levels]): a fixture
// that forces the level under test, skips (saying why) a level this CPU lacks, and puts
// the previous level back afterwards.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "ops/cpu/cpu_features.h"

namespace kiln::test {

class IsaTest : public ::testing::TestWithParam<cpu::CpuIsa> {
 protected:
  void SetUp() override {
    if (int(GetParam()) > int(cpu::detected_isa())) {
      GTEST_SKIP() << "this CPU has no " << cpu::isa_name(GetParam()) << " (it has up to "
                   << cpu::isa_name(cpu::detected_isa()) << ")";
    }
    before_ = cpu::active_isa();
    forced_ = true;
    cpu::set_active_isa(GetParam());
  }
  void TearDown() override {
    if (forced_) cpu::set_active_isa(before_);
  }

  cpu::CpuIsa before_ = cpu::CpuIsa::Generic;  // the level before the test

 private:
  bool forced_ = false;
};

// "generic", "avx2", "avx512": INSTANTIATE_TEST_SUITE_P's name generator for IsaTest.
inline std::string isa_test_name(const ::testing::TestParamInfo<cpu::CpuIsa>& isa) {
  return cpu::isa_name(isa.param);
}

}  // namespace kiln::test
