// Shapes and strides: contiguous strides, element counts, dim wrapping and NumPy
// broadcasting. See docs/tensor.md for how sizes, strides and offset address memory.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace kiln {

using Shape = std::vector<int64_t>;   // sizes of each dim, outermost first
using IntList = std::vector<int64_t>; // dims, strides, indices

int64_t numel_of(const Shape& shape);
// Row-major strides in elements: the last dim has stride 1.
Shape contiguous_strides(const Shape& shape);
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Shape of broadcasting a with b by NumPy rules; throws naming `op` when they do not.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that make a tensor of (shape, strides) read as `target` (stride 0 where a
// dim is broadcast). Precondition: shape broadcasts to target.
IntList broadcast_strides(const Shape& shape, const IntList& strides, const Shape& target);

std::string shape_str(const Shape& shape);  // "[2, 3]"

}  // namespace kiln

namespace std {
// So that KILN_CHECK(..., "got ", x.shape()) prints "[2, 3]".
std::ostream& operator<<(std::ostream& os, const std::vector<int64_t>& v);
}  // namespace std
