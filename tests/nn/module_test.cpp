// The module system and basic layers: names, state dicts, modes, moves, printing,
// Linear/Dropout semantics and PyTorch's initialisation bounds.
#include <cmath>

#include "kiln.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

// A two-level model, like a small torchvision block: names must come out dotted.
struct Block : nn::UnaryModule {
  Block() : UnaryModule("Block") {
    fc = register_module("fc", std::make_shared<nn::Linear>(4, 3));
    running = register_buffer("running", zeros({3}));
  }
  Tensor forward(const Tensor& x) override { return nn::functional::dropout(fc->forward(x), 0.5, is_training()); }
  std::shared_ptr<nn::Linear> fc;
  Tensor running;
};

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
      std::make_shared<Block>(), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(3, 2, false)});
}

std::vector<std::string> names(const nn::NamedTensors& list) {
  std::vector<std::string> out;
  for (const auto& [n, t] : list) out.push_back(n);
  return out;
}

TEST(Module, NamedParametersAndStateDictUseDottedNames) {
  auto model = make_model();
  EXPECT_EQ(names(model->named_parameters()), (std::vector<std::string>{"0.fc.weight", "0.fc.bias", "2.weight"}));
  EXPECT_EQ(names(model->named_buffers()), (std::vector<std::string>{"0.running"}));
  // PyTorch's order: a module's own parameters, then its own buffers, then its children.
  EXPECT_EQ(names(model->state_dict()),
            (std::vector<std::string>{"0.running", "0.fc.weight", "0.fc.bias", "2.weight"}));
  EXPECT_EQ(model->num_parameters(), 4 * 3 + 3 + 3 * 2);
  for (const Tensor& p : model->parameters()) EXPECT_TRUE(p.requires_grad() && p.is_leaf());
  std::vector<std::string> modules;
  for (auto& [n, m] : model->named_modules()) modules.push_back(n + ":" + m->type_name());
  EXPECT_EQ(modules, (std::vector<std::string>{":Sequential", "0:Block", "0.fc:Linear", "1:ReLU", "2:Linear"}));
}

TEST(Module, TrainEvalReachesEverySubmodule) {
  auto model = make_model();
  model->eval();
  for (auto& [n, m] : model->named_modules()) EXPECT_FALSE(m->is_training()) << n;
  Tensor x = randn({5, 4});
  EXPECT_TRUE(allclose(model->forward(x), model->forward(x), 0, 0));  // no dropout in eval
  model->train();
  EXPECT_TRUE((*model)[0]->is_training());
}

TEST(Module, LoadStateDictCopiesValuesAndReportsProblems) {
  auto a = make_model(), b = make_model();
  b->load_state_dict(a->state_dict());
  for (size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(allclose(b->parameters()[i], a->parameters()[i], 0, 0));
  nn::NamedTensors partial = a->state_dict();
  partial.pop_back();
  partial.emplace_back("extra.weight", zeros({1}));
  EXPECT_EQ(error_of([&] { b->load_state_dict(partial); }),
            "load_state_dict: missing keys: 2.weight; unexpected keys: extra.weight");
  b->load_state_dict(partial, /*strict=*/false);  // loads what matches
  nn::NamedTensors wrong = a->state_dict();
  wrong[1].second = zeros({2, 2});  // 0.fc.weight
  EXPECT_EQ(error_of([&] { b->load_state_dict(wrong); }),
            "load_state_dict: shape mismatch for 0.fc.weight (checkpoint [2, 2], model [3, 4])");
}

TEST(Module, ToDtypeKeepsHandlesValid) {
  auto lin = std::make_shared<nn::Linear>(2, 2);
  Tensor handle = lin->weight;
  lin->to(kFloat64);
  EXPECT_EQ(handle.dtype(), kFloat64);
  EXPECT_EQ(lin->weight.dtype(), kFloat64);
  EXPECT_TRUE(handle.requires_grad());
  EXPECT_EQ(lin->forward(ones({1, 2}, kFloat64)).dtype(), kFloat64);
}

TEST(Module, ZeroGradDropsGradients) {
  auto lin = std::make_shared<nn::Linear>(3, 1);
  lin->forward(randn({4, 3})).sum().backward();
  EXPECT_TRUE(lin->weight.grad().defined());
  lin->zero_grad();
  EXPECT_FALSE(lin->weight.grad().defined());
}

TEST(Module, PrintsLikePyTorch) {
  auto model = make_model();
  EXPECT_EQ(model->repr(),
            "Sequential(\n"
            "  (0): Block(\n"
            "    (fc): Linear(in_features=4, out_features=3, bias=True)\n"
            "  )\n"
            "  (1): ReLU()\n"
            "  (2): Linear(in_features=3, out_features=2, bias=False)\n"
            ")");
  EXPECT_NE(model->summary().find("parameters: 21 (trainable 21)"), std::string::npos);
}

TEST(Module, RegistrationErrors) {
  struct Bad : nn::Module {
    Bad() : Module("Bad") {}
    void twice() {
      register_parameter("w", zeros({1}));
      register_parameter("w", zeros({1}));
    }
    void dotted() { register_buffer("a.b", zeros({1})); }
  };
  Bad bad;
  EXPECT_EQ(error_of([&] { bad.twice(); }), "Bad: parameter 'w' registered twice");
  EXPECT_EQ(error_of([&] { bad.dotted(); }), "Bad: buffer name 'a.b' must be non-empty and contain no '.'");
}

TEST(Module, ModuleDictKeepsInsertionOrderAndNames) {
  auto dict = std::make_shared<nn::ModuleDict>();
  dict->insert("encoder", std::make_shared<nn::Linear>(2, 3));
  dict->insert("decoder", std::make_shared<nn::Linear>(3, 2));
  EXPECT_TRUE(dict->contains("decoder"));
  EXPECT_EQ(dict->size(), 2u);
  EXPECT_EQ(names(dict->named_parameters()),
            (std::vector<std::string>{"encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"}));
  EXPECT_EQ(error_of([&] { dict->at("missing"); }), "ModuleDict: no module named 'missing'");
}

TEST(Linear, MatchesFormulaAndShapes) {
  nn::Linear lin(3, 2);
  Tensor x = randn({4, 3});
  Tensor expected = matmul(x, lin.weight.t()) + lin.bias;
  EXPECT_TRUE(allclose(lin.forward(x), expected, 1e-6, 1e-6));
  EXPECT_EQ(lin.forward(randn({2, 5, 3})).shape(), (Shape{2, 5, 2}));
  EXPECT_EQ(error_of([&] { lin.forward(randn({4, 5})); }),
            "linear: input float32[4, 5] on cpu does not end in in_features = 3 (weight float32[2, 3] on cpu)");
}

TEST(Linear, DefaultInitIsUniformWithinPyTorchBounds) {
  nn::Linear lin(100, 50);
  double bound = 1.0 / std::sqrt(100.0);  // kaiming_uniform(a=sqrt 5) on fan_in = 100
  EXPECT_LE(amax(abs(lin.weight)).item(), bound);
  EXPECT_GT(amax(abs(lin.weight)).item(), 0.9 * bound);
  EXPECT_LE(amax(abs(lin.bias)).item(), bound);
  // U(-b, b) has variance b^2 / 3
  EXPECT_NEAR(var(lin.weight.detach()).item(), bound * bound / 3, 0.1 * bound * bound / 3);
}

TEST(Dropout, ZeroesAboutPAndScalesTheRest) {
  nn::Dropout drop(0.25);
  Tensor x = ones({100000});
  Tensor y = drop.forward(x);
  auto v = y.to_vector<float>();
  int64_t zeros_seen = 0;
  for (float f : v) {
    ASSERT_TRUE(f == 0.f || std::fabs(f - 1.f / 0.75f) < 1e-6f);
    zeros_seen += f == 0.f;
  }
  EXPECT_NEAR(double(zeros_seen) / 100000, 0.25, 0.01);
  drop.eval();
  EXPECT_TRUE(allclose(drop.forward(x), x, 0, 0));
  EXPECT_EQ(error_of([] { nn::Dropout bad(1.5); }), "Dropout: p must be in [0, 1], got 1.5");
}

TEST(Init, GainsAndFansFollowPyTorch) {
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(2.0 / 6.0));
  Tensor conv = empty({8, 3, 5, 5});
  auto f = nn::init::calculate_fans(conv);
  EXPECT_EQ(f.fan_in, 75);
  EXPECT_EQ(f.fan_out, 200);
  Tensor w = empty({64, 32});
  nn::init::xavier_uniform_(w);
  EXPECT_LE(amax(abs(w)).item(), std::sqrt(6.0 / 96.0));
  nn::init::kaiming_normal_(w, 0.0, "fan_in", "relu");
  EXPECT_NEAR(kiln::std(w).item(), std::sqrt(2.0 / 32.0), 0.1 * std::sqrt(2.0 / 32.0));
}

TEST(Init, OrthogonalGivesOrthonormalRows) {
  Tensor w = empty({3, 5}, kFloat64);
  nn::init::orthogonal_(w);
  EXPECT_TRUE(allclose(matmul(w, w.t()), eye(3, 3, kFloat64), 1e-12, 1e-12));
  Tensor tall = empty({6, 2}, kFloat64);
  nn::init::orthogonal_(tall, 2.0);
  EXPECT_TRUE(allclose(matmul(tall.t(), tall), eye(2, 2, kFloat64) * 4.0, 1e-12, 1e-12));
}

}  // namespace
}  // namespace kiln
