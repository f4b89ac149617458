// The networks whose training steps bench/train_bench.cpp times, written with kiln's nn
// layers: the flagship MLP, torchvision's ResNet-18 (10 classes), a 2-layer LSTM
// regressor and a 4-layer transformer encoder classifier. bench/peers/torch_peer.cpp
// builds the same networks with libtorch, layer for layer.
#pragma once

#include <memory>

#include "nn/nn.h"

namespace kiln::bench {

// Linear(784, 256) -> ReLU -> Dropout(0.5) -> Linear(256, 10): models/mlp's network.
inline std::shared_ptr<nn::Sequential> make_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(256, 10)});
}

// torchvision's BasicBlock: conv3x3(stride) -> bn -> relu -> conv3x3 -> bn, plus the
// input (through a 1x1 conv + bn when the shape changes), then relu.
class BasicBlock : public nn::UnaryModule {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride) : nn::UnaryModule("BasicBlock") {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(in, out, IntList{3, 3}, IntList{stride, stride},
                                                                   IntList{1, 1}, IntList{1, 1}, 1, false));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(out, out, IntList{3, 3}, IntList{1, 1},
                                                                   IntList{1, 1}, IntList{1, 1}, 1, false));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      downsample = register_module(
          "downsample", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
                            std::make_shared<nn::Conv2d>(in, out, IntList{1, 1}, IntList{stride, stride},
                                                         IntList{0, 0}, IntList{1, 1}, 1, false),
                            std::make_shared<nn::BatchNorm2d>(out)}));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = bn2->forward(conv2->forward(relu(bn1->forward(conv1->forward(x)))));
    return relu(y + (downsample ? downsample->forward(x) : x));
  }

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;
};

// torchvision.models.resnet18(num_classes): the ImageNet stem (7x7 stride-2 conv, 3x3
// max pool) and four stages of two BasicBlocks (64, 128, 256, 512 channels).
class ResNet18 : public nn::UnaryModule {
 public:
  explicit ResNet18(int64_t num_classes) : nn::UnaryModule("ResNet") {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3, 64, IntList{7, 7}, IntList{2, 2}, IntList{3, 3},
                                                                   IntList{1, 1}, 1, false));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(64));
    pool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(IntList{3, 3}, IntList{2, 2}, IntList{1, 1}));
    int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      int64_t out = 64 << stage, stride = stage == 0 ? 1 : 2;
      auto layer = std::make_shared<nn::Sequential>();
      layer->push_back(std::make_shared<BasicBlock>(in, out, stride));
      layer->push_back(std::make_shared<BasicBlock>(out, out, 1));
      layers[stage] = register_module("layer" + std::to_string(stage + 1), layer);
      in = out;
    }
    avgpool = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(IntList{1, 1}));
    fc = register_module("fc", std::make_shared<nn::Linear>(512, num_classes));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = pool->forward(relu(bn1->forward(conv1->forward(x))));
    for (auto& layer : layers) y = layer->forward(y);
    return fc->forward(avgpool->forward(y).flatten(1));
  }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Sequential> layers[4];
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<nn::Linear> fc;
};

// A 2-layer LSTM over (T, N, input) sequences whose last output feeds Linear(hidden, 1).
class LstmRegressor : public nn::UnaryModule {
 public:
  LstmRegressor(int64_t input_size, int64_t hidden) : nn::UnaryModule("LstmRegressor") {
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(input_size, hidden, nn::RNNOptions{.num_layers = 2}));
    head = register_module("head", std::make_shared<nn::Linear>(hidden, 1));
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = lstm->forward(x).output;
    return head->forward(out.select(0, out.size(0) - 1));
  }

  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
};

// Token embedding -> post-norm TransformerEncoder (batch first, ReLU feed-forward of
// 4 * d_model, dropout 0.1) -> mean over the sequence -> Linear(d_model, classes).
class TransformerClassifier : public nn::UnaryModule {
 public:
  TransformerClassifier(int64_t vocab, int64_t d_model, int64_t heads, int64_t layers, int64_t classes)
      : nn::UnaryModule("TransformerClassifier") {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab, d_model));
    nn::TransformerEncoderLayer layer(d_model, heads, 4 * d_model, 0.1, "relu", 1e-5, /*batch_first=*/true);
    encoder = register_module("encoder", std::make_shared<nn::TransformerEncoder>(layer, layers));
    head = register_module("head", std::make_shared<nn::Linear>(d_model, classes));
  }
  Tensor forward(const Tensor& tokens) override {  // tokens: int64 (N, S)
    return head->forward(mean(encoder->forward(embed->forward(tokens)), {1}));
  }

  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::Linear> head;
};

}  // namespace kiln::bench
