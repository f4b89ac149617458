// Device names and parsing.
#include "core/device.h"

#include "core/error.h"

namespace kiln {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    int index = 0;
    for (size_t i = 5; i < text.size(); ++i) {
      KILN_CHECK(text[i] >= '0' && text[i] <= '9' && index < 100000,
                 "Device: expected 'cpu', 'cuda' or 'cuda:N', got '", text, "'");
      index = index * 10 + (text[i] - '0');
    }
    return cuda(index);
  }
  KILN_FAIL("Device: expected 'cpu', 'cuda' or 'cuda:N', got '", text, "'");
}

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace kiln
