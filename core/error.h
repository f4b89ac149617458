// kiln::Error and the KILN_CHECK macro: the one way kiln reports bad input.
// Messages name the op, the offending shapes/dtypes/devices and what was expected.
// See Note [Error messages].
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

// Note [Error messages]
// Every check that can fail because of user input goes through KILN_CHECK, whose
// message is built from its arguments like a stream: KILN_CHECK(a.dim() == 2,
// "mm: expected a 2-D tensor, got shape ", a.shape()). The thrown kiln::Error
// carries the message and the file:line of the check, so a user sees what was wrong
// and a developer sees where it was detected.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file, int line);
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const std::string& message, const char* file, int line);
}  // namespace detail

}  // namespace kiln

#define KILN_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) [[unlikely]]                                                          \
      ::kiln::detail::throw_error(::kiln::detail::concat(__VA_ARGS__), __FILE__, __LINE__); \
  } while (0)

#define KILN_FAIL(...) ::kiln::detail::throw_error(::kiln::detail::concat(__VA_ARGS__), __FILE__, __LINE__)
