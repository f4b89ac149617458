// The autograd half of Tensor's interface: requires_grad, grad, detach, retain_grad.
// backward() itself is in engine.cpp.
#include "autograd/node.h"
#include "core/tensor.h"

namespace kiln {

namespace {
TensorImpl& impl_of(const Tensor& t, const char* op) {
  KILN_CHECK(t.defined(), op, ": this tensor is undefined (default-constructed or an absent gradient)");
  return *t.impl();
}
}  // namespace

bool Tensor::requires_grad() const {
  const TensorImpl& t = impl_of(*this, "requires_grad");
  return t.grad_fn != nullptr || t.requires_grad;
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  KILN_CHECK(is_leaf(), "requires_grad_: only leaf tensors can be set; this one was made by ",
             impl()->grad_fn ? impl()->grad_fn->name() : std::string("?"),
             " (use detach() to get a leaf)");
  KILN_CHECK(!requires_grad || is_floating_point(), "requires_grad_: only floating tensors can require grad, got ",
             meta_str());
  impl()->requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return impl_of(*this, "is_leaf").grad_fn == nullptr; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_of(*this, "grad_fn").grad_fn; }
int Tensor::output_nr() const { return impl_of(*this, "output_nr").output_nr; }
Tensor Tensor::grad() const { return impl_of(*this, "grad").grad; }

void Tensor::set_grad(const Tensor& grad) const {
  KILN_CHECK(!grad.defined() || grad.shape() == shape(), "set_grad: gradient has shape ", grad.shape(),
             " but the tensor has shape ", shape());
  impl_of(*this, "set_grad").grad = grad;
}

void Tensor::zero_grad() const { impl_of(*this, "zero_grad").grad = Tensor(); }

Tensor& Tensor::retain_grad() {
  KILN_CHECK(requires_grad(), "retain_grad: the tensor does not require grad (", meta_str(), ")");
  if (is_leaf() || impl()->retains_grad) return *this;  // leaves keep .grad anyway
  impl()->retains_grad = true;
  impl()->grad_fn->add_retained_grad(impl()->output_nr, impl_ptr());
  return *this;
}

bool Tensor::retains_grad() const { return impl_of(*this, "retains_grad").retains_grad; }

Tensor Tensor::detach() const {
  const TensorImpl& t = impl_of(*this, "detach");
  auto d = std::make_shared<TensorImpl>(t.storage, t.sizes, t.strides, t.offset, t.dtype);
  return Tensor(std::move(d));
}

Tensor& Tensor::detach_() {
  impl_of(*this, "detach_");
  impl()->grad_fn = nullptr;
  impl()->output_nr = 0;
  impl()->requires_grad = false;
  return *this;
}

}  // namespace kiln
