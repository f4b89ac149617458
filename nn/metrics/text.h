// Text generation metrics: BLEU over token lists, with the definitions, smoothing
// methods and quirks of nltk.translate.bleu_score (nltk 3.8). Read text.cpp for the
// arithmetic; nn/metrics/ranking.h has perplexity.
#pragma once

#include <string>
#include <vector>

namespace kiln::nn::metrics {

using Tokens = std::vector<std::string>;

// Splits on runs of whitespace (Python's str.split()): "a  b\tc " -> {"a", "b", "c"}.
Tokens tokenize(const std::string& text);

struct BleuOptions {
  int max_n = 4;                // n-gram orders 1..max_n
  std::vector<double> weights{};  // one per order; empty: uniform, 1 / max_n each
  // nltk's SmoothingFunction().method<smoothing>, for 0..7:
  //  0  none: an order with no match contributes log(DBL_MIN) (nltk warns), so the
  //     score is ~1e-78 or smaller: zero in every practical sense
  //  1  a zero count becomes epsilon / denominator
  //  2  add one to numerator and denominator of every order except unigrams
  //  3  NIST geometric: the i-th zero count becomes 1 / 2^i
  //  4  like 3, scaled by k / ln(hypothesis length)
  //  5  each precision averaged with its neighbours (the previous smoothed one and the
  //     next order; the order after max_n is always the 5-gram precision)
  //  6  interpolates with the previous orders (needs max_n >= 3 and a trigram match)
  //  7  method 4, then method 5
  int smoothing = 0;
  double epsilon = 0.1;  // method 1
  double alpha = 5;      // method 6
  double k = 5;          // method 4 (and 7)
};

// Corpus BLEU, as nltk's corpus_bleu(references, hypotheses, weights, smoothing):
//   references[i]: the reference token lists of hypotheses[i] (at least one each).
//   p_n = sum_i clipped_count_n(i) / sum_i max(1, ngram_count_n(i)), where a hypothesis
//         n-gram's count is clipped to its largest count in any one of its references
//   BP  = 1 if H > R else exp(1 - R / H) (0 when H = 0), H = total hypothesis length,
//         R = sum of each hypothesis's closest reference length (a tie: the shorter)
//   BLEU = BP exp(sum_n w_n log p_n) over the orders with p_n > 0 after smoothing.
// The score is 0 when no unigram matches anywhere (also for an empty corpus).
// NOTE: as in nltk, the smoothing methods that look at one sentence (4's length is the
// corpus's; 5, 6 and 7 read n-grams) see the corpus's last hypothesis and references.
double corpus_bleu(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& hypotheses,
                   const BleuOptions& options = {});
// BLEU of one hypothesis: corpus_bleu of a one-sentence corpus.
double sentence_bleu(const std::vector<Tokens>& references, const Tokens& hypothesis, const BleuOptions& options = {});

}  // namespace kiln::nn::metrics
