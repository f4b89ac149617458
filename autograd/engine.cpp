// The backward engine. Note [Backward order]: a node runs only when every node that
// sends it a gradient has run (dependency counting from the roots), so each node sees
// the full sum of its output gradients exactly once. Among ready nodes, the most
// recently created runs first.
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln {

namespace {

struct ByRecency {
  bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const {
    return a->sequence_nr() < b->sequence_nr();
  }
};

// Counts, for every node reachable from the roots, how many edges point at it.
std::unordered_map<Node*, int> count_dependencies(const std::vector<Edge>& roots) {
  std::unordered_map<Node*, int> deps;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack;
  for (const Edge& e : roots)
    if (e.valid() && seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.valid()) continue;
      ++deps[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }
  return deps;
}

void accumulate(Tensor& slot, const Tensor& g) { slot = slot.defined() ? add(slot, g) : g; }

bool has_non_finite(const Tensor& g) {
  NoGradGuard no_grad;
  Tensor finite = isfinite(g);
  return !all(finite).item<bool>();
}

// Runs the graph behind `roots`. With `captures`, gradients arriving at those edges
// are returned instead of being accumulated into leaves (autograd::grad).
TensorList execute(const std::vector<Edge>& roots, const TensorList& root_grads, bool retain_graph,
                   bool create_graph, const std::vector<Edge>* captures) {
  EnableGradGuard grad_mode(create_graph);
  auto deps = count_dependencies(roots);
  std::unordered_map<Node*, TensorList> buffers;
  auto buffer_of = [&](Node* n) -> TensorList& {
    TensorList& b = buffers[n];
    if (b.empty()) b.resize(n->outputs().size());
    return b;
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, ByRecency> ready;
  std::unordered_set<Node*> queued;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (!roots[i].valid()) continue;
    accumulate(buffer_of(roots[i].node.get())[size_t(roots[i].input_nr)], root_grads[i]);
    if (deps[roots[i].node.get()] == 0 && queued.insert(roots[i].node.get()).second) ready.push(roots[i].node);
  }

  TensorList captured(captures ? captures->size() : 0);
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    TensorList grads = std::move(buffer_of(node.get()));
    buffers.erase(node.get());

    if (captures) {
      for (size_t i = 0; i < captures->size(); ++i) {
        const Edge& c = (*captures)[i];
        if (c.node == node && grads[size_t(c.input_nr)].defined()) accumulate(captured[i], grads[size_t(c.input_nr)]);
      }
    }
    for (const Node::RetainedGrad& r : node->retained_grads()) {
      auto impl = r.tensor.lock();
      if (impl && grads[size_t(r.output_nr)].defined() && !captures) accumulate_into_grad(*impl, grads[size_t(r.output_nr)]);
    }
    bool is_sink = dynamic_cast<AccumulateGrad*>(node.get()) != nullptr;
    TensorList outs;
    if (!(is_sink && captures)) outs = node->call_backward(std::move(grads));
    if (!retain_graph) node->release_saved();

    if (AnomalyMode::is_enabled()) {
      for (size_t i = 0; i < outs.size(); ++i)
        KILN_CHECK(!outs[i].defined() || !outs[i].is_floating_point() || !has_non_finite(outs[i]),
                   "anomaly: ", node->name(), " backward produced NaN or Inf in its gradient for input ", i,
                   " (", outs[i].meta_str(), ")");
    }

    const auto& edges = node->next_edges();
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.valid()) continue;
      if (i < outs.size() && outs[i].defined()) accumulate(buffer_of(e.node.get())[size_t(e.input_nr)], outs[i]);
      if (--deps[e.node.get()] == 0 && queued.insert(e.node.get()).second) ready.push(e.node);
    }
  }
  return captured;
}

Tensor default_root_grad(const Tensor& root, const char* op) {
  KILN_CHECK(root.numel() == 1, op, ": grad can be implicitly created only for one-element outputs, got ",
             root.meta_str(), "; pass a gradient of the same shape");
  return ones_like(root);
}

TensorList root_grads_for(const TensorList& roots, const TensorList& grad_roots, const char* op) {
  KILN_CHECK(grad_roots.empty() || grad_roots.size() == roots.size(), op, ": got ", roots.size(),
             " outputs but ", grad_roots.size(), " gradients");
  TensorList out(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    KILN_CHECK(r.defined() && r.requires_grad(), op, ": output ", i,
               " does not require grad and has no grad_fn (", (r.defined() ? r.meta_str() : "undefined"),
               ")");
    out[i] = i < grad_roots.size() && grad_roots[i].defined() ? grad_roots[i] : default_root_grad(r, op);
    KILN_CHECK(out[i].shape() == r.shape(), op, ": gradient has shape ", out[i].shape(),
               " but the output has shape ", r.shape());
  }
  return out;
}

std::vector<Edge> edges_of(const TensorList& roots) {
  std::vector<Edge> edges;
  for (const Tensor& r : roots) edges.push_back(gradient_edge(r));
  return edges;
}

}  // namespace

void backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph, bool create_graph) {
  TensorList gs = root_grads_for(roots, grad_roots, "backward");
  execute(edges_of(roots), gs, retain_graph || create_graph, create_graph, nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                bool retain_graph, bool create_graph, bool allow_unused) {
  TensorList gs = root_grads_for(outputs, grad_outputs, "grad");
  std::vector<Edge> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    KILN_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i,
               " does not require grad (", (inputs[i].defined() ? inputs[i].meta_str() : "undefined"), ")");
    captures.push_back(gradient_edge(inputs[i]));
  }
  TensorList result = execute(edges_of(outputs), gs, retain_graph || create_graph, create_graph, &captures);
  for (size_t i = 0; i < result.size(); ++i)
    KILN_CHECK(allow_unused || result[i].defined(), "grad: input ", i, " (", inputs[i].meta_str(),
               ") was not used to compute the outputs; pass allow_unused=true to get an undefined gradient");
  return result;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  kiln::backward({*this}, {gradient}, retain_graph, create_graph);
}

}  // namespace kiln
