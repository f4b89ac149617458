// Transformer encoder/decoder layers and stacks (nn/transformer.h), as torch.nn 1.13's
// transformer.py: the same submodules, registered in the same order, the same forward.
#include "nn/transformer.h"

#include "ops/binary.h"
#include "ops/unary.h"

namespace kiln::nn {

namespace {

TransformerLayerOptions make_options(const char* type, int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                     double dropout, const std::string& activation, double layer_norm_eps,
                                     bool batch_first, bool norm_first) {
  KILN_CHECK(activation == "relu" || activation == "gelu", type, ": activation should be relu/gelu, not ",
             activation);
  KILN_CHECK(d_model > 0 && nhead > 0 && d_model % nhead == 0, type, ": d_model ", d_model,
             " must be positive and divisible by nhead ", nhead);
  KILN_CHECK(dim_feedforward > 0, type, ": dim_feedforward must be positive, got ", dim_feedforward);
  TransformerLayerOptions o;
  o.d_model = d_model;
  o.nhead = nhead;
  o.dim_feedforward = dim_feedforward;
  o.dropout = dropout;
  o.activation = activation;
  o.layer_norm_eps = layer_norm_eps;
  o.batch_first = batch_first;
  o.norm_first = norm_first;
  return o;
}

Tensor activate(const std::string& activation, const Tensor& x) { return activation == "gelu" ? gelu(x) : relu(x); }

// The feed-forward block: out_dropout(linear2(dropout(act(linear1(x))))).
Tensor feed_forward(const std::string& activation, Linear& linear1, Dropout& dropout, Linear& linear2,
                    Dropout& out_dropout, const Tensor& x) {
  Tensor h = dropout.forward(activate(activation, linear1.forward(x)));
  return out_dropout.forward(linear2.forward(h));
}

// The options and tensor options (dtype, device where its weights live now) of a prototype layer.
TensorOptions options_of_layer(const Module& layer) {
  std::vector<Tensor> params = layer.parameters();
  KILN_CHECK(!params.empty(), layer.type_name(), ": cannot copy a layer without parameters");
  return options_of(params.front());
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                                 double dropout_p, const std::string& activation,
                                                 double layer_norm_eps, bool batch_first, bool norm_first,
                                                 TensorOptions opts)
    : Module("TransformerEncoderLayer"),
      options(make_options("TransformerEncoderLayer", d_model, nhead, dim_feedforward, dropout_p, activation,
                           layer_norm_eps, batch_first, norm_first)) {
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                            d_model, nhead, dropout_p, true, false, false, 0, 0, batch_first, opts));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward, true, opts));
  dropout = register_module("dropout", std::make_shared<Dropout>(dropout_p));
  linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model, true, opts));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{d_model}, layer_norm_eps, true, opts));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{d_model}, layer_norm_eps, true, opts));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(dropout_p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(dropout_p));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask) {
  // SA(x) = dropout1(self_attn(x, x, x)) without the weights.
  auto self_attention = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, src_key_padding_mask, false, src_mask).output);
  };
  auto ff = [&](const Tensor& x) {
    return feed_forward(options.activation, *linear1, *dropout, *linear2, *dropout2, x);
  };
  Tensor x = src;
  if (options.norm_first) {
    x = x + self_attention(norm1->forward(x));
    x = x + ff(norm2->forward(x));
  } else {
    x = norm1->forward(x + self_attention(x));
    x = norm2->forward(x + ff(x));
  }
  return x;
}

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                                 double dropout_p, const std::string& activation,
                                                 double layer_norm_eps, bool batch_first, bool norm_first,
                                                 TensorOptions opts)
    : Module("TransformerDecoderLayer"),
      options(make_options("TransformerDecoderLayer", d_model, nhead, dim_feedforward, dropout_p, activation,
                           layer_norm_eps, batch_first, norm_first)) {
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                            d_model, nhead, dropout_p, true, false, false, 0, 0, batch_first, opts));
  multihead_attn = register_module("multihead_attn", std::make_shared<MultiheadAttention>(
                                                          d_model, nhead, dropout_p, true, false, false, 0, 0,
                                                          batch_first, opts));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward, true, opts));
  dropout = register_module("dropout", std::make_shared<Dropout>(dropout_p));
  linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model, true, opts));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{d_model}, layer_norm_eps, true, opts));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{d_model}, layer_norm_eps, true, opts));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(Shape{d_model}, layer_norm_eps, true, opts));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(dropout_p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(dropout_p));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(dropout_p));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask) {
  auto self_attention = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, tgt_key_padding_mask, false, tgt_mask).output);
  };
  auto cross_attention = [&](const Tensor& x) {
    return dropout2->forward(
        multihead_attn->forward(x, memory, memory, memory_key_padding_mask, false, memory_mask).output);
  };
  auto ff = [&](const Tensor& x) {
    return feed_forward(options.activation, *linear1, *dropout, *linear2, *dropout3, x);
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = x + self_attention(norm1->forward(x));
    x = x + cross_attention(norm2->forward(x));
    x = x + ff(norm3->forward(x));
  } else {
    x = norm1->forward(x + self_attention(x));
    x = norm2->forward(x + cross_attention(x));
    x = norm3->forward(x + ff(x));
  }
  return x;
}

namespace {

// A fresh layer with the prototype's options and a copy of its weights and mode.
template <typename Layer>
std::shared_ptr<Layer> copy_layer(const Layer& prototype) {
  const TransformerLayerOptions& o = prototype.options;
  auto layer = std::make_shared<Layer>(o.d_model, o.nhead, o.dim_feedforward, o.dropout, o.activation,
                                       o.layer_norm_eps, o.batch_first, o.norm_first, options_of_layer(prototype));
  layer->load_state_dict(prototype.state_dict());
  layer->train(prototype.is_training());
  return layer;
}

template <typename Layer>
std::shared_ptr<ModuleList> make_layers(const char* type, const std::function<std::shared_ptr<Layer>()>& make_layer,
                                        int64_t num_layers) {
  KILN_CHECK(num_layers >= 0, type, ": num_layers must be non-negative, got ", num_layers);
  auto list = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < num_layers; ++i) {
    std::shared_ptr<Layer> layer = make_layer();
    KILN_CHECK(layer != nullptr, type, ": the layer factory returned null for layer ", i);
    list->push_back(layer);
  }
  return list;
}

// A stack's layer as its concrete type (the list is public, so check what was put in it).
template <typename Layer>
Layer& layer_as(const std::shared_ptr<Module>& m, const char* expected) {
  auto* layer = dynamic_cast<Layer*>(m.get());
  KILN_CHECK(layer != nullptr, "Transformer stack: expected a ", expected, " in layers, got a ", m->type_name());
  return *layer;
}

}  // namespace

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> nrm)
    : TransformerEncoder([&layer] { return copy_layer(layer); }, n, std::move(nrm)) {}

TransformerEncoder::TransformerEncoder(const std::function<std::shared_ptr<TransformerEncoderLayer>()>& make_layer,
                                       int64_t n, std::shared_ptr<LayerNorm> nrm)
    : Module("TransformerEncoder"), num_layers(n) {
  layers = register_module("layers", make_layers("TransformerEncoder", make_layer, n));
  if (nrm) norm = register_module("norm", std::move(nrm));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
  Tensor x = src;
  for (const auto& layer : *layers)
    x = layer_as<TransformerEncoderLayer>(layer, "TransformerEncoderLayer").forward(x, mask, src_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> nrm)
    : TransformerDecoder([&layer] { return copy_layer(layer); }, n, std::move(nrm)) {}

TransformerDecoder::TransformerDecoder(const std::function<std::shared_ptr<TransformerDecoderLayer>()>& make_layer,
                                       int64_t n, std::shared_ptr<LayerNorm> nrm)
    : Module("TransformerDecoder"), num_layers(n) {
  layers = register_module("layers", make_layers("TransformerDecoder", make_layer, n));
  if (nrm) norm = register_module("norm", std::move(nrm));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask) {
  Tensor x = tgt;
  for (const auto& layer : *layers)
    x = layer_as<TransformerDecoderLayer>(layer, "TransformerDecoderLayer")
            .forward(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

}  // namespace kiln::nn
