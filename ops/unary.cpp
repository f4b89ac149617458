// Elementwise functions of one tensor: forward and backward of each op, side by side.
// The CPU kernels are one lambda each in ops/cpu/unary.cpp. Backward formulas are
// written with kiln ops, so they can be differentiated again (create_graph).
#include "ops/unary.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <optional>

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/binary.h"
#include "ops/kernels/unary.h"

namespace kiln {

KILN_DEFINE_STUB(neg_stub, "neg", UnaryKernel);
KILN_DEFINE_STUB(exp_stub, "exp", UnaryKernel);
KILN_DEFINE_STUB(log_stub, "log", UnaryKernel);
KILN_DEFINE_STUB(log1p_stub, "log1p", UnaryKernel);
KILN_DEFINE_STUB(sqrt_stub, "sqrt", UnaryKernel);
KILN_DEFINE_STUB(rsqrt_stub, "rsqrt", UnaryKernel);
KILN_DEFINE_STUB(abs_stub, "abs", UnaryKernel);
KILN_DEFINE_STUB(sign_stub, "sign", UnaryKernel);
KILN_DEFINE_STUB(sin_stub, "sin", UnaryKernel);
KILN_DEFINE_STUB(cos_stub, "cos", UnaryKernel);
KILN_DEFINE_STUB(erf_stub, "erf", UnaryKernel);
KILN_DEFINE_STUB(pow_scalar_stub, "pow", UnaryKernel);
KILN_DEFINE_STUB(clamp_stub, "clamp", UnaryKernel);
KILN_DEFINE_STUB(relu_stub, "relu", UnaryKernel);
KILN_DEFINE_STUB(leaky_relu_stub, "leaky_relu", UnaryKernel);
KILN_DEFINE_STUB(elu_stub, "elu", UnaryKernel);
KILN_DEFINE_STUB(gelu_stub, "gelu", UnaryKernel);
KILN_DEFINE_STUB(gelu_tanh_stub, "gelu", UnaryKernel);
KILN_DEFINE_STUB(silu_stub, "silu", UnaryKernel);
KILN_DEFINE_STUB(sigmoid_stub, "sigmoid", UnaryKernel);
KILN_DEFINE_STUB(tanh_stub, "tanh", UnaryKernel);
KILN_DEFINE_STUB(softplus_stub, "softplus", UnaryKernel);
KILN_DEFINE_STUB(isfinite_stub, "isfinite", UnaryKernel);
KILN_DEFINE_STUB(isnan_stub, "isnan", UnaryKernel);
KILN_DEFINE_STUB(logical_not_stub, "logical_not", UnaryKernel);

namespace {

// Runs a unary kernel into a fresh tensor of x's shape (and x's dtype, or out_dtype).
Tensor run(const DispatchStub<UnaryKernel>& stub, const Tensor& x, double a = 0, double b = 0,
           std::optional<DType> out_dtype = std::nullopt) {
  Tensor out = empty(x.shape(), TensorOptions(out_dtype.value_or(x.dtype())).with_device(x.device()));
  stub(x.device(), out, x, a, b);
  return out;
}

constexpr double kInvSqrt2 = 0.70710678118654752440;              // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;            // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;           // sqrt(2 / pi)
constexpr double kGeluTanhCoeff = 0.044715;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;         // 2 / sqrt(pi)

struct Neg : Function<Neg> {
  static constexpr const char* kName = "neg";
  Tensor forward(const Tensor& x) { return run(neg_stub, x); }
  TensorList backward(const Tensor& g) { return {neg(g)}; }
};

struct Exp : Function<Exp> {  // d/dx e^x = e^x: save the output, not the input
  static constexpr const char* kName = "exp";
  Tensor forward(const Tensor& x) {
    Tensor y = run(exp_stub, x);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    return {g * y};
  }
};

struct Log : Function<Log> {  // d/dx log x = 1 / x
  static constexpr const char* kName = "log";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(log_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g / x};
  }
};

struct Log1p : Function<Log1p> {  // d/dx log(1 + x) = 1 / (1 + x)
  static constexpr const char* kName = "log1p";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(log1p_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g / (x + 1.0)};
  }
};

struct Sqrt : Function<Sqrt> {  // d/dx sqrt x = 1 / (2 sqrt x)
  static constexpr const char* kName = "sqrt";
  Tensor forward(const Tensor& x) {
    Tensor y = run(sqrt_stub, x);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    return {g / (y * 2.0)};
  }
};

struct Rsqrt : Function<Rsqrt> {  // y = x^(-1/2), dy/dx = -y^3 / 2
  static constexpr const char* kName = "rsqrt";
  Tensor forward(const Tensor& x) {
    Tensor y = run(rsqrt_stub, x);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    return {g * pow(y, 3.0) * -0.5};
  }
};

struct Abs : Function<Abs> {  // d/dx |x| = sign(x) (0 at 0, as PyTorch)
  static constexpr const char* kName = "abs";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(abs_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g * sign(x)};
  }
};

struct Sin : Function<Sin> {
  static constexpr const char* kName = "sin";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(sin_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g * cos(x)};
  }
};

struct Cos : Function<Cos> {
  static constexpr const char* kName = "cos";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(cos_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {-(g * sin(x))};
  }
};

struct Erf : Function<Erf> {  // d/dx erf x = 2/sqrt(pi) e^(-x^2)
  static constexpr const char* kName = "erf";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(erf_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g * exp(-(x * x)) * kTwoOverSqrtPi};
  }
};

struct PowScalar : Function<PowScalar> {  // d/dx x^p = p x^(p-1)
  static constexpr const char* kName = "pow";
  double p = 1;
  Tensor forward(const Tensor& x, double exponent) {
    p = exponent;
    save(x);
    return run(pow_scalar_stub, x, exponent);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    if (p == 0.0) return {zeros_like(g)};
    return {g * pow(x, p - 1.0) * p};
  }
};

struct Clamp : Function<Clamp> {  // gradient passes where min <= x <= max
  static constexpr const char* kName = "clamp";
  double lo = 0, hi = 0;
  Tensor forward(const Tensor& x, double min, double max) {
    lo = min, hi = max;
    save(x);
    return run(clamp_stub, x, min, max);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {where(logical_and(ge(x, lo), le(x, hi)), g, 0.0)};
  }
};

struct Relu : Function<Relu> {  // gradient 1 where the output is positive
  static constexpr const char* kName = "relu";
  Tensor forward(const Tensor& x) {
    Tensor y = run(relu_stub, x);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    return {threshold_backward(g, y, 0.0)};  // one pass: no bool mask, no where
  }
};

struct LeakyRelu : Function<LeakyRelu> {
  static constexpr const char* kName = "leaky_relu";
  double slope = 0.01;
  Tensor forward(const Tensor& x, double negative_slope) {
    slope = negative_slope;
    save(x);
    return run(leaky_relu_stub, x, negative_slope);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {where(gt(x, 0.0), g, g * slope)};
  }
};

struct Elu : Function<Elu> {  // y = x (x > 0), alpha (e^x - 1) otherwise; dy = y + alpha there
  static constexpr const char* kName = "elu";
  double alpha = 1;
  Tensor forward(const Tensor& x, double alpha_) {
    alpha = alpha_;
    save(x);
    return run(elu_stub, x, alpha_);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {where(gt(x, 0.0), g, g * exp(x) * alpha)};
  }
};

// gelu(x) = x Phi(x) with Phi the standard normal CDF:
//   d/dx = Phi(x) + x phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2,  phi(x) = e^(-x^2/2) / sqrt(2 pi)
struct Gelu : Function<Gelu> {
  static constexpr const char* kName = "gelu";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(gelu_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    Tensor cdf = (erf(x * kInvSqrt2) + 1.0) * 0.5;
    Tensor pdf = exp(x * x * -0.5) * kInvSqrt2Pi;
    return {g * (cdf + x * pdf)};
  }
};

// The tanh approximation: y = x (1 + tanh u) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3):
//   dy/dx = (1 + t) / 2 + x (1 - t^2) / 2 * sqrt(2/pi) (1 + 3 * 0.044715 x^2),  t = tanh u
struct GeluTanh : Function<GeluTanh> {
  static constexpr const char* kName = "gelu";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(gelu_tanh_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    Tensor x2 = x * x;
    Tensor t = tanh((x + x2 * x * kGeluTanhCoeff) * kSqrt2OverPi);
    Tensor du = (x2 * (3.0 * kGeluTanhCoeff) + 1.0) * kSqrt2OverPi;
    return {g * ((t + 1.0) * 0.5 + x * (1.0 - t * t) * du * 0.5)};
  }
};

struct Silu : Function<Silu> {  // y = x s(x), dy/dx = s (1 + x (1 - s)),  s = sigmoid(x)
  static constexpr const char* kName = "silu";
  Tensor forward(const Tensor& x) {
    save(x);
    return run(silu_stub, x);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    Tensor s = sigmoid(x);
    return {g * s * (x * (1.0 - s) + 1.0)};
  }
};

struct Sigmoid : Function<Sigmoid> {  // dy/dx = y (1 - y)
  static constexpr const char* kName = "sigmoid";
  Tensor forward(const Tensor& x) {
    Tensor y = run(sigmoid_stub, x);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    return {g * y * (1.0 - y)};
  }
};

struct Tanh : Function<Tanh> {  // dy/dx = 1 - y^2
  static constexpr const char* kName = "tanh";
  Tensor forward(const Tensor& x) {
    Tensor y = run(tanh_stub, x);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    return {g * (1.0 - y * y)};
  }
};

// softplus(x) = log(1 + e^(beta x)) / beta, and x itself where beta x > threshold
// (where the two agree to float precision); dy/dx = sigmoid(beta x), or 1 there.
struct Softplus : Function<Softplus> {
  static constexpr const char* kName = "softplus";
  double beta = 1, threshold = 20;
  Tensor forward(const Tensor& x, double beta_, double threshold_) {
    beta = beta_, threshold = threshold_;
    save(x);
    return run(softplus_stub, x, beta_, threshold_);
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    Tensor bx = x * beta;
    return {where(gt(bx, threshold), g, g * sigmoid(bx))};
  }
};

void check_floating(const Tensor& x, const char* op) {
  KILN_CHECK(x.is_floating_point(), op, ": expected a floating tensor (float32 or float64), got ", x.meta_str());
}

}  // namespace

Tensor neg(const Tensor& x) { return apply<Neg>(x); }
Tensor exp(const Tensor& x) { return apply<Exp>(x); }
Tensor log(const Tensor& x) { return apply<Log>(x); }
Tensor log1p(const Tensor& x) { return apply<Log1p>(x); }
Tensor sqrt(const Tensor& x) { return apply<Sqrt>(x); }
Tensor rsqrt(const Tensor& x) { return apply<Rsqrt>(x); }
Tensor abs(const Tensor& x) { return apply<Abs>(x); }
Tensor sign(const Tensor& x) {
  // Piecewise constant: its gradient is zero, so it records no graph; a result
  // without grad_fn contributes nothing to backward, which is that zero.
  return run(sign_stub, x);
}
Tensor sin(const Tensor& x) { return apply<Sin>(x); }
Tensor cos(const Tensor& x) { return apply<Cos>(x); }
Tensor erf(const Tensor& x) { return apply<Erf>(x); }
Tensor pow(const Tensor& x, double exponent) {
  check_floating(x, "pow");
  return apply<PowScalar>(x, exponent);
}
Tensor square(const Tensor& x) { return x * x; }
Tensor clamp(const Tensor& x, double min, double max) {
  KILN_CHECK(!(min > max), "clamp: min ", min, " is greater than max ", max);
  return apply<Clamp>(x, min, max);
}
Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, std::numeric_limits<double>::infinity()); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, -std::numeric_limits<double>::infinity(), max); }

Tensor relu(const Tensor& x) { return apply<Relu>(x); }
Tensor leaky_relu(const Tensor& x, double negative_slope) { return apply<LeakyRelu>(x, negative_slope); }
Tensor elu(const Tensor& x, double alpha) { return apply<Elu>(x, alpha); }
Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none") return apply<Gelu>(x);
  KILN_CHECK(approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  return apply<GeluTanh>(x);
}
Tensor silu(const Tensor& x) { return apply<Silu>(x); }
Tensor sigmoid(const Tensor& x) { return apply<Sigmoid>(x); }
Tensor tanh(const Tensor& x) { return apply<Tanh>(x); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  KILN_CHECK(beta != 0.0, "softplus: beta must be nonzero");
  return apply<Softplus>(x, beta, threshold);
}

Tensor isfinite(const Tensor& x) { return run(isfinite_stub, x, 0, 0, kBool); }
Tensor isnan(const Tensor& x) { return run(isnan_stub, x, 0, 0, kBool); }
Tensor logical_not(const Tensor& x) { return run(logical_not_stub, x, 0, 0, kBool); }

// ---- in-place forms: the kernel writes over its own input (out == x is safe for an
// elementwise loop); with a graph recorded they go through inplace_update ----
namespace {
Tensor& unary_inplace(Tensor& self, const char* op, const DispatchStub<UnaryKernel>& stub,
                      Tensor (*out_of_place)(const Tensor&, double, double), double a = 0, double b = 0) {
  return inplace_update(
      self, op, false, [&](const Tensor& old) { return out_of_place(old, a, b); },
      [&] { stub(self.device(), self, self, a, b); });
}
}  // namespace

Tensor& Tensor::neg_() {
  return unary_inplace(*this, "neg_", neg_stub, [](const Tensor& x, double, double) { return kiln::neg(x); });
}
Tensor& Tensor::exp_() {
  return unary_inplace(*this, "exp_", exp_stub, [](const Tensor& x, double, double) { return kiln::exp(x); });
}
Tensor& Tensor::log_() {
  return unary_inplace(*this, "log_", log_stub, [](const Tensor& x, double, double) { return kiln::log(x); });
}
Tensor& Tensor::sqrt_() {
  return unary_inplace(*this, "sqrt_", sqrt_stub, [](const Tensor& x, double, double) { return kiln::sqrt(x); });
}
Tensor& Tensor::abs_() {
  return unary_inplace(*this, "abs_", abs_stub, [](const Tensor& x, double, double) { return kiln::abs(x); });
}
Tensor& Tensor::relu_() {
  return unary_inplace(*this, "relu_", relu_stub, [](const Tensor& x, double, double) { return kiln::relu(x); });
}
Tensor& Tensor::sigmoid_() {
  return unary_inplace(*this, "sigmoid_", sigmoid_stub, [](const Tensor& x, double, double) { return kiln::sigmoid(x); });
}
Tensor& Tensor::tanh_() {
  return unary_inplace(*this, "tanh_", tanh_stub, [](const Tensor& x, double, double) { return kiln::tanh(x); });
}
Tensor& Tensor::pow_(double exponent) {
  KILN_CHECK(is_floating_point(), "pow_: expected a floating tensor, got ", meta_str());
  return unary_inplace(
      *this, "pow_", pow_scalar_stub, [](const Tensor& x, double p, double) { return kiln::pow(x, p); }, exponent);
}
Tensor& Tensor::clamp_(double min, double max) {
  KILN_CHECK(!(min > max), "clamp_: min ", min, " is greater than max ", max);
  return unary_inplace(
      *this, "clamp_", clamp_stub, [](const Tensor& x, double lo, double hi) { return kiln::clamp(x, lo, hi); }, min, max);
}

Tensor Tensor::neg() const { return kiln::neg(*this); }
Tensor Tensor::exp() const { return kiln::exp(*this); }
Tensor Tensor::log() const { return kiln::log(*this); }
Tensor Tensor::sqrt() const { return kiln::sqrt(*this); }
Tensor Tensor::abs() const { return kiln::abs(*this); }
Tensor Tensor::pow(double exponent) const { return kiln::pow(*this, exponent); }
Tensor Tensor::relu() const { return kiln::relu(*this); }
Tensor Tensor::sigmoid() const { return kiln::sigmoid(*this); }
Tensor Tensor::tanh() const { return kiln::tanh(*this); }

}  // namespace kiln
