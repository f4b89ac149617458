// Score-based metrics. The ROC curve sorts the scores once (descending, stable) and
// walks the distinct thresholds, counting true and false positives, as scikit-learn's
// _binary_clf_curve; the AUC is the trapezoid area under that curve.
#include "nn/metrics/ranking.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/factory.h"

namespace kiln::nn::metrics {

namespace {

void check_scores(const Tensor& scores, int64_t dim, const char* op) {
  KILN_CHECK(scores.dim() == dim && scores.is_floating_point(), op, ": expected ", dim,
             "-D floating scores, got ", scores.meta_str());
}

std::vector<int64_t> class_indices(const Tensor& target, int64_t n, int64_t num_classes, const char* op) {
  KILN_CHECK(target.dim() == 1 && target.dtype() == kInt64, op, ": expected a 1-D int64 target, got ",
             target.meta_str());
  KILN_CHECK(target.size(0) == n, op, ": target ", target.meta_str(), " does not match ", n, " score rows");
  std::vector<int64_t> t = target.to_vector<int64_t>();
  for (size_t i = 0; i < t.size(); ++i)
    KILN_CHECK(t[i] >= 0 && t[i] < num_classes, op, ": class ", t[i], " at position ", i, " is out of range for ",
               num_classes, " classes");
  return t;
}

// Counts of false and true positives at each distinct threshold, highest first; the
// curve is (fps, tps) before dividing by the totals. `positive[i]` says whether example
// i is positive.
struct Counts {
  std::vector<double> fps, tps, thresholds;
};

Counts binary_counts(const std::vector<double>& score, const std::vector<bool>& positive) {
  const size_t n = score.size();
  // scikit-learn: argsort(kind="mergesort")[::-1]. The order inside a tie does not
  // change the counts taken at the tie's last index, so a stable descending sort will do.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  Counts c;
  double tp = 0;
  for (size_t i = 0; i < n; ++i) {
    tp += positive[order[i]] ? 1.0 : 0.0;
    bool last_of_tie = i + 1 == n || score[order[i + 1]] != score[order[i]];
    if (!last_of_tie) continue;
    c.tps.push_back(tp);
    c.fps.push_back(double(i + 1) - tp);
    c.thresholds.push_back(score[order[i]]);
  }
  return c;
}

RocCurve curve_from(const std::vector<double>& score, const std::vector<bool>& positive) {
  KILN_CHECK(!score.empty(), "roc_curve: no scores");
  for (size_t i = 0; i < score.size(); ++i)
    KILN_CHECK(std::isfinite(score[i]), "roc_curve: score ", score[i], " at position ", i, " is not finite");
  Counts c = binary_counts(score, positive);
  // Drop a point when both second differences around it vanish: it lies on the line
  // through its neighbours and adds no corner to the curve.
  std::vector<double> fps{0}, tps{0}, thresholds{c.thresholds[0] + 1};
  const size_t m = c.fps.size();
  for (size_t i = 0; i < m; ++i) {
    bool keep = m <= 2 || i == 0 || i + 1 == m || c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1] != 0 ||
                c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1] != 0;
    if (!keep) continue;
    fps.push_back(c.fps[i]);
    tps.push_back(c.tps[i]);
    thresholds.push_back(c.thresholds[i]);
  }
  const double fp_total = fps.back(), tp_total = tps.back();
  for (size_t i = 0; i < fps.size(); ++i) {
    fps[i] = fp_total > 0 ? fps[i] / fp_total : NAN;
    tps[i] = tp_total > 0 ? tps[i] / tp_total : NAN;
  }
  const int64_t len = int64_t(fps.size());
  return {tensor(fps, {len}), tensor(tps, {len}), tensor(thresholds, {len})};
}

// numpy.trapz(tpr, fpr): sum of (x[i+1] - x[i]) (y[i+1] + y[i]) / 2.
double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double area = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) area += (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
  return area;
}

double binary_auc(const std::vector<double>& score, const std::vector<bool>& positive, const char* op) {
  size_t n_pos = size_t(std::count(positive.begin(), positive.end(), true));
  KILN_CHECK(n_pos > 0 && n_pos < positive.size(), op,
             ": only one class present in the target; ROC AUC is not defined in that case");
  RocCurve c = curve_from(score, positive);
  return trapezoid(c.fpr.to_vector<double>(), c.tpr.to_vector<double>());
}

std::vector<bool> binary_labels(const Tensor& target, int64_t n, const char* op) {
  std::vector<int64_t> t = class_indices(target, n, 2, op);
  return std::vector<bool>(t.begin(), t.end());
}

}  // namespace

double top_k_accuracy(const Tensor& scores, const Tensor& target, int64_t k) {
  check_scores(scores, 2, "top_k_accuracy");
  const int64_t n = scores.size(0), num_classes = scores.size(1);
  KILN_CHECK(n > 0 && num_classes > 0, "top_k_accuracy: no scores in ", scores.meta_str());
  KILN_CHECK(k >= 1, "top_k_accuracy: k must be at least 1, got ", k);
  std::vector<int64_t> t = class_indices(target, n, num_classes, "top_k_accuracy");
  std::vector<double> s = scores.to_vector<double>();
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* row = s.data() + i * num_classes;
    const double mine = row[t[size_t(i)]];
    // The true class's rank = the classes ranked above it: higher scores, and equal
    // scores at larger indices (see the tie rule in the header).
    int64_t above = 0;
    for (int64_t c = 0; c < num_classes; ++c) above += row[c] > mine || (row[c] == mine && c > t[size_t(i)]);
    hits += above < k;
  }
  return double(hits) / double(n);
}

RocCurve roc_curve(const Tensor& scores, const Tensor& target) {
  check_scores(scores, 1, "roc_curve");
  return curve_from(scores.to_vector<double>(), binary_labels(target, scores.size(0), "roc_curve"));
}

double roc_auc_score(const Tensor& scores, const Tensor& target, const std::string& average) {
  const char* op = "roc_auc_score";
  KILN_CHECK(scores.is_floating_point() && (scores.dim() == 1 || scores.dim() == 2), op,
             ": expected 1-D (binary) or 2-D (multiclass) floating scores, got ", scores.meta_str());
  const int64_t n = scores.size(0);
  KILN_CHECK(n > 0, op, ": no scores");
  if (scores.dim() == 1) return binary_auc(scores.to_vector<double>(), binary_labels(target, n, op), op);

  KILN_CHECK(average == "macro" || average == "weighted" || average == "micro", op,
             ": average must be 'macro', 'weighted' or 'micro' for multiclass scores, got '", average, "'");
  const int64_t num_classes = scores.size(1);
  KILN_CHECK(num_classes >= 2, op, ": expected at least 2 classes, got scores ", scores.meta_str());
  std::vector<double> s = scores.to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    double row_sum = 0;
    for (int64_t c = 0; c < num_classes; ++c) row_sum += s[size_t(i * num_classes + c)];
    // numpy.allclose(1, row_sum): |row_sum - 1| <= 1e-8 + 1e-5 |row_sum|
    KILN_CHECK(std::abs(row_sum - 1.0) <= 1e-8 + 1e-5 * std::abs(row_sum), op,
               ": multiclass scores must be class probabilities summing to 1 over each row; row ", i, " sums to ",
               row_sum);
  }
  std::vector<int64_t> t = class_indices(target, n, num_classes, op);
  std::vector<double> support(size_t(num_classes), 0.0);
  for (int64_t c : t) support[size_t(c)] += 1;
  for (int64_t c = 0; c < num_classes; ++c)
    KILN_CHECK(support[size_t(c)] > 0, op, ": class ", c, " does not occur in the target; one-vs-rest AUC needs every",
               " one of the ", num_classes, " score columns' classes");

  if (average == "micro") {  // one binary problem over every (example, class) pair
    std::vector<bool> positive(s.size());
    for (int64_t i = 0; i < n; ++i) positive[size_t(i * num_classes + t[size_t(i)])] = true;
    return binary_auc(s, positive, op);
  }
  double total = 0, weight_sum = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    std::vector<double> column(static_cast<size_t>(n));
    std::vector<bool> positive(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      column[size_t(i)] = s[size_t(i * num_classes + c)];
      positive[size_t(i)] = t[size_t(i)] == c;
    }
    double w = average == "weighted" ? support[size_t(c)] : 1.0;
    total += w * binary_auc(column, positive, op);
    weight_sum += w;
  }
  return total / weight_sum;
}

double perplexity(double mean_nll) { return std::exp(mean_nll); }

double perplexity(const Tensor& log_probs, const Tensor& target, int64_t ignore_index) {
  KILN_CHECK(log_probs.dim() == 2 && log_probs.is_floating_point(),
             "perplexity: expected (N, C) floating log-probabilities, got ", log_probs.meta_str());
  const int64_t n = log_probs.size(0), num_classes = log_probs.size(1);
  KILN_CHECK(target.dim() == 1 && target.dtype() == kInt64 && target.size(0) == n,
             "perplexity: expected an int64 target of shape [", n, "], got ", target.meta_str());
  std::vector<double> lp = log_probs.to_vector<double>();
  std::vector<int64_t> t = target.to_vector<int64_t>();
  double nll = 0;
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = t[size_t(i)];
    if (c == ignore_index) continue;
    KILN_CHECK(c >= 0 && c < num_classes, "perplexity: class ", c, " at position ", i, " is out of range for ",
               num_classes, " classes");
    nll -= lp[size_t(i * num_classes + c)];
    ++counted;
  }
  KILN_CHECK(counted > 0, "perplexity: every target is ignore_index (", ignore_index, "); nothing to average");
  return std::exp(nll / double(counted));
}

}  // namespace kiln::nn::metrics
