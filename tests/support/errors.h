// error_of(f): the message of the kiln::Error that f throws, for asserting messages.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace kiln::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "(no error)";
}

}  // namespace kiln::test
