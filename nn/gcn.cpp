// GCNConv (nn/gcn.h): the self-loop bookkeeping on the host (the edge list is read once
// to validate it), then gathers and scatter-adds on the device, so autograd comes from
// index_select, scatter_add and matmul. See Note [GCN normalisation].
#include "nn/gcn.h"

#include <vector>

#include "nn/init.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/unary.h"

namespace kiln::nn {

namespace functional {

Tensor gcn_conv(const Tensor& x, const Tensor& edge_index, const Tensor& weight, const Tensor& bias,
                const Tensor& edge_weight) {
  const char* op = "gcn_conv";
  KILN_CHECK(x.dim() == 2 && x.is_floating_point(), op, ": expected floating node features x (num_nodes, ",
             "in_channels), got ", x.meta_str());
  KILN_CHECK(edge_index.dtype() == kInt64 && edge_index.dim() == 2 && edge_index.size(0) == 2, op,
             ": expected int64 edge_index of shape (2, E), got ", edge_index.meta_str());
  KILN_CHECK(edge_index.device() == x.device(), op, ": edge_index ", edge_index.meta_str(),
             " is not on the device of x ", x.meta_str());
  KILN_CHECK(weight.dim() == 2 && weight.size(1) == x.size(1) && weight.dtype() == x.dtype(), op, ": weight ",
             weight.meta_str(), " does not match (out_channels, in_channels) for x ", x.meta_str());
  KILN_CHECK(!bias.defined() || bias.shape() == (Shape{weight.size(0)}), op, ": bias ", bias.meta_str(),
             " does not match out_channels = ", weight.size(0));
  int64_t N = x.size(0), E = edge_index.size(1), C = weight.size(0);
  KILN_CHECK(!edge_weight.defined() ||
                 (edge_weight.shape() == (Shape{E}) && edge_weight.dtype() == x.dtype()),
             op, ": expected edge_weight of shape [", E, "] and dtype ", dtype_name(x.dtype()), ", got ",
             edge_weight.meta_str());

  // ---- edges on the host: validate, drop self-loops, then one loop per node ----
  std::vector<int64_t> ei = edge_index.to_vector<int64_t>();  // row-major: sources, then targets
  std::vector<int64_t> row, col, kept;                        // kept: positions of the non-loop edges
  std::vector<int64_t> loop_edge(size_t(N), -1);              // an existing loop's position, per node
  for (int64_t e = 0; e < E; ++e) {
    int64_t src = ei[size_t(e)], dst = ei[size_t(E + e)];
    KILN_CHECK(src >= 0 && src < N && dst >= 0 && dst < N, op, ": edge ", e, " (", src, " -> ", dst,
               ") has a node index out of range for ", N, " nodes");
    if (src == dst) {
      loop_edge[size_t(src)] = e;
    } else {
      row.push_back(src);
      col.push_back(dst);
      kept.push_back(e);
    }
  }
  for (int64_t n = 0; n < N; ++n) {
    row.push_back(n);
    col.push_back(n);
  }
  Device device = x.device();
  Tensor row_t = tensor<int64_t>(row).to(device), col_t = tensor<int64_t>(col).to(device);
  int64_t M = int64_t(row.size());  // edges with the loops

  // w: (M) edge weights, the loops last.
  Tensor w;
  if (!edge_weight.defined()) {
    w = ones({M}, options_of(x));
  } else {
    std::vector<int64_t> loop_src(size_t(N), 0);
    std::vector<bool> has_loop(size_t(N), false);
    for (int64_t n = 0; n < N; ++n)
      if (loop_edge[size_t(n)] >= 0) {
        loop_src[size_t(n)] = loop_edge[size_t(n)];
        has_loop[size_t(n)] = true;
      }
    Tensor loop_w = ones({N}, options_of(x));
    if (E > 0) {
      Tensor existing = index_select(edge_weight, 0, tensor<int64_t>(loop_src).to(device));
      loop_w = where(tensor<bool>(has_loop).to(device), existing, 1.0);
    }
    w = cat({index_select(edge_weight, 0, tensor<int64_t>(kept).to(device)), loop_w});
  }

  // deg_i = sum of w over edges into i; norm_e = deg_src^-1/2 w_e deg_dst^-1/2
  Tensor deg = scatter_add(zeros({N}, options_of(x)), 0, col_t, w);
  Tensor deg_inv_sqrt = masked_fill(pow(deg, -0.5), eq(deg, 0.0), 0.0);
  Tensor norm = index_select(deg_inv_sqrt, 0, row_t) * w * index_select(deg_inv_sqrt, 0, col_t);

  // h = x W^T: (N, C); messages (M, C) from the sources, summed at the targets.
  Tensor h = matmul(x, weight.t());
  Tensor messages = index_select(h, 0, row_t) * norm.unsqueeze(1);
  Tensor target = col_t.unsqueeze(1).expand({M, C}).contiguous();
  Tensor out = scatter_add(zeros({N, C}, options_of(x)), 0, target, messages);
  return bias.defined() ? out + bias : out;
}

}  // namespace functional

GCNConv::GCNConv(int64_t in, int64_t out, bool with_bias, TensorOptions opts)
    : Module("GCNConv"), in_channels(in), out_channels(out) {
  KILN_CHECK(in > 0 && out > 0, "GCNConv: in_channels and out_channels must be positive, got ", in, " and ", out);
  opts.requires_grad = false;
  // PyG registers the bias on the layer before its `lin` submodule is walked.
  bias = register_parameter("bias", with_bias ? zeros({out}, opts) : Tensor());
  lin = register_module("lin", std::make_shared<Linear>(in, out, false, opts));
  init::xavier_uniform_(lin->weight);
}

Tensor GCNConv::forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_weight) {
  return functional::gcn_conv(x, edge_index, lin->weight, bias, edge_weight);
}

std::string GCNConv::extra_repr() const {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels);
}

}  // namespace kiln::nn
