// nn::CTCLoss (nn/ctc_loss.h): checks its options once at construction, then calls
// ctc_loss (ops/ctc.cpp) with them.
#include "nn/ctc_loss.h"

#include <sstream>
#include <utility>

namespace kiln::nn {

CTCLoss::CTCLoss(int64_t blank, std::string reduction, bool zero_infinity)
    : Module("CTCLoss"), blank(blank), reduction(std::move(reduction)), zero_infinity(zero_infinity) {
  KILN_CHECK(blank >= 0, "CTCLoss: expected blank >= 0, got ", blank);
  KILN_CHECK(this->reduction == "none" || this->reduction == "mean" || this->reduction == "sum",
             "CTCLoss: expected reduction \"none\", \"mean\" or \"sum\", got \"", this->reduction, "\"");
}

Tensor CTCLoss::forward(const Tensor& log_probs, const Tensor& targets, const IntList& input_lengths,
                        const IntList& target_lengths) const {
  return ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity);
}

std::string CTCLoss::extra_repr() const {
  std::ostringstream os;
  os << "blank=" << blank << ", reduction='" << reduction << "', zero_infinity=" << (zero_infinity ? "True" : "False");
  return os.str();
}

}  // namespace kiln::nn
