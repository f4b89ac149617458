// gradcheck: compares the gradients backward computes with central finite differences,
// element by element (the full Jacobian), in float64. Used on every differentiable op.
#pragma once

#include <functional>
#include <string>

#include "core/tensor.h"

namespace kiln {

struct GradcheckOptions {
  double eps = 1e-6;    // finite-difference step
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: which input, which element, analytic vs numeric
  explicit operator bool() const { return ok; }
};

// f maps the inputs to one or more outputs. Every floating input that requires grad is
// checked; all of them must be float64. Checks d(sum_k <out_k, v_k>)/d(input) for
// each output element's unit vector v (the rows of the Jacobian) against
// (f(x + eps e_j) - f(x - eps e_j)) / 2 eps (its columns).
GradcheckResult gradcheck(const std::function<TensorList(const TensorList&)>& f, const TensorList& inputs,
                          const GradcheckOptions& options = {});

// Second-order check: gradcheck of the backward itself. The function checked maps
// (inputs, v) to d<f(inputs), v>/d(inputs), computed with create_graph, where v are
// fixed random vectors (one per differentiable output, seeded by `seed`) that are
// also treated as inputs. Passing it means double backward (Hessian-vector products,
// gradient penalties) is right for f.
GradcheckResult gradgradcheck(const std::function<TensorList(const TensorList&)>& f, const TensorList& inputs,
                              const GradcheckOptions& options = {}, uint64_t seed = 0);

}  // namespace kiln
