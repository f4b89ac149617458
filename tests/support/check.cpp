// Comparison and reference-suite helpers (see check.h).
#include "support/check.h"

#include <cmath>
#include <optional>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "core/factory.h"
#include "ops/view.h"

namespace kiln::test {

::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << "undefined tensor: actual " << actual.meta_str() << ", expected "
                                         << expected.meta_str();
  if (actual.shape() != expected.shape() || actual.dtype() != expected.dtype())
    return ::testing::AssertionFailure() << "actual is " << actual.meta_str() << ", expected "
                                         << expected.meta_str();
  auto a = actual.to_vector<double>();
  auto e = expected.to_vector<double>();
  std::ostringstream os;
  int shown = 0;
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok = (std::isnan(a[i]) && std::isnan(e[i])) || a[i] == e[i] ||
              std::fabs(a[i] - e[i]) <= atol + rtol * std::fabs(e[i]);
    if (ok) continue;
    ++bad;
    if (shown++ < 5) {
      os << "\n  at flat index " << i << " (";
      int64_t rem = int64_t(i);
      IntList idx(actual.shape().size());
      for (size_t d = idx.size(); d-- > 0;) {
        idx[d] = rem % actual.shape()[d];
        rem /= actual.shape()[d];
      }
      os << idx << "): actual " << a[i] << ", expected " << e[i];
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ (rtol " << rtol
                                       << ", atol " << atol << "):" << os.str();
}

Tensor make_noncontiguous(const Tensor& t) {
  if (t.dim() == 0) return t.clone();
  Shape wide = t.shape();
  wide.back() *= 2;
  Tensor buffer = zeros(wide, options_of(t));
  Tensor view = buffer.slice(-1, 0, wide.back(), 2);
  view.copy_(t);
  return view;
}

const OpFn& find_op(const OpTable& table, const std::string& case_name) {
  auto it = table.find(case_name);
  if (it == table.end()) it = table.find(case_name.substr(0, case_name.find('.')));
  KILN_CHECK(it != table.end(), "reference suite: no kiln function for case '", case_name,
             "': add it to the family's OpTable");
  return it->second;
}

namespace {

// Fresh copies of the case's inputs (the cached reference inputs must never be marked
// requires_grad): floating ones converted to float_dtype, or kept as stored if none.
TensorList prepare_inputs(const RefCase& c, bool noncontig, std::optional<DType> float_dtype, bool for_grad) {
  TensorList ins;
  for (const Tensor& x : c.inputs) {
    Tensor y = x.is_floating_point() && float_dtype ? x.to(*float_dtype).clone() : x.clone();
    if (noncontig) y = make_noncontiguous(y);
    if (for_grad && y.is_floating_point()) {
      if (!y.is_leaf()) y = y.detach();
      y.requires_grad_(true);
    }
    ins.push_back(y);
  }
  return ins;
}

void run_once(const RefCase& c, const OpFn& fn, bool noncontig) {
  SCOPED_TRACE(c.name + (noncontig ? " (non-contiguous inputs)" : " (contiguous inputs)"));
  TensorList ins = prepare_inputs(c, noncontig, std::nullopt, c.grad);
  TensorList outs = fn(ins);
  ASSERT_EQ(outs.size(), c.outputs.size()) << "number of outputs";
  for (size_t i = 0; i < outs.size(); ++i) {
    bool f64 = c.outputs[i].dtype() == kFloat64;
    EXPECT_TRUE(allclose(outs[i], c.outputs[i], f64 ? 1e-10 : c.rtol, f64 ? 1e-12 : c.atol)) << "output " << i;
  }
  if (!c.grad || c.grads.empty()) return;
  TensorList roots, gouts, wrt;
  for (size_t i = 0; i < c.gouts.size(); ++i) {
    if (!c.gouts[i].defined()) continue;
    ASSERT_TRUE(outs[i].requires_grad()) << "output " << i << " should require grad";
    roots.push_back(outs[i]);
    gouts.push_back(c.gouts[i]);
  }
  std::vector<size_t> wrt_index;
  for (size_t i = 0; i < c.grads.size(); ++i) {
    if (!c.grads[i].defined()) continue;
    wrt.push_back(ins[i]);
    wrt_index.push_back(i);
  }
  TensorList grads = grad(roots, wrt, gouts, false, false, /*allow_unused=*/true);
  for (size_t k = 0; k < grads.size(); ++k) {
    const Tensor& expected = c.grads[wrt_index[k]];
    Tensor got = grads[k].defined() ? grads[k] : zeros_like(expected);
    bool f64 = expected.dtype() == kFloat64;
    EXPECT_TRUE(allclose(got, expected, f64 ? 1e-10 : c.rtol, f64 ? 1e-12 : c.atol))
        << "gradient of input " << wrt_index[k];
  }
}

}  // namespace

void check_reference_case(const RefCase& c, const OpFn& fn) {
  run_once(c, fn, false);
  if (c.noncontig) run_once(c, fn, true);
}

void check_gradcheck_case(const RefCase& c, const OpFn& fn) {
  TensorList ins = prepare_inputs(c, false, kFloat64, true);
  GradcheckResult r = gradcheck(fn, ins);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

void check_gradgradcheck_case(const RefCase& c, const OpFn& fn) {
  TensorList ins = prepare_inputs(c, false, kFloat64, true);
  GradcheckResult r = gradgradcheck(fn, ins);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

std::string case_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

}  // namespace kiln::test
