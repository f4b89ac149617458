// torch.nn.init's initialisers. Random draws come from kiln's Philox generator, so the
// values differ from PyTorch's for one seed, but the distributions are the same.
#include "nn/init.h"

#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/binary.h"

namespace kiln::nn::init {

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  KILN_FAIL("calculate_gain: unknown nonlinearity '", nonlinearity, "'");
}

Fans calculate_fans(const Tensor& t) {
  KILN_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got ", t.meta_str());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

namespace {
// Writes `values` (a fresh tensor of t's shape) into t without recording a graph.
Tensor& fill_from(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_(values);
  return t;
}
}  // namespace

Tensor& uniform_(Tensor& t, double a, double b, Generator* gen) {
  return fill_from(t, rand(t.shape(), options_of(t), gen) * (b - a) + a);
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  return fill_from(t, randn(t.shape(), options_of(t), gen) * std + mean);
}

Tensor& constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  Fans f = calculate_fans(t);
  double a = gain * std::sqrt(6.0 / double(f.fan_in + f.fan_out));
  return uniform_(t, -a, a, gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  Fans f = calculate_fans(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / double(f.fan_in + f.fan_out)), gen);
}

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  Fans f = calculate_fans(t);
  KILN_CHECK(mode == "fan_in" || mode == "fan_out", "kaiming init: mode must be 'fan_in' or 'fan_out', got '", mode,
             "'");
  double fan = double(mode == "fan_in" ? f.fan_in : f.fan_out);
  KILN_CHECK(fan > 0, "kaiming init: zero fan for ", t.meta_str());
  return calculate_gain(nonlinearity, a) / std::sqrt(fan);
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                         Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  return uniform_(t, -bound, bound, gen);
}

Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                        Generator* gen) {
  return normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity), gen);
}

Tensor& orthogonal_(Tensor& t, double gain, Generator* gen) {
  KILN_CHECK(t.dim() >= 2, "orthogonal_: expected a tensor with at least 2 dims, got ", t.meta_str());
  int64_t rows = t.size(0), cols = t.numel() / rows;
  // Orthonormalise the rows (or the columns, whichever are fewer) of a normal matrix by
  // modified Gram-Schmidt in double, which is QR's Q up to the signs that PyTorch fixes
  // with sign(diag(R)); those signs are random here anyway.
  bool by_rows = rows <= cols;
  int64_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
  std::vector<double> m = randn({n, len}, TensorOptions(kFloat64), gen).to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    double* v = &m[size_t(i * len)];
    for (int64_t j = 0; j < i; ++j) {
      const double* u = &m[size_t(j * len)];
      double dot = 0;
      for (int64_t k = 0; k < len; ++k) dot += v[k] * u[k];
      for (int64_t k = 0; k < len; ++k) v[k] -= dot * u[k];
    }
    double norm = 0;
    for (int64_t k = 0; k < len; ++k) norm += v[k] * v[k];
    norm = std::sqrt(norm);
    for (int64_t k = 0; k < len; ++k) v[k] /= norm;
  }
  for (double& x : m) x *= gain;  // after the loop: the projections above need unit vectors
  Tensor q = tensor(m, {n, len}, TensorOptions(kFloat64));
  if (!by_rows) q = q.t();
  return fill_from(t, q.reshape(t.shape()).to(t.dtype()).to(t.device()));
}

}  // namespace kiln::nn::init
