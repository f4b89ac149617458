// How an op is defined: a struct with forward and backward side by side, run through
// apply<Op>(args...). Read this file next to one op (ops/unary.cpp's Exp is a good
// first one) and docs/autograd.md.
#pragma once

#include <array>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace kiln {

// Note [Defining an op]
// An op is a struct deriving from Function<Op> with
//   static constexpr const char* kName = "mul";
//   Tensor forward(const Tensor& a, const Tensor& b, ...non-tensor args...);
//   TensorList backward(const Tensor& grad);          // one output, or
//   TensorList backward(const TensorList& grads);     // forward returned a TensorList
// forward computes the result with kernels (or other ops) and saves what backward
// needs: tensors through save()/save_output() (version-checked, see Note [Version
// counter]), everything else as plain members of the struct. backward returns one
// gradient per tensor input, in argument order (a TensorList argument counts as one
// input per element); an undefined Tensor means "no gradient for this input".
// backward is written with kiln ops, so with create_graph it is itself recorded, and
// higher-order gradients come for free.
//
// apply<Op>(args...) runs forward with grad recording off and, when grad mode is on
// and a tensor argument requires grad, keeps the struct as the graph node: its edges
// point at the inputs' gradient edges, and its outputs get it as grad_fn.

// A tensor saved for backward, with the storage version it had when saved.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output, int output_nr = 0);
  // Throws naming `op` when the graph was freed or the tensor was modified in place.
  Tensor unpack(const std::shared_ptr<Node>& owner, const char* op) const;
  void reset() { data_ = Tensor(); released_ = true; }
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;  // an output is kept detached (no reference cycle node -> output -> node)
  uint64_t version_ = 0;
  bool is_output_ = false;
  int output_nr_ = 0;
  bool released_ = false;
};

namespace detail {
std::string tensor_list_meta(const TensorList& list);
void check_backward_result(const Node& node, const TensorList& grads);
TensorList materialize_grads(const Node& node, TensorList&& grads);
}  // namespace detail

template <typename Op>
class Function : public Node {
 public:
  std::string name() const override { return Op::kName; }

  TensorList call_backward(TensorList&& grads) override {
    Op& self = static_cast<Op&>(*this);
    TensorList result;
    if constexpr (requires(Op& o, const Tensor& g) { o.backward(g); }) {
      result = self.backward(detail::materialize_grads(*this, std::move(grads))[0]);
    } else {
      result = self.backward(detail::materialize_grads(*this, std::move(grads)));
    }
    detail::check_backward_result(*this, result);
    return result;
  }

  void release_saved() override {
    for (SavedTensor& s : saved_) s.reset();
  }
  // Set by apply(): whether this node will be kept in a graph (saves are skipped if not).
  void set_recording(bool recording) { recording_ = recording; }

 protected:
  // Saves inputs for backward (no-op when no graph will be recorded).
  template <typename... Ts>
  void save(const Ts&... tensors) {
    if (recording_) (saved_.emplace_back(tensors, false), ...);
  }
  // Saves output `output_nr` of this op; call it after the output is computed.
  void save_output(const Tensor& out, int output_nr = 0) {
    if (recording_) saved_.emplace_back(out, true, output_nr);
  }
  // The saved tensors, in the order they were saved, version-checked.
  template <size_t N>
  std::array<Tensor, N> saved() const {
    KILN_CHECK(saved_.size() == N, Op::kName, ": backward asked for ", N, " saved tensors, ",
               saved_.size(), " were saved");
    std::array<Tensor, N> out;
    auto self = std::const_pointer_cast<Node>(shared_from_this());
    for (size_t i = 0; i < N; ++i) out[i] = saved_[i].unpack(self, Op::kName);
    return out;
  }
  Tensor saved(size_t i) const {
    auto self = std::const_pointer_cast<Node>(shared_from_this());
    return saved_.at(i).unpack(self, Op::kName);
  }

 private:
  bool recording_ = false;
  std::vector<SavedTensor> saved_;
};

namespace detail {

inline bool any_requires_grad() { return false; }
template <typename T, typename... Rest>
bool any_requires_grad(const T& first, const Rest&... rest) {
  bool here = false;
  if constexpr (std::is_same_v<std::decay_t<T>, Tensor>) {
    here = first.defined() && first.requires_grad();
  } else if constexpr (std::is_same_v<std::decay_t<T>, TensorList>) {
    for (const Tensor& t : first) here = here || (t.defined() && t.requires_grad());
  }
  return here || any_requires_grad(rest...);
}

template <typename T>
void collect_edges(Node& node, const T& arg) {
  if constexpr (std::is_same_v<std::decay_t<T>, Tensor>) {
    node.add_next_edge(arg.defined() ? gradient_edge(arg) : Edge{});
  } else if constexpr (std::is_same_v<std::decay_t<T>, TensorList>) {
    for (const Tensor& t : arg) node.add_next_edge(t.defined() ? gradient_edge(t) : Edge{});
  }
}

// Makes `out` an output of `node` (floating outputs only: integer outputs such as
// argmax indices carry no gradient).
void set_history(Tensor& out, const std::shared_ptr<Node>& node);

}  // namespace detail

template <typename Op, typename... Args>
auto apply(Args&&... args) {
  auto node = std::make_shared<Op>();
  bool record = GradMode::is_enabled() && detail::any_requires_grad(args...);
  node->set_recording(record);
  using Result = decltype(node->forward(std::forward<Args>(args)...));
  Result result;
  {
    NoGradGuard no_grad;
    result = node->forward(args...);
  }
  if (record) {
    (detail::collect_edges(*node, args), ...);
    if constexpr (std::is_same_v<Result, Tensor>) {
      detail::set_history(result, node);
    } else {
      for (Tensor& t : result) detail::set_history(t, node);
    }
  }
  return result;
}

// Note [In-place ops and autograd]
// An in-place op x.op_(y) writes into x's storage and bumps its version. When a graph
// is being recorded, it is computed as the out-of-place op on a copy of x's old value,
// written back into x, and x takes the new node as its grad_fn (its history is
// "rebased"), so gradients flow through the old x correctly. This is refused on a leaf
// that requires grad (its .grad would no longer mean anything) and on views that
// require grad (kiln does not rebase the base of a view).
// `out_of_place(x)` computes the result from x's current value; `kernel()` writes it
// into x directly when no graph is recorded.
template <typename OutOfPlace, typename Kernel>
Tensor& inplace_update(Tensor& self, const char* op, bool other_requires_grad, OutOfPlace out_of_place,
                       Kernel kernel) {
  bool record = GradMode::is_enabled() && (self.requires_grad() || other_requires_grad);
  if (!record) {
    kernel();
    self.bump_version();
    return self;
  }
  KILN_CHECK(!(self.is_leaf() && self.requires_grad()), op,
             ": a leaf tensor that requires grad cannot be modified in place (", self.meta_str(),
             "); modify it under NoGradGuard, or clone it first");
  KILN_CHECK(!self.impl()->is_view, op, ": in-place modification of a view is not supported while ",
             "recording gradients (", self.meta_str(), "); use the out-of-place op");
  Tensor result = out_of_place(self.clone());
  KILN_CHECK(result.shape() == self.shape(), op, ": the result has shape ", result.shape(),
             " but the tensor written in place has shape ", self.shape());
  {
    NoGradGuard no_grad;
    self.copy_(result);
  }
  self.impl()->grad_fn = result.grad_fn();
  self.impl()->output_nr = result.output_nr();
  return self;
}

}  // namespace kiln
