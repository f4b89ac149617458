// Optimizers, learning-rate schedulers and gradient clipping against PyTorch: the
// trajectories, lr sequences and clipped grads in tests/reference/data/optim.txt (made by
// tests/reference/gen_optim.py, which documents the format), plus state dicts and errors.
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "kiln.h"
#include "nn/optim/optim.h"
#include "nn/serialize.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using nn::optim::Options;
using test::allclose;
using test::error_of;
namespace optim = nn::optim;

::testing::AssertionResult error_contains(const std::function<void()>& f, const std::string& expected) {
  const std::string message = error_of(f);
  if (message.find(expected) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the error \"" << message << "\" does not contain \"" << expected << "\"";
}

// ---- reading optim.txt ----

struct OptimCase {
  std::string optimizer;
  Options group0;
  std::optional<Options> group1;     // p1's group overrides, when p1 has its own group
  std::vector<TensorList> after;     // after[k] = {p0, p1} after step k + 1
};

struct SchedCase {
  std::string scheduler;
  std::map<std::string, std::string> args;
  std::vector<std::vector<double>> lrs;  // lrs[g][t]
};

struct ClipCase {
  std::string kind;
  std::map<std::string, double> args;
  double total = 0.0;
  TensorList grads;  // after clipping
};

struct OptimData {
  std::map<std::string, Tensor> tensors;  // p0, p1, c0, c1, g0, g1
  std::map<std::string, OptimCase> optims;
  std::map<std::string, SchedCase> scheds;
  std::map<std::string, ClipCase> clips;
};

std::vector<double> read_values(std::istringstream& in) {
  std::vector<double> v;
  std::string tok;
  while (in >> tok) v.push_back(std::strtod(tok.c_str(), nullptr));
  return v;
}

std::pair<std::string, std::string> split_key_value(const std::string& tok) {
  auto eq = tok.find('=');
  return {tok.substr(0, eq), tok.substr(eq + 1)};
}

const OptimData& data() {
  static const OptimData d = [] {
    OptimData out;
    const std::string path = std::string(KILN_REFERENCE_DIR) + "/optim.txt";
    std::ifstream file(path);
    KILN_CHECK(file.good(), "optim_test: cannot open ", path);
    std::string line, last_optim, last_sched, last_clip;
    while (std::getline(file, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream in(line);
      std::string kind;
      in >> kind;
      if (kind == "tensor") {
        std::string name;
        int64_t ndim;
        in >> name >> ndim;
        Shape shape(static_cast<size_t>(ndim));
        for (auto& s : shape) in >> s;
        out.tensors[name] = tensor(read_values(in), shape);
      } else if (kind == "optim") {
        OptimCase c;
        in >> last_optim >> c.optimizer;
        Options* target = &c.group0;
        std::string tok;
        while (in >> tok) {
          if (tok == "|") {
            c.group1 = Options{};
            target = &*c.group1;
            continue;
          }
          auto [k, v] = split_key_value(tok);
          (*target)[k] = std::stod(v);
        }
        out.optims[last_optim] = c;
      } else if (kind == "after") {
        int step;
        std::string param;
        in >> step >> param;
        auto& after = out.optims.at(last_optim).after;
        if (after.size() < size_t(step)) after.resize(size_t(step), TensorList(2));
        after[size_t(step - 1)][param == "p0" ? 0 : 1] =
            tensor(read_values(in), out.tensors.at(param).shape());
      } else if (kind == "sched") {
        SchedCase c;
        in >> last_sched >> c.scheduler;
        std::string tok;
        while (in >> tok) c.args.insert(split_key_value(tok));
        out.scheds[last_sched] = c;
      } else if (kind == "lrs") {
        int group;
        in >> group;
        out.scheds.at(last_sched).lrs.push_back(read_values(in));
      } else if (kind == "clip") {
        ClipCase c;
        in >> last_clip >> c.kind;
        std::string tok;
        while (in >> tok) {
          auto [k, v] = split_key_value(tok);
          c.args[k] = std::strtod(v.c_str(), nullptr);
        }
        out.clips[last_clip] = c;
      } else if (kind == "total") {
        out.clips.at(last_clip).total = read_values(in).at(0);
      } else if (kind == "grad") {
        std::string param;
        in >> param;
        out.clips.at(last_clip).grads.push_back(tensor(read_values(in), out.tensors.at(param).shape()));
      } else {
        KILN_FAIL("optim_test: unknown record '", kind, "' in ", path);
      }
    }
    return out;
  }();
  return d;
}

template <typename Map>
std::vector<std::string> keys(const Map& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

// ---- the problem: loss = sum(sin(p0) * c0) + sum((p1 - c1)^2 * p1) ----

struct Problem {
  Tensor p0, p1, c0, c1;
};

Problem make_problem() {
  const auto& t = data().tensors;
  Problem p{t.at("p0").clone(), t.at("p1").clone(), t.at("c0"), t.at("c1")};
  p.p0.requires_grad_();
  p.p1.requires_grad_();
  return p;
}

Tensor loss_of(const Problem& p) { return sum(sin(p.p0) * p.c0) + sum(square(p.p1 - p.c1) * p.p1); }

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, const TensorList& params, const Options& o) {
  auto get = [&](const char* key, double fallback) {
    auto it = o.find(key);
    return it == o.end() ? fallback : it->second;
  };
  auto flag = [&](const char* key) { return get(key, 0.0) != 0.0; };
  if (name == "SGD") {
    optim::SGDOptions d;
    return std::make_unique<optim::SGD>(
        params, optim::SGDOptions{.lr = o.at("lr"),
                                  .momentum = get("momentum", d.momentum),
                                  .dampening = get("dampening", d.dampening),
                                  .weight_decay = get("weight_decay", d.weight_decay),
                                  .nesterov = flag("nesterov"),
                                  .maximize = flag("maximize")});
  }
  if (name == "Adam") {
    optim::AdamOptions d;
    return std::make_unique<optim::Adam>(
        params, optim::AdamOptions{.lr = get("lr", d.lr),
                                   .betas = {get("beta1", d.betas.first), get("beta2", d.betas.second)},
                                   .eps = get("eps", d.eps),
                                   .weight_decay = get("weight_decay", d.weight_decay),
                                   .amsgrad = flag("amsgrad"),
                                   .maximize = flag("maximize")});
  }
  if (name == "AdamW") {
    optim::AdamWOptions d;
    return std::make_unique<optim::AdamW>(
        params, optim::AdamWOptions{.lr = get("lr", d.lr),
                                    .betas = {get("beta1", d.betas.first), get("beta2", d.betas.second)},
                                    .eps = get("eps", d.eps),
                                    .weight_decay = get("weight_decay", d.weight_decay),
                                    .amsgrad = flag("amsgrad"),
                                    .maximize = flag("maximize")});
  }
  if (name == "RMSprop") {
    optim::RMSpropOptions d;
    return std::make_unique<optim::RMSprop>(
        params, optim::RMSpropOptions{.lr = get("lr", d.lr),
                                      .alpha = get("alpha", d.alpha),
                                      .eps = get("eps", d.eps),
                                      .weight_decay = get("weight_decay", d.weight_decay),
                                      .momentum = get("momentum", d.momentum),
                                      .centered = flag("centered"),
                                      .maximize = flag("maximize")});
  }
  if (name == "Adagrad") {
    optim::AdagradOptions d;
    return std::make_unique<optim::Adagrad>(
        params, optim::AdagradOptions{.lr = get("lr", d.lr),
                                      .lr_decay = get("lr_decay", d.lr_decay),
                                      .weight_decay = get("weight_decay", d.weight_decay),
                                      .initial_accumulator_value = get("initial_accumulator_value",
                                                                       d.initial_accumulator_value),
                                      .eps = get("eps", d.eps),
                                      .maximize = flag("maximize")});
  }
  KILN_FAIL("optim_test: unknown optimizer ", name);
}

// The optimizer of a case on the problem's parameters, grouped as the case says.
std::unique_ptr<optim::Optimizer> make_case_optimizer(const OptimCase& c, const Problem& p) {
  if (!c.group1) return make_optimizer(c.optimizer, {p.p0, p.p1}, c.group0);
  auto opt = make_optimizer(c.optimizer, {p.p0}, c.group0);
  opt->add_param_group({p.p1}, *c.group1);
  return opt;
}

void train_step(optim::Optimizer& opt, const Problem& p) {
  opt.zero_grad();
  loss_of(p).backward();
  opt.step();
}

// ---- trajectories ----

class OptimTrajectory : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimTrajectory, ParamsMatchTorchAfterEveryStep) {
  const OptimCase& c = data().optims.at(GetParam());
  ASSERT_EQ(c.after.size(), 6u);
  Problem p = make_problem();
  auto opt = make_case_optimizer(c, p);
  for (size_t k = 0; k < c.after.size(); ++k) {
    train_step(*opt, p);
    EXPECT_TRUE(allclose(p.p0.detach(), c.after[k][0], 1e-10, 1e-10)) << "p0 after step " << k + 1;
    EXPECT_TRUE(allclose(p.p1.detach(), c.after[k][1], 1e-10, 1e-10)) << "p1 after step " << k + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, OptimTrajectory, ::testing::ValuesIn(keys(data().optims)));

// ---- state dict ----

// Runs `steps` steps of a case, optionally resuming from a state dict.
TEST(OptimStateDict, ResumedRunEqualsUninterruptedRun) {
  for (const char* name : {"sgd_groups", "adam_amsgrad", "adamw_weight_decay_amsgrad",
                           "rmsprop_centered_momentum_wd", "adagrad_all"}) {
    const OptimCase& c = data().optims.at(name);
    Problem full = make_problem();
    auto full_opt = make_case_optimizer(c, full);
    for (int k = 0; k < 6; ++k) train_step(*full_opt, full);

    Problem first = make_problem();
    auto first_opt = make_case_optimizer(c, first);
    for (int k = 0; k < 3; ++k) train_step(*first_opt, first);
    nn::NamedTensors saved;  // deep copies, as a checkpoint file would hold
    for (const auto& [key, t] : first_opt->state_dict()) saved.emplace_back(key, t.clone());

    Problem resumed = make_problem();
    {
      NoGradGuard no_grad;
      resumed.p0.copy_(first.p0);
      resumed.p1.copy_(first.p1);
    }
    auto resumed_opt = make_case_optimizer(c, resumed);
    resumed_opt->param_groups()[0].set_lr(123.0);  // overwritten by the loaded options
    resumed_opt->load_state_dict(saved);
    for (int k = 0; k < 3; ++k) train_step(*resumed_opt, resumed);
    EXPECT_TRUE(allclose(resumed.p0.detach(), full.p0.detach(), 0, 0)) << name;
    EXPECT_TRUE(allclose(resumed.p1.detach(), full.p1.detach(), 0, 0)) << name;
  }
}

TEST(OptimStateDict, NamesGroupsOptionsAndBuffers) {
  Problem p = make_problem();
  optim::Adam opt({p.p0}, {.lr = 0.1, .amsgrad = true});
  opt.add_param_group({p.p1}, {{"lr", 0.01}});
  EXPECT_EQ(opt.state_dict().size(), 2u * 8u);  // params + 7 options per group, no state yet
  train_step(opt, p);
  std::map<std::string, Tensor> sd;
  for (const auto& [k, t] : opt.state_dict()) sd[k] = t;
  for (const char* key : {"param_groups.0.params", "param_groups.0.lr", "param_groups.1.lr", "param_groups.1.beta2",
                          "state.0.0.step", "state.0.0.exp_avg", "state.0.0.exp_avg_sq", "state.1.0.max_exp_avg_sq"})
    EXPECT_TRUE(sd.count(key)) << key;
  EXPECT_DOUBLE_EQ(sd.at("param_groups.1.lr").item(), 0.01);
  EXPECT_EQ(sd.at("param_groups.1.params").to_vector<int64_t>(), std::vector<int64_t>{1});
  EXPECT_EQ(sd.at("state.0.0.step").dtype(), DType::Int64);
  EXPECT_EQ(sd.at("state.0.0.step").item<int64_t>(), 1);
  EXPECT_EQ(sd.at("state.1.0.exp_avg").shape(), (Shape{4}));
}

TEST(OptimStateDict, LoadingIntoDifferentShapesIsAnError) {
  Problem p = make_problem();
  optim::Adam opt({p.p0, p.p1});
  train_step(opt, p);
  Tensor a = zeros({3, 4}, kFloat64).requires_grad_(), b = zeros({5}, kFloat64).requires_grad_();
  optim::Adam other({a, b});
  EXPECT_TRUE(error_contains([&] { other.load_state_dict(opt.state_dict()); }, "Adam.load_state_dict: 'state.0.1.exp_avg' has shape [4], but parameter 1 of group 0 has "
                        "shape [5]"));
  EXPECT_EQ(other.state(0, 0).step, 0);  // nothing was loaded

  optim::Adam fewer({a});
  EXPECT_TRUE(error_contains([&] { fewer.load_state_dict(opt.state_dict()); }, "parameter group 0 of the state dict has 2 parameter(s), but this optimizer's has 1"));
  optim::SGD sgd({p.p0, p.p1}, {.lr = 0.1});
  EXPECT_TRUE(error_contains([&] { sgd.load_state_dict(opt.state_dict()); }, "'param_groups.0.amsgrad' is not an option of SGD"));
  optim::Adam two_groups({a});
  two_groups.add_param_group({b});
  EXPECT_TRUE(error_contains([&] { two_groups.load_state_dict(opt.state_dict()); }, "parameter group 0 of the state dict has 2 parameter(s)"));
  optim::Adam same({p.p0, p.p1});
  EXPECT_TRUE(error_contains([&] { same.load_state_dict({{"state.0.7.exp_avg", zeros({4})}}); }, "names a parameter this optimizer does not have"));
  EXPECT_TRUE(error_contains([&] { same.load_state_dict({{"momentum", zeros({4})}}); }, "unexpected key 'momentum'"));
}

// ---- step, zero_grad, groups ----

TEST(OptimStep, ZeroGradDropsGradsAndStepSkipsParamsWithoutGrad) {
  Problem p = make_problem();
  optim::SGD opt({p.p0, p.p1}, {.lr = 0.1, .momentum = 0.9});
  loss_of(p).backward();
  ASSERT_TRUE(p.p0.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(p.p0.grad().defined());
  EXPECT_FALSE(p.p1.grad().defined());

  Tensor p1_before = p.p1.detach().clone();
  sum(sin(p.p0) * p.c0).backward();  // only p0 gets a grad
  opt.step();
  EXPECT_TRUE(allclose(p.p1.detach(), p1_before, 0, 0));
  EXPECT_EQ(opt.state(0, 0).step, 1);
  EXPECT_EQ(opt.state(0, 1).step, 0);
  EXPECT_TRUE(opt.state(0, 0).buffers.count("momentum_buffer"));
  EXPECT_FALSE(opt.state(0, 1).buffers.count("momentum_buffer"));
  EXPECT_FALSE(p.p0.grad().requires_grad());
  EXPECT_TRUE(p.p0.requires_grad() && p.p0.is_leaf());  // the update recorded no graph
}

TEST(OptimParamGroups, EachGroupUsesItsOwnLr) {
  Tensor a = ones({2}, kFloat64).requires_grad_(), b = ones({2}, kFloat64).requires_grad_();
  optim::SGD opt({a}, {.lr = 0.1});
  opt.add_param_group({b}, {{"lr", 0.5}});
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.5);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].option("momentum"), 0.0);  // from the defaults
  sum(a + b).backward();  // both grads are ones
  opt.step();
  EXPECT_TRUE(allclose(a.detach(), full({2}, 0.9, kFloat64), 0, 1e-15));
  EXPECT_TRUE(allclose(b.detach(), full({2}, 0.5, kFloat64), 0, 1e-15));
}

TEST(OptimParamGroups, Float32ParamsAreUpdatedInTheirDtype) {
  Tensor w = ones({3}).requires_grad_();
  optim::AdamW opt({w}, {.lr = 0.1});
  sum(w * w).backward();
  opt.step();
  EXPECT_EQ(w.dtype(), DType::Float32);
  EXPECT_EQ(opt.state(0, 0).buffers.at("exp_avg").dtype(), DType::Float32);
  // AdamW's first step: p (1 - lr wd) - lr * sign(g) (up to eps)
  EXPECT_TRUE(allclose(w.detach(), full({3}, 1.0 * (1 - 0.1 * 0.01) - 0.1), 1e-6, 1e-6));
}

// ---- errors ----

TEST(OptimErrors, InvalidHyperparametersAreRejected) {
  Tensor w = zeros({2}).requires_grad_();
  EXPECT_TRUE(error_contains([&] { optim::SGD({w}, {.lr = -0.1}); }, "SGD: invalid learning rate -0.1"));
  EXPECT_TRUE(error_contains([&] { optim::SGD({w}, {}); }, "SGD: a learning rate is required"));
  EXPECT_TRUE(error_contains([&] { optim::SGD({w}, {.lr = 0.1, .momentum = -1}); }, "SGD: invalid momentum value -1"));
  EXPECT_TRUE(error_contains([&] { optim::SGD({w}, {.lr = 0.1, .nesterov = true}); }, "SGD: Nesterov momentum requires a momentum > 0 and zero dampening"));
  EXPECT_TRUE(error_contains([&] { optim::SGD({w}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); }, "zero dampening"));
  EXPECT_TRUE(error_contains([&] { optim::Adam({w}, {.betas = {1.0, 0.999}}); }, "Adam: invalid beta parameter at index 0: 1, expected a value in [0, 1)"));
  EXPECT_TRUE(error_contains([&] { optim::AdamW({w}, {.betas = {0.9, -0.5}}); }, "AdamW: invalid beta parameter at index 1: -0.5"));
  EXPECT_TRUE(error_contains([&] { optim::Adam({w}, {.lr = -1}); }, "Adam: invalid learning rate -1"));
  EXPECT_TRUE(error_contains([&] { optim::Adam({w}, {.eps = -1}); }, "Adam: invalid epsilon value -1"));
  EXPECT_TRUE(error_contains([&] { optim::RMSprop({w}, {.alpha = -0.5}); }, "RMSprop: invalid alpha value"));
  EXPECT_TRUE(error_contains([&] { optim::Adagrad({w}, {.lr_decay = -1}); }, "Adagrad: invalid lr_decay"));
}

TEST(OptimErrors, BadParametersAndGroupsAreRejected) {
  Tensor w = zeros({2}).requires_grad_();
  EXPECT_TRUE(error_contains([&] { optim::Adam(TensorList{}); }, "Adam: got an empty parameter list"));
  Tensor non_leaf = w * 2.0;
  EXPECT_TRUE(error_contains([&] { optim::Adam({non_leaf}); }, "Adam: can't optimize a non-leaf tensor (float32[2] on cpu)"));
  EXPECT_TRUE(error_contains([&] { optim::Adam({zeros({2}, DType::Int64)}); }, "can only optimize floating-point tensors, got int64[2] on cpu"));
  optim::Adam opt({w});
  EXPECT_TRUE(error_contains([&] { opt.add_param_group({w}); }, "appears more than once"));
  Tensor v = zeros({2}).requires_grad_();
  EXPECT_TRUE(error_contains([&] { opt.add_param_group({v}, {{"momentum", 0.9}}); }, "Adam: unknown option 'momentum' in a parameter group; the options are amsgrad, beta1"));
  EXPECT_TRUE(error_contains([&] { opt.add_param_group({v}, {{"lr", -2}}); }, "Adam: invalid learning rate -2"));
  EXPECT_EQ(opt.param_groups().size(), 1u);
}

// ---- schedulers ----

std::vector<int64_t> parse_ints(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(std::stoll(part));
  return out;
}

std::vector<double> parse_doubles(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(std::stod(part));
  return out;
}

std::unique_ptr<optim::LRScheduler> make_scheduler(const SchedCase& c, optim::Optimizer& opt) {
  auto has = [&](const char* k) { return c.args.count(k) > 0; };
  auto num = [&](const char* k, double fallback) { return has(k) ? std::stod(c.args.at(k)) : fallback; };
  auto integer = [&](const char* k) { return std::stoll(c.args.at(k)); };
  const std::string& s = c.scheduler;
  if (s == "StepLR") return std::make_unique<optim::StepLR>(opt, integer("step_size"), num("gamma", 0.1));
  if (s == "MultiStepLR")
    return std::make_unique<optim::MultiStepLR>(opt, parse_ints(c.args.at("milestones")), num("gamma", 0.1));
  if (s == "ExponentialLR") return std::make_unique<optim::ExponentialLR>(opt, num("gamma", 0.0));
  if (s == "CosineAnnealingLR")
    return std::make_unique<optim::CosineAnnealingLR>(opt, integer("T_max"), num("eta_min", 0.0));
  if (s == "LinearLR")
    return std::make_unique<optim::LinearLR>(opt, num("start_factor", 1.0 / 3.0), num("end_factor", 1.0),
                                             integer("total_iters"));
  if (s == "OneCycleLR") {
    optim::OneCycleOptions d;
    optim::OneCycleOptions o{.pct_start = num("pct_start", d.pct_start),
                             .anneal_strategy = has("anneal_strategy") ? c.args.at("anneal_strategy") : "cos",
                             .div_factor = num("div_factor", d.div_factor),
                             .final_div_factor = num("final_div_factor", d.final_div_factor),
                             .three_phase = num("three_phase", 0.0) != 0.0};
    std::vector<double> max_lrs = parse_doubles(c.args.at("max_lr"));
    if (max_lrs.size() == 1) return std::make_unique<optim::OneCycleLR>(opt, max_lrs[0], integer("total_steps"), o);
    return std::make_unique<optim::OneCycleLR>(opt, max_lrs, integer("total_steps"), o);
  }
  KILN_FAIL("optim_test: unknown scheduler ", s);
}

class SchedulerLrs : public ::testing::TestWithParam<std::string> {};

TEST_P(SchedulerLrs, MatchTorchEveryStep) {
  const SchedCase& c = data().scheds.at(GetParam());
  Tensor w0 = zeros({2}).requires_grad_(), w1 = zeros({2}).requires_grad_();
  optim::SGD opt({w0}, {.lr = 0.1});
  opt.add_param_group({w1}, {{"lr", 0.05}});
  auto sched = make_scheduler(c, opt);
  ASSERT_EQ(c.lrs.size(), 2u);
  for (size_t t = 0; t < c.lrs[0].size(); ++t) {
    if (t > 0) {
      opt.step();
      sched->step();
    }
    EXPECT_EQ(sched->last_epoch(), int64_t(t));
    for (size_t g = 0; g < 2; ++g) {
      const double expected = c.lrs[g][t];
      EXPECT_NEAR(sched->get_last_lr()[g], expected, 1e-14 + 1e-12 * std::abs(expected))
          << "group " << g << " at step " << t;
      EXPECT_EQ(opt.param_groups()[g].lr(), sched->get_last_lr()[g]);
    }
  }
}

// Checkpoint and resume halfway: the optimizer's and the scheduler's state dicts go
// through a safetensors file image into a freshly built pair, which must then continue
// with PyTorch's lrs. See Note [Scheduler state dict].
TEST_P(SchedulerLrs, ResumeFromStateDictContinuesTorchsLrs) {
  const SchedCase& c = data().scheds.at(GetParam());
  const size_t steps = c.lrs[0].size(), half = steps / 2;
  auto make_opt = [](Tensor& w0, Tensor& w1) {
    w0 = zeros({2}).requires_grad_();
    w1 = zeros({2}).requires_grad_();
    auto opt = std::make_unique<optim::SGD>(std::vector<Tensor>{w0}, optim::SGDOptions{.lr = 0.1});
    opt->add_param_group({w1}, {{"lr", 0.05}});
    return opt;
  };
  Tensor a0, a1, b0, b1;
  auto opt = make_opt(a0, a1);
  auto sched = make_scheduler(c, *opt);
  for (size_t t = 1; t <= half; ++t) {
    opt->step();
    sched->step();
  }
  std::string opt_file = nn::save_safetensors_to_memory(opt->state_dict());
  std::string sched_file = nn::save_safetensors_to_memory(sched->state_dict());

  auto resumed_opt = make_opt(b0, b1);
  auto resumed = make_scheduler(c, *resumed_opt);
  resumed_opt->load_state_dict(nn::load_safetensors_from_memory(opt_file));
  resumed->load_state_dict(nn::load_safetensors_from_memory(sched_file));
  EXPECT_EQ(resumed->last_epoch(), int64_t(half));
  EXPECT_EQ(resumed->base_lrs(), sched->base_lrs());
  EXPECT_EQ(resumed->get_last_lr(), sched->get_last_lr());
  for (size_t t = half + 1; t < steps; ++t) {
    resumed_opt->step();
    resumed->step();
    for (size_t g = 0; g < 2; ++g) {
      const double expected = c.lrs[g][t];
      EXPECT_NEAR(resumed->get_last_lr()[g], expected, 1e-14 + 1e-12 * std::abs(expected))
          << "group " << g << " at step " << t << " after resuming at step " << half;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, SchedulerLrs, ::testing::ValuesIn(keys(data().scheds)));

TEST(SchedulerStateDict, BadStatesAreRejectedAndChangeNothing) {
  Tensor w = zeros({2}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.1});
  optim::StepLR sched(opt, 2);
  sched.step();
  nn::NamedTensors good = sched.state_dict();
  ASSERT_EQ(good.size(), 3u);
  EXPECT_EQ(good[0].first, "last_epoch");
  EXPECT_EQ(good[0].second.dtype(), DType::Int64);
  auto without = [&](const std::string& key) {
    nn::NamedTensors out;
    for (const auto& kv : good)
      if (kv.first != key) out.push_back(kv);
    return out;
  };
  EXPECT_TRUE(error_contains([&] { sched.load_state_dict(without("base_lrs")); },
                             "LRScheduler.load_state_dict: the state is missing 'base_lrs'"));
  nn::NamedTensors two_groups = without("last_lr");
  two_groups.push_back({"last_lr", tensor(std::vector<double>{0.1, 0.2})});
  EXPECT_TRUE(error_contains([&] { sched.load_state_dict(two_groups); },
                             "'last_lr' should hold one lr per parameter group (1), got float64[2] on cpu"));
  nn::NamedTensors extra = good;
  extra.push_back({"gamma", scalar_tensor(0.5)});
  EXPECT_TRUE(error_contains([&] { sched.load_state_dict(extra); }, "unexpected entry 'gamma'"));
  EXPECT_EQ(sched.last_epoch(), 1);  // the failed loads changed nothing
}

TEST(SchedulerErrors, BadArgumentsAndOverSteppingAreRejected) {
  Tensor w = zeros({2}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.1});
  EXPECT_TRUE(error_contains([&] { optim::OneCycleLR(opt, 1.0, 10, {.anneal_strategy = "exp"}); }, "OneCycleLR: anneal_strategy must be \"cos\" or \"linear\", got \"exp\""));
  EXPECT_TRUE(error_contains([&] { optim::OneCycleLR(opt, {1.0, 2.0}, 10); }, "OneCycleLR: expected 1 values for max_lr, got 2"));
  EXPECT_TRUE(error_contains([&] { optim::LinearLR(opt, 0.0); }, "LinearLR: expected start_factor in (0, 1]"));
  EXPECT_TRUE(error_contains([&] { optim::StepLR(opt, 0); }, "StepLR: expected step_size >= 1, got 0"));
  optim::SGD fresh({w}, {.lr = 0.1});
  optim::OneCycleLR sched(fresh, 1.0, 3);
  for (int i = 0; i < 3; ++i) sched.step();
  EXPECT_TRUE(error_contains([&] { sched.step(); }, "OneCycleLR: tried to step 5 times; the specified number of total steps is 3"));
}

TEST(SchedulerChaining, SecondSchedulerSeesTheFirstsInitialLr) {
  Tensor w = zeros({2}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.1});
  optim::LinearLR warmup(opt, 0.5, 1.0, 2);
  optim::CosineAnnealingLR cosine(opt, 10);
  EXPECT_DOUBLE_EQ(cosine.base_lrs()[0], 0.1);  // not the warmed-down 0.05, as in PyTorch
}

// ---- clipping ----

class ClipGrad : public ::testing::TestWithParam<std::string> {};

TEST_P(ClipGrad, MatchesTorch) {
  const ClipCase& c = data().clips.at(GetParam());
  Tensor p0 = zeros({3, 4}, kFloat64).requires_grad_(), p1 = zeros({4}, kFloat64).requires_grad_();
  p0.set_grad(data().tensors.at("g0").clone());
  p1.set_grad(data().tensors.at("g1").clone());
  if (c.kind == "norm") {
    double total = optim::clip_grad_norm_({p0, p1}, c.args.at("max_norm"), c.args.at("norm_type"));
    EXPECT_NEAR(total, c.total, 1e-12 * c.total);
  } else {
    optim::clip_grad_value_({p0, p1}, c.args.at("clip_value"));
  }
  EXPECT_TRUE(allclose(p0.grad(), c.grads.at(0), 1e-12, 1e-14));
  EXPECT_TRUE(allclose(p1.grad(), c.grads.at(1), 1e-12, 1e-14));
}

INSTANTIATE_TEST_SUITE_P(Torch, ClipGrad, ::testing::ValuesIn(keys(data().clips)));

TEST(ClipGradNorm, SkipsMissingGradsAndChecksNonFinite) {
  Tensor a = zeros({2}).requires_grad_(), b = zeros({2}).requires_grad_();
  EXPECT_EQ(optim::clip_grad_norm_({a, b}, 1.0), 0.0);  // no grads at all
  a.set_grad(tensor<float>({3, 4}));
  EXPECT_NEAR(optim::clip_grad_norm_({a, b}, 1.0), 5.0, 1e-6);
  EXPECT_TRUE(allclose(a.grad(), tensor<float>({0.6f, 0.8f}), 1e-5, 1e-6));
  EXPECT_FALSE(b.grad().defined());
  a.set_grad(tensor<float>({INFINITY, 1}));
  EXPECT_TRUE(error_contains([&] { optim::clip_grad_norm_({a}, 1.0, 2.0, true); }, "clip_grad_norm_: the total norm of order 2 of the gradients is inf"));
  EXPECT_TRUE(error_contains([&] { optim::clip_grad_norm_({a}, 1.0, 0.0); }, "expected norm_type > 0"));
  EXPECT_TRUE(error_contains([&] { optim::clip_grad_value_({a}, -1.0); }, "expected clip_value >= 0"));
}

}  // namespace
}  // namespace kiln
