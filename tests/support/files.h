// Test helpers for file readers and writers: a scratch directory removed with its
// contents, whole-file reads and writes, and byte-exact tensor comparison.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace kiln::test {

// A fresh directory under the test temp dir ("<prefix>_XXXXXX"), removed with
// everything in it when the object goes.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "kiln") {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / (prefix + "_XXXXXX")).string();
    KILN_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed for ", pattern);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to the file `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = file(name);
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::vector<std::string> entries() const {  // file names, sorted
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Same dtype, shape and bytes (so NaNs and -0.0 compare exactly).
inline ::testing::AssertionResult same_tensor(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "got " << actual.meta_str() << ", expected " << expected.meta_str();
  Tensor a = actual.contiguous(), e = expected.contiguous();
  size_t n = size_t(a.numel()) * element_size(a.dtype());
  if (n > 0 && std::memcmp(a.raw_data(), e.raw_data(), n) != 0)
    return ::testing::AssertionFailure() << "values differ: got\n" << a << "\nexpected\n" << e;
  return ::testing::AssertionSuccess();
}

}  // namespace kiln::test
