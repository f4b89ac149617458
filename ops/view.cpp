// View ops (a new TensorImpl over the same storage: no data moves) and copies, each
// with its backward. See docs/tensor.md for strides and views.
#include "ops/view.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/index.h"
#include "ops/kernels/view.h"
#include "ops/reduce.h"

namespace kiln {

KILN_DEFINE_STUB(copy_stub, "copy", void(const Tensor& dst, const Tensor& src));
KILN_DEFINE_STUB(fill_stub, "fill_", void(const Tensor& dst, double value));

namespace {

Tensor make_view(const Tensor& x, Shape sizes, IntList strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>(x.storage(), std::move(sizes), std::move(strides), offset, x.dtype());
  impl->is_view = true;
  return Tensor(std::move(impl));
}

// Resolves one -1 in a requested shape; checks the element count.
Shape infer_shape(const Shape& requested, int64_t numel, const char* op) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      KILN_CHECK(infer_at < 0, op, ": only one dimension can be -1, got ", requested);
      infer_at = int64_t(i);
    } else {
      KILN_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in shape ", requested);
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0, op, ": shape ", requested, " is invalid for input of size ",
               numel);
    shape[size_t(infer_at)] = numel / known;
  }
  KILN_CHECK(numel_of(shape) == numel, op, ": shape ", requested, " is invalid for input of size ", numel);
  return shape;
}

// Strides that let `shape` view memory laid out as (old_sizes, old_strides), or
// empty when it cannot be done without a copy. Each run of old dims that is
// contiguous in memory can be re-split freely; a new dim may not straddle two runs.
std::optional<IntList> view_strides(const Shape& old_sizes, const IntList& old_strides, const Shape& shape) {
  IntList strides(shape.size());
  if (numel_of(shape) == 0 || shape.empty() || old_sizes.empty()) return contiguous_strides(shape);
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(old_sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_sizes[size_t(d)];
    // A run of dims ends here when the next-outer dim does not continue it in memory.
    bool run_ends = d == 0 || (old_sizes[size_t(d - 1)] != 1 &&
                               old_strides[size_t(d - 1)] != tensor_numel * chunk_base_stride);
    if (run_ends) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[size_t(view_d)] == 1)) {
        strides[size_t(view_d)] = view_numel * chunk_base_stride;
        view_numel *= shape[size_t(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[size_t(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

// ---- the ops ----

struct ViewOp : Function<ViewOp> {
  static constexpr const char* kName = "view";
  Shape in_shape;
  Tensor forward(const Tensor& x, const Shape& requested) {
    in_shape = x.shape();
    Shape shape = infer_shape(requested, x.numel(), kName);
    auto strides = view_strides(x.shape(), x.strides(), shape);
    KILN_CHECK(strides.has_value(), "view: shape ", requested, " is not compatible with the input's strides (",
               x.meta_str(), ", strides ", x.strides(), "); use reshape(), which copies when needed");
    return make_view(x, shape, *strides, x.offset());
  }
  TensorList backward(const Tensor& g) { return {g.reshape(in_shape)}; }
};

struct Permute : Function<Permute> {
  static constexpr const char* kName = "permute";
  IntList inverse;
  Tensor forward(const Tensor& x, const IntList& dims) {
    KILN_CHECK(int64_t(dims.size()) == x.dim(), "permute: got ", dims.size(), " dims ", dims, " for a tensor with ",
               x.dim(), " dims (", x.meta_str(), ")");
    Shape sizes(dims.size());
    IntList strides(dims.size());
    inverse.assign(dims.size(), -1);
    for (size_t i = 0; i < dims.size(); ++i) {
      int64_t d = wrap_dim(dims[i], x.dim(), kName);
      KILN_CHECK(inverse[size_t(d)] == -1, "permute: dim ", d, " appears twice in ", dims);
      inverse[size_t(d)] = int64_t(i);
      sizes[i] = x.shape()[size_t(d)];
      strides[i] = x.strides()[size_t(d)];
    }
    return make_view(x, sizes, strides, x.offset());
  }
  TensorList backward(const Tensor& g) { return {g.permute(inverse)}; }
};

// narrow/slice/select share one backward: the gradient goes into a zero tensor of the
// input's shape at the sliced positions (SliceBackward, itself differentiable).
struct SliceBackward : Function<SliceBackward> {
  static constexpr const char* kName = "slice_backward";
  int64_t dim = 0, start = 0, end = 0, step = 1;
  Tensor forward(const Tensor& g, const Shape& in_shape, int64_t dim_, int64_t start_, int64_t end_, int64_t step_) {
    dim = dim_, start = start_, end = end_, step = step_;
    Tensor dx = zeros(in_shape, options_of(g));
    copy_into(dx.slice(dim, start, end, step), g);
    return dx;
  }
  TensorList backward(const Tensor& gg) { return {gg.slice(dim, start, end, step)}; }
};

// unbind: every index of a dim as its own view, from one node, so that the backward is
// one stack of all the gradients (zeros where an output was unused). Selecting the
// pieces one by one would give each its own zero-filled gradient of the whole input:
// quadratic work for an RNN that walks a sequence.
struct Unbind : Function<Unbind> {
  static constexpr const char* kName = "unbind";
  int64_t dim = 0;
  Shape piece_shape;
  TensorList forward(const Tensor& x, int64_t dim_) {
    dim = dim_;
    Shape sizes = x.shape();
    IntList strides = x.strides();
    const int64_t count = sizes[size_t(dim)], step = strides[size_t(dim)];
    sizes.erase(sizes.begin() + dim);
    strides.erase(strides.begin() + dim);
    piece_shape = sizes;
    TensorList out;
    for (int64_t i = 0; i < count; ++i) out.push_back(make_view(x, sizes, strides, x.offset() + i * step));
    return out;
  }
  TensorList backward(const TensorList& grads) {
    TensorList g;
    Tensor zero;
    for (const Tensor& t : grads) {
      if (t.defined()) {
        g.push_back(t);
        continue;
      }
      if (!zero.defined()) {
        for (const Tensor& any : grads)
          if (any.defined()) zero = zeros(piece_shape, options_of(any));
      }
      g.push_back(zero);
    }
    return {stack(g, dim)};
  }
};

struct Slice : Function<Slice> {
  static constexpr const char* kName = "slice";
  Shape in_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1;
  Tensor forward(const Tensor& x, int64_t dim_, int64_t start_, int64_t end_, int64_t step_) {
    KILN_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
    KILN_CHECK(step_ > 0, "slice: step must be positive, got ", step_);
    in_shape = x.shape();
    dim = wrap_dim(dim_, x.dim(), kName);
    int64_t size = x.shape()[size_t(dim)];
    // Python slice semantics: negative bounds count from the end, then clamp.
    start = start_ < 0 ? start_ + size : start_;
    end = end_ < 0 ? end_ + size : end_;
    start = std::clamp<int64_t>(start, 0, size);
    end = std::clamp<int64_t>(end, start, size);
    step = step_;
    Shape sizes = x.shape();
    IntList strides = x.strides();
    sizes[size_t(dim)] = (end - start + step - 1) / step;
    strides[size_t(dim)] *= step;
    return make_view(x, sizes, strides, x.offset() + start * x.strides()[size_t(dim)]);
  }
  TensorList backward(const Tensor& g) { return {apply<SliceBackward>(g, in_shape, dim, start, end, step)}; }
};

struct Expand : Function<Expand> {
  static constexpr const char* kName = "expand";
  Shape in_shape;
  Tensor forward(const Tensor& x, const Shape& requested) {
    in_shape = x.shape();
    KILN_CHECK(requested.size() >= x.shape().size(), "expand: the requested shape ", requested,
               " has fewer dims than the input ", x.meta_str());
    size_t lead = requested.size() - x.shape().size();
    Shape sizes(requested.size());
    IntList strides(requested.size(), 0);
    for (size_t i = 0; i < requested.size(); ++i) {
      if (i < lead) {
        KILN_CHECK(requested[i] >= 0, "expand: size -1 is not allowed for a new leading dim in ", requested);
        sizes[i] = requested[i];
        continue;
      }
      int64_t have = x.shape()[i - lead];
      int64_t want = requested[i] == -1 ? have : requested[i];
      KILN_CHECK(have == want || have == 1, "expand: cannot expand ", x.meta_str(), " to ", requested,
                 " (dim ", i, ": size ", have, " is not 1 and differs from ", want, ")");
      sizes[i] = want;
      strides[i] = have == want ? x.strides()[i - lead] : 0;
    }
    return make_view(x, sizes, strides, x.offset());
  }
  TensorList backward(const Tensor& g) { return {sum_to(g, in_shape)}; }
};

struct AsStrided : Function<AsStrided> {
  static constexpr const char* kName = "as_strided";
  Tensor forward(const Tensor& x, const Shape& sizes, const IntList& strides, int64_t offset) {
    KILN_CHECK(sizes.size() == strides.size(), "as_strided: ", sizes.size(), " sizes but ", strides.size(),
               " strides");
    int64_t last = offset;
    for (size_t i = 0; i < sizes.size(); ++i) {
      KILN_CHECK(sizes[i] >= 0 && strides[i] >= 0, "as_strided: negative size or stride");
      if (sizes[i] > 0) last += (sizes[i] - 1) * strides[i];
    }
    KILN_CHECK(offset >= 0 && (numel_of(sizes) == 0 ||
                               size_t(last + 1) * element_size(x.dtype()) <= x.storage()->nbytes()),
               "as_strided: sizes ", sizes, " and strides ", strides, " at offset ", offset,
               " reach outside the storage of ", x.meta_str());
    return make_view(x, sizes, strides, offset);
  }
  TensorList backward(const Tensor&) {
    KILN_FAIL("as_strided: backward is not supported; use the named view ops (view, slice, permute, expand)");
  }
};

struct Clone : Function<Clone> {
  static constexpr const char* kName = "clone";
  Tensor forward(const Tensor& x) {
    Tensor out = empty(x.shape(), options_of(x));
    copy_into(out, x);
    return out;
  }
  TensorList backward(const Tensor& g) { return {g}; }
};

struct ToDtype : Function<ToDtype> {
  static constexpr const char* kName = "to";
  DType in_dtype = kFloat32;
  Tensor forward(const Tensor& x, DType dtype) {
    in_dtype = x.dtype();
    Tensor out = empty(x.shape(), TensorOptions(dtype).with_device(x.device()));
    copy_into(out, x);
    return out;
  }
  TensorList backward(const Tensor& g) { return {is_floating(in_dtype) ? g.to(in_dtype) : Tensor()}; }
};

struct ToDevice : Function<ToDevice> {
  static constexpr const char* kName = "to";
  Device in_device;
  Tensor forward(const Tensor& x, Device device) {
    backend_for(device, "to");  // a clear error for a device this build or machine lacks
    in_device = x.device();
    Tensor out = empty(x.shape(), options_of(x).with_device(device));
    copy_into(out, x);
    return out;
  }
  TensorList backward(const Tensor& g) { return {g.to(in_device)}; }
};

// The out-of-place meaning of dst.copy_(src): src broadcast to dst's shape in dst's
// dtype. dst's old value gets no gradient (it is overwritten).
struct CopyFrom : Function<CopyFrom> {
  static constexpr const char* kName = "copy_";
  Shape src_shape;
  DType src_dtype = kFloat32;
  Tensor forward(const Tensor& dst_old, const Tensor& src) {
    src_shape = src.shape();
    src_dtype = src.dtype();
    Tensor out = empty(dst_old.shape(), options_of(dst_old));
    copy_into(out, src);
    return out;
  }
  TensorList backward(const Tensor& g) {
    return {Tensor(), is_floating(src_dtype) ? sum_to(g, src_shape).to(src_dtype) : Tensor()};
  }
};

}  // namespace

// ---- public functions ----

Tensor view(const Tensor& x, const Shape& shape) { return apply<ViewOp>(x, shape); }

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape resolved = infer_shape(shape, x.numel(), "reshape");
  if (view_strides(x.shape(), x.strides(), resolved)) return apply<ViewOp>(x, resolved);
  return apply<ViewOp>(clone(x), resolved);
}

Tensor permute(const Tensor& x, const IntList& dims) { return apply<Permute>(x, dims); }

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  if (x.dim() == 0) return x;
  IntList dims(size_t(x.dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[size_t(wrap_dim(dim0, x.dim(), "transpose"))], dims[size_t(wrap_dim(dim1, x.dim(), "transpose"))]);
  return apply<Permute>(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return apply<Slice>(x, dim, start, end, step);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  KILN_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  int64_t size = x.shape()[size_t(d)];
  if (start < 0) start += size;
  KILN_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: start ", start, " and length ", length,
             " are out of range for dim ", d, " of size ", size, " (", x.meta_str(), ")");
  return apply<Slice>(x, d, start, start + length, int64_t(1));
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  KILN_CHECK(x.dim() > 0, "select: cannot select from a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "select");
  int64_t size = x.shape()[size_t(d)];
  KILN_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ", d, " of size ",
             size, " (", x.meta_str(), ")");
  if (index < 0) index += size;
  return narrow(x, d, index, 1).squeeze(d);
}

TensorList unbind(const Tensor& x, int64_t dim) {
  KILN_CHECK(x.dim() > 0, "unbind: cannot unbind a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "unbind");
  if (x.shape()[size_t(d)] == 0) return {};
  return apply<Unbind>(x, d);
}

Tensor expand(const Tensor& x, const Shape& shape) { return apply<Expand>(x, shape); }

Tensor squeeze(const Tensor& x) {
  Shape s;
  for (int64_t v : x.shape())
    if (v != 1) s.push_back(v);
  return s.size() == x.shape().size() ? x : apply<ViewOp>(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return x;
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[size_t(d)] != 1) return x;
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return apply<ViewOp>(x, s);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return apply<ViewOp>(x, s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  KILN_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t i = s; i <= e; ++i) n *= x.shape()[size_t(i)];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }
Tensor clone(const Tensor& x) { return apply<Clone>(x); }
Tensor to_dtype(const Tensor& x, DType dtype) { return x.dtype() == dtype ? x : apply<ToDtype>(x, dtype); }
Tensor to_device(const Tensor& x, Device device) { return x.device() == device ? x : apply<ToDevice>(x, device); }

Tensor as_strided(const Tensor& x, const Shape& sizes, const IntList& strides, int64_t offset) {
  return apply<AsStrided>(x, sizes, strides, offset);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  KILN_CHECK(g.dim() >= int64_t(shape.size()), "sum_to: cannot reduce ", g.meta_str(), " to shape ", shape);
  size_t lead = size_t(g.dim()) - shape.size();
  IntList dims;
  for (size_t i = 0; i < size_t(g.dim()); ++i) {
    if (i < lead) {
      dims.push_back(int64_t(i));
    } else if (shape[i - lead] == 1 && g.shape()[i] != 1) {
      dims.push_back(int64_t(i));
    } else {
      KILN_CHECK(shape[i - lead] == g.shape()[i], "sum_to: cannot reduce ", g.meta_str(), " to shape ", shape);
    }
  }
  Tensor r = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

void copy_into(const Tensor& dst, const Tensor& src) {
  broadcast_shapes(src.shape(), dst.shape(), "copy_");
  KILN_CHECK(broadcast_shapes(src.shape(), dst.shape(), "copy_") == dst.shape(), "copy_: source ", src.meta_str(),
             " cannot be broadcast to the destination's shape ", dst.shape());
  if (dst.numel() == 0) return;
  if (src.device() != dst.device()) {
    // Across devices: make a contiguous source in dst's dtype, move the bytes, then
    // scatter into dst's strides on its own device if dst is not contiguous.
    Tensor s = contiguous(expand(to_dtype(src, dst.dtype()), dst.shape()));
    Tensor staging = dst.is_contiguous() ? dst : empty(dst.shape(), options_of(dst));
    copy_bytes(staging.raw_data(), dst.device(), s.raw_data(), s.device(),
               size_t(dst.numel()) * element_size(dst.dtype()));
    if (!dst.is_contiguous()) copy_into(dst, staging);
    return;
  }
  copy_stub(dst.device(), dst, src);
}

// ---- Tensor members ----

Tensor Tensor::view(const Shape& shape) const { return kiln::view(*this, shape); }
Tensor Tensor::reshape(const Shape& shape) const { return kiln::reshape(*this, shape); }
Tensor Tensor::permute(const IntList& dims) const { return kiln::permute(*this, dims); }
Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const { return kiln::transpose(*this, dim0, dim1); }
Tensor Tensor::t() const {
  KILN_CHECK(dim() <= 2, "t: expected a tensor with at most 2 dims, got ", meta_str(), "; use transpose()");
  return dim() < 2 ? *this : kiln::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const { return kiln::narrow(*this, d, start, length); }
Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  return kiln::slice(*this, d, start, end, step);
}
Tensor Tensor::select(int64_t d, int64_t index) const { return kiln::select(*this, d, index); }
Tensor Tensor::expand(const Shape& shape) const { return kiln::expand(*this, shape); }
Tensor Tensor::expand_as(const Tensor& other) const { return kiln::expand(*this, other.shape()); }
Tensor Tensor::squeeze() const { return kiln::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return kiln::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return kiln::unsqueeze(*this, d); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const { return kiln::flatten(*this, start_dim, end_dim); }
Tensor Tensor::contiguous() const { return kiln::contiguous(*this); }
Tensor Tensor::clone() const { return kiln::clone(*this); }
Tensor Tensor::to(DType dtype) const { return to_dtype(*this, dtype); }
Tensor Tensor::to(Device device) const { return to_device(*this, device); }

Tensor& Tensor::copy_(const Tensor& src) {
  return inplace_update(
      *this, "copy_", src.requires_grad(), [&](const Tensor& old) { return apply<CopyFrom>(old, src); },
      [&] { copy_into(*this, src); });
}

Tensor& Tensor::fill_(double value) {
  return inplace_update(
      *this, "fill_", false, [&](const Tensor& old) { return full_like(old.detach(), value); },
      [&] { fill_stub(device(), *this, value); });
}

Tensor& Tensor::zero_() { return fill_(0.0); }

}  // namespace kiln
