// Joining, splitting, padding and indexing: cat, stack, split, chunk, pad,
// index_select, gather, scatter_add, masked_fill, embedding, one_hot, repeat,
// tril/triu. Forward and backward in ops/index.cpp, kernels in ops/cpu/index.cpp.
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln {

Tensor cat(const TensorList& tensors, int64_t dim = 0);
Tensor stack(const TensorList& tensors, int64_t dim = 0);
TensorList split(const Tensor& x, int64_t split_size, int64_t dim = 0);  // views
TensorList split_with_sizes(const Tensor& x, const IntList& sizes, int64_t dim = 0);
TensorList chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// pads: (left, right) pairs starting from the LAST dim, as torch.nn.functional.pad.
// mode: "constant" (with value) or "reflect".
Tensor pad(const Tensor& x, const IntList& pads, const std::string& mode = "constant", double value = 0.0);

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);    // index: int64, 1-D
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);          // out[i][j] = x[i][index[i][j]] (dim 1)
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);     // mask: bool, broadcast to x
// weight: (num_embeddings, dim); indices: int64, any shape -> indices.shape + (dim).
// Rows equal to padding_idx get no gradient (padding_idx < 0: none).
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);  // int64 result
Tensor repeat(const Tensor& x, const IntList& repeats);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);

}  // namespace kiln
