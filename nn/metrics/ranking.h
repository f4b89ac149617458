// Metrics on scores rather than hard predictions: top-k accuracy, ROC AUC and the ROC
// curve, with scikit-learn's definitions (sklearn.metrics). The perplexity of a language
// model sits here too: like these, it reads the model's scores for the true class.
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln::nn::metrics {

// The fraction of rows whose true class is among the k highest scores, as
// sklearn.metrics.top_k_accuracy_score(target, scores, k=k, labels=range(C)).
//   scores: (N, C) floating, target: (N) int64 in [0, C), 1 <= k.
// Ties: classes are ranked by score, and among equal scores the class with the larger
// index ranks first (scikit-learn sorts stably ascending and reverses). So with scores
// (0.5, 0.5, 0.1) and k = 1, class 1 counts as the prediction, not class 0.
// k >= C gives 1 (scikit-learn warns that such a score is meaningless).
double top_k_accuracy(const Tensor& scores, const Tensor& target, int64_t k);

// The receiver operating characteristic of a binary problem, as
// sklearn.metrics.roc_curve(target, scores) with drop_intermediate=True:
//   scores: (N) floating, target: (N) int64 in {0, 1} (1 is the positive class).
// Thresholds are the distinct scores in decreasing order, preceded by max(score) + 1
// (scikit-learn 1.2's sentinel); points that lie on a straight line between their
// neighbours are dropped. fpr[i] and tpr[i] are the rates of predicting positive for
// score >= thresholds[i]; all three are float64 (M). When the targets hold no negative
// (positive) example, fpr (tpr) is NaN throughout, as scikit-learn's after its warning.
struct RocCurve {
  Tensor fpr, tpr, thresholds;
};
RocCurve roc_curve(const Tensor& scores, const Tensor& target);

// The area under the ROC curve, as sklearn.metrics.roc_auc_score.
//  - binary: scores (N), target (N) int64 in {0, 1}. The trapezoid area under roc_curve:
//    equal to the probability that a random positive scores above a random negative,
//    with ties counting one half (the Mann-Whitney U statistic over n_pos n_neg).
//  - multiclass one-vs-rest: scores (N, C) with C >= 2, each row summing to 1 (class
//    probabilities; scikit-learn refuses other scores), target (N) int64 in [0, C).
//    Each class c gets the binary AUC of (target == c) against scores[:, c]; average
//    "macro" takes their plain mean, "weighted" weighs class c by its count in target.
// Every class must occur in target (for binary: both 0 and 1), else the AUC is
// undefined and this is an error, as in scikit-learn.
double roc_auc_score(const Tensor& scores, const Tensor& target, const std::string& average = "macro");

// A language model's perplexity: exp of the mean negative log-likelihood per token.
double perplexity(double mean_nll);
// log_probs: (N, C) log-probabilities (log_softmax output), target: (N) int64.
// exp(-mean over i with target[i] != ignore_index of log_probs[i, target[i]]), i.e.
// exp(nll_loss(log_probs, target)) = exp(cross_entropy(logits, target)) in PyTorch.
// Accumulates in double. Every target being ignore_index is an error.
double perplexity(const Tensor& log_probs, const Tensor& target, int64_t ignore_index = -100);

}  // namespace kiln::nn::metrics
