// Test helpers: tolerance comparison that prints the first mismatches, and the
// table-driven reference suites (RefParity against PyTorch, GradcheckF64).
// See tests/ops/unary_test.cpp for how a family's suite is declared.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "core/tensor.h"
#include "support/reference.h"

namespace kiln::test {

// |actual - expected| <= atol + rtol * |expected| elementwise (NaN matches NaN), same
// shape and dtype. On failure lists the first few mismatches with their indices.
::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, double rtol = 1e-5,
                                    double atol = 1e-6);

// A copy of t with the same values whose last dim has stride 2 (a slice of a larger
// buffer), so kernels see a non-contiguous input. 0-d tensors are returned as copies.
Tensor make_noncontiguous(const Tensor& t);

// The kiln side of a reference case: maps the case's inputs to its outputs.
using OpFn = std::function<TensorList(const TensorList&)>;
inline TensorList one(const Tensor& t) { return {t}; }  // a single output as a list
// Keys are a case's full name ("sum.dim1_keepdim") or its op prefix ("sum").
using OpTable = std::map<std::string, OpFn>;

const OpFn& find_op(const OpTable& table, const std::string& case_name);
// Forward outputs and input gradients against PyTorch's (then again with
// non-contiguous inputs if the case allows).
void check_reference_case(const RefCase& c, const OpFn& fn);
// gradcheck in float64 on the case's inputs converted to float64.
void check_gradcheck_case(const RefCase& c, const OpFn& fn);
// gradgradcheck (the double backward) likewise.
void check_gradgradcheck_case(const RefCase& c, const OpFn& fn);

std::string case_test_name(const ::testing::TestParamInfo<std::string>& info);

}  // namespace kiln::test

// Declares the tests of one family over the cases in tests/reference/data/<family>.txt:
// Suite.RefParity/<case> for every case, Suite##Gradcheck.GradcheckF64/<case> for the
// differentiable ones and Suite##Gradgradcheck.GradgradcheckF64/<case> for those whose
// double backward is checked. `table` is an expression giving an OpTable.
#define KILN_REFERENCE_SUITE(Suite, family, table)                                                  \
  class Suite : public ::testing::TestWithParam<std::string> {};                                    \
  TEST_P(Suite, RefParity) {                                                                        \
    const auto& c = ::kiln::test::reference_case(family, GetParam());                               \
    ::kiln::test::check_reference_case(c, ::kiln::test::find_op(table, c.name));                    \
  }                                                                                                 \
  INSTANTIATE_TEST_SUITE_P(Ops, Suite, ::testing::ValuesIn(::kiln::test::reference_case_names(family)), \
                           ::kiln::test::case_test_name);                                           \
  class Suite##Gradcheck : public ::testing::TestWithParam<std::string> {};                         \
  TEST_P(Suite##Gradcheck, GradcheckF64) {                                                          \
    const auto& c = ::kiln::test::reference_case(family, GetParam());                               \
    ::kiln::test::check_gradcheck_case(c, ::kiln::test::find_op(table, c.name));                    \
  }                                                                                                 \
  INSTANTIATE_TEST_SUITE_P(Ops, Suite##Gradcheck,                                                   \
                           ::testing::ValuesIn(::kiln::test::reference_case_names(                 \
                               family, ::kiln::test::CaseFilter::Gradcheck)),                       \
                           ::kiln::test::case_test_name);                                           \
  class Suite##Gradgradcheck : public ::testing::TestWithParam<std::string> {};                     \
  TEST_P(Suite##Gradgradcheck, GradgradcheckF64) {                                                  \
    const auto& c = ::kiln::test::reference_case(family, GetParam());                               \
    ::kiln::test::check_gradgradcheck_case(c, ::kiln::test::find_op(table, c.name));                \
  }                                                                                                 \
  INSTANTIATE_TEST_SUITE_P(Ops, Suite##Gradgradcheck,                                               \
                           ::testing::ValuesIn(::kiln::test::reference_case_names(                 \
                               family, ::kiln::test::CaseFilter::Gradgradcheck)),                   \
                           ::kiln::test::case_test_name)
