// The kernel registry: every op has a CPU kernel, and docs/ops-coverage.md is current.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/dispatch.h"
#include "support/check.h"

namespace kiln {
namespace {

TEST(OpRegistry, EveryStubHasACpuKernel) {
  ASSERT_FALSE(stub_registry().empty());
  for (const StubInfo& s : stub_registry()) EXPECT_TRUE(s.has_kernel(DeviceType::CPU)) << s.name << " has no CPU kernel";
}

TEST(OpRegistry, CoverageTableIsCurrent) {
#ifndef KILN_WITH_CUDA
  GTEST_SKIP() << "the committed table describes a build with CUDA; this one has none";
#else
  std::string path = std::string(KILN_REFERENCE_DIR) + "/../../../docs/ops-coverage.md";
  std::string expected = stub_coverage_markdown();
  if (std::getenv("KILN_UPDATE_COVERAGE")) {
    std::ofstream(path) << expected;
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream in(path);
  std::stringstream have;
  have << in.rdbuf();
  EXPECT_EQ(have.str(), expected) << path << " is stale; regenerate it with KILN_UPDATE_COVERAGE=1 kiln_tests "
                                  << "--gtest_filter=OpRegistry.*";
#endif
}

}  // namespace
}  // namespace kiln
