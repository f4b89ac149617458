// Score and text metrics (nn/metrics/ranking.h, text.h) against scikit-learn, PyTorch and
// nltk: every record of tests/reference/data/metrics/metrics.txt (written by
// tests/reference/gen_metrics.py), plus hand-worked cases and the error messages.
#include <cmath>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/factory.h"
#include "nn/metrics/ranking.h"
#include "nn/metrics/text.h"
#include "support/errors.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using test::error_of;
namespace metrics = nn::metrics;

const std::string kDir = std::string(KILN_REFERENCE_DIR) + "/metrics/";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << "cannot open " << path << " (regenerate with tests/reference/gen_metrics.py)";
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);)
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  return lines;
}

// Reads one record's fields in order; a short or malformed record fails the test.
class Fields {
 public:
  explicit Fields(const std::string& line) : in_(line), line_(line) {}
  std::string word() {
    std::string s;
    in_ >> s;
    EXPECT_FALSE(s.empty()) << "short record: " << line_.substr(0, 80);
    return s;
  }
  double number() {
    std::string s = word();
    if (s == "nan") return NAN;
    return s.empty() ? 0.0 : std::stod(s);
  }
  int64_t integer() { return int64_t(number()); }
  std::vector<double> numbers(int64_t n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (double& x : v) x = number();
    return v;
  }
  std::vector<int64_t> integers(int64_t n) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (int64_t& x : v) x = integer();
    return v;
  }
  bool done() {
    std::string rest;
    return !(in_ >> rest);
  }

 private:
  std::istringstream in_;
  std::string line_;
};

// Records of one kind ("top_k", ...), each as its Fields after the kind.
std::vector<std::string> records(const std::string& kind) {
  std::vector<std::string> out;
  for (const std::string& line : read_lines(kDir + "metrics.txt"))
    if (line.rfind(kind + " ", 0) == 0) out.push_back(line.substr(kind.size() + 1));
  return out;
}

void expect_close(double actual, double expected, const std::string& what, double rtol = 1e-12) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected NaN, got " << actual;
    return;
  }
  EXPECT_LE(std::abs(actual - expected), 1e-15 + rtol * std::abs(expected))
      << what << ": got " << actual << ", expected " << expected;
}

void expect_all_close(const Tensor& actual, const std::vector<double>& expected, const std::string& what) {
  std::vector<double> a = actual.to_vector<double>();
  ASSERT_EQ(a.size(), expected.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) expect_close(a[i], expected[i], what + "[" + std::to_string(i) + "]");
}

TEST(TopKAccuracy, MatchesScikitLearnIncludingTies) {
  auto recs = records("top_k");
  ASSERT_GE(recs.size(), 20u);
  for (const std::string& r : recs) {
    Fields f(r);
    std::string name = f.word();
    int64_t k = f.integer(), n = f.integer(), c = f.integer();
    Tensor scores = tensor(f.numbers(n * c), {n, c});
    Tensor target = tensor(f.integers(n), {n});
    double expected = f.number();
    EXPECT_TRUE(f.done()) << name;
    expect_close(metrics::top_k_accuracy(scores, target, k), expected, "top_k " + name);
    // float32 scores rank the same way
    expect_close(metrics::top_k_accuracy(scores.to(kFloat32), target, k), expected, "top_k float32 " + name);
  }
}

TEST(TopKAccuracy, TiesGoToTheLargerClassIndex) {
  Tensor scores = tensor(std::vector<double>{0.5, 0.5, 0.1, 0.2, 0.9, 0.9}, {2, 3});
  // Row 0: class 1 ranks before class 0; row 1: class 2 before class 1.
  EXPECT_EQ(metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{1, 2}), 1), 1.0);
  EXPECT_EQ(metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{0, 1}), 1), 0.0);
  EXPECT_EQ(metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{0, 1}), 2), 1.0);
  EXPECT_EQ(metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{2, 0}), 2), 0.0);
  EXPECT_EQ(metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{2, 0}), 3), 1.0);
}

TEST(TopKAccuracy, RejectsBadInput) {
  Tensor scores = zeros({2, 3});
  Tensor target = tensor(std::vector<int64_t>{0, 1});
  EXPECT_THAT(error_of([&] { metrics::top_k_accuracy(scores, target, 0); }), HasSubstr("k must be at least 1"));
  EXPECT_THAT(error_of([&] { metrics::top_k_accuracy(zeros({2}), target, 1); }), HasSubstr("2-D floating scores"));
  EXPECT_THAT(error_of([&] { metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{0, 3}), 1); }),
              HasSubstr("class 3 at position 1 is out of range for 3 classes"));
  EXPECT_THAT(error_of([&] { metrics::top_k_accuracy(scores, tensor(std::vector<int64_t>{0}), 1); }),
              HasSubstr("does not match 2 score rows"));
  EXPECT_THAT(error_of([&] { metrics::top_k_accuracy(scores, target.to(kFloat32), 1); }),
              HasSubstr("1-D int64 target"));
}

TEST(RocCurve, MatchesScikitLearn) {
  auto recs = records("roc_curve");
  ASSERT_GE(recs.size(), 16u);
  for (const std::string& r : recs) {
    Fields f(r);
    std::string name = f.word();
    int64_t n = f.integer();
    Tensor scores = tensor(f.numbers(n), {n});
    Tensor target = tensor(f.integers(n), {n});
    int64_t m = f.integer();
    std::vector<double> fpr = f.numbers(m), tpr = f.numbers(m), thresholds = f.numbers(m);
    EXPECT_TRUE(f.done()) << name;
    metrics::RocCurve c = metrics::roc_curve(scores, target);
    expect_all_close(c.fpr, fpr, "fpr " + name);
    expect_all_close(c.tpr, tpr, "tpr " + name);
    expect_all_close(c.thresholds, thresholds, "thresholds " + name);
  }
}

TEST(RocAucScore, MatchesScikitLearnBinaryAndOneVsRest) {
  auto recs = records("roc_auc");
  ASSERT_GE(recs.size(), 50u);
  for (const std::string& r : recs) {
    Fields f(r);
    std::string name = f.word(), average = f.word();
    int64_t n = f.integer(), c = f.integer();
    Tensor scores = c == 0 ? tensor(f.numbers(n), {n}) : tensor(f.numbers(n * c), {n, c});
    Tensor target = tensor(f.integers(n), {n});
    double expected = f.number();
    EXPECT_TRUE(f.done()) << name;
    double got = average == "binary" ? metrics::roc_auc_score(scores, target) : metrics::roc_auc_score(scores, target, average);
    expect_close(got, expected, "roc_auc " + name);
  }
}

TEST(RocAucScore, IsTheMannWhitneyStatisticWithHalfCreditForTies) {
  // Positives score {0.9, 0.5, 0.5}, negatives {0.5, 0.1}: of the 6 pairs, 4 are won,
  // 2 tie (0.5 vs 0.5): AUC = (4 + 2 / 2) / 6.
  Tensor scores = tensor(std::vector<double>{0.9, 0.5, 0.5, 0.5, 0.1});
  Tensor target = tensor(std::vector<int64_t>{1, 1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(metrics::roc_auc_score(scores, target), 5.0 / 6.0);
  metrics::RocCurve c = metrics::roc_curve(scores, target);
  EXPECT_EQ(c.thresholds.to_vector<double>(), (std::vector<double>{1.9, 0.9, 0.5, 0.1}));
  EXPECT_EQ(c.tpr.to_vector<double>(), (std::vector<double>{0, 1.0 / 3, 1, 1}));
  EXPECT_EQ(c.fpr.to_vector<double>(), (std::vector<double>{0, 0, 0.5, 1}));
}

TEST(RocAucScore, OneClassIsAnErrorAsInScikitLearn) {
  Tensor scores = tensor(std::vector<double>{0.2, 0.4});
  EXPECT_THAT(error_of([&] { metrics::roc_auc_score(scores, tensor(std::vector<int64_t>{1, 1})); }),
              HasSubstr("only one class present in the target"));
  Tensor probs = tensor(std::vector<double>{0.5, 0.25, 0.25, 0.2, 0.5, 0.3}, {2, 3});
  EXPECT_THAT(error_of([&] { metrics::roc_auc_score(probs, tensor(std::vector<int64_t>{0, 1})); }),
              HasSubstr("class 2 does not occur in the target"));
  Tensor unnormalized = tensor(std::vector<double>{0.5, 0.5, 0.5, 0.2, 0.5, 0.3}, {2, 3});
  EXPECT_THAT(error_of([&] { metrics::roc_auc_score(unnormalized, tensor(std::vector<int64_t>{0, 1})); }),
              HasSubstr("row 0 sums to 1.5"));
  EXPECT_THAT(error_of([&] { metrics::roc_auc_score(probs, tensor(std::vector<int64_t>{0, 1}), "samples"); }),
              HasSubstr("average must be 'macro', 'weighted' or 'micro'"));
  EXPECT_THAT(error_of([&] { metrics::roc_auc_score(scores, tensor(std::vector<int64_t>{0, 2})); }),
              HasSubstr("class 2 at position 1 is out of range for 2 classes"));
  EXPECT_THAT(error_of([&] { metrics::roc_curve(tensor(std::vector<double>{NAN, 1}), tensor(std::vector<int64_t>{0, 1})); }),
              HasSubstr("is not finite"));
}

TEST(Perplexity, MatchesExpOfTorchCrossEntropy) {
  auto recs = records("perplexity");
  ASSERT_EQ(recs.size(), 4u);
  for (const std::string& r : recs) {
    Fields f(r);
    std::string name = f.word(), dtype = f.word();
    int64_t ignore_index = f.integer(), n = f.integer(), c = f.integer();
    Tensor log_probs = tensor(f.numbers(n * c), {n, c});
    if (dtype == "float32") log_probs = log_probs.to(kFloat32);
    Tensor target = tensor(f.integers(n), {n});
    double expected = f.number();
    EXPECT_TRUE(f.done()) << name;
    // torch reduces float32 in float32; kiln accumulates in double.
    expect_close(metrics::perplexity(log_probs, target, ignore_index), expected, "perplexity " + name,
                 dtype == "float32" ? 1e-6 : 1e-12);
  }
}

TEST(Perplexity, IsExpOfTheMeanNllAndRejectsAllIgnored) {
  EXPECT_DOUBLE_EQ(metrics::perplexity(std::log(7.0)), 7.0);
  // A uniform model over 4 classes has perplexity 4.
  Tensor uniform = full({3, 4}, std::log(0.25), kFloat64);
  EXPECT_DOUBLE_EQ(metrics::perplexity(uniform, tensor(std::vector<int64_t>{0, 3, -100})), 4.0);
  EXPECT_THAT(error_of([&] { metrics::perplexity(uniform, tensor(std::vector<int64_t>{-100, -100, -100})); }),
              HasSubstr("every target is ignore_index"));
  EXPECT_THAT(error_of([&] { metrics::perplexity(uniform, tensor(std::vector<int64_t>{0, 4, 1})); }),
              HasSubstr("class 4 at position 1 is out of range"));
  EXPECT_THAT(error_of([&] { metrics::perplexity(uniform, tensor(std::vector<int64_t>{0, 1})); }),
              HasSubstr("int64 target of shape [3]"));
}

struct TextCorpus {
  std::vector<std::vector<metrics::Tokens>> references;
  std::vector<metrics::Tokens> hypotheses;
};

TextCorpus read_text_corpus() {
  TextCorpus c;
  std::ifstream file(kDir + "bleu_corpus.txt");
  EXPECT_TRUE(file.good());
  for (std::string line; std::getline(file, line);) {
    if (line.rfind("H ", 0) == 0) {
      c.hypotheses.push_back(metrics::tokenize(line.substr(2)));
      c.references.emplace_back();
    } else if (line.rfind("R ", 0) == 0) {
      c.references.back().push_back(metrics::tokenize(line.substr(2)));
    }
  }
  return c;
}

TEST(Bleu, MatchesNltkOnTheHandWrittenCorpus) {
  TextCorpus corpus = read_text_corpus();
  ASSERT_EQ(corpus.hypotheses.size(), 8u);
  auto recs = records("bleu_text");
  ASSERT_GE(recs.size(), 20u);
  for (const std::string& r : recs) {
    Fields f(r);
    metrics::BleuOptions o;
    o.max_n = int(f.integer());
    o.smoothing = int(f.integer());
    std::string what = "max_n " + std::to_string(o.max_n) + " smoothing " + std::to_string(o.smoothing);
    expect_close(metrics::corpus_bleu(corpus.references, corpus.hypotheses, o), f.number(), "corpus " + what);
    for (size_t s = 0; s < corpus.hypotheses.size(); ++s)
      expect_close(metrics::sentence_bleu(corpus.references[s], corpus.hypotheses[s], o), f.number(),
                   "sentence " + std::to_string(s) + " " + what);
    EXPECT_TRUE(f.done()) << what;
  }
}

TEST(Bleu, MatchesNltkOnRandomCorporaWithEverySmoothingMethod) {
  std::vector<std::string> lines = read_lines(kDir + "metrics.txt");
  int cases = 0;
  std::vector<bool> methods_seen(8, false);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("bleu ", 0) != 0) continue;
    Fields f(lines[i].substr(5));
    std::string name = f.word();
    metrics::BleuOptions o;
    o.max_n = int(f.integer());
    o.smoothing = int(f.integer());
    o.weights = f.numbers(f.integer());
    double expected = f.number();
    EXPECT_TRUE(f.done()) << name;
    TextCorpus c;
    for (++i; i < lines.size() && lines[i] != "end"; ++i) {
      metrics::Tokens t = metrics::tokenize(lines[i]);
      ASSERT_FALSE(t.empty());
      std::string kind = t.front();
      t.erase(t.begin());
      if (kind == "hyp") {
        c.hypotheses.push_back(t);
        c.references.emplace_back();
      } else {
        ASSERT_EQ(kind, "ref");
        ASSERT_FALSE(c.references.empty());
        c.references.back().push_back(t);
      }
    }
    expect_close(metrics::corpus_bleu(c.references, c.hypotheses, o), expected, "bleu " + name);
    methods_seen[size_t(o.smoothing)] = true;
    ++cases;
  }
  EXPECT_GE(cases, 40);
  for (int m = 0; m < 8; ++m) EXPECT_TRUE(methods_seen[size_t(m)]) << "no case for smoothing method " << m;
}

TEST(Bleu, WorkedExamples) {
  using metrics::Tokens;
  Tokens ref = metrics::tokenize("the cat sat on the mat");
  EXPECT_DOUBLE_EQ(metrics::sentence_bleu({ref}, ref), 1.0);
  // Clipping: "the" appears twice in the reference, so 7 "the"s score 2/7 as unigrams.
  Tokens the7(7, "the");
  EXPECT_DOUBLE_EQ(metrics::sentence_bleu({ref}, the7, {.max_n = 1}), 2.0 / 7.0);
  // Brevity: a 3-token prefix against the 6-token reference alone is penalised by
  // exp(1 - 6/3); adding a 2-token reference (closer: |3 - 2| < |3 - 6|) removes it.
  Tokens prefix = metrics::tokenize("the cat sat");
  EXPECT_DOUBLE_EQ(metrics::sentence_bleu({ref}, prefix, {.max_n = 1}), std::exp(1.0 - 6.0 / 3.0));
  EXPECT_DOUBLE_EQ(metrics::sentence_bleu({ref, metrics::tokenize("a cat")}, prefix, {.max_n = 1}), 1.0);
  // A tie in closeness (lengths 2 and 4 around 3) picks the shorter: no penalty.
  EXPECT_DOUBLE_EQ(
      metrics::sentence_bleu({metrics::tokenize("the cat sat on"), metrics::tokenize("the cat")}, prefix, {.max_n = 1}),
      1.0);
  // No unigram match at all: exactly 0; a missing 4-gram without smoothing: tiny, not 0.
  EXPECT_EQ(metrics::sentence_bleu({ref}, metrics::tokenize("dogs bark")), 0.0);
  double unsmoothed = metrics::sentence_bleu({ref}, metrics::tokenize("the cat sat a mat on"));
  EXPECT_GT(unsmoothed, 0.0);
  EXPECT_LT(unsmoothed, 1e-70);
  EXPECT_EQ(metrics::corpus_bleu({}, {}), 0.0);
  EXPECT_EQ(metrics::tokenize("  a\tb \n c  "), (Tokens{"a", "b", "c"}));
  EXPECT_TRUE(metrics::tokenize(" \t ").empty());
}

TEST(Bleu, RejectsBadInput) {
  metrics::Tokens h = metrics::tokenize("a b c");
  EXPECT_THAT(error_of([&] { metrics::corpus_bleu({{h}, {h}}, {h}); }), HasSubstr("1 hypotheses but 2 reference lists"));
  EXPECT_THAT(error_of([&] { metrics::corpus_bleu({{}}, {h}); }), HasSubstr("hypothesis 0 has no reference"));
  EXPECT_THAT(error_of([&] { metrics::sentence_bleu({h}, h, {.max_n = 2, .weights = {1.0}}); }),
              HasSubstr("1 weights for max_n 2"));
  EXPECT_THAT(error_of([&] { metrics::sentence_bleu({h}, h, {.max_n = 0}); }), HasSubstr("max_n must be at least 1"));
  EXPECT_THAT(error_of([&] { metrics::sentence_bleu({h}, h, {.smoothing = 8}); }), HasSubstr("methods 0..7"));
  EXPECT_THAT(error_of([&] { metrics::sentence_bleu({h}, metrics::tokenize("a b x"), {.smoothing = 6}); }),
              HasSubstr("needs max_n >= 3 and a trigram match"));
}

}  // namespace
}  // namespace kiln
