// Whole training steps (forward, loss, backward, optimizer step) of the networks in
// bench/train_models.h, and one epoch of the flagship MLP, side by side with libtorch.
// When the peer is built, libtorch runs the same step on the same shapes in the same
// process, timed just before and just after kiln's loop (run_paired, bench/paired.h);
// the reported time is kiln's, and the counters give both means and their ratio (kiln /
// libtorch: below 1 is faster). Run: build/release/bench/kiln_bench --benchmark_filter=Train
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>

#include "bench/paired.h"
#include "bench/train_models.h"
#include "ops/cpu/parallel.h"
#ifdef KILN_BENCH_HAVE_TORCH
#include "bench/peers/torch_peer.h"
#endif

namespace kiln::bench {
namespace {

// A kiln training step: model, optimizer and one fixed batch, as the peer's.
struct KilnTrainer {
  std::shared_ptr<nn::UnaryModule> model;
  std::unique_ptr<nn::optim::Optimizer> opt;
  Tensor x, y;
  std::function<Tensor(const Tensor&, const Tensor&)> loss;

  double step() {
    opt->zero_grad();
    Tensor l = loss(model->forward(x), y);
    l.backward();
    opt->step();
    return l.item();
  }
};

Tensor cross_entropy(const Tensor& out, const Tensor& y) { return nn::functional::cross_entropy(out, y); }
Tensor mse(const Tensor& out, const Tensor& y) { return nn::functional::mse_loss(out, y); }

#ifdef KILN_BENCH_HAVE_TORCH
using Peer = std::unique_ptr<torch_peer::Trainer>;
#define KILN_PEER(expr) make_peer([&] { return torch_peer::expr; })
#else
using Peer = std::unique_ptr<NoPeer>;
#define KILN_PEER(expr) Peer()
#endif

void BM_TrainStepMlp(benchmark::State& state) {
  const int64_t batch = 128;
  manual_seed(0);
  KilnTrainer k{make_mlp(), nullptr, rand({batch, 1, 28, 28}), randint(0, 10, {batch}), cross_entropy};
  k.opt = std::make_unique<nn::optim::Adam>(k.model->parameters(), nn::optim::AdamOptions{.lr = 1e-3});
  Peer peer = KILN_PEER(mlp(batch));
  run_paired(state, [&] { return k.step(); }, peer);
}

void BM_TrainStepResNet18(benchmark::State& state) {
  const int64_t batch = 32;
  manual_seed(0);
  KilnTrainer k{std::make_shared<ResNet18>(10), nullptr, randn({batch, 3, 32, 32}), randint(0, 10, {batch}),
                cross_entropy};
  k.opt = std::make_unique<nn::optim::SGD>(k.model->parameters(), nn::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  Peer peer = KILN_PEER(resnet18(batch));
  run_paired(state, [&] { return k.step(); }, peer);
}

void BM_TrainStepLstm(benchmark::State& state) {
  const int64_t seq = 60, batch = 64, input = 32, hidden = 128;
  manual_seed(0);
  KilnTrainer k{std::make_shared<LstmRegressor>(input, hidden), nullptr, randn({seq, batch, input}),
                randn({batch, 1}), mse};
  k.opt = std::make_unique<nn::optim::Adam>(k.model->parameters(), nn::optim::AdamOptions{.lr = 1e-3});
  Peer peer = KILN_PEER(lstm(seq, batch, input, hidden));
  run_paired(state, [&] { return k.step(); }, peer);
}

void BM_TrainStepTransformer(benchmark::State& state) {
  const int64_t seq = 128, batch = 16, d_model = 256, heads = 4, layers = 4;
  manual_seed(0);
  KilnTrainer k{std::make_shared<TransformerClassifier>(1000, d_model, heads, layers, 10), nullptr,
                randint(0, 1000, {batch, seq}), randint(0, 10, {batch}), cross_entropy};
  k.opt = std::make_unique<nn::optim::AdamW>(k.model->parameters(), nn::optim::AdamWOptions{.lr = 1e-4});
  Peer peer = KILN_PEER(transformer(seq, batch, d_model, heads, layers));
  run_paired(state, [&] { return k.step(); }, peer);
}

// One epoch of models/mlp's loop on 60000 random images: a DataLoader with seeded
// shuffling, batch 128, Adam.
void BM_TrainEpochMlp(benchmark::State& state) {
  const int64_t samples = 60000, batch = 128;
  manual_seed(0);
  auto model = make_mlp();
  nn::optim::Adam adam(model->parameters(), {.lr = 1e-3});
  nn::data::DataLoaderOptions lo;
  lo.batch_size = batch, lo.shuffle = true, lo.prefetch = 0;  // as models/mlp loads its in-memory images
  nn::data::DataLoader loader(
      std::make_shared<nn::data::TensorDataset>(rand({samples, 1, 28, 28}), randint(0, 10, {samples})), lo);
  auto epoch = [&] {
    double total = 0;
    int64_t batches = 0;
    nn::data::Batch b;
    for (loader.start_epoch(); loader.next(b); ++batches) {
      adam.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model->forward(b.input), b.target);
      loss.backward();
      adam.step();
      total += loss.item();
    }
    return total / double(batches);
  };
  Peer peer = KILN_PEER(mlp_epoch(samples, batch));
  run_paired(state, epoch, peer);
}

BENCHMARK(BM_TrainStepMlp)->Name("Train/step/mlp_784_256_10_b128")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrainStepResNet18)->Name("Train/step/resnet18_32x32_b32")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrainStepLstm)->Name("Train/step/lstm2_h128_t60_b64")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrainStepTransformer)
    ->Name("Train/step/transformer4_d256_h4_s128_b16")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrainEpochMlp)
    ->Name("Train/epoch/mlp_60000_b128")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
}  // namespace kiln::bench
