// CPU kernels of the indexing family (ops/index.cpp): index_select/index_add,
// gather/scatter_add, reflect padding, embedding, one_hot, tril/triu. Every index was
// validated by the op before the kernel runs, so nothing here checks or throws.
#include <algorithm>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/index.h"

namespace kiln {

namespace {

int64_t prod(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

// Element offsets, with `strides`, of every position of dims [begin, end) of `shape`
// in row-major order (one entry, 0, when the range is empty).
std::vector<int64_t> dim_offsets(const Shape& shape, const IntList& strides, size_t begin, size_t end) {
  std::vector<int64_t> offsets{0};
  for (size_t d = begin; d < end; ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * size_t(shape[d]));
    for (int64_t base : offsets)
      for (int64_t i = 0; i < shape[d]; ++i) next.push_back(base + i * strides[d]);
    offsets = std::move(next);
  }
  return offsets;
}

// Runs f(o, j0, j1) over the columns (o, j) of an (outer, n, inner) index space, split
// across threads. One column (fixed o and j, all n positions along dim) is always
// handled by one thread, so accumulating kernels (index_add, scatter_add) that write
// only inside their column never race, however the indices repeat.
template <typename F>
void parallel_columns(int64_t outer, int64_t n, int64_t inner, F f) {
  int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(n, 1));
  cpu::parallel_for(0, outer * inner, grain, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end;) {
      int64_t o = c / inner, j0 = c % inner;
      int64_t j1 = std::min(inner, j0 + (end - c));
      f(o, j0, j1);
      c += j1 - j0;
    }
  });
}

// x: (outer, size, inner), index: (n) -> out: (outer, n, inner);
// out[o, k, j] = x[o, index[k], j].
void index_select_forward_cpu(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const Shape& s = x.shape();
  int64_t outer = prod(s, 0, size_t(dim)), size = s[size_t(dim)], inner = prod(s, size_t(dim) + 1, s.size());
  int64_t n = index.numel();
  const int64_t* idx = index.data_ptr<int64_t>();
  dispatch_all(x.dtype(), [&]<typename T>() {
    const T* src = x.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(inner, 1));
    cpu::parallel_for(0, outer * n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        int64_t o = r / n, k = r % n;
        std::copy_n(src + (o * size + idx[k]) * inner, inner, dst + r * inner);
      }
    });
  });
}

// out: (outer, size, inner), src: (outer, n, inner), index: (n);
// out[o, index[k], j] += src[o, k, j].
void index_add_forward_cpu(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const Shape& s = out.shape();
  int64_t outer = prod(s, 0, size_t(dim)), size = s[size_t(dim)], inner = prod(s, size_t(dim) + 1, s.size());
  int64_t n = index.numel();
  const int64_t* idx = index.data_ptr<int64_t>();
  dispatch_numeric(out.dtype(), "index_add", [&]<typename T>() {
    const T* sp = src.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_columns(outer, n, inner, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t k = 0; k < n; ++k) {
        T* dst = op + (o * size + idx[k]) * inner;
        const T* row = sp + (o * n + k) * inner;
        for (int64_t j = j0; j < j1; ++j) dst[j] += row[j];
      }
    });
  });
}

// index: (outer..., n, inner...) with n along dim; x: same ndim, any strides; out: index's
// shape. out[o, k, j] = x[o, index[o, k, j], j].
void gather_forward_cpu(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const Shape& s = index.shape();
  size_t d = size_t(dim);
  std::vector<int64_t> x_outer = dim_offsets(s, x.strides(), 0, d), x_inner = dim_offsets(s, x.strides(), d + 1, s.size());
  int64_t n = s[d], inner = int64_t(x_inner.size()), xs = x.strides()[d];
  const int64_t* idx = index.data_ptr<int64_t>();
  dispatch_all(x.dtype(), [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_columns(int64_t(x_outer.size()), n, inner, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t k = 0; k < n; ++k) {
        int64_t row = (o * n + k) * inner;
        for (int64_t j = j0; j < j1; ++j) op[row + j] = xp[x_outer[size_t(o)] + idx[row + j] * xs + x_inner[size_t(j)]];
      }
    });
  });
}

// index: (outer..., n, inner...); out: same ndim, any strides, updated in place; src: at
// least index's size in every dim, any strides. out[o, index[o, k, j], j] += src[o, k, j].
void scatter_add_forward_cpu(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const Shape& s = index.shape();
  size_t d = size_t(dim);
  std::vector<int64_t> o_outer = dim_offsets(s, out.strides(), 0, d), o_inner = dim_offsets(s, out.strides(), d + 1, s.size());
  std::vector<int64_t> s_outer = dim_offsets(s, src.strides(), 0, d), s_inner = dim_offsets(s, src.strides(), d + 1, s.size());
  int64_t n = s[d], inner = int64_t(o_inner.size()), os = out.strides()[d], ss = src.strides()[d];
  const int64_t* idx = index.data_ptr<int64_t>();
  dispatch_numeric(out.dtype(), "scatter_add", [&]<typename T>() {
    const T* sp = src.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_columns(int64_t(o_outer.size()), n, inner, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t k = 0; k < n; ++k) {
        int64_t row = (o * n + k) * inner;
        for (int64_t j = j0; j < j1; ++j)
          op[o_outer[size_t(o)] + idx[row + j] * os + o_inner[size_t(j)]] +=
              sp[s_outer[size_t(o)] + k * ss + s_inner[size_t(j)]];
      }
    });
  });
}

// Note [Reflect padding]
// Output position o of a dim of size n padded by `before` reads input position
// i = o - before, mirrored at the ends without repeating the edge element:
// i < 0 -> -i, i >= n -> 2 (n - 1) - i. (The op checked before, after < n.)
// The padded dims are the last k; the dims in front of them are one batch dim B.
struct ReflectPlan {
  int64_t batch = 0, in_plane = 0, out_plane = 0, width = 0, rows = 0;
  Shape out_sizes;                 // the k padded dims of the output
  std::vector<IntList> src;        // src[d][o]: input offset (within a plane) of output position o
};

ReflectPlan reflect_plan(const Shape& in_shape, const Shape& out_shape, const IntList& before) {
  size_t k = before.size(), lead = in_shape.size() - k;
  Shape in(in_shape.begin() + int64_t(lead), in_shape.end());
  ReflectPlan p;
  p.out_sizes.assign(out_shape.begin() + int64_t(lead), out_shape.end());
  p.batch = prod(in_shape, 0, lead);
  p.in_plane = numel_of(in);
  p.out_plane = numel_of(p.out_sizes);
  p.width = p.out_sizes.back();
  p.rows = p.width == 0 ? 0 : p.out_plane / p.width;
  IntList in_strides = contiguous_strides(in);
  p.src.resize(k);
  for (size_t d = 0; d < k; ++d) {
    for (int64_t o = 0; o < p.out_sizes[d]; ++o) {
      int64_t i = o - before[d];
      if (i < 0) i = -i;
      if (i >= in[d]) i = 2 * (in[d] - 1) - i;
      p.src[d].push_back(i * in_strides[d]);
    }
  }
  return p;
}

// Input offset of the start of output row `row` (the positions of the padded dims
// before the last) within its plane.
int64_t reflect_row_offset(const ReflectPlan& p, int64_t row) {
  int64_t off = 0;
  for (size_t d = p.out_sizes.size() - 1; d-- > 0;) {
    off += p.src[d][size_t(row % p.out_sizes[d])];
    row /= p.out_sizes[d];
  }
  return off;
}

// x: (B, in...), out: (B, out...) with out_d = in_d + before_d + after_d over the k
// padded last dims. See Note [Reflect padding].
void reflect_pad_forward_cpu(const Tensor& out, const Tensor& x, const IntList& before) {
  ReflectPlan p = reflect_plan(x.shape(), out.shape(), before);
  if (out.numel() == 0) return;
  const IntList& last = p.src.back();
  dispatch_all(x.dtype(), [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / p.width);
    cpu::parallel_for(0, p.batch * p.rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* src = xp + (r / p.rows) * p.in_plane + reflect_row_offset(p, r % p.rows);
        T* dst = op + r * p.width;
        for (int64_t w = 0; w < p.width; ++w) dst[w] = src[last[size_t(w)]];
      }
    });
  });
}

// g: (B, out...), dx: (B, in...) zero on entry; dx[src(o)] += g[o]. Several output
// rows read the same input row, so threads split the batch only.
void reflect_pad_backward_cpu(const Tensor& dx, const Tensor& g, const IntList& before) {
  ReflectPlan p = reflect_plan(dx.shape(), g.shape(), before);
  if (g.numel() == 0) return;
  const IntList& last = p.src.back();
  dispatch_floating(g.dtype(), "pad_backward", [&]<typename T>() {
    const T* gp = g.data_ptr<T>();
    T* dp = dx.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / p.out_plane);
    cpu::parallel_for(0, p.batch, grain, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        for (int64_t row = 0; row < p.rows; ++row) {
          T* dst = dp + b * p.in_plane + reflect_row_offset(p, row);
          const T* src = gp + (b * p.rows + row) * p.width;
          for (int64_t w = 0; w < p.width; ++w) dst[last[size_t(w)]] += src[w];
        }
      }
    });
  });
}

// weight: (V, D), indices: (n) -> out: (n, D); out[k] = weight[indices[k]].
void embedding_forward_cpu(const Tensor& out, const Tensor& weight, const Tensor& indices) {
  int64_t n = indices.numel(), dim = weight.shape()[1];
  const int64_t* idx = indices.data_ptr<int64_t>();
  dispatch_all(weight.dtype(), [&]<typename T>() {
    const T* wp = weight.data_ptr<T>();
    T* op = out.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(dim, 1));
    cpu::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) std::copy_n(wp + idx[k] * dim, dim, op + k * dim);
    });
  });
}

// g: (n, D), indices: (n) -> dweight: (V, D), zero on entry;
// dweight[indices[k]] += g[k] unless indices[k] == padding_idx. Repeated indices meet
// in one row, so threads split the D columns, not the n rows.
void embedding_backward_cpu(const Tensor& dweight, const Tensor& g, const Tensor& indices, int64_t padding_idx) {
  int64_t n = indices.numel(), dim = dweight.shape()[1];
  const int64_t* idx = indices.data_ptr<int64_t>();
  dispatch_floating(g.dtype(), "embedding_backward", [&]<typename T>() {
    const T* gp = g.data_ptr<T>();
    T* dp = dweight.data_ptr<T>();
    parallel_columns(1, n, dim, [&](int64_t, int64_t j0, int64_t j1) {
      for (int64_t k = 0; k < n; ++k) {
        if (idx[k] == padding_idx) continue;
        T* dst = dp + idx[k] * dim;
        const T* row = gp + k * dim;
        for (int64_t j = j0; j < j1; ++j) dst[j] += row[j];
      }
    });
  });
}

// indices: (n) -> out: (n, C) int64, zero on entry; out[k, indices[k]] = 1.
void one_hot_forward_cpu(const Tensor& out, const Tensor& indices) {
  int64_t n = indices.numel(), classes = out.shape().back();
  const int64_t* idx = indices.data_ptr<int64_t>();
  int64_t* op = out.data_ptr<int64_t>();
  cpu::parallel_for(0, n, cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) op[k * classes + idx[k]] = 1;
  });
}

// x, out: (B, R, C). Keeps x[b, i, j] where j - i <= diagonal (lower) or
// j - i >= diagonal (upper), zero elsewhere.
template <bool kUpper>
void triangle_forward_cpu(const Tensor& out, const Tensor& x, int64_t diagonal) {
  const Shape& s = x.shape();
  int64_t rows = s[s.size() - 2], cols = s.back();
  int64_t batch_rows = prod(s, 0, s.size() - 1);
  dispatch_all(x.dtype(), [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(cols, 1));
    cpu::parallel_for(0, batch_rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        int64_t i = r % rows;
        // Columns j < split are kept by tril and zeroed by triu.
        int64_t split = std::clamp<int64_t>(i + diagonal + (kUpper ? 0 : 1), 0, cols);
        const T* src = xp + r * cols;
        T* dst = op + r * cols;
        for (int64_t j = 0; j < cols; ++j) dst[j] = ((j < split) != kUpper) ? src[j] : T(0);
      }
    });
  });
}

void tril_forward_cpu(const Tensor& out, const Tensor& x, int64_t diagonal) {
  triangle_forward_cpu<false>(out, x, diagonal);
}
void triu_forward_cpu(const Tensor& out, const Tensor& x, int64_t diagonal) {
  triangle_forward_cpu<true>(out, x, diagonal);
}

}  // namespace

KILN_REGISTER_KERNEL(index_select_stub, DeviceType::CPU, index_select_forward_cpu);
KILN_REGISTER_KERNEL(index_add_stub, DeviceType::CPU, index_add_forward_cpu);
KILN_REGISTER_KERNEL(gather_stub, DeviceType::CPU, gather_forward_cpu);
KILN_REGISTER_KERNEL(scatter_add_stub, DeviceType::CPU, scatter_add_forward_cpu);
KILN_REGISTER_KERNEL(reflect_pad_stub, DeviceType::CPU, reflect_pad_forward_cpu);
KILN_REGISTER_KERNEL(reflect_pad_backward_stub, DeviceType::CPU, reflect_pad_backward_cpu);
KILN_REGISTER_KERNEL(embedding_stub, DeviceType::CPU, embedding_forward_cpu);
KILN_REGISTER_KERNEL(embedding_backward_stub, DeviceType::CPU, embedding_backward_cpu);
KILN_REGISTER_KERNEL(one_hot_stub, DeviceType::CPU, one_hot_forward_cpu);
KILN_REGISTER_KERNEL(tril_stub, DeviceType::CPU, tril_forward_cpu);
KILN_REGISTER_KERNEL(triu_stub, DeviceType::CPU, triu_forward_cpu);

}  // namespace kiln
