// Full-Jacobian gradcheck (small shapes only: cost is O(inputs x outputs) evaluations).
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/generator.h"

namespace kiln {

namespace {

// Returns the outputs flattened into one float64 vector (integer outputs are skipped).
std::vector<double> flat_outputs(const TensorList& outs) {
  std::vector<double> v;
  for (const Tensor& o : outs) {
    if (!o.defined() || !o.is_floating_point()) continue;
    auto x = o.to_vector<double>();
    v.insert(v.end(), x.begin(), x.end());
  }
  return v;
}

}  // namespace

GradcheckResult gradcheck(const std::function<TensorList(const TensorList&)>& f, const TensorList& inputs,
                          const GradcheckOptions& opt) {
  std::vector<size_t> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    KILN_CHECK(inputs[i].dtype() == DType::Float64, "gradcheck: input ", i, " must be float64, got ",
               inputs[i].meta_str());
    checked.push_back(i);
  }
  KILN_CHECK(!checked.empty(), "gradcheck: no input requires grad");

  TensorList outs = f(inputs);
  std::vector<double> base = flat_outputs(outs);
  size_t n_out = base.size();

  // Analytic Jacobian, one row per output element: J[r][input][j].
  std::vector<std::vector<std::vector<double>>> analytic(n_out);
  for (size_t r = 0; r < n_out; ++r) {
    TensorList outs_r = f(inputs);
    TensorList roots, gouts;
    size_t seen = 0;
    for (const Tensor& o : outs_r) {
      if (!o.defined() || !o.is_floating_point()) continue;
      int64_t n = o.numel();
      std::vector<double> unit(size_t(n), 0.0);
      if (r >= seen && r < seen + size_t(n)) unit[r - seen] = 1.0;
      seen += size_t(n);
      if (!o.requires_grad()) continue;
      roots.push_back(o);
      gouts.push_back(tensor(unit, o.shape(), TensorOptions(DType::Float64)));
    }
    TensorList want;
    for (size_t i : checked) want.push_back(inputs[i]);
    TensorList g = roots.empty() ? TensorList(want.size())
                                 : grad(roots, want, gouts, false, false, /*allow_unused=*/true);
    for (size_t k = 0; k < checked.size(); ++k) {
      const Tensor& in = inputs[checked[k]];
      analytic[r].push_back(g[k].defined() ? g[k].to_vector<double>()
                                           : std::vector<double>(size_t(in.numel()), 0.0));
    }
  }

  // Numeric Jacobian, one column per input element, by perturbing the input in place.
  for (size_t k = 0; k < checked.size(); ++k) {
    Tensor in = inputs[checked[k]];
    Tensor flat = in.detach();
    for (int64_t j = 0; j < in.numel(); ++j) {
      // Address element j of a possibly non-contiguous input through its strides.
      int64_t off = 0, rem = j;
      for (int64_t d = in.dim() - 1; d >= 0; --d) {
        off += (rem % in.shape()[size_t(d)]) * in.strides()[size_t(d)];
        rem /= in.shape()[size_t(d)];
      }
      double* p = flat.data_ptr<double>() + off;
      double orig = *p;
      std::vector<double> plus, minus;
      {
        NoGradGuard no_grad;
        *p = orig + opt.eps;
        plus = flat_outputs(f(inputs));
        *p = orig - opt.eps;
        minus = flat_outputs(f(inputs));
        *p = orig;
      }
      for (size_t r = 0; r < n_out; ++r) {
        double numeric = (plus[r] - minus[r]) / (2 * opt.eps);
        double a = analytic[r][k][size_t(j)];
        if (std::fabs(a - numeric) > opt.atol + opt.rtol * std::fabs(numeric) || std::isnan(a) != std::isnan(numeric)) {
          std::ostringstream os;
          os << "gradcheck: Jacobian mismatch for input " << checked[k] << " (" << in.meta_str() << ") at element "
             << j << ", output element " << r << ": analytic " << a << ", numeric " << numeric;
          return {false, os.str()};
        }
      }
    }
  }
  return {true, ""};
}

GradcheckResult gradgradcheck(const std::function<TensorList(const TensorList&)>& f, const TensorList& inputs,
                              const GradcheckOptions& opt, uint64_t seed) {
  // One random vector per floating output that depends on the inputs.
  Generator gen(seed);
  TensorList vs;
  {
    TensorList outs = f(inputs);
    for (const Tensor& o : outs)
      if (o.defined() && o.is_floating_point() && o.requires_grad())
        vs.push_back(randn(o.shape(), TensorOptions(DType::Float64), &gen).requires_grad_());
  }
  KILN_CHECK(!vs.empty(), "gradgradcheck: no output depends on an input that requires grad");
  const size_t n = inputs.size();
  auto backward_of_f = [&](const TensorList& all) {
    EnableGradGuard grad_on;  // gradcheck evaluates under NoGradGuard; the backward must record
    TensorList ins(all.begin(), all.begin() + std::ptrdiff_t(n));
    TensorList outs = f(ins), roots, wrt;
    for (const Tensor& o : outs)
      if (o.defined() && o.is_floating_point() && o.requires_grad()) roots.push_back(o);
    for (const Tensor& x : ins)
      if (x.defined() && x.requires_grad()) wrt.push_back(x);
    TensorList gouts(all.begin() + std::ptrdiff_t(n), all.end());
    TensorList g = grad(roots, wrt, gouts, true, /*create_graph=*/true, /*allow_unused=*/true);
    for (size_t k = 0; k < g.size(); ++k)
      if (!g[k].defined()) g[k] = zeros_like(wrt[k]);
    return g;
  };
  TensorList all = inputs;
  all.insert(all.end(), vs.begin(), vs.end());
  GradcheckResult r = gradcheck(backward_of_f, all, opt);
  if (!r.ok) r.message = "gradgradcheck (second derivative): " + r.message;
  return r;
}

}  // namespace kiln
