// Node bookkeeping, AccumulateGrad, and the saved-tensor/history helpers of function.h.
#include "autograd/node.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/binary.h"

namespace kiln {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
}

Node::Node() : sequence_nr_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

int Node::add_output(const Tensor& t) {
  outputs_.push_back({t.shape(), t.dtype(), t.device()});
  return int(outputs_.size()) - 1;
}

void Node::add_retained_grad(int output_nr, const std::shared_ptr<TensorImpl>& impl) {
  retained_.push_back({output_nr, impl});
}

AccumulateGrad::AccumulateGrad(const Tensor& leaf) : leaf_(leaf.impl_ptr()) { add_output(leaf); }

TensorList AccumulateGrad::call_backward(TensorList&& grads) {
  std::shared_ptr<TensorImpl> impl = leaf_.lock();
  if (!impl || !grads[0].defined()) return {};
  accumulate_into_grad(*impl, grads[0]);
  return {};
}

void accumulate_into_grad(TensorImpl& impl, const Tensor& incoming) {
  // With create_graph the grad keeps its graph (so a gradient penalty can be
  // differentiated); otherwise it is a plain tensor, updated in place when it exists.
  if (GradMode::is_enabled()) {
    impl.grad = impl.grad.defined() ? add(impl.grad, incoming) : incoming;
  } else if (!impl.grad.defined()) {
    // A gradient nothing else refers to (the usual case: a fresh result of the backward
    // pass) becomes .grad as it is; anything shared is copied, so that a later in-place
    // accumulation cannot write into someone else's tensor.
    const bool sole_owner = incoming.impl_ptr().use_count() == 1 && incoming.storage().use_count() == 1 &&
                            incoming.is_contiguous() && !incoming.requires_grad();
    impl.grad = sole_owner ? incoming.detach() : incoming.detach().clone();
  } else {
    impl.grad.add_(incoming);
  }
}

Edge gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output, int output_nr)
    : data_(t.defined() && is_output ? t.detach() : t),
      version_(t.defined() ? t.version() : 0),
      is_output_(is_output),
      output_nr_(output_nr) {}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner, const char* op) const {
  KILN_CHECK(!released_, op, ": trying to backward through the graph a second time (its saved tensors ",
             "were freed after the first backward); pass retain_graph=true to the first backward");
  if (!data_.defined()) return data_;
  KILN_CHECK(data_.version() == version_, op, ": a tensor saved for backward (", data_.meta_str(),
             ") was modified by an in-place operation: saved at version ", version_, ", now at version ",
             data_.version());
  if (is_output_ && GradMode::is_enabled()) {
    // create_graph: the output must lead back to this node for double backward.
    const TensorImpl& d = *data_.impl();
    auto impl = std::make_shared<TensorImpl>(d.storage, d.sizes, d.strides, d.offset, d.dtype);
    impl->grad_fn = owner;
    impl->output_nr = output_nr_;
    return Tensor(std::move(impl));
  }
  return data_;
}

namespace detail {

std::string tensor_list_meta(const TensorList& list) {
  std::string s = "(";
  for (size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + list[i].meta_str();
  return s + ")";
}

TensorList materialize_grads(const Node& node, TensorList&& grads) {
  // An output that received no gradient gets zeros (integer outputs stay undefined).
  for (size_t i = 0; i < grads.size() && i < node.outputs().size(); ++i) {
    const OutputMeta& m = node.outputs()[i];
    if (!grads[i].defined() && is_floating(m.dtype))
      grads[i] = zeros(m.shape, TensorOptions(m.dtype).with_device(m.device));
  }
  return std::move(grads);
}

void check_backward_result(const Node& node, const TensorList& grads) {
  const auto& edges = node.next_edges();
  KILN_CHECK(grads.size() == edges.size(), node.name(), " backward returned ", grads.size(),
             " gradients for ", edges.size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() || !edges[i].valid()) continue;
    const OutputMeta& m = edges[i].node->outputs()[size_t(edges[i].input_nr)];
    KILN_CHECK(grads[i].shape() == m.shape, node.name(), " backward returned a gradient of shape ",
               grads[i].shape(), " for input ", i, " of shape ", m.shape);
  }
}

void set_history(Tensor& out, const std::shared_ptr<Node>& node) {
  if (!out.defined() || !out.is_floating_point()) return;
  out.impl()->grad_fn = node;
  out.impl()->output_nr = node->add_output(out);
}

}  // namespace detail

}  // namespace kiln
