// libtorch versions of bench/train_models.h's networks and of the training steps in
// bench/train_bench.cpp. Written with the same layer arguments and defaults so that the
// two sides do the same arithmetic; only the framework differs.
#include "bench/peers/torch_peer.h"

#include <dlfcn.h>
#include <malloc.h>

#include <torch/torch.h>

namespace kiln::bench::torch_peer {

namespace tnn = torch::nn;

void set_num_threads(int threads) { torch::set_num_threads(threads); }

bool set_blas_threads(int threads) {
  // Looked up at run time: the peer does not link OpenBLAS itself, libtorch does.
  using SetThreads = void (*)(int);
  auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(threads);
  return true;
}

namespace {

// Note [Peer allocator]
// libtorch's CPU allocator takes every tensor from malloc. glibc hands blocks above its
// mmap threshold (128 KiB at first) straight back to the OS when freed, so a libtorch
// training loop page-faults its activations in again on every step, and how often
// depends on what the process did before (glibc raises the threshold after large
// frees): the same MLP step measured 6.8 ms or 2.3 ms. PyTorch's performance guide
// suggests another allocator for this reason. When the peer is built, the benchmark
// process keeps freed memory (mmap threshold 256 MiB, trim threshold 1 GiB) from its
// first allocation, so libtorch runs at its best and steadily; kiln is unaffected, since
// it keeps its freed blocks itself (Note [CPU block cache]).
const bool kPeerMallocTuned = [] {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}();

// torchvision's BasicBlock.
struct BasicBlockImpl : tnn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(tnn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
        bn1(out),
        conv2(tnn::Conv2dOptions(out, out, 3).stride(1).padding(1).bias(false)),
        bn2(out) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    if (stride != 1 || in != out) {
      downsample = tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                   tnn::BatchNorm2d(out));
      register_module("downsample", downsample);
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = bn2(conv2(torch::relu(bn1(conv1(x)))));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }
  tnn::Conv2d conv1;
  tnn::BatchNorm2d bn1;
  tnn::Conv2d conv2;
  tnn::BatchNorm2d bn2;
  tnn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResNet18Impl : tnn::Module {
  explicit ResNet18Impl(int64_t classes)
      : conv1(tnn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)),
        bn1(64),
        pool(tnn::MaxPool2dOptions(3).stride(2).padding(1)),
        fc(512, classes) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("maxpool", pool);
    int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      int64_t out = 64 << stage, stride = stage == 0 ? 1 : 2;
      layers.push_back(register_module("layer" + std::to_string(stage + 1),
                                       tnn::Sequential(BasicBlock(in, out, stride), BasicBlock(out, out, 1))));
      in = out;
    }
    register_module("fc", fc);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = pool(torch::relu(bn1(conv1(x))));
    for (auto& layer : layers) y = layer->forward(y);
    return fc(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
  }
  tnn::Conv2d conv1;
  tnn::BatchNorm2d bn1;
  tnn::MaxPool2d pool;
  std::vector<tnn::Sequential> layers;
  tnn::Linear fc;
};
TORCH_MODULE(ResNet18);

struct LstmRegressorImpl : tnn::Module {
  LstmRegressorImpl(int64_t input, int64_t hidden)
      : lstm(tnn::LSTMOptions(input, hidden).num_layers(2)), head(hidden, 1) {
    register_module("lstm", lstm);
    register_module("head", head);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = std::get<0>(lstm(x));
    return head(out.select(0, out.size(0) - 1));
  }
  tnn::LSTM lstm;
  tnn::Linear head;
};
TORCH_MODULE(LstmRegressor);

struct TransformerClassifierImpl : tnn::Module {
  TransformerClassifierImpl(int64_t vocab, int64_t d_model, int64_t heads, int64_t layers, int64_t classes)
      : embed(vocab, d_model),
        encoder(tnn::TransformerEncoderOptions(
            tnn::TransformerEncoderLayerOptions(d_model, heads).dim_feedforward(4 * d_model).dropout(0.1), layers)),
        head(d_model, classes) {
    register_module("embed", embed);
    register_module("encoder", encoder);
    register_module("head", head);
  }
  torch::Tensor forward(const torch::Tensor& tokens) {  // (N, S); libtorch 1.13's encoder is sequence first
    torch::Tensor x = embed(tokens).transpose(0, 1);
    return head(encoder(x).mean(0));
  }
  tnn::Embedding embed;
  tnn::TransformerEncoder encoder;
  tnn::Linear head;
};
TORCH_MODULE(TransformerClassifier);

// model(x) -> loss(out, y) -> backward -> step.
template <typename Model, typename Loss>
class StepTrainer : public Trainer {
 public:
  StepTrainer(Model model, std::unique_ptr<torch::optim::Optimizer> opt, torch::Tensor x, torch::Tensor y, Loss loss)
      : model_(std::move(model)), opt_(std::move(opt)), x_(std::move(x)), y_(std::move(y)), loss_(loss) {
    model_->train();
  }
  double step() override {
    opt_->zero_grad();
    torch::Tensor loss = loss_(model_->forward(x_), y_);
    loss.backward();
    opt_->step();
    return loss.item<double>();
  }

 private:
  Model model_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  torch::Tensor x_, y_;
  Loss loss_;
};

template <typename Model, typename Loss>
std::unique_ptr<Trainer> make_trainer(Model model, std::unique_ptr<torch::optim::Optimizer> opt, torch::Tensor x,
                                      torch::Tensor y, Loss loss) {
  return std::make_unique<StepTrainer<Model, Loss>>(std::move(model), std::move(opt), std::move(x), std::move(y),
                                                    loss);
}

tnn::Sequential make_mlp() {
  return tnn::Sequential(tnn::Flatten(), tnn::Linear(784, 256), tnn::ReLU(), tnn::Dropout(0.5), tnn::Linear(256, 10));
}

auto cross_entropy = [](const torch::Tensor& out, const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(out, y);
};
auto mse = [](const torch::Tensor& out, const torch::Tensor& y) { return torch::mse_loss(out, y); };

class MlpEpoch : public Trainer {
 public:
  MlpEpoch(int64_t samples, int64_t batch)
      : model_(make_mlp()),
        opt_(model_->parameters(), torch::optim::AdamOptions(1e-3)),
        images_(torch::rand({samples, 1, 28, 28})),
        labels_(torch::randint(0, 10, {samples})),
        batch_(batch) {}
  double step() override {
    model_->train();
    torch::Tensor order = torch::randperm(images_.size(0));
    double total = 0;
    int64_t batches = 0;
    for (int64_t i = 0; i < images_.size(0); i += batch_) {
      torch::Tensor idx = order.narrow(0, i, std::min(batch_, images_.size(0) - i));
      torch::Tensor x = images_.index_select(0, idx), y = labels_.index_select(0, idx);
      opt_.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(model_->forward(x), y);
      loss.backward();
      opt_.step();
      total += loss.item<double>();
      ++batches;
    }
    return total / double(batches);
  }

 private:
  tnn::Sequential model_;
  torch::optim::Adam opt_;
  torch::Tensor images_, labels_;
  int64_t batch_;
};

}  // namespace

std::unique_ptr<Trainer> mlp(int64_t batch) {
  torch::manual_seed(0);
  auto model = make_mlp();
  auto opt = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  return make_trainer(model, std::move(opt), torch::rand({batch, 1, 28, 28}), torch::randint(0, 10, {batch}),
                      cross_entropy);
}

std::unique_ptr<Trainer> resnet18(int64_t batch) {
  torch::manual_seed(0);
  ResNet18 model(10);
  auto opt = std::make_unique<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  return make_trainer(model, std::move(opt), torch::randn({batch, 3, 32, 32}), torch::randint(0, 10, {batch}),
                      cross_entropy);
}

std::unique_ptr<Trainer> lstm(int64_t seq, int64_t batch, int64_t input, int64_t hidden) {
  torch::manual_seed(0);
  LstmRegressor model(input, hidden);
  auto opt = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  return make_trainer(model, std::move(opt), torch::randn({seq, batch, input}), torch::randn({batch, 1}), mse);
}

std::unique_ptr<Trainer> transformer(int64_t seq, int64_t batch, int64_t d_model, int64_t heads, int64_t layers) {
  torch::manual_seed(0);
  TransformerClassifier model(1000, d_model, heads, layers, 10);
  auto opt = std::make_unique<torch::optim::AdamW>(model->parameters(), torch::optim::AdamWOptions(1e-4));
  return make_trainer(model, std::move(opt), torch::randint(0, 1000, {batch, seq}), torch::randint(0, 10, {batch}),
                      cross_entropy);
}

std::unique_ptr<Trainer> mlp_epoch(int64_t samples, int64_t batch) {
  torch::manual_seed(0);
  return std::make_unique<MlpEpoch>(samples, batch);
}

}  // namespace kiln::bench::torch_peer
