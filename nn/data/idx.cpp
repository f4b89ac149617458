// IDX reading with zlib's gz* functions, which read gzip and plain files alike.
#include "nn/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/factory.h"
#include "ops/binary.h"

namespace kiln::nn::data {

namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

// Reads exactly n bytes or fails naming the file and what was being read.
void read_exact(gzFile f, void* dst, size_t n, const std::string& path, const char* what) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    unsigned chunk = unsigned(std::min<size_t>(n, 1u << 30));
    int got = gzread(f, p, chunk);
    KILN_CHECK(got > 0, "read_idx: ", path, ": truncated while reading ", what, " (", n, " more bytes expected)");
    p += got;
    n -= size_t(got);
  }
}

uint32_t big_endian(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

}  // namespace

Tensor read_idx(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  KILN_CHECK(file != nullptr, "read_idx: cannot open ", path, ": ", std::strerror(errno));
  unsigned char magic[4];
  read_exact(file.get(), magic, 4, path, "the magic number");
  KILN_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: ", path, " is not an IDX file (bad magic number)");
  KILN_CHECK(magic[2] == 0x08, "read_idx: ", path, ": element type 0x", std::hex, int(magic[2]),
             " is not supported (only unsigned bytes, 0x08)");
  int ndim = magic[3];
  KILN_CHECK(ndim >= 1 && ndim <= 4, "read_idx: ", path, ": ", ndim, " dims is not a plausible IDX shape");
  Shape shape(static_cast<size_t>(ndim));
  uint64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    unsigned char b[4];
    read_exact(file.get(), b, 4, path, "the dimensions");
    shape[size_t(d)] = big_endian(b);
    numel *= shape[size_t(d)];
    KILN_CHECK(numel <= (uint64_t(1) << 34), "read_idx: ", path, ": shape ", shape, " is implausibly large");
  }
  Tensor t = empty(shape, kUInt8);
  read_exact(file.get(), t.raw_data(), size_t(numel), path, "the data");
  unsigned char extra;
  KILN_CHECK(gzread(file.get(), &extra, 1) == 0, "read_idx: ", path, ": more data than the shape ", shape,
             " accounts for");
  return t;
}

ImageLabels load_mnist(const std::string& dir, bool train) {
  auto find = [&](const std::string& stem) {
    for (const char* suffix : {"", ".gz"}) {
      std::string p = dir + "/" + stem + suffix;
      if (std::filesystem::exists(p)) return p;
    }
    KILN_FAIL("load_mnist: neither ", dir, "/", stem, " nor ", stem, ".gz exists");
  };
  std::string prefix = train ? "train" : "t10k";
  Tensor images = read_idx(find(prefix + "-images-idx3-ubyte"));
  Tensor labels = read_idx(find(prefix + "-labels-idx1-ubyte"));
  KILN_CHECK(images.dim() == 3 && labels.dim() == 1 && images.size(0) == labels.size(0), "load_mnist: ", dir,
             ": images ", images.shape(), " and labels ", labels.shape(), " do not match");
  Tensor x = images.to(kFloat32).unsqueeze(1) / 255.0;
  return {x, labels.to(kInt64)};
}

}  // namespace kiln::nn::data
