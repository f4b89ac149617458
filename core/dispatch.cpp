// The list of kernel stubs and the op-coverage table built from it.
#include "core/dispatch.h"

#include <algorithm>
#include <map>
#include <set>

namespace kiln {

std::vector<StubInfo>& stub_registry() {
  static std::vector<StubInfo> list;
  return list;
}

bool register_stub(StubInfo info) {
  stub_registry().push_back(info);
  return true;
}

std::string stub_coverage_markdown() {
  // Several stubs may serve one op (gelu has two): a device counts for the op when
  // every one of its stubs has a kernel there.
  std::map<std::string, std::pair<bool, bool>> ops;
  for (const StubInfo& s : stub_registry()) {
    auto it = ops.try_emplace(s.name, true, true).first;
    it->second.first = it->second.first && s.has_kernel(DeviceType::CPU);
    it->second.second = it->second.second && s.has_kernel(DeviceType::CUDA);
  }
  std::string out =
      "# Kernel coverage\n\n"
      "Generated from the kernel stubs (core/dispatch.h) by the test OpRegistry.CoverageTableIsCurrent;\n"
      "regenerate with `KILN_UPDATE_COVERAGE=1 build/release/tests/kiln_tests "
      "--gtest_filter=OpRegistry.*`.\n"
      "It describes a build with CUDA. Ops composed of other ops (square, clamp_min, ...) need no\n"
      "kernel of their own and are not listed.\n\n"
      "| op | cpu | cuda |\n| --- | --- | --- |\n";
  for (const auto& [name, dev] : ops)
    out += "| " + name + " | " + (dev.first ? "yes" : "**no**") + " | " + (dev.second ? "yes" : "no") + " |\n";
  return out;
}

}  // namespace kiln
