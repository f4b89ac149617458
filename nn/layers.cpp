// The basic layers and containers of nn/layers.h.
#include "nn/layers.h"

#include <cmath>
#include <sstream>

#include "nn/functional.h"
#include "nn/init.h"
#include "ops/reduce.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln::nn {


Linear::Linear(int64_t in, int64_t out, bool with_bias, TensorOptions opts)
    : UnaryModule("Linear"), in_features(in), out_features(out) {
  KILN_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got ", in, " and ", out);
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({out, in}, opts));
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    double bound = 1.0 / std::sqrt(double(in));
    bias = register_parameter("bias", empty({out}, opts));
    init::uniform_(bias, -bound, bound);
  } else {
    bias = register_parameter("bias", Tensor());
  }
}

Tensor Linear::forward(const Tensor& x) { return functional::linear(x, weight, bias); }
std::string Linear::extra_repr() const {
  return repr_join("in_features=", in_features, ", out_features=", out_features, ", bias=", py_bool(bias.defined()));
}

Flatten::Flatten(int64_t start, int64_t end) : UnaryModule("Flatten"), start_dim(start), end_dim(end) {}
Tensor Flatten::forward(const Tensor& x) { return x.flatten(start_dim, end_dim); }
std::string Flatten::extra_repr() const { return repr_join("start_dim=", start_dim, ", end_dim=", end_dim); }

Unflatten::Unflatten(int64_t d, Shape s) : UnaryModule("Unflatten"), dim(d), sizes(std::move(s)) {}
Tensor Unflatten::forward(const Tensor& x) {
  int64_t d = wrap_dim(dim, x.dim(), "Unflatten");
  KILN_CHECK(numel_of(sizes) == x.size(d), "Unflatten: sizes ", sizes, " do not multiply to dim ", d, " of ",
             x.meta_str());
  Shape shape(x.shape().begin(), x.shape().begin() + d);
  shape.insert(shape.end(), sizes.begin(), sizes.end());
  shape.insert(shape.end(), x.shape().begin() + d + 1, x.shape().end());
  return x.reshape(shape);
}
std::string Unflatten::extra_repr() const { return repr_join("dim=", dim, ", unflattened_size=", sizes); }

Dropout::Dropout(double p_) : UnaryModule("Dropout"), p(p_) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& x) { return functional::dropout(x, p, is_training()); }
std::string Dropout::extra_repr() const { return repr_join("p=", p, ", inplace=False"); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return repr_join("negative_slope=", negative_slope); }
Tensor ELU::forward(const Tensor& x) { return elu(x, alpha); }
std::string ELU::extra_repr() const { return repr_join("alpha=", alpha); }
Tensor GELU::forward(const Tensor& x) { return gelu(x, approximate); }
std::string GELU::extra_repr() const { return repr_join("approximate='", approximate, "'"); }
Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim); }
std::string Softmax::extra_repr() const { return repr_join("dim=", dim); }
Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim); }
std::string LogSoftmax::extra_repr() const { return repr_join("dim=", dim); }

Sequential::Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules) : Sequential() {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<UnaryModule> m) {
  add_child(std::to_string(modules_.size()), m);
  modules_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& m : modules_) y = m->forward(y);
  return y;
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](size_t i) const {
  KILN_CHECK(i < modules_.size(), "Sequential: index ", i, " is out of range for ", modules_.size(), " modules");
  return modules_[i];
}

void ModuleList::push_back(std::shared_ptr<Module> m) {
  add_child(std::to_string(modules_.size()), m);
  modules_.push_back(std::move(m));
}

const std::shared_ptr<Module>& ModuleList::operator[](size_t i) const {
  KILN_CHECK(i < modules_.size(), "ModuleList: index ", i, " is out of range for ", modules_.size(), " modules");
  return modules_[i];
}

void ModuleDict::insert(const std::string& name, std::shared_ptr<Module> m) { add_child(name, std::move(m)); }

bool ModuleDict::contains(const std::string& name) const {
  for (const auto& [n, m] : named_children())
    if (n == name) return true;
  return false;
}

const std::shared_ptr<Module>& ModuleDict::at(const std::string& name) const {
  for (const auto& [n, m] : named_children())
    if (n == name) return m;
  KILN_FAIL("ModuleDict: no module named '", name, "'");
}

}  // namespace kiln::nn
