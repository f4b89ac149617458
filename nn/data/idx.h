// Readers for the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed).
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln::nn::data {

// Reads an IDX file (".gz" or not; zlib tells them apart by content). The header is a
// magic number 0x0000TTDD (TT: element type, DD: number of dims) and DD big-endian
// uint32 sizes; the data follows. Only unsigned bytes (TT = 0x08) are supported, as in
// every MNIST-style file. Returns a uint8 tensor of the stored shape. The file is
// untrusted: a wrong magic, an absurd size or truncated data is an error naming it.
Tensor read_idx(const std::string& path);

// The standard file names of an MNIST-style data set in `dir` (train-images-idx3-ubyte
// and so on, with or without ".gz"): images as float32 (N, 1, 28, 28) scaled to [0, 1],
// labels as int64 (N).
struct ImageLabels {
  Tensor images, labels;
};
ImageLabels load_mnist(const std::string& dir, bool train);

}  // namespace kiln::nn::data
