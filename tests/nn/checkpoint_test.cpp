// A training checkpoint end to end: model and optimizer state saved as safetensors files,
// loaded into a fresh model and optimizer, and training resumed exactly where it stopped.
#include <filesystem>

#include "nn/nn.h"
#include "support/check.h"

namespace kiln {
namespace {

std::shared_ptr<nn::Sequential> small_model() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
      std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(8, 3)});
}

void train_steps(nn::Sequential& model, nn::optim::Optimizer& opt, const Tensor& x, const Tensor& y, int steps) {
  for (int i = 0; i < steps; ++i) {
    Tensor loss = nn::functional::cross_entropy(model.forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

TEST(Checkpoint, ResumingFromSafetensorsFilesMatchesUninterruptedTraining) {
  manual_seed(11);
  Tensor x = randn({16, 4});
  Tensor y = randint(0, 3, {16});
  auto reference = small_model();
  auto model = small_model();
  model->load_state_dict(reference->state_dict());
  nn::optim::Adam ref_opt(reference->parameters(), {.lr = 0.01});
  nn::optim::Adam opt(model->parameters(), {.lr = 0.01});
  train_steps(*reference, ref_opt, x, y, 6);

  train_steps(*model, opt, x, y, 3);
  auto dir = std::filesystem::temp_directory_path() / ("kiln_ckpt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  nn::save(*model, (dir / "model.safetensors").string());
  nn::save_safetensors((dir / "optim.safetensors").string(), opt.state_dict());

  auto resumed = small_model();  // fresh weights, fresh optimizer state
  nn::load(*resumed, (dir / "model.safetensors").string());
  nn::optim::Adam resumed_opt(resumed->parameters(), {.lr = 0.01});
  resumed_opt.load_state_dict(nn::load_safetensors((dir / "optim.safetensors").string()));
  train_steps(*resumed, resumed_opt, x, y, 3);
  std::filesystem::remove_all(dir);

  auto want = reference->parameters(), got = resumed->parameters();
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(test::allclose(got[i], want[i], 0, 0)) << "parameter " << i;
}

}  // namespace
}  // namespace kiln
