// fit(): one epoch is a pass over the DataLoader (forward, loss, zero_grad, backward,
// step) timed on its own, then evaluation in eval mode without grad, then the record.
#include "nn/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "autograd/grad_mode.h"
#include "core/generator.h"
#include "nn/train/metrics_log.h"
#include "nn/train/progress.h"

namespace kiln::nn::train {

std::vector<double> History::train_loss() const {
  std::vector<double> out;
  for (const EpochStats& e : epochs) out.push_back(e.train_loss);
  return out;
}

std::vector<double> History::metric(const std::string& name) const {
  std::vector<double> out;
  for (const EpochStats& e : epochs) {
    auto it = e.metrics.find(name);
    KILN_CHECK(it != e.metrics.end(), "History::metric: epoch ", e.epoch, " has no metric '", name, "'");
    out.push_back(it->second);
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void print_summary(const EpochStats& s, int epochs) {
  std::printf("epoch %d/%d  train loss %.4f", s.epoch, epochs, s.train_loss);
  for (const auto& [name, value] : s.metrics) std::printf("  %s %.4f", name.c_str(), value);
  std::printf("  time %.2fs  %.0f samples/s\n", s.seconds, s.samples_per_second);
  std::fflush(stdout);
}

}  // namespace

History fit(nn::UnaryModule& model, optim::Optimizer& opt, data::DataLoader& train, const LossFn& loss_fn,
            const FitOptions& options, const EvaluateFn& evaluate) {
  KILN_CHECK(options.epochs >= 0, "fit: epochs must be non-negative, got ", options.epochs);
  KILN_CHECK(static_cast<bool>(loss_fn), "fit: no loss function");
  manual_seed(options.seed);
  std::unique_ptr<MetricsLog> log;
  if (!options.log_path.empty()) log = std::make_unique<MetricsLog>(options.log_path);

  History history;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    model.train();
    std::unique_ptr<ProgressBar> bar;
    if (options.progress) {
      ProgressBarOptions bar_options;
      bar_options.desc = "epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs);
      bar_options.unit = "batch";
      bar = std::make_unique<ProgressBar>(train.num_batches(), bar_options);
    }
    const auto start = Clock::now();
    double loss_sum = 0;  // sum over samples of the per-sample loss
    int64_t samples = 0;
    data::Batch batch;
    for (train.start_epoch(); train.next(batch);) {
      Tensor input = batch.input.to(options.device), target = batch.target.to(options.device);
      Tensor loss = loss_fn(model.forward(input), target);
      KILN_CHECK(loss.numel() == 1, "fit: loss_fn must return one value (the batch mean), got ", loss.meta_str());
      opt.zero_grad();
      loss.backward();
      opt.step();
      const int64_t n = input.dim() > 0 ? input.size(0) : 1;
      loss_sum += loss.item() * double(n);
      samples += n;
      if (bar) bar->update(1, {{"loss", loss_sum / double(samples)}});
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.seconds = seconds_since(start);
    if (bar) bar->finish();
    KILN_CHECK(samples > 0, "fit: epoch ", epoch, " had no training batches");
    stats.samples = samples;
    stats.train_loss = loss_sum / double(samples);
    stats.samples_per_second = stats.seconds > 0 ? double(samples) / stats.seconds : 0.0;

    if (evaluate) {
      model.eval();
      {
        NoGradGuard no_grad;
        stats.metrics = evaluate(epoch);
      }
      model.train();
    }
    history.epochs.push_back(stats);
    if (log) {
      LogRecord record = {{"epoch", epoch},
                          {"train_loss", stats.train_loss},
                          {"epoch_time", stats.seconds},
                          {"samples_per_sec", stats.samples_per_second}};
      for (const auto& [name, value] : stats.metrics) record.emplace_back(name, value);
      log->write(record);
    }
    if (options.verbose) print_summary(stats, options.epochs);
    if (options.on_epoch_end) options.on_epoch_end(stats);
  }
  return history;
}

}  // namespace kiln::nn::train
