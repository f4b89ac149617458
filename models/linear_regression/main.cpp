// The smallest complete kiln program: fit y = X w + b by gradient descent with
// autograd, on data generated from known weights, and watch the loss fall.
// Read this first; models/ holds the larger examples.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kiln.h"

using namespace kiln;

namespace {

struct Options {
  int64_t samples = 1024;
  int64_t features = 8;
  int steps = 200;
  double lr = 0.1;
  uint64_t seed = 0;
};

void usage() {
  std::printf(
      "usage: linear_regression [--samples N] [--features N] [--steps N] [--lr X] [--seed N]\n"
      "Fits a linear model to generated data y = X w + b + noise with full-batch gradient\n"
      "descent, using kiln's autograd; prints the loss as it falls and the recovered weights.\n");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "linear_regression: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--samples") {
      o.samples = std::atoll(next());
    } else if (a == "--features") {
      o.features = std::atoll(next());
    } else if (a == "--steps") {
      o.steps = std::atoi(next());
    } else if (a == "--lr") {
      o.lr = std::atof(next());
    } else if (a == "--seed") {
      o.seed = std::strtoull(next(), nullptr, 10);
    } else {
      std::fprintf(stderr, "linear_regression: unknown option %s (see --help)\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.samples <= 0 || o.features <= 0 || o.steps <= 0 || !(o.lr > 0)) {
    std::fprintf(stderr, "linear_regression: sizes, steps and lr must be positive\n");
    std::exit(2);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  manual_seed(opt.seed);

  // The data: X ~ N(0, 1), true weights ~ N(0, 1), bias 0.5, noise N(0, 0.1^2).
  Tensor x = randn({opt.samples, opt.features});
  Tensor w_true = randn({opt.features, 1});
  Tensor y = matmul(x, w_true) + 0.5 + randn({opt.samples, 1}) * 0.1;

  // The model's parameters: leaves that require grad.
  Tensor w = zeros({opt.features, 1}).requires_grad_();
  Tensor b = zeros({1}).requires_grad_();

  std::printf("fitting %lld samples x %lld features, %d steps of gradient descent (lr %g)\n",
              static_cast<long long>(opt.samples), static_cast<long long>(opt.features), opt.steps, opt.lr);
  double first = 0, last = 0;
  for (int step = 1; step <= opt.steps; ++step) {
    Tensor pred = matmul(x, w) + b;
    Tensor loss = mean(square(pred - y));  // mean squared error
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // the update itself is not part of the graph
      w.sub_(w.grad(), opt.lr);
      b.sub_(b.grad(), opt.lr);
    }
    last = loss.item();
    if (step == 1) first = last;
    if (step == 1 || step % (opt.steps / 10 > 0 ? opt.steps / 10 : 1) == 0)
      std::printf("step %4d  loss %.6f\n", step, last);
  }
  double err = amax(abs(w.detach() - w_true)).item();
  std::printf("loss %.6f -> %.6f; bias %.4f (true 0.5); max |w - w_true| = %.4f\n", first, last, b.item(), err);
  return last < first ? 0 : 1;
}
