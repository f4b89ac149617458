// The backward engine: walks the graph from the roots in dependency order, calling
// each node's backward and summing the gradients that meet at a node.
// See docs/autograd.md for a worked example.
#pragma once

#include "core/tensor.h"

namespace kiln {

// Accumulates d(sum_i <roots[i], grad_roots[i]>)/d(leaf) into every reachable leaf's
// .grad. grad_roots[i] may be undefined for a one-element root (it means 1).
void backward(const TensorList& roots, const TensorList& grad_roots = {}, bool retain_graph = false,
              bool create_graph = false);

// Returns d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs[j]) for each input, without
// touching any .grad. With create_graph the results are themselves differentiable
// (Hessian-vector products: grad(grad(f, x, {}, true, true)[0] * v ... )).
// An input the outputs do not depend on is an error unless allow_unused, in which
// case its gradient is undefined. retain_graph defaults to create_graph, as in PyTorch.
TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs = {},
                bool retain_graph = false, bool create_graph = false, bool allow_unused = false);

}  // namespace kiln
