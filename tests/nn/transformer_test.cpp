// Transformer layers against PyTorch: each case of tests/reference/data/transformer.txt
// (written by tests/reference/gen_transformer.py) is a torch layer's state_dict, inputs and
// masks, output, and the gradients of the inputs and every parameter; kiln loads the state
// dict by name, runs the same layer in eval mode and compares. Plus structure and errors.
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "kiln.h"
#include "nn/transformer.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

struct TransformerCase {
  std::string name;
  std::map<std::string, std::string> flags;
  std::map<std::string, Tensor> tensors;
  nn::NamedTensors params;  // file order: torch's state_dict order
  std::vector<std::string> param_names;
};

// "tensor <key> <dtype> <ndim> <dims...> <values...>"; values go through strtod for "inf".
std::pair<std::string, Tensor> parse_tensor(std::istringstream& line) {
  std::string key, dtype;
  int64_t ndim = 0;
  line >> key >> dtype >> ndim;
  Shape shape(static_cast<size_t>(ndim));
  for (auto& d : shape) line >> d;
  std::vector<float> values;
  std::string token;
  while (line >> token) values.push_back(std::strtof(token.c_str(), nullptr));
  KILN_CHECK(int64_t(values.size()) == numel_of(shape), "transformer.txt: ", key, " has ", values.size(),
             " values for shape ", shape);
  Tensor t = tensor<float>(values, shape);
  return {key, dtype == "bool" ? ne(t, 0.0) : t};
}

const std::vector<TransformerCase>& transformer_cases() {
  static const std::vector<TransformerCase> cases = [] {
    std::ifstream in(std::string(KILN_REFERENCE_DIR) + "/transformer.txt");
    KILN_CHECK(in.good(), "cannot open transformer.txt");
    std::vector<TransformerCase> out;
    std::string text;
    while (std::getline(in, text)) {
      std::istringstream line(text);
      std::string kind;
      line >> kind;
      if (kind == "case") {
        out.emplace_back();
        line >> out.back().name;
        std::string flag;
        while (line >> flag) {
          size_t eq = flag.find('=');
          out.back().flags[flag.substr(0, eq)] = flag.substr(eq + 1);
        }
      } else if (kind == "tensor") {
        auto [key, t] = parse_tensor(line);
        out.back().tensors[key] = t;
        if (key.rfind("param.", 0) == 0) out.back().params.emplace_back(key.substr(6), t);
      }
    }
    return out;
  }();
  return cases;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& c : transformer_cases()) names.push_back(c.name);
  return names;
}

// Builds the kiln model a case describes (layers with the case's options).
std::shared_ptr<nn::Module> build(const TransformerCase& c) {
  auto flag = [&](const char* k) { return c.flags.at(k); };
  int64_t d = std::stoll(flag("d_model")), h = std::stoll(flag("nhead")), ff = std::stoll(flag("dim_feedforward"));
  double eps = std::stod(flag("layer_norm_eps"));
  bool batch_first = flag("batch_first") == "1", norm_first = flag("norm_first") == "1";
  std::string kind = flag("kind"), act = flag("activation");
  int64_t layers = std::stoll(flag("num_layers"));
  auto final_norm = flag("final_norm") == "1" ? std::make_shared<nn::LayerNorm>(Shape{d}) : nullptr;
  if (kind == "encoder")
    return std::make_shared<nn::TransformerEncoderLayer>(d, h, ff, 0.1, act, eps, batch_first, norm_first);
  if (kind == "decoder")
    return std::make_shared<nn::TransformerDecoderLayer>(d, h, ff, 0.1, act, eps, batch_first, norm_first);
  if (kind == "encoder_stack")
    return std::make_shared<nn::TransformerEncoder>(
        nn::TransformerEncoderLayer(d, h, ff, 0.1, act, eps, batch_first, norm_first), layers, final_norm);
  return std::make_shared<nn::TransformerDecoder>(
      nn::TransformerDecoderLayer(d, h, ff, 0.1, act, eps, batch_first, norm_first), layers, final_norm);
}

class TransformerRef : public ::testing::TestWithParam<std::string> {};

TEST_P(TransformerRef, MatchesPyTorchWithItsStateDict) {
  const TransformerCase* found = nullptr;
  for (const auto& c : transformer_cases())
    if (c.name == GetParam()) found = &c;
  ASSERT_NE(found, nullptr);
  const TransformerCase& c = *found;
  auto get = [&](const std::string& key) {
    auto it = c.tensors.find(key);
    return it == c.tensors.end() ? Tensor() : it->second;
  };
  std::shared_ptr<nn::Module> model = build(c);
  // Same names in the same order as torch's state_dict.
  std::vector<std::string> mine, theirs;
  for (const auto& [name, t] : model->state_dict()) mine.push_back(name);
  for (const auto& [name, t] : c.params) theirs.push_back(name);
  EXPECT_EQ(mine, theirs);
  model->load_state_dict(c.params);
  model->eval();

  std::string kind = c.flags.at("kind");
  bool encoder = kind.rfind("encoder", 0) == 0;
  std::vector<std::string> input_names = encoder ? std::vector<std::string>{"src"}
                                                 : std::vector<std::string>{"tgt", "memory"};
  TensorList inputs;
  for (const auto& n : input_names) inputs.push_back(get(n).clone().requires_grad_(true));
  Tensor out;
  if (kind == "encoder")
    out = static_cast<nn::TransformerEncoderLayer&>(*model).forward(inputs[0], get("src_mask"),
                                                                     get("src_key_padding_mask"));
  else if (kind == "encoder_stack")
    out = static_cast<nn::TransformerEncoder&>(*model).forward(inputs[0], get("src_mask"), get("src_key_padding_mask"));
  else if (kind == "decoder")
    out = static_cast<nn::TransformerDecoderLayer&>(*model).forward(
        inputs[0], inputs[1], get("tgt_mask"), get("memory_mask"), get("tgt_key_padding_mask"),
        get("memory_key_padding_mask"));
  else
    out = static_cast<nn::TransformerDecoder&>(*model).forward(inputs[0], inputs[1], get("tgt_mask"),
                                                               get("memory_mask"), get("tgt_key_padding_mask"),
                                                               get("memory_key_padding_mask"));
  EXPECT_TRUE(allclose(out, get("out"), 1e-4, 1e-5)) << "output";

  nn::NamedTensors params = model->named_parameters();
  TensorList wrt = inputs;
  for (const auto& [name, p] : params) wrt.push_back(p);
  TensorList grads = grad({out}, wrt, {get("gout")}, false, false, true);
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_TRUE(allclose(grads[i], get("grad." + input_names[i]), 1e-4, 1e-5)) << "gradient of " << input_names[i];
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& g = grads[inputs.size() + i];
    Tensor expected = get("grad.param." + params[i].first);
    ASSERT_TRUE(expected.defined()) << params[i].first;
    EXPECT_TRUE(allclose(g.defined() ? g : zeros_like(expected), expected, 1e-4, 2e-5))
        << "gradient of " << params[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Layers, TransformerRef, ::testing::ValuesIn(case_names()), test::case_test_name);

TEST(TransformerEncoderLayer, SubmodulesNamedAsPyTorch) {
  nn::TransformerEncoderLayer layer(8, 2, 16);
  std::vector<std::string> names;
  for (const auto& [name, m] : layer.named_children()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"self_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
                                             "dropout1", "dropout2"}));
  EXPECT_EQ(layer.forward(randn({5, 3, 8})).shape(), (Shape{5, 3, 8}));
  EXPECT_EQ(layer.forward(randn({5, 8})).shape(), (Shape{5, 8}));  // unbatched
}

TEST(TransformerDecoderLayer, SubmodulesNamedAsPyTorch) {
  nn::TransformerDecoderLayer layer(8, 2, 16, 0.1, "gelu", 1e-5, true);
  std::vector<std::string> names;
  for (const auto& [name, m] : layer.named_children()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1",
                                             "norm2", "norm3", "dropout1", "dropout2", "dropout3"}));
  EXPECT_EQ(layer.forward(randn({2, 3, 8}), randn({2, 5, 8})).shape(), (Shape{2, 3, 8}));
}

TEST(TransformerEncoder, CopiesThePrototypeOrCallsTheFactory) {
  nn::TransformerEncoderLayer prototype(8, 2, 16);
  nn::TransformerEncoder copies(prototype, 3);
  ASSERT_EQ(copies.layers->size(), 3u);
  nn::NamedTensors sd = copies.state_dict();
  EXPECT_EQ(sd.front().first, "layers.0.self_attn.in_proj_weight");
  EXPECT_TRUE(allclose(copies.state_dict()[0].second, prototype.self_attn->in_proj_weight, 0, 0));
  // copies own their weights
  auto& first = static_cast<nn::TransformerEncoderLayer&>(*(*copies.layers)[0]);
  EXPECT_FALSE(first.self_attn->in_proj_weight.same_storage(prototype.self_attn->in_proj_weight));

  int made = 0;
  nn::TransformerEncoder fresh([&] { ++made; return std::make_shared<nn::TransformerEncoderLayer>(8, 2, 16); }, 2,
                               std::make_shared<nn::LayerNorm>(Shape{8}));
  EXPECT_EQ(made, 2);
  EXPECT_EQ(fresh.state_dict().back().first, "norm.bias");
  EXPECT_EQ(fresh.forward(randn({4, 2, 8})).shape(), (Shape{4, 2, 8}));
}

TEST(TransformerLayers, DropoutOnlyInTraining) {
  nn::TransformerEncoderLayer layer(8, 2, 16, 0.5);
  Tensor x = randn({4, 2, 8});
  layer.eval();
  Tensor a = layer.forward(x);
  EXPECT_TRUE(allclose(a, layer.forward(x), 0, 0));
  layer.train();
  EXPECT_FALSE(allclose(a, layer.forward(x), 1e-3, 1e-3));
}

TEST(TransformerLayers, Errors) {
  EXPECT_EQ(error_of([] { nn::TransformerEncoderLayer(8, 2, 16, 0.1, "tanh"); }),
            "TransformerEncoderLayer: activation should be relu/gelu, not tanh");
  EXPECT_EQ(error_of([] { nn::TransformerDecoderLayer(10, 4); }),
            "TransformerDecoderLayer: d_model 10 must be positive and divisible by nhead 4");
  nn::TransformerEncoderLayer layer(8, 2, 16);
  EXPECT_EQ(error_of([&] { layer.forward(randn({4, 2, 8}), zeros({3, 3})); }),
            "multi_head_attention_forward: expected attn_mask of shape [4, 4], got float32[3, 3] on cpu");
}

}  // namespace
}  // namespace kiln
