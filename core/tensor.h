// Tensor: the user-facing handle, a shared pointer to a TensorImpl (storage, sizes,
// strides, offset, dtype, autograd metadata). Copying a Tensor copies the handle, not
// the data. Read docs/tensor.md first; ops live in ops/, autograd in autograd/.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace kiln {

class Node;
class TensorImpl;
class Tensor;
using TensorList = std::vector<Tensor>;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: no storage, defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata (core/tensor.cpp) ----
  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  const Shape& shape() const;
  const Shape& sizes() const { return shape(); }
  const IntList& strides() const;
  int64_t size(int64_t dim) const;    // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t offset() const;             // in elements, into the storage
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  const Storage& storage() const;
  bool same_storage(const Tensor& other) const;
  void* raw_data() const;             // address of element 0 (on the tensor's device)
  template <typename T> T* data_ptr() const;  // checks dtype; address of element 0
  // Copies to the CPU if needed and converts: item() of a one-element tensor,
  // to_vector() of all elements in row-major order.
  template <typename T> T item() const;
  double item() const { return item<double>(); }
  template <typename T> std::vector<T> to_vector() const;
  std::string str() const;            // the printed form, as operator<< gives
  std::string meta_str() const;       // "float32[2, 3] on cpu", for error messages
  uint64_t version() const;           // see Note [Version counter]
  void bump_version() const;

  // ---- autograd (autograd/tensor_autograd.cpp) ----
  bool requires_grad() const;         // a leaf that asked for grad, or a graph output
  Tensor& requires_grad_(bool requires_grad = true);
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  int output_nr() const;
  Tensor grad() const;                // undefined until a backward reaches this leaf
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;             // drops .grad (PyTorch's set_to_none=True)
  Tensor& retain_grad();              // keep .grad on a non-leaf during backward
  bool retains_grad() const;
  // Reverse-mode: accumulates d(this)/d(leaf) into each leaf's .grad. A non-scalar
  // needs `gradient` (the vector of the vector-Jacobian product).
  void backward(const Tensor& gradient = {}, bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;              // shares storage, cut from the graph
  Tensor& detach_();

  // ---- views and copies (ops/view.cpp); views share storage ----
  Tensor view(const Shape& shape) const;      // one dim may be -1; needs compatible strides
  Tensor reshape(const Shape& shape) const;   // a view when possible, else a copy
  Tensor permute(const IntList& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;                           // transpose of a 1-D or 2-D tensor
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;    // -1 keeps a size; new dims go in front
  Tensor expand_as(const Tensor& other) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;                  // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;               // itself when already that dtype
  Tensor to(Device device) const;
  // non_blocking: an asynchronous copy where one side is pinned host memory; read Note
  // [Pinned memory and non_blocking copies] (core/storage.h) before using it.
  Tensor to(Device device, bool non_blocking) const;
  // A copy of this CPU tensor in page-locked host memory (itself when already pinned);
  // an error for a non-CPU tensor and in builds or on machines without CUDA.
  Tensor pin_memory() const;
  bool is_pinned() const;                     // its storage is page-locked host memory
  Tensor& copy_(const Tensor& src);           // broadcasts src, converts dtype/device

  // ---- elementwise (ops/unary.cpp, ops/binary.cpp) ----
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double exponent) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& sub_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(const Tensor& other);
  Tensor& div_(const Tensor& other);
  Tensor& add_(double other);
  Tensor& mul_(double other);
  Tensor& fill_(double value);
  Tensor& zero_();
  // In-place unary functions (ops/unary.cpp); see Note [In-place ops and autograd].
  Tensor& neg_();
  Tensor& exp_();
  Tensor& log_();
  Tensor& sqrt_();
  Tensor& abs_();
  Tensor& relu_();
  Tensor& sigmoid_();
  Tensor& tanh_();
  Tensor& pow_(double exponent);
  Tensor& clamp_(double min, double max);

  // ---- reductions (ops/reduce.cpp); dims empty = all dims ----
  Tensor sum(const IntList& dims = {}, bool keepdim = false) const;
  Tensor mean(const IntList& dims = {}, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;

  // ---- linear algebra (ops/linalg.cpp) ----
  Tensor matmul(const Tensor& other) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Note [TensorImpl]
// sizes/strides/offset are in elements; element i_0..i_{n-1} lives at
// storage.data + (offset + sum_k i_k * strides[k]) * element_size(dtype).
// Autograd fields: a leaf has grad_fn == nullptr; requires_grad is stored for leaves
// and implied by grad_fn for graph outputs. grad_accumulator is the leaf's unique
// AccumulateGrad node, held weakly so that the graph owns it.
class TensorImpl {
 public:
  TensorImpl(Storage storage, Shape sizes, IntList strides, int64_t offset, DType dtype);

  Storage storage;
  Shape sizes;
  IntList strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;

  // autograd metadata
  bool requires_grad = false;     // meaningful for leaves only
  bool retains_grad = false;
  bool is_view = false;           // made by a view op from another tensor
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // the node that produced this tensor
  int output_nr = 0;              // which output of grad_fn this is
  std::weak_ptr<Node> grad_accumulator;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- template definitions ----

template <typename T>
T* Tensor::data_ptr() const {
  KILN_CHECK(dtype() == dtype_of<T>::value, "data_ptr: tensor has dtype ", dtype_name(dtype()),
             ", asked for ", dtype_name(dtype_of<T>::value));
  return static_cast<T*>(raw_data());
}

}  // namespace kiln
