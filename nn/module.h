// Module: the base of every layer. A module owns named parameters (tensors that
// training updates), buffers (state that is not trained, like running means) and
// submodules, and walks them with dotted names as PyTorch does ("layer1.0.weight").
// Read docs/nn.md first; layers are in nn/layers.h.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/factory.h"
#include "core/tensor.h"

namespace kiln::nn {

// Name -> tensor, in registration order (the order PyTorch's state_dict uses).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// For extra_repr(): the pieces streamed into one string, and Python's spelling of a bool.
template <typename... Args>
std::string repr_join(const Args&... args) {
  return detail::concat(args...);
}
inline const char* py_bool(bool b) { return b ? "True" : "False"; }

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // ---- what a module holds ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module and every submodule, depth first, with dotted names ("" for this one).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  int64_t num_parameters() const;  // elements, not tensors

  // ---- modes and bulk operations ----
  void train(bool on = true);  // recursive; Dropout and BatchNorm read is_training()
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();            // drops every parameter's .grad (set_to_none, as PyTorch's default)
  // Moves/converts every parameter and buffer in place: handles held by the layers and
  // by optimizers stay valid. Integer buffers keep their dtype on a dtype change.
  void to(Device device);
  void to(DType dtype);
  void apply(const std::function<void(Module&)>& fn);  // fn on every module, children first

  // ---- state dict: every parameter and buffer by dotted name ----
  NamedTensors state_dict() const;
  // Copies values into the existing tensors. strict: the names must match exactly;
  // shapes must always match. Errors list what is missing, unexpected or mismatched.
  void load_state_dict(const NamedTensors& state, bool strict = true);

  // ---- printing: the module tree with parameter counts ----
  virtual std::string extra_repr() const { return ""; }  // "in_features=784, out_features=256, bias=True"
  std::string repr(int indent = 0) const;
  std::string summary() const;  // repr plus a total parameter count

 protected:
  // Registers a parameter (made a leaf that requires grad) and returns the handle the
  // layer keeps as a member. An undefined tensor registers an absent parameter (bias=false).
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const;
  std::string type_name_;
  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one tensor in and one out: what Sequential chains.
class UnaryModule : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace kiln::nn
