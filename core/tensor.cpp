// Tensor metadata accessors, element access from the host, printing, and pinned host
// memory with the non_blocking copies it allows (Note [Pinned memory and non_blocking
// copies] in core/storage.h).
#include "core/tensor.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/factory.h"
#include "ops/index.h"

namespace kiln {

TensorImpl::TensorImpl(Storage storage_, Shape sizes_, IntList strides_, int64_t offset_, DType dtype_)
    : storage(std::move(storage_)), sizes(std::move(sizes_)), strides(std::move(strides_)), offset(offset_),
      dtype(dtype_) {}

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  KILN_CHECK(impl != nullptr, "tensor: this tensor is undefined (default-constructed or an absent gradient)");
  return *impl;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).sizes; }
const IntList& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::dim() const { return int64_t(shape().size()); }
int64_t Tensor::numel() const { return numel_of(shape()); }
int64_t Tensor::offset() const { return checked(impl_).offset; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }
const Storage& Tensor::storage() const { return checked(impl_).storage; }
uint64_t Tensor::version() const { return storage()->version(); }
void Tensor::bump_version() const { storage()->bump_version(); }

int64_t Tensor::size(int64_t d) const { return shape()[size_t(wrap_dim(d, dim(), "size"))]; }
int64_t Tensor::stride(int64_t d) const { return strides()[size_t(wrap_dim(d, dim(), "stride"))]; }

bool Tensor::same_storage(const Tensor& other) const { return storage() == other.storage(); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    int64_t s = shape()[size_t(i)];
    if (s == 1) continue;  // the stride of a size-1 dim never matters
    if (strides()[size_t(i)] != expected) return false;
    expected *= s;
  }
  return true;
}

void* Tensor::raw_data() const {
  const TensorImpl& t = checked(impl_);
  return static_cast<char*>(t.storage->data()) + t.offset * int64_t(element_size(t.dtype));
}

bool Tensor::is_pinned() const { return storage()->is_pinned(); }

namespace {

// A contiguous tensor of `shape` in fresh pinned host memory, contents undefined.
Tensor empty_pinned(const Shape& shape, DType dtype) {
  Storage storage = make_storage(size_t(numel_of(shape)) * element_size(dtype), Device::cpu(), /*pinned=*/true);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, dtype));
}

}  // namespace

Tensor Tensor::pin_memory() const {
  KILN_CHECK(device().is_cpu(), "pin_memory: expected a CPU tensor, got ", meta_str());
  if (is_pinned()) return *this;
  Tensor out = empty_pinned(shape(), dtype());
  // copy_ keeps the gradient flowing back to this tensor when it requires grad.
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device target, bool non_blocking) const {
  const bool graph = requires_grad() && GradMode::is_enabled();
  if (!non_blocking || target == device() || graph) return to(target);
  if (device().is_cpu() && target.is_cuda() && is_pinned() && is_contiguous()) {
    // Host -> device from pinned memory: queued on the stream, the block recorded.
    DeviceBackend& backend = backend_for(target, "to");
    Tensor out = empty(shape(), TensorOptions(dtype()).with_device(target));
    backend.copy_from_host_async(out.raw_data(), raw_data(), size_t(numel()) * element_size(dtype()), target.index,
                                 storage()->data());
    return out;
  }
  if (device().is_cuda() && target.is_cpu()) {
    // Device -> host into new pinned memory; the host reads it after a synchronize.
    DeviceBackend& backend = backend_for(device(), "to");
    Tensor src = contiguous();  // a device kernel queued before the copy, when needed
    Tensor out = empty_pinned(shape(), dtype());
    backend.copy_to_host_async(out.raw_data(), src.raw_data(), size_t(numel()) * element_size(dtype()),
                               device().index, out.storage()->data());
    return out;
  }
  return to(target);
}

std::string Tensor::meta_str() const {
  if (!defined()) return "undefined tensor";
  std::ostringstream os;
  os << dtype_name(dtype()) << shape() << " on " << device();
  return os.str();
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = contiguous();
  if (!c.device().is_cpu()) c = c.to(Device::cpu());
  std::vector<T> out(size_t(c.numel()));
  dispatch_all(c.dtype(), [&]<typename S>() {
    const S* p = static_cast<const S*>(c.raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}

template <typename T>
T Tensor::item() const {
  KILN_CHECK(numel() == 1, "item: expected a tensor with one element, got ", meta_str());
  return to_vector<T>()[0];
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int> Tensor::to_vector<int>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template int Tensor::item<int>() const;
template bool Tensor::item<bool>() const;
template uint8_t Tensor::item<uint8_t>() const;

template <>
std::vector<bool> Tensor::to_vector<bool>() const {
  std::vector<uint8_t> bytes = to_vector<uint8_t>();
  return std::vector<bool>(bytes.begin(), bytes.end());
}

// ---- printing, in the manner of PyTorch's repr ----
namespace {

// How to format every element of one tensor: integers as integers; floats fixed with
// 4 decimals, or scientific when the magnitudes span too much; "1." style when every
// value is a whole number.
struct Format {
  bool integral = false;
  bool whole = false;
  bool sci = false;
  int width = 1;
};

std::string format_value(double v, const Format& f) {
  char buf[64];
  if (f.integral) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else if (std::isnan(v)) {
    std::snprintf(buf, sizeof buf, "nan");
  } else if (std::isinf(v)) {
    std::snprintf(buf, sizeof buf, v > 0 ? "inf" : "-inf");
  } else if (f.sci) {
    std::snprintf(buf, sizeof buf, "%.4e", v);
  } else if (f.whole) {
    std::snprintf(buf, sizeof buf, "%.0f.", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4f", v);
  }
  return buf;
}

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

// Prints the (already summarized) values v of `shape`; in dims marked `cut`, "..."
// stands between the first and last kEdgeItems entries.
void print_dims(std::ostream& os, const std::vector<double>& v, const Shape& shape, const std::vector<bool>& cut,
                size_t d, int64_t base, const Format& f, int indent) {
  if (shape.empty()) {
    os << format_value(v[0], f);
    return;
  }
  int64_t n = shape[d];
  int64_t inner = 1;
  for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
  bool last_dim = d + 1 == shape.size();
  // Between rows: a comma, one newline per remaining dim, and the indent.
  // (Built with append: GCC 12 warns falsely (-Wrestrict) on this as string operator+.)
  std::string row_sep = ",";
  if (last_dim) {
    row_sep.append(" ");
  } else {
    row_sep.append(shape.size() - d - 1, '\n');
    row_sep.append(size_t(indent + 1), ' ');
  }
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (cut[d] && i == kEdgeItems) os << "..." << row_sep;
    if (last_dim) {
      std::string s = format_value(v[size_t(base + i)], f);
      os << std::string(size_t(std::max(0, f.width - int(s.size()))), ' ') << s;
    } else {
      print_dims(os, v, shape, cut, d + 1, base + i * inner, f, indent + 1);
    }
    if (i + 1 < n) os << row_sep;
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  // A large tensor prints only its first and last kEdgeItems entries along each long
  // dim: cut those dims down before copying anything to the host.
  Tensor shown = t;
  std::vector<bool> cut(size_t(t.dim()), false);
  std::vector<double> v;
  {
    NoGradGuard no_grad;
    if (t.numel() > kSummarizeAbove) {
      for (int64_t d = 0; d < t.dim(); ++d) {
        int64_t n = t.shape()[size_t(d)];
        if (n <= 2 * kEdgeItems) continue;
        cut[size_t(d)] = true;
        shown = cat({shown.narrow(d, 0, kEdgeItems), shown.narrow(d, n - kEdgeItems, kEdgeItems)}, d);
      }
    }
    v = shown.to_vector<double>();
  }
  Format f;
  f.integral = is_integral(t.dtype());
  if (!f.integral) {
    double max_abs = 0, min_abs = INFINITY;
    f.whole = true;
    for (double x : v) {
      if (!std::isfinite(x)) continue;
      max_abs = std::max(max_abs, std::fabs(x));
      if (x != 0) min_abs = std::min(min_abs, std::fabs(x));
      f.whole = f.whole && x == std::floor(x);
    }
    f.sci = max_abs >= 1e8 || (min_abs < 1e-4 && !f.whole) || (min_abs != INFINITY && max_abs / min_abs > 1e3 && !f.whole);
    if (f.whole && max_abs >= 1e8) f.whole = false;
  }
  for (double x : v) f.width = std::max(f.width, int(format_value(x, f).size()));
  os << "tensor(";
  print_dims(os, v, shown.shape(), cut, 0, 0, f, 7);
  if (t.numel() == 0) os << ", size=" << t.shape();
  if (t.dtype() != DType::Float32 && t.dtype() != DType::Int64) os << ", dtype=kiln." << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device='" << t.device() << "'";
  if (t.grad_fn()) {
    os << ", grad_fn=<" << t.grad_fn()->name() << ">";
  } else if (t.requires_grad()) {
    os << ", requires_grad=True";
  }
  return os << ')';
}

}  // namespace kiln
