// Metrics from the confusion matrix: per class c, tp = C[c][c], fp = column sum - tp,
// fn = row sum - tp; precision = tp / (tp + fp), recall = tp / (tp + fn),
// f1 = 2 tp / (2 tp + fp + fn).
#include "nn/metrics/classification.h"

#include <vector>

#include "core/factory.h"

namespace kiln::nn::metrics {

namespace {

void check_pair(const Tensor& pred, const Tensor& target, const char* op) {
  KILN_CHECK(pred.shape() == target.shape(), op, ": predictions ", pred.meta_str(), " and targets ",
             target.meta_str(), " must have the same shape");
  KILN_CHECK(pred.dtype() == kInt64 && target.dtype() == kInt64, op, ": expected int64 class indices, got ",
             pred.meta_str(), " and ", target.meta_str());
}

struct Counts {
  std::vector<double> tp, fp, fn, support;
};

Counts counts(const Tensor& pred, const Tensor& target, int64_t k) {
  std::vector<int64_t> cm = confusion_matrix(pred, target, k).to_vector<int64_t>();
  Counts c{std::vector<double>(size_t(k)), std::vector<double>(size_t(k)), std::vector<double>(size_t(k)),
           std::vector<double>(size_t(k))};
  for (int64_t t = 0; t < k; ++t)
    for (int64_t p = 0; p < k; ++p) {
      double v = double(cm[size_t(t * k + p)]);
      if (t == p) c.tp[size_t(t)] += v;
      else c.fn[size_t(t)] += v, c.fp[size_t(p)] += v;
      c.support[size_t(t)] += v;
    }
  return c;
}

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// score(tp, fp, fn) per class, then averaged as asked.
template <typename Score>
double averaged(const Tensor& pred, const Tensor& target, int64_t k, const std::string& average, const char* op,
                Score score) {
  Counts c = counts(pred, target, k);
  if (average == "micro") {
    double tp = 0, fp = 0, fn = 0;
    for (int64_t i = 0; i < k; ++i) tp += c.tp[size_t(i)], fp += c.fp[size_t(i)], fn += c.fn[size_t(i)];
    return score(tp, fp, fn);
  }
  if (average == "binary") {
    KILN_CHECK(k == 2, op, ": average='binary' needs 2 classes, got ", k);
    return score(c.tp[1], c.fp[1], c.fn[1]);
  }
  KILN_CHECK(average == "macro" || average == "weighted", op,
             ": average must be 'macro', 'micro', 'weighted' or 'binary', got '", average, "'");
  double total = 0, weight_sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    double w = average == "weighted" ? c.support[size_t(i)] : 1.0;
    total += w * score(c.tp[size_t(i)], c.fp[size_t(i)], c.fn[size_t(i)]);
    weight_sum += w;
  }
  return ratio(total, weight_sum);
}

}  // namespace

double accuracy(const Tensor& pred, const Tensor& target) {
  check_pair(pred, target, "accuracy");
  KILN_CHECK(pred.numel() > 0, "accuracy: no predictions");
  auto p = pred.to_vector<int64_t>(), t = target.to_vector<int64_t>();
  int64_t right = 0;
  for (size_t i = 0; i < p.size(); ++i) right += p[i] == t[i];
  return double(right) / double(p.size());
}

Tensor confusion_matrix(const Tensor& pred, const Tensor& target, int64_t k) {
  check_pair(pred, target, "confusion_matrix");
  KILN_CHECK(k > 0, "confusion_matrix: num_classes must be positive, got ", k);
  auto p = pred.to_vector<int64_t>(), t = target.to_vector<int64_t>();
  std::vector<int64_t> cm(size_t(k * k), 0);
  for (size_t i = 0; i < p.size(); ++i) {
    KILN_CHECK(p[i] >= 0 && p[i] < k && t[i] >= 0 && t[i] < k, "confusion_matrix: class ",
               (p[i] < 0 || p[i] >= k ? p[i] : t[i]), " at position ", i, " is out of range for ", k, " classes");
    ++cm[size_t(t[i] * k + p[i])];
  }
  return tensor(cm, {k, k});
}

double precision(const Tensor& pred, const Tensor& target, int64_t k, const std::string& average) {
  return averaged(pred, target, k, average, "precision", [](double tp, double fp, double) { return ratio(tp, tp + fp); });
}

double recall(const Tensor& pred, const Tensor& target, int64_t k, const std::string& average) {
  return averaged(pred, target, k, average, "recall", [](double tp, double, double fn) { return ratio(tp, tp + fn); });
}

double f1_score(const Tensor& pred, const Tensor& target, int64_t k, const std::string& average) {
  return averaged(pred, target, k, average, "f1_score",
                  [](double tp, double fp, double fn) { return ratio(2 * tp, 2 * tp + fp + fn); });
}

}  // namespace kiln::nn::metrics
