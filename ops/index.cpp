// Joining, splitting, padding and indexing ops: argument checks, forward and backward
// side by side. Index tensors are validated here, before any kernel runs (kernels run
// inside OpenMP regions and must not throw). Kernels are in ops/cpu/index.cpp.
#include "ops/index.h"

#include <algorithm>
#include <optional>
#include <span>
#include <vector>

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/index.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(index_select_stub, "index_select",
                 void(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index));
KILN_DEFINE_STUB(index_add_stub, "index_add",
                 void(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src));
KILN_DEFINE_STUB(gather_stub, "gather", void(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index));
KILN_DEFINE_STUB(scatter_add_stub, "scatter_add",
                 void(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src));
KILN_DEFINE_STUB(reflect_pad_stub, "pad", void(const Tensor& out, const Tensor& x, const IntList& pad_before));
KILN_DEFINE_STUB(reflect_pad_backward_stub, "pad_backward",
                 void(const Tensor& dx, const Tensor& g, const IntList& pad_before));
KILN_DEFINE_STUB(embedding_stub, "embedding", void(const Tensor& out, const Tensor& weight, const Tensor& indices));
KILN_DEFINE_STUB(embedding_backward_stub, "embedding_backward",
                 void(const Tensor& dweight, const Tensor& g, const Tensor& indices, int64_t padding_idx));
KILN_DEFINE_STUB(one_hot_stub, "one_hot", void(const Tensor& out, const Tensor& indices));
KILN_DEFINE_STUB(tril_stub, "tril", void(const Tensor& out, const Tensor& x, int64_t diagonal));
KILN_DEFINE_STUB(triu_stub, "triu", void(const Tensor& out, const Tensor& x, int64_t diagonal));

namespace {

// ---- index checks (all on the host, before any kernel) ----

void check_index_tensor(const Tensor& index, const Tensor& x, const char* op) {
  KILN_CHECK(index.dtype() == kInt64, op, ": expected an int64 index tensor, got ", index.meta_str());
  KILN_CHECK(index.device() == x.device(), op, ": expected the index on the same device as the input, got ",
             index.meta_str(), " and ", x.meta_str());
}

// The values of an int64 tensor on the host: its own memory when it is a contiguous
// CPU tensor, otherwise a copy kept in `copy`.
std::span<const int64_t> host_values(const Tensor& index, std::vector<int64_t>& copy) {
  if (index.device().is_cpu() && index.is_contiguous())
    return {index.data_ptr<int64_t>(), size_t(index.numel())};
  copy = index.to_vector<int64_t>();
  return copy;
}

// The first value of `index` outside [0, size), if any.
std::optional<int64_t> first_out_of_range(const Tensor& index, int64_t size) {
  std::vector<int64_t> copy;
  for (int64_t v : host_values(index, copy))
    if (v < 0 || v >= size) return v;
  return std::nullopt;
}

// "op: index 7 is out of range for dim 0 of size 5 (float32[5, 3] on cpu)"
void check_index_range(const Tensor& index, int64_t dim, const Tensor& x, const char* op) {
  int64_t size = x.shape()[size_t(dim)];
  std::optional<int64_t> bad = first_out_of_range(index, size);
  KILN_CHECK(!bad, op, ": index ", bad.value_or(0), " is out of range for dim ", dim, " of size ", size, " (",
             x.meta_str(), ")");
}

// gather/scatter_add: index has x's ndim and fits in x in every dim but `dim`.
void check_index_fits(const Tensor& index, const Tensor& x, int64_t dim, const char* op, const char* what) {
  KILN_CHECK(index.dim() == x.dim(), op, ": expected the index to have as many dims as the ", what, ", got index ",
             index.meta_str(), " and ", what, " ", x.meta_str());
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == dim) continue;
    KILN_CHECK(index.shape()[size_t(d)] <= x.shape()[size_t(d)], op, ": index ", index.meta_str(), " has size ",
               index.shape()[size_t(d)], " in dim ", d, ", larger than the ", what, "'s size ",
               x.shape()[size_t(d)], " (", x.meta_str(), ")");
  }
}

// ---- cat ----

struct Cat : Function<Cat> {
  static constexpr const char* kName = "cat";
  int64_t dim = 0;
  IntList sizes;  // each input's size along dim
  Tensor forward(const TensorList& tensors, int64_t dim_) {
    KILN_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
    const Tensor& first = tensors[0];
    for (size_t i = 0; i < tensors.size(); ++i) {
      KILN_CHECK(tensors[i].defined(), "cat: the tensor at position ", i, " is undefined");
      KILN_CHECK(tensors[i].dim() > 0, "cat: a 0-d tensor cannot be concatenated (position ", i, ", ",
                 tensors[i].meta_str(), "); unsqueeze it or use stack");
    }
    dim = wrap_dim(dim_, first.dim(), kName);
    Shape shape = first.shape();
    shape[size_t(dim)] = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      KILN_CHECK(t.dtype() == first.dtype(), "cat: expected every tensor to have dtype ", dtype_name(first.dtype()),
                 ", got ", t.meta_str(), " at position ", i);
      KILN_CHECK(t.device() == first.device(), "cat: expected every tensor on ", first.device(), ", got ",
                 t.meta_str(), " at position ", i);
      KILN_CHECK(t.dim() == first.dim(), "cat: expected every tensor to have ", first.dim(), " dims, got ",
                 t.meta_str(), " at position ", i, " and ", first.meta_str(), " at position 0");
      for (int64_t d = 0; d < t.dim(); ++d)
        KILN_CHECK(d == dim || t.shape()[size_t(d)] == first.shape()[size_t(d)],
                   "cat: sizes must match except in dim ", dim, ", got ", first.meta_str(), " at position 0 and ",
                   t.meta_str(), " at position ", i, " (dim ", d, ")");
      sizes.push_back(t.shape()[size_t(dim)]);
      shape[size_t(dim)] += sizes.back();
    }
    Tensor out = empty(shape, options_of(first));
    int64_t offset = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (sizes[i] > 0) copy_into(out.narrow(dim, offset, sizes[i]), tensors[i]);
      offset += sizes[i];
    }
    return out;
  }
  // Each input's gradient is its slice of g.
  TensorList backward(const Tensor& g) {
    TensorList grads;
    int64_t offset = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(needs_input_grad(i) ? g.narrow(dim, offset, sizes[i]) : Tensor());
      offset += sizes[i];
    }
    return grads;
  }
};

// ---- pad ----

// The (before, after) padding of each of the last k dims, in dim order, from pads
// given as (left, right) pairs starting at the last dim.
struct DimPads {
  IntList before, after;
};
DimPads dim_pads(const IntList& pads) {
  size_t k = pads.size() / 2;
  DimPads p{IntList(k), IntList(k)};
  for (size_t i = 0; i < k; ++i) {
    p.before[k - 1 - i] = pads[2 * i];
    p.after[k - 1 - i] = pads[2 * i + 1];
  }
  return p;
}

// Constant padding: out = value everywhere, with the (cropped) input copied in.
// Negative pads crop. Its backward is constant padding of g with the pads negated:
// that crops g's padded border and puts zeros where the input was cropped.
struct ConstantPad : Function<ConstantPad> {
  static constexpr const char* kName = "pad";
  IntList pads;
  Tensor forward(const Tensor& x, const IntList& pads_, double value) {
    pads = pads_;
    DimPads p = dim_pads(pads);
    size_t lead = size_t(x.dim()) - p.before.size();
    Shape shape = x.shape();
    for (size_t i = 0; i < p.before.size(); ++i) {
      int64_t d = int64_t(lead + i);
      shape[size_t(d)] += p.before[i] + p.after[i];
      KILN_CHECK(shape[size_t(d)] >= 0, "pad: padding (", p.before[i], ", ", p.after[i], ") of dim ", d,
                 " gives it the negative size ", shape[size_t(d)], " (", x.meta_str(), ")");
    }
    Tensor out = full(shape, value, options_of(x));
    Tensor src = x, dst = out;
    for (size_t i = 0; i < p.before.size(); ++i) {
      int64_t d = int64_t(lead + i);
      int64_t crop_before = std::max<int64_t>(-p.before[i], 0), crop_after = std::max<int64_t>(-p.after[i], 0);
      int64_t length = x.shape()[size_t(d)] - crop_before - crop_after;
      if (length <= 0) return out;  // nothing of the input is left
      src = src.narrow(d, crop_before, length);
      dst = dst.narrow(d, std::max<int64_t>(p.before[i], 0), length);
    }
    copy_into(dst, src);
    return out;
  }
  TensorList backward(const Tensor& g) {
    IntList negated(pads.size());
    std::transform(pads.begin(), pads.end(), negated.begin(), [](int64_t v) { return -v; });
    return {pad(g, negated, "constant", 0.0)};
  }
};

// Reflect padding mirrors the input at its edges without repeating the edge:
// [a b c d] padded by (2, 1) is [c b | a b c d | c].
// ReflectPadBackward sums each output position's gradient into the input position it
// was read from. Both are linear and each is the other's adjoint, so the backward of
// the backward is reflect padding again, and higher derivatives are exact.
struct ReflectPadBackward : Function<ReflectPadBackward> {
  static constexpr const char* kName = "pad_backward";
  IntList pads;
  Tensor forward(const Tensor& g, const Shape& in_shape, const IntList& pads_) {
    pads = pads_;
    Tensor dx = zeros(in_shape, options_of(g));
    reflect_pad_backward_stub(g.device(), dx, g.contiguous(), dim_pads(pads).before);
    return dx;
  }
  TensorList backward(const Tensor& gg) { return {pad(gg, pads, "reflect")}; }
};

struct ReflectPad : Function<ReflectPad> {
  static constexpr const char* kName = "pad";
  IntList pads;
  Shape in_shape;
  Tensor forward(const Tensor& x, const IntList& pads_) {
    pads = pads_;
    in_shape = x.shape();
    DimPads p = dim_pads(pads);
    size_t lead = size_t(x.dim()) - p.before.size();
    Shape shape = x.shape();
    for (size_t i = 0; i < p.before.size(); ++i) {
      int64_t d = int64_t(lead + i);
      int64_t size = x.shape()[size_t(d)];
      KILN_CHECK(p.before[i] >= 0 && p.after[i] >= 0 && p.before[i] < size && p.after[i] < size,
                 "pad: reflect padding (", p.before[i], ", ", p.after[i], ") of dim ", d,
                 " must be non-negative and smaller than the dim's size ", size, " (", x.meta_str(), ")");
      shape[size_t(d)] += p.before[i] + p.after[i];
    }
    Tensor out = empty(shape, options_of(x));
    reflect_pad_stub(x.device(), out, x.contiguous(), p.before);
    return out;
  }
  TensorList backward(const Tensor& g) { return {apply<ReflectPadBackward>(g, in_shape, pads)}; }
};

// ---- index_select and its backward, index_add ----

// out = base with src's slices added at `index` along dim:
//   out.select(dim, index[k]) += src.select(dim, k)   (repeated indices accumulate)
// d/dbase = g, d/dsrc = index_select(g, dim, index).
struct IndexAdd : Function<IndexAdd> {
  static constexpr const char* kName = "index_add";
  int64_t dim = 0;
  Tensor forward(const Tensor& base, int64_t dim_, const Tensor& index, const Tensor& src) {
    dim = dim_;
    save(index);
    Tensor out = base.clone();
    index_add_stub(out.device(), out, dim, index.contiguous(), src.contiguous());
    return out;
  }
  TensorList backward(const Tensor& g) {
    auto [index] = saved<1>();
    return {g, Tensor(), needs_input_grad(2) ? index_select(g, dim, index) : Tensor()};
  }
};

struct IndexSelect : Function<IndexSelect> {
  static constexpr const char* kName = "index_select";
  int64_t dim = 0;
  Shape in_shape;
  Tensor forward(const Tensor& x, int64_t dim_, const Tensor& index) {
    KILN_CHECK(x.dim() > 0, "index_select: expected a tensor with at least one dim, got ", x.meta_str());
    dim = wrap_dim(dim_, x.dim(), kName);
    in_shape = x.shape();
    check_index_tensor(index, x, kName);
    KILN_CHECK(index.dim() <= 1, "index_select: expected a 1-D index, got ", index.meta_str());
    check_index_range(index, dim, x, kName);
    save(index);
    Shape shape = x.shape();
    shape[size_t(dim)] = index.numel();
    Tensor out = empty(shape, options_of(x));
    index_select_stub(x.device(), out, x.contiguous(), dim, index.contiguous());
    return out;
  }
  TensorList backward(const Tensor& g) {
    auto [index] = saved<1>();
    return {apply<IndexAdd>(zeros(in_shape, options_of(g)), dim, index, g), Tensor()};
  }
};

// ---- gather and scatter_add: each is the other's backward ----

struct Gather : Function<Gather> {  // out[i][j] = x[i][index[i][j]] (dim 1)
  static constexpr const char* kName = "gather";
  int64_t dim = 0;
  Shape in_shape;
  Tensor forward(const Tensor& x, int64_t dim_, const Tensor& index) {
    KILN_CHECK(x.dim() > 0, "gather: expected a tensor with at least one dim, got ", x.meta_str());
    dim = wrap_dim(dim_, x.dim(), kName);
    in_shape = x.shape();
    check_index_tensor(index, x, kName);
    check_index_fits(index, x, dim, kName, "input");
    check_index_range(index, dim, x, kName);
    save(index);
    Tensor out = empty(index.shape(), options_of(x));
    gather_stub(x.device(), out, x.contiguous(), dim, index.contiguous());
    return out;
  }
  // Each x element gets the sum of the gradients of the outputs that read it.
  TensorList backward(const Tensor& g) {
    auto [index] = saved<1>();
    return {scatter_add(zeros(in_shape, options_of(g)), dim, index, g), Tensor()};
  }
};

struct ScatterAdd : Function<ScatterAdd> {  // out = x; out[i][index[i][j]] += src[i][j] (dim 1)
  static constexpr const char* kName = "scatter_add";
  int64_t dim = 0;
  Shape src_shape;
  Tensor forward(const Tensor& x, int64_t dim_, const Tensor& index, const Tensor& src) {
    KILN_CHECK(x.dim() > 0, "scatter_add: expected a tensor with at least one dim, got ", x.meta_str());
    dim = wrap_dim(dim_, x.dim(), kName);
    src_shape = src.shape();
    check_index_tensor(index, x, kName);
    KILN_CHECK(src.dtype() == x.dtype() && src.device() == x.device(),
               "scatter_add: expected src with the input's dtype and device, got src ", src.meta_str(),
               " and input ", x.meta_str());
    check_index_fits(index, x, dim, kName, "input");
    KILN_CHECK(src.dim() == index.dim(), "scatter_add: expected src to have as many dims as the index, got src ",
               src.meta_str(), " and index ", index.meta_str());
    for (int64_t d = 0; d < src.dim(); ++d)
      KILN_CHECK(index.shape()[size_t(d)] <= src.shape()[size_t(d)], "scatter_add: index ", index.meta_str(),
                 " has size ", index.shape()[size_t(d)], " in dim ", d, ", larger than src's size ",
                 src.shape()[size_t(d)], " (", src.meta_str(), ")");
    check_index_range(index, dim, x, kName);
    save(index);
    Tensor out = x.clone();
    scatter_add_stub(x.device(), out, dim, index.contiguous(), src.contiguous());
    return out;
  }
  // dx = g; dsrc = gather(g, dim, index), zero-padded where src is larger than index
  // (those src elements are never read).
  TensorList backward(const Tensor& g) {
    auto [index] = saved<1>();
    Tensor dsrc;
    if (needs_input_grad(2)) {
      dsrc = gather(g, dim, index);
      if (dsrc.shape() != src_shape) {
        IntList pads;
        for (size_t d = src_shape.size(); d-- > 0;) pads.insert(pads.end(), {0, src_shape[d] - dsrc.shape()[d]});
        dsrc = pad(dsrc, pads, "constant", 0.0);
      }
    }
    return {g, Tensor(), dsrc};
  }
};

// ---- embedding ----

// dweight = zeros(V, D); dweight[indices[k]] += g[k] for every k with indices[k] !=
// padding_idx. Linear in g; its adjoint (the backward) reads gg's rows back with
// embedding, zeroing the positions that hold padding_idx.
struct EmbeddingBackward : Function<EmbeddingBackward> {
  static constexpr const char* kName = "embedding_backward";
  int64_t padding_idx = -1;
  Tensor forward(const Tensor& g, const Tensor& indices, int64_t num_weights, int64_t padding_idx_) {
    padding_idx = padding_idx_;
    save(indices);
    Tensor dweight = zeros({num_weights, g.shape().back()}, options_of(g));
    embedding_backward_stub(g.device(), dweight, g.contiguous(), indices.contiguous(), padding_idx);
    return dweight;
  }
  TensorList backward(const Tensor& gg) {
    auto [indices] = saved<1>();
    Tensor r = embedding(gg, indices);
    if (padding_idx >= 0) r = masked_fill(r, eq(indices, double(padding_idx)).unsqueeze(-1), 0.0);
    return {r, Tensor()};
  }
};

struct Embedding : Function<Embedding> {
  static constexpr const char* kName = "embedding";
  int64_t padding_idx = -1;
  int64_t num_weights = 0;
  Tensor forward(const Tensor& weight, const Tensor& indices, int64_t padding_idx_) {
    KILN_CHECK(weight.dim() == 2, "embedding: expected a 2-D weight (num_embeddings, embedding_dim), got ",
               weight.meta_str());
    KILN_CHECK(indices.dtype() == kInt64, "embedding: expected int64 indices, got ", indices.meta_str());
    KILN_CHECK(indices.device() == weight.device(), "embedding: expected the indices on the weight's device, got ",
               indices.meta_str(), " and weight ", weight.meta_str());
    num_weights = weight.shape()[0];
    KILN_CHECK(padding_idx_ < num_weights, "embedding: padding_idx ", padding_idx_,
               " is out of range for num_embeddings ", num_weights, " (weight ", weight.meta_str(), ")");
    padding_idx = padding_idx_;
    std::optional<int64_t> bad = first_out_of_range(indices, num_weights);
    KILN_CHECK(!bad, "embedding: index ", bad.value_or(0), " is out of range for num_embeddings ", num_weights,
               " (weight ", weight.meta_str(), ")");
    save(indices);
    Shape shape = indices.shape();
    shape.push_back(weight.shape()[1]);
    Tensor out = empty(shape, options_of(weight));
    embedding_stub(weight.device(), out, weight.contiguous(), indices.contiguous());
    return out;
  }
  TensorList backward(const Tensor& g) {
    auto [indices] = saved<1>();
    return {apply<EmbeddingBackward>(g, indices, num_weights, padding_idx), Tensor()};
  }
};

// ---- tril / triu ----

template <bool kUpper>
struct Triangle : Function<Triangle<kUpper>> {
  static constexpr const char* kName = kUpper ? "triu" : "tril";
  int64_t diagonal = 0;
  Tensor forward(const Tensor& x, int64_t diagonal_) {
    KILN_CHECK(x.dim() >= 2, kName, ": expected a tensor with at least 2 dims, got ", x.meta_str());
    diagonal = diagonal_;
    Tensor out = empty(x.shape(), options_of(x));
    (kUpper ? triu_stub : tril_stub)(x.device(), out, x.contiguous(), diagonal);
    return out;
  }
  TensorList backward(const Tensor& g) { return {kUpper ? triu(g, diagonal) : tril(g, diagonal)}; }
};

}  // namespace

// ---- public functions ----

Tensor cat(const TensorList& tensors, int64_t dim) { return apply<Cat>(tensors, dim); }

// stack = unsqueeze each, then cat; the backward (narrow, then squeeze) selects each
// input's slice of g.
Tensor stack(const TensorList& tensors, int64_t dim) {
  KILN_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i)
    KILN_CHECK(tensors[i].defined(), "stack: the tensor at position ", i, " is undefined");
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  TensorList parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    KILN_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: expected every tensor to have shape ",
               tensors[0].shape(), ", got ", tensors[i].meta_str(), " at position ", i);
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

TensorList split(const Tensor& x, int64_t split_size, int64_t dim) {
  KILN_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t size = x.shape()[size_t(d)];
  KILN_CHECK(split_size > 0 || (split_size == 0 && size == 0), "split: split_size must be positive, got ",
             split_size, " for ", x.meta_str());
  IntList sizes;
  for (int64_t start = 0; start < size; start += split_size) sizes.push_back(std::min(split_size, size - start));
  if (sizes.empty()) sizes.push_back(0);  // an empty dim splits into one empty piece
  return split_with_sizes(x, sizes, d);
}

TensorList split_with_sizes(const Tensor& x, const IntList& sizes, int64_t dim) {
  KILN_CHECK(x.dim() > 0, "split_with_sizes: cannot split a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "split_with_sizes");
  int64_t total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, "split_with_sizes: sizes must be non-negative, got ", sizes);
    total += s;
  }
  KILN_CHECK(total == x.shape()[size_t(d)], "split_with_sizes: sizes ", sizes, " sum to ", total, ", but dim ", d,
             " of ", x.meta_str(), " has size ", x.shape()[size_t(d)]);
  TensorList pieces;
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(x.narrow(d, start, s));
    start += s;
  }
  return pieces;
}

// Pieces of ceil(size / chunks) along dim; fewer than `chunks` pieces when they run
// out, as torch.chunk. An empty dim gives `chunks` empty pieces.
TensorList chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  KILN_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got ", chunks);
  KILN_CHECK(x.dim() > 0, "chunk: cannot chunk a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "chunk");
  int64_t size = x.shape()[size_t(d)];
  if (size == 0) return split_with_sizes(x, IntList(size_t(chunks), 0), d);
  return split(x, (size + chunks - 1) / chunks, d);
}

Tensor pad(const Tensor& x, const IntList& pads, const std::string& mode, double value) {
  KILN_CHECK(pads.size() % 2 == 0, "pad: expected an even number of pads ((left, right) per dim), got ",
             pads.size(), " values ", pads);
  KILN_CHECK(int64_t(pads.size() / 2) <= x.dim(), "pad: pads ", pads, " cover ", pads.size() / 2,
             " dims, but the input ", x.meta_str(), " has only ", x.dim());
  if (mode == "constant" || pads.empty()) return apply<ConstantPad>(x, pads, value);
  if (mode == "reflect") return apply<ReflectPad>(x, pads);
  KILN_FAIL("pad: unknown mode '", mode, "'; expected \"constant\" or \"reflect\"");
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) { return apply<IndexSelect>(x, dim, index); }
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) { return apply<Gather>(x, dim, index); }
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return apply<ScatterAdd>(x, dim, index, src);
}

// where(mask, value, x): the gradient passes where the mask is false.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  KILN_CHECK(mask.dtype() == kBool, "masked_fill: expected a bool mask, got ", mask.meta_str());
  KILN_CHECK(mask.device() == x.device(), "masked_fill: expected the mask on the input's device, got mask ",
             mask.meta_str(), " and input ", x.meta_str());
  KILN_CHECK(broadcast_shapes(mask.shape(), x.shape(), "masked_fill") == x.shape(), "masked_fill: the mask ",
             mask.meta_str(), " does not broadcast to the input's shape (", x.meta_str(), ")");
  return where(mask, full({}, value, options_of(x)), x);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  return apply<Embedding>(weight, indices, padding_idx < 0 ? int64_t(-1) : padding_idx);
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  KILN_CHECK(indices.dtype() == kInt64, "one_hot: expected int64 class indices, got ", indices.meta_str());
  KILN_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (infer) or non-negative, got ", num_classes);
  std::vector<int64_t> copy;
  std::span<const int64_t> values = host_values(indices, copy);
  if (num_classes == -1) {
    KILN_CHECK(!values.empty(), "one_hot: cannot infer the number of classes from an empty tensor (",
               indices.meta_str(), "); pass num_classes");
    num_classes = *std::max_element(values.begin(), values.end()) + 1;
  }
  for (int64_t v : values)
    KILN_CHECK(v >= 0 && v < num_classes, "one_hot: class index ", v, " is out of range for num_classes ",
               num_classes, " (", indices.meta_str(), ")");
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, TensorOptions(kInt64).with_device(indices.device()));
  if (out.numel() > 0) one_hot_stub(indices.device(), out, indices.contiguous());
  return out;
}

// repeat = view each dim d as (1, s_d), expand to (r_d, s_d), and flatten the pairs;
// the backward of expand sums the copies (reshape + sum).
Tensor repeat(const Tensor& x, const IntList& repeats) {
  KILN_CHECK(int64_t(repeats.size()) >= x.dim(), "repeat: got ", repeats.size(), " repeats ", repeats,
             ", fewer than the input's ", x.dim(), " dims (", x.meta_str(), ")");
  for (int64_t r : repeats) KILN_CHECK(r >= 0, "repeat: repeats must be non-negative, got ", repeats);
  size_t lead = repeats.size() - size_t(x.dim());
  Shape padded(lead, 1);
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  Shape pairs, expanded, out;
  for (size_t d = 0; d < repeats.size(); ++d) {
    pairs.insert(pairs.end(), {1, padded[d]});
    expanded.insert(expanded.end(), {repeats[d], padded[d]});
    out.push_back(repeats[d] * padded[d]);
  }
  return x.reshape(pairs).expand(expanded).reshape(out);
}

Tensor tril(const Tensor& x, int64_t diagonal) { return apply<Triangle<false>>(x, diagonal); }
Tensor triu(const Tensor& x, int64_t diagonal) { return apply<Triangle<true>>(x, diagonal); }

}  // namespace kiln
