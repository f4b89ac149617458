// Classification metrics on predicted and true class indices (int64 tensors of the
// same shape), with scikit-learn's definitions and averaging names.
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln::nn::metrics {

double accuracy(const Tensor& pred, const Tensor& target);
// (num_classes, num_classes) int64: row = true class, column = predicted class.
Tensor confusion_matrix(const Tensor& pred, const Tensor& target, int64_t num_classes);
// average: "macro" (unweighted mean over classes), "micro" (from global counts),
// "weighted" (mean weighted by each class's support) or "binary" (class 1 only).
// A class with no predicted (precision) or no true (recall) examples scores 0, as
// scikit-learn's zero_division default does after its warning.
double precision(const Tensor& pred, const Tensor& target, int64_t num_classes, const std::string& average = "macro");
double recall(const Tensor& pred, const Tensor& target, int64_t num_classes, const std::string& average = "macro");
double f1_score(const Tensor& pred, const Tensor& target, int64_t num_classes, const std::string& average = "macro");

}  // namespace kiln::nn::metrics
