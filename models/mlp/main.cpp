// The flagship example: a multilayer perceptron on Fashion-MNIST, the recipe of the
// seed network: Linear(784, 256) -> ReLU -> Dropout(0.5) -> Linear(256, 10),
// cross-entropy, Adam(lr 1e-3), batch 128. Trains, evaluates every epoch, prints the
// confusion matrix and saves a safetensors checkpoint. Run with --help.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nn/nn.h"
#include "ops/cpu/parallel.h"

using namespace kiln;

namespace {

const char* kClasses[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct Options {
  std::string data = "/usr/share/datasets/fashion-mnist";
  int epochs = 5;
  int64_t batch_size = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
  int threads = 0;
  int64_t limit = 0;  // use only the first N training examples (0: all)
  std::string device = "cpu";
  std::string checkpoint = "mlp.safetensors";
  std::string eval;  // evaluate this checkpoint instead of training
};

[[noreturn]] void usage(int code) {
  std::printf(
      "usage: mlp [options]\n"
      "Trains Linear(784,256)-ReLU-Dropout(0.5)-Linear(256,10) on Fashion-MNIST with Adam.\n"
      "  --data DIR         MNIST-style IDX files (default /usr/share/datasets/fashion-mnist)\n"
      "  --epochs N         training epochs (default 5)\n"
      "  --batch-size N     mini-batch size (default 128)\n"
      "  --lr X             Adam learning rate (default 1e-3)\n"
      "  --seed N           seed for init, shuffling and dropout (default 0)\n"
      "  --threads N        CPU threads (default: all cores)\n"
      "  --limit N          train on the first N examples only\n"
      "  --device cpu|cuda  where to train (default cpu)\n"
      "  --checkpoint PATH  where to save the trained weights (default mlp.safetensors)\n"
      "  --eval PATH        evaluate a saved checkpoint on the test set and exit\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mlp: %s needs a value\n", a.c_str());
        usage(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") usage(0);
      else if (a == "--data") o.data = value();
      else if (a == "--epochs") o.epochs = std::stoi(value());
      else if (a == "--batch-size") o.batch_size = std::stoll(value());
      else if (a == "--lr") o.lr = std::stod(value());
      else if (a == "--seed") o.seed = std::stoull(value());
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--limit") o.limit = std::stoll(value());
      else if (a == "--device") o.device = value();
      else if (a == "--checkpoint") o.checkpoint = value();
      else if (a == "--eval") o.eval = value();
      else {
        std::fprintf(stderr, "mlp: unknown option %s\n", a.c_str());
        usage(2);
      }
    } catch (const std::logic_error&) {
      std::fprintf(stderr, "mlp: bad value for %s\n", a.c_str());
      usage(2);
    }
  }
  if (o.epochs < 0 || o.batch_size <= 0 || !(o.lr > 0) || o.threads < 0 || o.limit < 0) {
    std::fprintf(stderr, "mlp: epochs, batch size, lr, threads and limit must be positive\n");
    usage(2);
  }
  return o;
}

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(256, 10)});
}

// A progress line on stderr: redrawn in place on a terminal, a few plain lines otherwise.
class Progress {
 public:
  Progress(std::string label, int64_t total) : label_(std::move(label)), total_(total), tty_(isatty(2)) {}
  void update(int64_t done, double loss, double rate) {
    bool milestone = done == total_ || done * 4 / total_ != (done - 1) * 4 / total_;
    if (!tty_ && !milestone) return;
    int width = 30, filled = int(width * done / total_);
    double eta = rate > 0 ? double(total_ - done) / rate : 0;
    std::fprintf(stderr, "%s%s [%s%s] %lld/%lld  loss %.4f  %.0f batch/s  eta %.0fs%s", tty_ ? "\r" : "",
                 label_.c_str(), std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), loss, rate, eta, tty_ ? "" : "\n");
    if (tty_ && done == total_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  int64_t total_;
  bool tty_;
};

struct Evaluation {
  double accuracy, macro_f1;
  Tensor confusion;
};

Evaluation evaluate(nn::Sequential& model, const nn::data::ImageLabels& test, Device device) {
  NoGradGuard no_grad;
  model.eval();
  TensorList preds;
  const int64_t n = test.images.size(0), chunk = 1000;
  for (int64_t i = 0; i < n; i += chunk) {
    Tensor x = test.images.narrow(0, i, std::min(chunk, n - i)).to(device);
    preds.push_back(argmax(model.forward(x), 1).to(Device::cpu()));
  }
  Tensor pred = cat(preds, 0);
  model.train();
  return {nn::metrics::accuracy(pred, test.labels), nn::metrics::f1_score(pred, test.labels, 10, "macro"),
          nn::metrics::confusion_matrix(pred, test.labels, 10)};
}

void print_confusion(const Tensor& cm) {
  auto v = cm.to_vector<int64_t>();
  std::printf("confusion matrix (rows: true class, columns: predicted)\n%12s", "");
  for (int c = 0; c < 10; ++c) std::printf("%6d", c);
  std::printf("\n");
  for (int r = 0; r < 10; ++r) {
    std::printf("%2d %-9.9s", r, kClasses[r]);
    for (int c = 0; c < 10; ++c) std::printf("%6lld", static_cast<long long>(v[size_t(r * 10 + c)]));
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  try {
    if (opt.threads > 0) cpu::set_num_threads(opt.threads);
    Device device = Device::parse(opt.device);
    manual_seed(opt.seed);
    nn::data::ImageLabels test = nn::data::load_mnist(opt.data, /*train=*/false);
    auto model = make_model();
    model->to(device);

    if (!opt.eval.empty()) {
      nn::load(*model, opt.eval);
      model->to(device);
      Evaluation e = evaluate(*model, test, device);
      std::printf("%s: test accuracy %.2f%%, macro F1 %.4f\n", opt.eval.c_str(), 100 * e.accuracy, e.macro_f1);
      print_confusion(e.confusion);
      return 0;
    }

    nn::data::ImageLabels train = nn::data::load_mnist(opt.data, /*train=*/true);
    if (opt.limit > 0 && opt.limit < train.images.size(0))
      train = {train.images.narrow(0, 0, opt.limit), train.labels.narrow(0, 0, opt.limit)};
    std::printf("%s\n", model->summary().c_str());
    std::printf("data: %lld training and %lld test images from %s; %d threads; device %s\n",
                static_cast<long long>(train.images.size(0)), static_cast<long long>(test.images.size(0)),
                opt.data.c_str(), cpu::num_threads(), device.str().c_str());

    nn::data::DataLoaderOptions lo;
    lo.batch_size = opt.batch_size, lo.shuffle = true, lo.seed = opt.seed;
    nn::data::DataLoader loader(std::make_shared<nn::data::TensorDataset>(train.images, train.labels), lo);
    nn::optim::Adam adam(model->parameters(), {.lr = opt.lr});

    Evaluation last{0, 0, {}};
    for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
      auto start = std::chrono::steady_clock::now();
      Progress progress("epoch " + std::to_string(epoch), loader.num_batches());
      double loss_sum = 0;
      int64_t batches = 0, samples = 0;
      nn::data::Batch batch;
      for (loader.start_epoch(); loader.next(batch);) {
        Tensor x = batch.input.to(device), y = batch.target.to(device);
        Tensor loss = nn::functional::cross_entropy(model->forward(x), y);
        adam.zero_grad();
        loss.backward();
        adam.step();
        loss_sum += loss.item();
        samples += x.size(0);
        ++batches;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress.update(batches, loss_sum / double(batches), double(batches) / std::max(secs, 1e-9));
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      last = evaluate(*model, test, device);
      std::printf("epoch %d  train loss %.4f  test accuracy %.2f%%  macro F1 %.4f  time %.2fs  %.0f samples/s\n", epoch,
                  loss_sum / double(std::max<int64_t>(batches, 1)), 100 * last.accuracy, last.macro_f1, secs,
                  double(samples) / secs);
      std::fflush(stdout);
    }
    if (opt.epochs == 0) last = evaluate(*model, test, device);
    print_confusion(last.confusion);
    nn::save(*model, opt.checkpoint);
    std::printf("final: test accuracy %.2f%%, macro F1 %.4f; checkpoint %s\n", 100 * last.accuracy, last.macro_f1,
                opt.checkpoint.c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mlp: %s\n", e.message().c_str());
    return 1;
  }
}
