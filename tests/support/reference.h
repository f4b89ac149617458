// Loads the committed PyTorch reference files (tests/reference/data/<family>.txt,
// written by tests/reference/gen_reference.py) into kiln tensors.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::test {

struct RefCase {
  std::string name;
  bool grad = true;        // grads are recorded for floating inputs
  bool gradcheck = true;   // also gradcheck the op in float64 on these inputs
  bool gradgradcheck = true;  // ... and gradgradcheck it (its double backward)
  bool noncontig = true;   // also run on non-contiguous copies of the inputs
  double rtol = 1e-4, atol = 1e-5;
  TensorList inputs, outputs;
  TensorList gouts;        // per output; undefined where the output has none
  TensorList grads;        // per input; undefined for inputs without a gradient
};

// Every case of a family in file order; the file is parsed once. Throws with the
// file name and line on a malformed file.
const std::vector<RefCase>& reference_cases(const std::string& family);
const RefCase& reference_case(const std::string& family, const std::string& name);
// The case names: all, or those with gradcheck=1, or those with gradgradcheck=1.
enum class CaseFilter { All, Gradcheck, Gradgradcheck };
std::vector<std::string> reference_case_names(const std::string& family, CaseFilter filter = CaseFilter::All);

}  // namespace kiln::test
