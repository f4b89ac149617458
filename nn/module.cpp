// Module bookkeeping: registration, recursive walks with dotted names, modes, device
// and dtype moves, state dicts and the printed tree.
#include "nn/module.h"

#include <set>
#include <sstream>

#include "autograd/grad_mode.h"
#include "ops/view.h"

namespace kiln::nn {

namespace {
void check_name(const std::string& name, const std::string& type, const char* what) {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, type, ": ", what, " name '", name,
             "' must be non-empty and contain no '.'");
}

// Replaces t's data with `data` in place, so every handle to t sees the new tensor.
void set_data(const Tensor& t, const Tensor& data) {
  TensorImpl& impl = *t.impl();
  const TensorImpl& d = *data.impl();
  impl.storage = d.storage;
  impl.sizes = d.sizes;
  impl.strides = d.strides;
  impl.offset = d.offset;
  impl.dtype = d.dtype;
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(name, type_name_, "parameter");
  for (const auto& [n, p] : params_) KILN_CHECK(n != name, type_name_, ": parameter '", name, "' registered twice");
  if (t.defined()) {
    KILN_CHECK(t.is_leaf(), type_name_, ": parameter '", name, "' must be a leaf tensor (detach it first)");
    if (requires_grad) t.requires_grad_(true);
  }
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name, type_name_, "buffer");
  for (const auto& [n, b] : buffers_) KILN_CHECK(n != name, type_name_, ": buffer '", name, "' registered twice");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_name(name, type_name_, "submodule");
  KILN_CHECK(m != nullptr, type_name_, ": submodule '", name, "' is null");
  for (const auto& [n, c] : children_) KILN_CHECK(n != name, type_name_, ": submodule '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const {
  for (const auto& [name, t] : params ? params_ : buffers_)
    if (t.defined()) out.emplace_back(prefix + name, t);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, out);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, c] : children_) out.push_back(c);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out{{"", shared_from_this()}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.zero_grad();
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto& [n, t] : named_parameters()) set_data(t, t.detach().to(device));
  for (auto& [n, t] : named_buffers()) set_data(t, t.detach().to(device));
}

void Module::to(DType dtype) {
  KILN_CHECK(is_floating(dtype), type_name_, ".to: expected a floating dtype, got ", dtype_name(dtype));
  NoGradGuard no_grad;
  for (auto& [n, t] : named_parameters()) set_data(t, t.detach().to(dtype));
  for (auto& [n, t] : named_buffers())
    if (t.is_floating_point()) set_data(t, t.detach().to(dtype));
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, c] : children_) c->apply(fn);
  fn(*this);
}

NamedTensors Module::state_dict() const {
  // Parameters and buffers of each module together, in module order, like PyTorch.
  NamedTensors out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& [name, t] : m.params_)
      if (t.defined()) out.emplace_back(prefix + name, t.detach());
    for (const auto& [name, t] : m.buffers_)
      if (t.defined()) out.emplace_back(prefix + name, t.detach());
    for (const auto& [name, child] : m.children_) walk(*child, prefix + name + ".");
  };
  walk(*this, "");
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors mine = state_dict();
  std::map<std::string, Tensor> given;
  for (const auto& [name, t] : state) given[name] = t;
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (const auto& [name, t] : mine) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
    } else if (it->second.shape() != t.shape()) {
      mismatched.push_back(name + " (checkpoint " + shape_str(it->second.shape()) + ", model " + shape_str(t.shape()) +
                           ")");
    }
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) unexpected.push_back(name);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  };
  KILN_CHECK(mismatched.empty(), "load_state_dict: shape mismatch for ", join(mismatched));
  KILN_CHECK(!strict || (missing.empty() && unexpected.empty()), "load_state_dict: ",
             missing.empty() ? "" : "missing keys: " + join(missing), missing.empty() || unexpected.empty() ? "" : "; ",
             unexpected.empty() ? "" : "unexpected keys: " + join(unexpected));
  NoGradGuard no_grad;
  for (auto& [name, t] : mine) {
    auto it = given.find(name);
    if (it != given.end()) copy_into(t, it->second.to(t.device()));
    if (it != given.end()) t.bump_version();
  }
}

std::string Module::repr(int indent) const {
  std::ostringstream os;
  os << type_name_ << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (const auto& [name, child] : children_)
      os << std::string(size_t(indent + 2), ' ') << "(" << name << "): " << child->repr(indent + 2) << "\n";
    os << std::string(size_t(indent), ' ');
  }
  os << ")";
  return os.str();
}

std::string Module::summary() const {
  std::ostringstream os;
  int64_t trainable = 0;
  for (const Tensor& p : parameters())
    if (p.requires_grad()) trainable += p.numel();
  os << repr() << "\nparameters: " << num_parameters() << " (trainable " << trainable << ")";
  return os.str();
}

}  // namespace kiln::nn
