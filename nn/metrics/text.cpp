// BLEU as nltk computes it: per-order clipped n-gram counts summed over the corpus into
// one fraction per order, the brevity penalty from the closest reference lengths, then
// one of nltk's smoothing methods on the fractions before the weighted geometric mean.
#include "nn/metrics/text.h"

#include <cctype>
#include <cfloat>
#include <cmath>
#include <map>

#include "core/error.h"

namespace kiln::nn::metrics {

namespace {

using NgramCounts = std::map<Tokens, int64_t>;

NgramCounts ngram_counts(const Tokens& tokens, int n) {
  NgramCounts counts;
  for (size_t i = 0; i + size_t(n) <= tokens.size(); ++i)
    ++counts[Tokens(tokens.begin() + std::ptrdiff_t(i), tokens.begin() + std::ptrdiff_t(i) + n)];
  return counts;
}

// A precision kept as nltk keeps it: an unreduced fraction (the numerator and the
// denominator are counts that smoothing reads), or, once smoothing replaced it, a value.
struct Precision {
  double num = 0, den = 1;
  double value() const { return num / den; }
};

// nltk's modified_precision: hypothesis n-grams clipped by their largest count in any
// one reference, over max(1, number of hypothesis n-grams).
Precision modified_precision(const std::vector<Tokens>& references, const Tokens& hypothesis, int n) {
  NgramCounts counts = ngram_counts(hypothesis, n);
  std::map<Tokens, int64_t> max_ref;
  for (const Tokens& reference : references) {
    NgramCounts ref_counts = ngram_counts(reference, n);
    for (const auto& [ngram, count] : counts) {
      auto it = ref_counts.find(ngram);
      int64_t& m = max_ref[ngram];
      if (it != ref_counts.end()) m = std::max(m, it->second);
    }
  }
  int64_t clipped = 0, total = 0;
  for (const auto& [ngram, count] : counts) {
    clipped += std::min(count, max_ref[ngram]);
    total += count;
  }
  return {double(clipped), double(std::max<int64_t>(1, total))};
}

// The reference length closest to the hypothesis length; a tie goes to the shorter.
size_t closest_ref_length(const std::vector<Tokens>& references, size_t hyp_len) {
  size_t best = references[0].size();
  auto distance = [&](size_t len) { return len > hyp_len ? len - hyp_len : hyp_len - len; };
  for (const Tokens& r : references)
    if (distance(r.size()) < distance(best) || (distance(r.size()) == distance(best) && r.size() < best))
      best = r.size();
  return best;
}

// The smoothing methods, on p (orders 1..max_n). Where nltk passes one sentence, it is
// the corpus's last (see the NOTE in text.h); hyp_len is the corpus's total length.
void smooth(std::vector<Precision>& p, const BleuOptions& o, const std::vector<Tokens>& last_refs,
            const Tokens& last_hyp, double hyp_len);

void smooth_nist(std::vector<Precision>& p, double scale) {  // methods 3 and 4
  double inc = 1;
  for (Precision& pi : p)
    if (pi.num == 0) {
      pi = {1.0 / (std::pow(2.0, inc) * scale), pi.den};
      inc += 1;
    }
}

void smooth_average(std::vector<Precision>& p, const std::vector<Tokens>& last_refs, const Tokens& last_hyp) {
  // p_i <- (p'_{i-1} + p_i + p_{i+1}) / 3 with p'_0 = p_1 + 1 and p'_{i-1} the smoothed
  // previous value; p_{i+1} past the last order is the 5-gram precision (as nltk).
  std::vector<double> next;
  for (size_t i = 1; i < p.size(); ++i) next.push_back(p[i].value());
  next.push_back(modified_precision(last_refs, last_hyp, 5).value());
  double previous = p[0].value() + 1;
  for (size_t i = 0; i < p.size(); ++i) {
    double v = (previous + p[i].value() + next[i]) / 3;
    p[i] = {v, 1};
    previous = v;
  }
}

void smooth(std::vector<Precision>& p, const BleuOptions& o, const std::vector<Tokens>& last_refs,
            const Tokens& last_hyp, double hyp_len) {
  switch (o.smoothing) {
    case 0:
      for (Precision& pi : p)
        if (pi.num == 0) pi = {DBL_MIN, 1};
      return;
    case 1:
      for (Precision& pi : p)
        if (pi.num == 0) pi = {o.epsilon, pi.den};
      return;
    case 2:
      for (size_t i = 1; i < p.size(); ++i) p[i] = {p[i].num + 1, p[i].den + 1};
      return;
    case 3:
      smooth_nist(p, 1.0);
      return;
    case 4:
    case 7:
      // numerator 1 / (2^i k / ln(hyp_len)); nltk skips it for a hypothesis length <= 1.
      if (hyp_len > 1) smooth_nist(p, o.k / std::log(hyp_len));
      if (o.smoothing == 7) smooth_average(p, last_refs, last_hyp);
      return;
    case 5:
      smooth_average(p, last_refs, last_hyp);
      return;
    case 6: {
      KILN_CHECK(p.size() >= 3 && p[2].num != 0,
                 "corpus_bleu: smoothing method 6 needs max_n >= 3 and a trigram match (as nltk)");
      std::vector<Precision> original = p;
      for (size_t i = 2; i < p.size(); ++i) {
        // pi0 = p_{i-1}^2 / p_{i-2} (the smoothed values), then
        // p_i = (matches + alpha pi0) / (hypothesis (i+1)-grams + alpha).
        double pi0 = p[i - 2].value() == 0 ? 0 : p[i - 1].value() * p[i - 1].value() / p[i - 2].value();
        double ngrams = last_hyp.size() > i ? double(last_hyp.size() - i) : 0.0;
        p[i] = {original[i].num + o.alpha * pi0, ngrams + o.alpha};
      }
      return;
    }
    default:
      KILN_FAIL("corpus_bleu: smoothing must be one of nltk's methods 0..7, got ", o.smoothing);
  }
}

}  // namespace

Tokens tokenize(const std::string& text) {
  Tokens tokens;
  std::string current;
  for (char ch : text) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else {
      current += ch;
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

double corpus_bleu(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& hypotheses,
                   const BleuOptions& options) {
  KILN_CHECK(references.size() == hypotheses.size(), "corpus_bleu: ", hypotheses.size(), " hypotheses but ",
             references.size(), " reference lists; there must be one list per hypothesis");
  KILN_CHECK(options.max_n >= 1, "corpus_bleu: max_n must be at least 1, got ", options.max_n);
  std::vector<double> weights = options.weights;
  if (weights.empty()) weights.assign(size_t(options.max_n), 1.0 / options.max_n);
  KILN_CHECK(weights.size() == size_t(options.max_n), "corpus_bleu: ", weights.size(), " weights for max_n ",
             options.max_n, "; expected one weight per n-gram order");
  KILN_CHECK(options.smoothing >= 0 && options.smoothing <= 7,
             "corpus_bleu: smoothing must be one of nltk's methods 0..7, got ", options.smoothing);

  std::vector<Precision> p(size_t(options.max_n), Precision{0, 0});
  double hyp_len = 0, ref_len = 0;
  for (size_t s = 0; s < hypotheses.size(); ++s) {
    KILN_CHECK(!references[s].empty(), "corpus_bleu: hypothesis ", s, " has no reference");
    for (int n = 1; n <= options.max_n; ++n) {
      Precision pn = modified_precision(references[s], hypotheses[s], n);
      p[size_t(n - 1)].num += pn.num;
      p[size_t(n - 1)].den += pn.den;
    }
    hyp_len += double(hypotheses[s].size());
    ref_len += double(closest_ref_length(references[s], hypotheses[s].size()));
  }
  if (p[0].num == 0) return 0.0;  // no unigram matches (or no hypotheses)
  const double bp = hyp_len > ref_len ? 1.0 : std::exp(1.0 - ref_len / hyp_len);

  smooth(p, options, references.back(), hypotheses.back(), hyp_len);
  double log_sum = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i].value() > 0) log_sum += weights[i] * std::log(p[i].value());
  return bp * std::exp(log_sum);
}

double sentence_bleu(const std::vector<Tokens>& references, const Tokens& hypothesis, const BleuOptions& options) {
  return corpus_bleu({references}, {hypothesis}, options);
}

}  // namespace kiln::nn::metrics
