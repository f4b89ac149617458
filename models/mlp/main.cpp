// The flagship example: a multilayer perceptron on Fashion-MNIST, the recipe of the
// seed network: Linear(784, 256) -> ReLU -> Dropout(0.5) -> Linear(256, 10),
// cross-entropy, Adam(lr 1e-3), batch 128. Trains with nn::train::fit (progress bar,
// evaluation and a metrics log per epoch), prints the confusion matrix, saves a
// safetensors checkpoint, a PNG of the training curves and a PNG grid of misclassified
// test images. Run with --help.
#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>
#include <cstdlib>
#include <string>

#include "nn/data/image.h"
#include "nn/nn.h"
#include "ops/cpu/parallel.h"

using namespace kiln;

namespace {

const char* kClasses[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
// Short names for the captions of the misclassified grid (84-pixel tiles).
const char* kShort[10] = {"Tshirt", "Trouser", "Pullovr", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"};

struct Options {
  std::string data = "/usr/share/datasets/fashion-mnist";
  int epochs = 5;
  int64_t batch_size = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
  int threads = 0;
  int64_t limit = 0;  // use only the first N training examples (0: all)
  std::string device = "cpu";
  std::string out = "out";  // checkpoint, metrics log and PNGs go here
  std::string checkpoint;   // default: <out>/mlp.safetensors
  std::string eval;         // evaluate this checkpoint instead of training
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
      "  --out DIR          where the outputs go (default out): mlp.safetensors (weights),\n"
      "                     mlp_metrics.csv (one line per epoch), mlp_curves.png (loss and\n"
      "                     accuracy per epoch), mlp_misclassified.png (test images with\n"
      "                     predicted/true labels)\n"
      "  --checkpoint PATH  where to save the trained weights (default DIR/mlp.safetensors)\n"
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
      else if (a == "--out") o.out = value();
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
  if (o.checkpoint.empty()) o.checkpoint = o.out + "/mlp.safetensors";
  return o;
}

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(256, 10)});
}

struct Evaluation {
  double accuracy, macro_f1;
  Tensor confusion, pred;  // pred: (N) int64, the predicted class of every test image
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
          nn::metrics::confusion_matrix(pred, test.labels, 10), pred};
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

// Train loss and test accuracy per epoch, one chart above the other.
void save_curves(const nn::train::History& h, const std::string& path) {
  nn::train::ChartOptions o;
  o.height = 300;
  std::vector<double> epochs;
  for (const auto& e : h.epochs) epochs.push_back(e.epoch);
  Tensor loss = nn::train::line_chart({{"train loss", h.train_loss(), epochs}}, "Training loss", "epoch", o);
  Tensor acc = nn::train::line_chart({{"test accuracy", h.metric("accuracy"), epochs}}, "Test accuracy", "epoch", o);
  nn::data::write_png(path, cat({loss, acc}, 1));
}

// The first `count` misclassified test images, captioned predicted/true.
void save_misclassified(const nn::data::ImageLabels& test, const Tensor& pred, const std::string& path,
                        int64_t count = 40) {
  auto p = pred.to_vector<int64_t>(), t = test.labels.to_vector<int64_t>();
  std::vector<int64_t> wrong;
  std::vector<std::string> captions;
  for (size_t i = 0; i < p.size() && int64_t(wrong.size()) < count; ++i) {
    if (p[i] == t[i]) continue;
    wrong.push_back(int64_t(i));
    captions.push_back(std::string(kShort[p[i]]) + "/" + kShort[t[i]]);
  }
  if (wrong.empty()) {  // still a PNG, saying so
    const std::string text = "no misclassified test images";
    Tensor note = full({3, 40, int64_t(nn::train::text_width(text, 2)) + 20}, 255.0, DType::UInt8);
    nn::train::draw_text(note, 10, 12, text, {0, 0, 0}, 2);
    nn::data::write_png(path, note);
    return;
  }
  Tensor images = index_select(test.images, 0, tensor(wrong));
  nn::data::write_png(path, nn::train::image_grid(images, captions, 8, 3, 4));
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

    std::filesystem::create_directories(opt.out);
    nn::data::ImageLabels train = nn::data::load_mnist(opt.data, /*train=*/true);
    if (opt.limit > 0 && opt.limit < train.images.size(0))
      train = {train.images.narrow(0, 0, opt.limit), train.labels.narrow(0, 0, opt.limit)};
    std::printf("%s\n", model->summary().c_str());
    std::printf("data: %lld training and %lld test images from %s; %d threads; device %s\n",
                static_cast<long long>(train.images.size(0)), static_cast<long long>(test.images.size(0)),
                opt.data.c_str(), cpu::num_threads(), device.str().c_str());

    nn::data::DataLoaderOptions lo;
    lo.batch_size = opt.batch_size, lo.shuffle = true, lo.seed = opt.seed;
    // The images are in memory, so a batch is a 400 KB gather: cheaper on the training
    // thread than handed over by a prefetch thread that must first win a core from the
    // step's own threads (an epoch took 0.79 s with prefetch 2, 0.62 s without, on 2 cores).
    lo.prefetch = 0;
    nn::data::DataLoader loader(std::make_shared<nn::data::TensorDataset>(train.images, train.labels), lo);
    nn::optim::Adam adam(model->parameters(), {.lr = opt.lr});

    // The model was initialised from seed; training (dropout) draws from seed + 1.
    Evaluation last{0, 0, {}, {}};
    nn::train::FitOptions fo{.epochs = opt.epochs,
                             .seed = opt.seed + 1,
                             .log_path = opt.out + "/mlp_metrics.csv",
                             .device = device};
    auto loss = [](const Tensor& out, const Tensor& y) { return nn::functional::cross_entropy(out, y); };
    nn::train::History history;
    if (opt.epochs > 0) {
      history = nn::train::fit(*model, adam, loader, loss, fo, [&](int) {
        last = evaluate(*model, test, device);
        return std::map<std::string, double>{{"accuracy", last.accuracy}, {"macro_f1", last.macro_f1}};
      });
    }
    if (opt.epochs == 0) last = evaluate(*model, test, device);
    print_confusion(last.confusion);
    nn::save(*model, opt.checkpoint);
    if (opt.epochs > 0) save_curves(history, opt.out + "/mlp_curves.png");
    save_misclassified(test, last.pred, opt.out + "/mlp_misclassified.png");
    std::printf("final: test accuracy %.2f%%, macro F1 %.4f; checkpoint %s\n", 100 * last.accuracy, last.macro_f1,
                opt.checkpoint.c_str());
    std::printf("outputs in %s: mlp_metrics.csv, mlp_curves.png, mlp_misclassified.png (captions: predicted/true)\n",
                opt.out.c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mlp: %s\n", e.message().c_str());
    return 1;
  }
}
