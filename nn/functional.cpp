// The stateless layer functions, composed of kiln ops (their backward comes with them).
// linear runs in the autocast dtype inside an autocast scope (See Note [Autocast]).
#include "nn/functional.h"

#include "core/autocast.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/linalg.h"
#include "ops/random.h"

namespace kiln::nn::functional {

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  const Tensor x = autocast_to_lower(x_in), weight = autocast_to_lower(weight_in), bias = autocast_to_lower(bias_in);
  KILN_CHECK(weight.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got ", weight.meta_str());
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", x.meta_str(),
             " does not end in in_features = ", weight.size(1), " (weight ", weight.meta_str(), ")");
  KILN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), "linear: bias ",
             bias.meta_str(), " does not match out_features = ", weight.size(0));
  if (x.dim() == 2 && bias.defined()) return addmm(bias, x, weight.t());  // one fused GEMM
  if (x.dim() > 2 && bias.defined() && x.is_contiguous()) {
    // The leading dims fold into the rows of one matrix (a view), so the bias is added by
    // the same fused GEMM instead of a pass of its own over the output, as PyTorch does.
    Shape out_shape = x.shape();
    out_shape.back() = weight.size(0);
    return addmm(bias, x.reshape({-1, x.size(-1)}), weight.t()).reshape(out_shape);
  }
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? y + bias : y;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  return fused_dropout(x, p, gen);
}

}  // namespace kiln::nn::functional
