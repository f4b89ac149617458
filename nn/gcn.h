// Graph convolution (Kipf & Welling, "Semi-Supervised Classification with Graph
// Convolutional Networks"), as PyTorch Geometric's GCNConv: a functional form built from
// index ops (index_select, scatter_add), so it is differentiable, and the GCNConv layer.
#pragma once

#include <string>

#include "nn/layers.h"
#include "nn/module.h"

namespace kiln::nn {

namespace functional {

// Note [GCN normalisation]
// out = D^-1/2 (A + I) D^-1/2 X W^T + b, message passing from source to target:
//   edge_index (2, E) int64: row 0 = source j, row 1 = target i (edge j -> i);
//   self-loops as PyG's add_remaining_self_loops: every node gets exactly one loop
//   (an existing loop keeps its edge weight, a new one has weight 1);
//   deg_i = sum of the weights of the edges into i (loop included);
//   norm_e = deg_j^-1/2 w_e deg_i^-1/2 (0 where a degree is 0);
//   out_i = sum_{e: j -> i} norm_e (X W^T)_j + b.
// Duplicate edges count as many times as they appear (a multigraph), as in PyG.
// x: (num_nodes, in), weight: (out, in), bias: (out) or undefined, edge_weight: (E) floating
// or undefined (all ones) -> (num_nodes, out).
Tensor gcn_conv(const Tensor& x, const Tensor& edge_index, const Tensor& weight, const Tensor& bias = {},
                const Tensor& edge_weight = {});

}  // namespace functional

// GCNConv(in_channels, out_channels, bias): parameters as PyG 2.x ("lin.weight" (out, in),
// glorot / xavier_uniform; "bias" (out), zeros), so PyG state dicts load.
class GCNConv : public Module {
 public:
  GCNConv(int64_t in_channels, int64_t out_channels, bool bias = true, TensorOptions opts = {});
  // x: (num_nodes, in_channels), edge_index: int64 (2, E), edge_weight: (E) or undefined.
  Tensor forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_weight = {});
  std::string extra_repr() const override;

  Tensor bias;
  std::shared_ptr<Linear> lin;  // no bias: the bias is added after aggregation
  int64_t in_channels, out_channels;
};

}  // namespace kiln::nn
