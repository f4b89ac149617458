// fit(): the training loop every example writes by hand, once: seeded, with a progress
// bar per epoch, per-epoch evaluation and a metrics log. Built from nn/train/progress.h
// and nn/train/metrics_log.h. In use:
//   manual_seed(seed);
//   auto model = make_model();
//   nn::optim::Adam adam(model->parameters(), {.lr = 1e-3});
//   auto loss = [](const Tensor& out, const Tensor& y) { return nn::functional::cross_entropy(out, y); };
//   train::History h = train::fit(*model, adam, loader, loss, {.epochs = 5, .seed = seed, .log_path = "log.csv"},
//                                 [&](int) { return std::map<std::string, double>{{"accuracy", accuracy()}}; });
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"
#include "nn/data/dataloader.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace kiln::nn::train {

// What one epoch did. train_loss is the mean of loss_fn over the epoch's samples (each
// batch's loss weighted by its batch size); seconds and samples_per_second count the
// training pass only, not evaluate().
struct EpochStats {
  int epoch = 0;  // 1-based
  double train_loss = 0;
  int64_t samples = 0;
  double seconds = 0;
  double samples_per_second = 0;
  std::map<std::string, double> metrics;  // what evaluate() returned
};

struct History {
  std::vector<EpochStats> epochs;
  std::vector<double> train_loss() const;
  // One metric across the epochs; an error when an epoch lacks it.
  std::vector<double> metric(const std::string& name) const;
};

struct FitOptions {
  int epochs = 1;
  // fit() begins with kiln::manual_seed(seed), so everything random during training
  // (dropout masks, random ops in the model or the loss) depends on this seed alone.
  // Shuffling is the DataLoader's (its own seed). For a fully reproducible run, also
  // build the model right after manual_seed(seed) and give the loader a seed.
  uint64_t seed = 0;
  std::string log_path{};  // "": no log; else a MetricsLog (.csv or .jsonl), one record per epoch
  bool progress = true;  // a ProgressBar on stderr during each epoch
  bool verbose = true;   // one summary line per epoch on stdout
  Device device = Device::cpu();  // where batches go; the model must already be there
  // Called after each epoch (after evaluate): print, step a scheduler, save a checkpoint.
  std::function<void(const EpochStats&)> on_epoch_end{};
};

// loss_fn(model output, batch target) -> a 0-d loss, the mean over the batch.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;
// evaluate(epoch) -> named metrics ("accuracy", ...); the same names every epoch when
// logging to CSV.
using EvaluateFn = std::function<std::map<std::string, double>(int epoch)>;

// For each epoch e = 1..epochs:
//   model.train(); for each batch of train (train.start_epoch() first): move input and
//   target to options.device, loss = loss_fn(model(input), target), opt.zero_grad(),
//   loss.backward(), opt.step(), progress bar updated with the running mean loss;
//   then model.eval() and evaluate(e) under NoGradGuard, model.train() again;
//   the record {epoch, train_loss, epoch_time, samples_per_sec, <metrics...>} goes to
//   the History and the log file; verbose prints
//     epoch 2/5  train loss 0.4321  accuracy 0.8512  time 2.31s  25974 samples/s
//   (metrics in name order, %.4f); then on_epoch_end runs.
// An epoch without batches is an error. Returns the History of all epochs.
History fit(nn::UnaryModule& model, optim::Optimizer& opt, data::DataLoader& train, const LossFn& loss_fn,
            const FitOptions& options, const EvaluateFn& evaluate = {});

}  // namespace kiln::nn::train
