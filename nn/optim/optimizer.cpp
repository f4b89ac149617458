// The Optimizer base: parameter groups, zero_grad/step, per-parameter state and the flat
// state dict (Note [Optimizer state dict] in nn/optim/optimizer.h). Update rules are in
// sgd.cpp, adam.cpp, rmsprop.cpp and adagrad.cpp.
#include "nn/optim/optimizer.h"

#include <set>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/factory.h"

namespace kiln::nn::optim {

double ParamGroup::option(const std::string& name) const {
  auto it = options.find(name);
  KILN_CHECK(it != options.end(), "optimizer: the parameter group has no option '", name, "'");
  return it->second;
}

Tensor& ParamState::buffer(const std::string& name, const Tensor& param, double fill) {
  auto it = buffers.find(name);
  if (it == buffers.end()) it = buffers.emplace(name, full_like(param.detach(), fill)).first;
  return it->second;
}

void check_non_negative(const std::string& optimizer, const char* what, double value) {
  KILN_CHECK(value >= 0.0, optimizer, ": invalid ", what, " ", value, ", expected a value >= 0");
}

void check_in_unit_interval(const std::string& optimizer, const char* what, double value) {
  KILN_CHECK(value >= 0.0 && value < 1.0, optimizer, ": invalid ", what, " ", value, ", expected a value in [0, 1)");
}

Optimizer::Optimizer(std::string name, Options defaults) : name_(std::move(name)), defaults_(std::move(defaults)) {}

void Optimizer::add_param_group(const std::vector<Tensor>& params, const Options& overrides) {
  KILN_CHECK(!params.empty(), name_, ": got an empty parameter list");
  Options options = defaults_;
  for (const auto& [key, value] : overrides) {
    if (!defaults_.count(key)) {
      std::string known;
      for (const auto& [k, v] : defaults_) known += (known.empty() ? "" : ", ") + k;
      KILN_FAIL(name_, ": unknown option '", key, "' in a parameter group; the options are ", known);
    }
    options[key] = value;
  }
  check_options(options);

  std::set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl());
  for (const Tensor& p : params) {
    KILN_CHECK(p.defined(), name_, ": a parameter is an undefined tensor");
    KILN_CHECK(p.is_floating_point(), name_, ": can only optimize floating-point tensors, got ", p.meta_str());
    KILN_CHECK(p.is_leaf(), name_, ": can't optimize a non-leaf tensor (", p.meta_str(),
               "); pass leaf tensors such as a module's parameters()");
    KILN_CHECK(seen.insert(p.impl()).second, name_, ": a parameter (", p.meta_str(),
               ") appears more than once in the parameter groups");
  }
  groups_.push_back(ParamGroup{params, options, std::nullopt});
  state_.emplace_back(params.size());
}

void Optimizer::zero_grad() {
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) p.zero_grad();
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    for (size_t i = 0; i < group.params.size(); ++i) {
      Tensor param = group.params[i];
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      KILN_CHECK(grad.shape() == param.shape() && grad.dtype() == param.dtype(), name_, ": parameter ", i,
                 " of group ", g, " is ", param.meta_str(), " but its grad is ", grad.meta_str());
      ParamState& st = state_[g][i];
      st.step += 1;
      update(group, param, grad, st);
    }
  }
}

ParamState& Optimizer::state(size_t group, size_t index) {
  KILN_CHECK(group < groups_.size() && index < groups_[group].params.size(), name_, ": no parameter ", index,
             " in group ", group, " (", groups_.size(), " groups)");
  return state_[group][index];
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  int64_t global = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    std::vector<int64_t> indices;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) indices.push_back(global++);
    out.emplace_back(prefix + "params", tensor(indices));
    for (const auto& [key, value] : groups_[g].options)
      out.emplace_back(prefix + key, scalar_tensor(value, DType::Float64));
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.step == 0 && st.buffers.empty()) continue;
      const std::string prefix = "state." + std::to_string(g) + "." + std::to_string(i) + ".";
      out.emplace_back(prefix + "step", scalar_tensor(double(st.step), DType::Int64));
      for (const auto& [key, buf] : st.buffers) out.emplace_back(prefix + key, buf.detach());
    }
  }
  return out;
}

namespace {

// Splits "a.b.c.d" at dots.
std::vector<std::string> split_name(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  std::string part;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  return parts;
}

// Parses a non-negative index; -1 when `s` is not one.
int64_t parse_index(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(s);
}

}  // namespace

void Optimizer::load_state_dict(const NamedTensors& state) {
  const std::string op = name_ + ".load_state_dict";
  // First pass: check everything, collecting what to write; second pass: write.
  std::vector<Options> new_options(groups_.size());
  std::vector<std::vector<ParamState>> new_state(groups_.size());
  std::set<size_t> groups_seen;
  for (size_t g = 0; g < groups_.size(); ++g) new_state[g].resize(groups_[g].params.size());

  for (const auto& [name, t] : state) {
    std::vector<std::string> parts = split_name(name);
    KILN_CHECK(t.defined(), op, ": '", name, "' is an undefined tensor");
    if (parts.size() == 3 && parts[0] == "param_groups") {
      int64_t g = parse_index(parts[1]);
      KILN_CHECK(g >= 0 && size_t(g) < groups_.size(), op, ": '", name, "' names parameter group ", parts[1],
                 ", but this optimizer has ", groups_.size(), " group(s)");
      const std::string& key = parts[2];
      if (key == "params") {
        KILN_CHECK(t.numel() == int64_t(groups_[size_t(g)].params.size()), op, ": parameter group ", g,
                   " of the state dict has ", t.numel(), " parameter(s), but this optimizer's has ",
                   groups_[size_t(g)].params.size());
        groups_seen.insert(size_t(g));
        continue;
      }
      KILN_CHECK(defaults_.count(key), op, ": '", name, "' is not an option of ", name_,
                 " (was the state saved from another optimizer?)");
      KILN_CHECK(t.numel() == 1, op, ": option '", name, "' should be a single value, got ", t.meta_str());
      new_options[size_t(g)][key] = t.item<double>();
    } else if (parts.size() == 4 && parts[0] == "state") {
      int64_t g = parse_index(parts[1]), i = parse_index(parts[2]);
      KILN_CHECK(g >= 0 && size_t(g) < groups_.size() && i >= 0 && size_t(i) < groups_[size_t(g)].params.size(), op,
                 ": '", name, "' names a parameter this optimizer does not have (", groups_.size(), " group(s))");
      const Tensor& param = groups_[size_t(g)].params[size_t(i)];
      ParamState& st = new_state[size_t(g)][size_t(i)];
      const std::string& key = parts[3];
      if (key == "step") {
        KILN_CHECK(t.numel() == 1, op, ": '", name, "' should be a single value, got ", t.meta_str());
        st.step = int64_t(t.item<double>());
        continue;
      }
      KILN_CHECK(t.shape() == param.shape(), op, ": '", name, "' has shape ", t.shape(), ", but parameter ", i,
                 " of group ", g, " has shape ", param.shape(), " (", param.meta_str(), ")");
      st.buffers[key] = t.detach().to(param.dtype()).to(param.device()).clone();
    } else {
      KILN_FAIL(op, ": unexpected key '", name, "'; expected param_groups.<g>.<option> or state.<g>.<i>.<name>");
    }
  }
  KILN_CHECK(groups_seen.size() == groups_.size(), op, ": the state dict describes ", groups_seen.size(),
             " parameter group(s), but this optimizer has ", groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    Options merged = groups_[g].options;
    for (const auto& [key, value] : new_options[g]) merged[key] = value;
    check_options(merged);
    new_options[g] = merged;
  }

  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = new_options[g];
  state_ = std::move(new_state);
}

}  // namespace kiln::nn::optim
