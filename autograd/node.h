// Node: one recorded operation in the autograd graph. Edges point from a node to the
// nodes that produced its inputs, so the graph is walked from the loss towards the
// leaves. The backward engine (engine.cpp) runs nodes; ops define them (function.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln {

class Node;

// Where a gradient goes: input slot `input_nr` of `node` (for a node with several
// outputs, the slot is the output index). An edge with no node means "no gradient
// needed": the input did not require grad.
struct Edge {
  std::shared_ptr<Node> node;
  int input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// What a node's output looked like, so that backward can check the shape of the
// gradient it receives and make zeros for outputs that got no gradient.
struct OutputMeta {
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual std::string name() const = 0;
  // grads[i] is the gradient w.r.t. output i (may be undefined if no gradient flowed
  // there); returns one gradient per next edge (undefined where none is needed).
  virtual TensorList call_backward(TensorList&& grads) = 0;
  // Frees saved tensors after a backward without retain_graph.
  virtual void release_saved() {}

  const std::vector<Edge>& next_edges() const { return next_edges_; }
  void add_next_edge(Edge edge) { next_edges_.push_back(std::move(edge)); }
  bool needs_input_grad(size_t i) const { return i < next_edges_.size() && next_edges_[i].valid(); }
  const std::vector<OutputMeta>& outputs() const { return outputs_; }
  int add_output(const Tensor& t);
  // Later nodes have larger numbers; the engine uses them to break ties.
  uint64_t sequence_nr() const { return sequence_nr_; }
  // Non-leaf outputs whose .grad should be kept (Tensor::retain_grad).
  struct RetainedGrad {
    int output_nr;
    std::weak_ptr<TensorImpl> tensor;
  };
  void add_retained_grad(int output_nr, const std::shared_ptr<TensorImpl>& impl);
  const std::vector<RetainedGrad>& retained_grads() const { return retained_; }

 private:
  std::vector<Edge> next_edges_;
  std::vector<OutputMeta> outputs_;
  std::vector<RetainedGrad> retained_;
  uint64_t sequence_nr_;
};

// Adds `incoming` into impl.grad (see the comment in node.cpp on create_graph).
void accumulate_into_grad(TensorImpl& impl, const Tensor& incoming);

// The sink of a leaf: adds the incoming gradient into the leaf's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const Tensor& leaf);
  std::string name() const override { return "AccumulateGrad"; }
  TensorList call_backward(TensorList&& grads) override;
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<TensorImpl> leaf_;  // weak: the leaf owns its graph, not the other way round
};

// The edge through which a gradient reaches `t`: its grad_fn's output slot for a
// graph output, its AccumulateGrad for a leaf that requires grad, none otherwise.
Edge gradient_edge(const Tensor& t);

}  // namespace kiln
