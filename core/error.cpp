// Error construction: the what() string is the message followed by where it was raised.
#include "core/error.h"

namespace kiln {

namespace {
std::string with_location(const std::string& message, const char* file, int line) {
  std::ostringstream os;  // (not string +: GCC 12 gives a false -Wrestrict on it at -O3)
  os << message << " (at " << file << ':' << line << ')';
  return os.str();
}
}  // namespace

Error::Error(const std::string& message, const char* file, int line)
    : std::runtime_error(with_location(message, file, line)), message_(message) {}

namespace detail {
void throw_error(const std::string& message, const char* file, int line) {
  throw Error(message, file, line);
}
}  // namespace detail

}  // namespace kiln
