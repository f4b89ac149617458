// Training utilities (nn/train/): the progress bar's text and redraw schedule under a fake
// clock, the metrics log read back from disk, fit()'s reproducibility and bookkeeping on a
// tiny regression problem, and the pixels of the line chart and the image grid.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/generator.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/optim/sgd.h"
#include "nn/train/metrics_log.h"
#include "nn/train/plot.h"
#include "nn/train/progress.h"
#include "nn/train/trainer.h"
#include "support/errors.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using test::error_of;
namespace train = nn::train;
namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("kiln_train_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

// ---- ProgressBar ----

struct FakeClock {
  double t = 0;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

train::ProgressBarOptions options_for(std::ostream& out, FakeClock& clock, bool terminal) {
  train::ProgressBarOptions o;
  o.out = &out;
  o.clock = clock.fn();
  o.terminal = terminal;
  return o;
}

TEST(ProgressBar, LineShowsCountRateElapsedEtaAndValues) {
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBarOptions o = options_for(out, clock, false);
  o.desc = "epoch 1/3";
  o.width = 10;
  train::ProgressBar bar(200, o);
  clock.t = 25;
  bar.update(50, {{"loss", 0.123456}, {"acc", 0.5}});
  // 50 in 25 s: 2 it/s; 150 left: 75 s.
  EXPECT_EQ(bar.line(), "epoch 1/3   25% [##........] 50/200 [00:25<01:15, 2.00 it/s, loss=0.1235, acc=0.5]");
  clock.t = 100;
  bar.update(0, {{"loss", 2}});  // replaces loss, keeps the order
  // 50 in 100 s: 0.5 it/s, shown as 2.00 s/it; 150 left: 300 s.
  EXPECT_EQ(bar.line(), "epoch 1/3   25% [##........] 50/200 [01:40<05:00, 2.00 s/it, loss=2, acc=0.5]");
  clock.t = 4000;
  bar.update(150);
  EXPECT_EQ(bar.line(), "epoch 1/3  100% [##########] 200/200 [1:06:40<00:00, 20.00 s/it, loss=2, acc=0.5]");
}

TEST(ProgressBar, EtaIsUnknownBeforeTimePasses) {
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBarOptions o = options_for(out, clock, false);
  o.unit = "batch";
  o.width = 4;
  train::ProgressBar bar(10, o);
  EXPECT_EQ(bar.line(), "  0% [....] 0/10 [00:00<?, ? batch/s]");
  bar.update(1);
  EXPECT_EQ(bar.line(), " 10% [....] 1/10 [00:00<?, ? batch/s]");
  clock.t = 0.5;
  EXPECT_EQ(bar.line(), " 10% [....] 1/10 [00:00<00:04, 2.00 batch/s]");  // 9 left at 2/s: 4.5 s
  clock.t = 0.01;
  EXPECT_EQ(bar.line(), " 10% [....] 1/10 [00:00<00:00, 100 batch/s]");
}

TEST(ProgressBar, PlainModeWritesALineAtEachTenPercentWithoutCarriageReturns) {
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBarOptions o = options_for(out, clock, false);
  o.desc = "train";
  {
    train::ProgressBar bar(100, o);
    for (int i = 0; i < 100; ++i) {
      clock.t += 0.25;
      bar.update(1, {{"loss", 0.42}});
    }
    bar.finish();
    bar.finish();  // once only
  }  // the destructor adds nothing after finish()
  std::string text = out.str();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  std::vector<std::string> lines = split(text, '\n');
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "train   10% [" + std::string(3, '#') + std::string(27, '.') +
                          "] 10/100 [00:02<00:22, 4.00 it/s, loss=0.42]");
  EXPECT_THAT(lines[2], HasSubstr(" 30% [#########.")); // 30 of 100 is 30%, 9 of 30 characters
  EXPECT_EQ(lines[9], "train  100% [##############################] 100/100 [00:25<00:00, 4.00 it/s, loss=0.42]");
}

TEST(ProgressBar, PlainModeAlsoWritesAfterTheIntervalAndAtFinish) {
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBarOptions o = options_for(out, clock, false);
  o.plain_percent = 50;
  o.plain_interval = 10;
  train::ProgressBar bar(1000, o);
  for (int i = 0; i < 35; ++i) {
    clock.t += 1;
    bar.update(1);
  }
  EXPECT_EQ(split(out.str(), '\n').size(), 3u);  // at 10, 20 and 30 s
  bar.finish();                                   // the state at 35 was not shown yet
  std::vector<std::string> lines = split(out.str(), '\n');
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[3], HasSubstr(" 35/1000 "));
}

TEST(ProgressBar, TerminalModeRedrawsInPlaceAtMostOncePerInterval) {
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBarOptions o = options_for(out, clock, true);
  o.min_interval = 1.0;
  train::ProgressBar bar(100, o);  // draws the empty bar
  for (int i = 0; i < 100; ++i) {
    clock.t += 0.25;
    bar.update(1);
  }
  // Redraws at t = 1, 2, ..., 25 (the last one is also the final step).
  std::string drawn = out.str();
  EXPECT_EQ(std::count(drawn.begin(), drawn.end(), '\r'), 26);
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
  bar.finish();
  std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 27);
  ASSERT_EQ(text.back(), '\n');
  EXPECT_EQ(text.substr(text.rfind('\r') + 1), bar.line() + "\n");
}

TEST(ProgressBar, TerminalModeCoversALongerPreviousLine) {
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBarOptions o = options_for(out, clock, true);
  o.min_interval = 0;
  train::ProgressBar bar(10, o);
  bar.update(1, {{"loss", 123456789.0}});
  bar.update(1, {{"loss", 1.0}});
  std::vector<std::string> draws = split(out.str(), '\r');
  ASSERT_EQ(draws.size(), 4u);  // "" before the first '\r', then three draws
  EXPECT_THAT(draws[2], HasSubstr("loss=1.235e+08]"));
  EXPECT_EQ(draws[3].size(), draws[2].size());
  EXPECT_THAT(draws[3], HasSubstr("loss=1]       "));
}

TEST(ProgressBar, FormatsDurationsAndRejectsMisuse) {
  EXPECT_EQ(train::format_duration(0), "00:00");
  EXPECT_EQ(train::format_duration(59.9), "00:59");
  EXPECT_EQ(train::format_duration(61), "01:01");
  EXPECT_EQ(train::format_duration(3599), "59:59");
  EXPECT_EQ(train::format_duration(3725), "1:02:05");
  EXPECT_EQ(train::format_duration(NAN), "?");
  std::ostringstream out;
  FakeClock clock;
  train::ProgressBar bar(3, options_for(out, clock, false));
  EXPECT_THAT(error_of([&] { bar.update(-1); }), HasSubstr("n must be non-negative"));
  bar.finish();
  EXPECT_THAT(error_of([&] { bar.update(1); }), HasSubstr("after finish()"));
  EXPECT_THAT(error_of([&] { train::ProgressBar(-1, options_for(out, clock, false)); }),
              HasSubstr("total must be non-negative"));
}

// ---- MetricsLog ----

TEST(MetricsLog, CsvHasOneHeaderAndRoundTripNumbers) {
  std::string path = temp_path("log.csv");
  {
    train::MetricsLog log(path);
    log.write({{"epoch", 1}, {"loss", 0.1 + 0.2}, {"note", "plain"}});
    // Same keys in another order: written in the header's order. Strings are quoted as needed.
    log.write({{"note", "a, \"b\""}, {"epoch", int64_t(2)}, {"loss", 1e-5}});
    // Written and flushed: readable while the log is still open.
    EXPECT_EQ(read_file(path), "epoch,loss,note\n1,0.30000000000000004,plain\n2,1e-05,\"a, \"\"b\"\"\"\n");
    log.write({{"epoch", 3}, {"loss", NAN}, {"note", ""}});
    EXPECT_EQ(log.records(), 3);
    EXPECT_EQ(log.columns(), (std::vector<std::string>{"epoch", "loss", "note"}));
  }
  std::vector<std::string> lines = split(read_file(path), '\n');
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "3,nan,");
  EXPECT_EQ(std::stod(split(lines[1], ',')[1]), 0.1 + 0.2);  // the exact double back
}

TEST(MetricsLog, CsvRejectsARecordWithOtherKeysAndKeepsTheFileValid) {
  std::string path = temp_path("keys.csv");
  train::MetricsLog log(path);
  log.write({{"epoch", 1}, {"loss", 0.5}});
  EXPECT_THAT(error_of([&] { log.write({{"epoch", 2}, {"acc", 0.9}}); }),
              HasSubstr("this record lacks 'loss' and adds 'acc'"));
  EXPECT_THAT(error_of([&] { log.write({{"epoch", 2}, {"epoch", 3}}); }), HasSubstr("key 'epoch' appears twice"));
  EXPECT_THAT(error_of([&] { log.write({}); }), HasSubstr("empty record"));
  EXPECT_EQ(read_file(path), "epoch,loss\n1,0.5\n");
  log.write({{"loss", 0.25}, {"epoch", 2}});
  EXPECT_EQ(read_file(path), "epoch,loss\n1,0.5\n2,0.25\n");
}

TEST(MetricsLog, JsonLinesWriteOneObjectPerRecord) {
  std::string path = temp_path("log.jsonl");
  train::MetricsLog log(path);
  log.write({{"epoch", 1}, {"loss", 0.5}, {"tag", "a\"b\\c\n\x01"}});
  log.write({{"epoch", 2}, {"loss", INFINITY}, {"acc", NAN}});  // keys may vary in JSON lines
  EXPECT_EQ(read_file(path),
            "{\"epoch\": 1, \"loss\": 0.5, \"tag\": \"a\\\"b\\\\c\\n\\u0001\"}\n"
            "{\"epoch\": 2, \"loss\": Infinity, \"acc\": NaN}\n");
}

TEST(MetricsLog, FormatsNumbersShortestRoundTrip) {
  for (double v : {0.0, 1.0, -2.5, 0.1, 1.0 / 3.0, 6.02214076e23, 2.2250738585072014e-308, 123456789012.0}) {
    std::string s = train::format_number(v);
    EXPECT_EQ(std::stod(s), v) << s;
  }
  EXPECT_EQ(train::format_number(3), "3");
  EXPECT_EQ(train::format_number(0.1), "0.1");
  EXPECT_EQ(train::format_number(-INFINITY), "-inf");
}

TEST(MetricsLog, RejectsUnknownExtensionsAndUnwritablePaths) {
  EXPECT_THAT(error_of([&] { train::MetricsLog log(temp_path("log.txt")); }), HasSubstr("must end in .csv or .jsonl"));
  EXPECT_THAT(error_of([&] { train::MetricsLog log(temp_path("no/such/dir/log.csv")); }), HasSubstr("cannot create"));
  train::LogValue v("text");
  EXPECT_THAT(error_of([&] { v.number(); }), HasSubstr("'text' is a string, not a number"));
}

// ---- fit ----

// y = x . (1, -2, 0.5) + 0.3 + noise, 40 samples of 3 features.
struct Regression {
  Tensor x, y;
};

Regression regression_data() {
  Generator gen(1234);
  Tensor x = randn({40, 3}, kFloat32, &gen);
  Tensor w = tensor(std::vector<float>{1.0f, -2.0f, 0.5f}, {3, 1});
  Tensor y = x.matmul(w);
  y.add_(0.3);
  y.add_(randn({40, 1}, kFloat32, &gen), 0.05);
  return {x, y};
}

struct TrainedRun {
  std::vector<float> params;
  train::History history;
};

TrainedRun train_once(uint64_t seed, int epochs, const std::string& log_path = "", double lr = 0.05,
               const train::EvaluateFn& evaluate = {}) {
  Regression data = regression_data();
  manual_seed(seed);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
      std::make_shared<nn::Linear>(3, 16), std::make_shared<nn::Tanh>(), std::make_shared<nn::Dropout>(0.1),
      std::make_shared<nn::Linear>(16, 1)});
  nn::data::DataLoaderOptions lo;
  lo.batch_size = 8, lo.shuffle = true, lo.seed = seed;
  nn::data::DataLoader loader(std::make_shared<nn::data::TensorDataset>(data.x, data.y), lo);
  nn::optim::SGD sgd(model->parameters(), {.lr = lr, .momentum = 0.9});
  train::FitOptions fo;
  fo.epochs = epochs, fo.seed = seed, fo.log_path = log_path, fo.progress = false, fo.verbose = false;
  TrainedRun run;
  run.history = train::fit(*model, sgd, loader, [](const Tensor& out, const Tensor& t) { return nn::functional::mse_loss(out, t); },
                           fo, evaluate);
  for (const Tensor& p : model->parameters())
    for (float v : p.to_vector<float>()) run.params.push_back(v);
  return run;
}

TEST(Fit, SameSeedIsBitIdenticalAndAnotherSeedDiffers) {
  TrainedRun a = train_once(7, 4), b = train_once(7, 4), c = train_once(8, 4);
  ASSERT_EQ(a.params.size(), 3u * 16 + 16 + 16 + 1);
  EXPECT_EQ(std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)), 0);
  EXPECT_EQ(a.history.train_loss(), b.history.train_loss());
  EXPECT_NE(a.params, c.params);
  EXPECT_NE(a.history.train_loss(), c.history.train_loss());
}

TEST(Fit, LossFallsAndEveryEpochIsLogged) {
  std::string path = temp_path("fit.csv");
  int calls = 0;
  TrainedRun run = train_once(3, 12, path, 0.05, [&](int epoch) -> std::map<std::string, double> {
    ++calls;
    EXPECT_EQ(epoch, calls);
    EXPECT_FALSE(GradMode::is_enabled());
    return {{"score", 10.0 * epoch}};
  });
  EXPECT_EQ(calls, 12);
  std::vector<double> loss = run.history.train_loss();
  ASSERT_EQ(loss.size(), 12u);
  EXPECT_LT(loss.back(), 0.2 * loss.front());
  EXPECT_EQ(run.history.metric("score"), (std::vector<double>{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}));
  EXPECT_THAT(error_of([&] { run.history.metric("accuracy"); }), HasSubstr("epoch 1 has no metric 'accuracy'"));
  for (const train::EpochStats& e : run.history.epochs) {
    EXPECT_EQ(e.samples, 40);
    EXPECT_GE(e.seconds, 0.0);
  }

  std::vector<std::string> lines = split(read_file(path), '\n');
  ASSERT_EQ(lines.size(), 13u);
  EXPECT_EQ(lines[0], "epoch,train_loss,epoch_time,samples_per_sec,score");
  for (int e = 1; e <= 12; ++e) {
    std::vector<std::string> fields = split(lines[size_t(e)], ',');
    ASSERT_EQ(fields.size(), 5u);
    EXPECT_EQ(fields[0], std::to_string(e));
    EXPECT_EQ(std::stod(fields[1]), loss[size_t(e - 1)]);  // round-trip exact
    EXPECT_EQ(std::stod(fields[4]), 10.0 * e);
  }
}

TEST(Fit, TrainLossIsTheMeanOverSamplesAndModesAreSetAroundEvaluate) {
  Regression data = regression_data();
  manual_seed(0);
  nn::Linear model(3, 1);
  Tensor expected;
  {
    NoGradGuard no_grad;
    expected = nn::functional::mse_loss(model.forward(data.x), data.y);
  }
  nn::data::DataLoaderOptions lo;
  lo.batch_size = 16;  // batches of 16, 16 and 8: the last one counts half as much
  nn::data::DataLoader loader(std::make_shared<nn::data::TensorDataset>(data.x, data.y), lo);
  nn::optim::SGD frozen(model.parameters(), {.lr = 0.0});
  train::FitOptions fo;
  fo.epochs = 2, fo.progress = true, fo.verbose = true;
  std::vector<int> seen;
  fo.on_epoch_end = [&](const train::EpochStats& s) {
    seen.push_back(s.epoch);
    EXPECT_TRUE(model.is_training());
  };
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  train::History h = train::fit(
      model, frozen, loader, [](const Tensor& out, const Tensor& t) { return nn::functional::mse_loss(out, t); }, fo,
      [&](int) -> std::map<std::string, double> {
        EXPECT_FALSE(model.is_training());
        return {{"zero", 0.0}};
      });
  std::string printed = ::testing::internal::GetCapturedStdout();
  std::string progress = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  // One summary line per epoch on stdout; the progress bar (plain: stderr is no terminal
  // here) on stderr, its last line per epoch at 3 of 3 batches.
  std::vector<std::string> lines = split(printed, '\n');
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("epoch 2/2  train loss [0-9.]+  zero 0.0000  time [0-9.]+s  [0-9]+ "
                                                "samples/s"));
  EXPECT_THAT(progress, HasSubstr("epoch 1/2  100% ["));
  EXPECT_THAT(progress, HasSubstr("] 3/3 ["));
  EXPECT_THAT(progress, HasSubstr("batch/s, loss="));
  ASSERT_EQ(h.epochs.size(), 2u);
  EXPECT_NEAR(h.epochs[0].train_loss, expected.item(), 1e-6 * expected.item());
  EXPECT_NEAR(h.epochs[1].train_loss, expected.item(), 1e-6 * expected.item());
}

TEST(Fit, RejectsAnEpochWithoutBatchesAndABadLoss) {
  Regression data = regression_data();
  nn::Linear model(3, 1);
  nn::optim::SGD sgd(model.parameters(), {.lr = 0.1});
  nn::data::DataLoaderOptions lo;
  lo.batch_size = 64, lo.drop_last = true;  // 40 samples: no full batch
  nn::data::DataLoader empty(std::make_shared<nn::data::TensorDataset>(data.x, data.y), lo);
  train::FitOptions fo;
  fo.progress = false, fo.verbose = false;
  auto mse = [](const Tensor& out, const Tensor& t) { return nn::functional::mse_loss(out, t); };
  EXPECT_THAT(error_of([&] { train::fit(model, sgd, empty, mse, fo); }), HasSubstr("epoch 1 had no training batches"));
  lo.drop_last = false;
  nn::data::DataLoader loader(std::make_shared<nn::data::TensorDataset>(data.x, data.y), lo);
  auto unreduced = [](const Tensor& out, const Tensor& t) { return nn::functional::mse_loss(out, t, "none"); };
  EXPECT_THAT(error_of([&] { train::fit(model, sgd, loader, unreduced, fo); }),
              HasSubstr("loss_fn must return one value"));
  fo.log_path = temp_path("log.parquet");
  EXPECT_THAT(error_of([&] { train::fit(model, sgd, loader, mse, fo); }), HasSubstr("must end in .csv or .jsonl"));
}

// ---- plots ----

struct Pixels {
  Tensor image;
  std::vector<uint8_t> v;
  int64_t h, w;
  explicit Pixels(Tensor t) : image(t), v(t.to_vector<uint8_t>()), h(t.size(1)), w(t.size(2)) {}
  train::Rgb at(int64_t x, int64_t y) const {
    return {v[size_t(y * w + x)], v[size_t((h + y) * w + x)], v[size_t((2 * h + y) * w + x)]};
  }
  bool dark(int64_t x, int64_t y) const {
    train::Rgb p = at(x, y);
    return p[0] < 100 && p[1] < 100 && p[2] < 100;
  }
};

TEST(Plot, TextDrawsTheGlyphsAtTheirCells) {
  Tensor img = full({3, 10, 20}, 255.0, kUInt8);
  train::draw_text(img, 1, 1, "1-", {0, 0, 0}, 1);
  Pixels p(img);
  // '1' has a full column at its middle (x = 1 + 2) for rows 1..7 and a foot row at 7.
  for (int y = 1; y <= 7; ++y) EXPECT_TRUE(p.dark(3, y)) << y;
  EXPECT_TRUE(p.dark(2, 7) && p.dark(4, 7));
  EXPECT_FALSE(p.dark(1, 1));
  // '-' in the next cell (x from 7): row 1 + 3 only.
  for (int x = 7; x < 12; ++x) EXPECT_TRUE(p.dark(x, 4) && !p.dark(x, 3) && !p.dark(x, 5));
  EXPECT_EQ(train::text_width("abc", 2), 36);
  EXPECT_EQ(train::text_height(3), 24);
  // Lower case draws as upper case; unknown characters as '?'.
  Tensor a = full({3, 8, 6}, 255.0, kUInt8), b = a.clone(), q = a.clone(), u = a.clone();
  train::draw_text(a, 0, 0, "g"), train::draw_text(b, 0, 0, "G");
  train::draw_text(q, 0, 0, "?"), train::draw_text(u, 0, 0, "~");
  EXPECT_EQ(a.to_vector<uint8_t>(), b.to_vector<uint8_t>());
  EXPECT_EQ(q.to_vector<uint8_t>(), u.to_vector<uint8_t>());
  Tensor floats = img.to(kFloat32);
  EXPECT_THAT(error_of([&] { train::draw_text(floats, 0, 0, "x"); }), HasSubstr("uint8 (3, H, W)"));
}

TEST(Plot, LineChartPlacesSeriesOnTheDocumentedPixels) {
  train::ChartOptions o;
  o.width = 300, o.height = 200, o.line_width = 1, o.grid = false;
  // y from 0 to 10: padded range [-0.5, 10.5] over rows 149 .. 30.
  train::Series rising{"rising", {0, 5, 10}, {}};
  train::Series flat{"flat", {5, 5, 5}, {}};
  Pixels p(train::line_chart({rising, flat}, "Loss", "epoch", o));
  EXPECT_EQ(p.image.dtype(), kUInt8);
  EXPECT_EQ(p.image.shape(), (Shape{3, 200, 300}));
  const int left = 70, right = 280, top = 30, bottom = 150;
  auto column = [&](double x) { return left + int(std::lround(x / 2.0 * (right - 1 - left))); };
  auto row = [&](double y) { return bottom - 1 - int(std::lround((y + 0.5) / 11.0 * (bottom - 1 - top))); };
  const train::Rgb blue = {31, 119, 180}, orange = {255, 127, 14};
  EXPECT_EQ(p.at(column(0), row(0)), blue);
  EXPECT_EQ(p.at(column(2), row(10)), blue);
  int blue_near = 0;  // Bresenham's choice between two rows is not part of the contract
  for (int y = row(2.5) - 1; y <= row(2.5) + 1; ++y) blue_near += p.at(column(0.5), y) == blue;
  EXPECT_GE(blue_near, 1);
  // The flat series is one row; drawn after the rising one, it wins where they cross.
  for (int x = left; x < right - 100; ++x) EXPECT_EQ(p.at(x, row(5)), orange) << x;
  EXPECT_NE(p.at(left + 5, row(5) - 1), orange);
  // The frame is dark just outside the plot area; ticks hang below it.
  for (int x = left - 1; x <= right; ++x) EXPECT_TRUE(p.dark(x, bottom) && p.dark(x, top - 1)) << x;
  for (int y = top - 1; y <= bottom; ++y) EXPECT_TRUE(p.dark(left - 1, y) && p.dark(right, y)) << y;
  EXPECT_TRUE(p.dark(column(1), bottom + 3));  // x tick at 1 (ticks every 0.5 over [0, 2])
  EXPECT_TRUE(p.dark(left - 3, row(4)));       // y tick at 4 (ticks every 2 over [-0.5, 10.5])
  EXPECT_FALSE(p.dark(left - 3, row(5)));
  // The title sits in the top margin; nothing is dark right of the frame above the tick
  // labels (the last x tick label may reach into the right margin).
  bool title_ink = false;
  for (int y = 0; y < top - 1; ++y)
    for (int x = 0; x < 300; ++x) title_ink |= p.dark(x, y);
  EXPECT_TRUE(title_ink);
  for (int y = 0; y < bottom; ++y)
    for (int x = right + 1; x < 300; ++x) EXPECT_FALSE(p.dark(x, y)) << x << "," << y;
}

TEST(Plot, LineChartLegendAndGapsAndErrors) {
  train::ChartOptions o;
  o.width = 300, o.height = 200, o.grid = false;
  std::vector<double> y = {1, 2, NAN, 4, 5};
  Pixels p(train::line_chart({{"with gap", y, {}}}, "", "", o));
  // Points 1 and 3 are not joined: halfway between them the column has no blue.
  const int left = 70, right = 280;
  const int mid = left + int(std::lround(2.0 / 4.0 * (right - 1 - left)));
  const train::Rgb blue = {31, 119, 180};
  int blue_in_gap = 0, blue_in_legend = 0;
  for (int yy = 0; yy < 200; ++yy) blue_in_gap += p.at(mid, yy) == blue;
  EXPECT_EQ(blue_in_gap, 0);
  for (int yy = 38; yy < 50; ++yy)
    for (int x = 150; x < 272; ++x) blue_in_legend += p.at(x, yy) == blue;
  EXPECT_GT(blue_in_legend, 16);  // the swatch in the top-right legend

  EXPECT_THAT(error_of([&] { train::line_chart({}); }), HasSubstr("no series"));
  EXPECT_THAT(error_of([&] { train::line_chart({{"a", {}, {}}}); }), HasSubstr("series 'a' has no points"));
  EXPECT_THAT(error_of([&] { train::line_chart({{"a", {1, 2}, {0}}}); }), HasSubstr("has 1 x values for 2 y values"));
  EXPECT_THAT(error_of([&] { train::line_chart({{"a", {1, INFINITY}, {}}}); }), HasSubstr("point 1 is (1, inf)"));
  EXPECT_THAT(error_of([&] { train::line_chart({{"a", {NAN}, {}}}); }), HasSubstr("every y value is NaN"));
  train::ChartOptions tiny;
  tiny.width = 80;
  EXPECT_THAT(error_of([&] { train::line_chart({{"a", {1}, {}}}, "", "", tiny); }), HasSubstr("leaves no plot area"));
}

TEST(Plot, ImageGridPutsEachTileInPlaceWithItsCaptionBelow) {
  // Four 2x3 RGB images with distinct values; float in [0, 1].
  Tensor images = rand({4, 3, 2, 3}, kFloat32);
  const int scale = 2, padding = 2, columns = 3;
  std::vector<std::string> captions = {"a", "bb", "7", "x"};
  Pixels p(train::image_grid(images, captions, columns, scale, padding));
  const int tw = 6, th = 4, caption_h = 12;
  EXPECT_EQ(p.image.shape(), (Shape{3, padding + 2 * (th + caption_h + padding), padding + 3 * (tw + padding)}));
  std::vector<float> v = images.to_vector<float>();
  for (int i = 0; i < 4; ++i) {
    const int x0 = padding + (i % columns) * (tw + padding), y0 = padding + (i / columns) * (th + caption_h + padding);
    for (int y = 0; y < th; ++y)
      for (int x = 0; x < tw; ++x)
        for (int c = 0; c < 3; ++c) {
          auto expected = uint8_t(std::lround(double(v[size_t(((i * 3 + c) * 2 + y / scale) * 3 + x / scale)]) * 255.0));
          EXPECT_EQ(p.at(x0 + x, y0 + y)[size_t(c)], expected) << i << " " << x << " " << y;
        }
    // Caption ink inside the band under the tile, within its columns.
    int ink = 0;
    for (int y = y0 + th; y < y0 + th + caption_h; ++y)
      for (int x = x0; x < x0 + tw; ++x) ink += p.dark(x, y);
    EXPECT_GT(ink, 4) << "caption of tile " << i;
  }
  // Dark pixels outside the tiles all lie in a caption band.
  auto in_tile_or_band = [&](int x, int y, bool band) {
    for (int i = 0; i < 4; ++i) {
      const int x0 = padding + (i % columns) * (tw + padding), y0 = padding + (i / columns) * (th + caption_h + padding);
      const int top = band ? y0 + th : y0, height = band ? caption_h : th;
      if (x >= x0 && x < x0 + tw && y >= top && y < top + height) return true;
    }
    return false;
  };
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x)
      if (!in_tile_or_band(x, y, false) && p.dark(x, y)) {
        EXPECT_TRUE(in_tile_or_band(x, y, true)) << x << "," << y;
      }
  // Outside tiles and caption bands everything is white background.
  train::Rgb white = {255, 255, 255};
  for (int y = 0; y < p.h; ++y) EXPECT_EQ(p.at(0, y), white);
  EXPECT_EQ(p.at(p.w - 1, p.h - 1), white);
}

TEST(Plot, ImageGridTakesGreyUint8AndChecksItsArguments) {
  Tensor grey = tensor(std::vector<uint8_t>{0, 50, 100, 150, 200, 250}, {2, 1, 1, 3});
  Pixels p(train::image_grid(grey, {}, 8, 1, 0));
  EXPECT_EQ(p.image.shape(), (Shape{3, 1, 6}));  // min(8, N) = 2 columns, no captions
  EXPECT_EQ(p.at(4, 0), (train::Rgb{200, 200, 200}));
  Tensor clamped = tensor(std::vector<float>{-1.0f, 2.0f, NAN, 0.5f}, {1, 1, 2, 2});
  Pixels q(train::image_grid(clamped, {}, 1, 1, 0));
  EXPECT_EQ(q.v, (std::vector<uint8_t>{0, 255, 0, 128, 0, 255, 0, 128, 0, 255, 0, 128}));

  EXPECT_THAT(error_of([&] { train::image_grid(zeros({2, 2, 4, 4})); }), HasSubstr("(N, 1 or 3, h, w)"));
  EXPECT_THAT(error_of([&] { train::image_grid(zeros({2, 3, 4, 4}), {"one"}); }), HasSubstr("1 captions for 2 images"));
  EXPECT_THAT(error_of([&] { train::image_grid(zeros({2, 3, 4, 4}, kInt64)); }), HasSubstr("uint8 or floating"));
  EXPECT_THAT(error_of([&] { train::image_grid(zeros({2, 3, 4, 4}), {}, 0); }), HasSubstr("columns and scale"));
  EXPECT_THAT(error_of([&] { train::image_grid(zeros({0, 3, 4, 4})); }), HasSubstr("no pixels"));
}

}  // namespace
}  // namespace kiln
