// The libtorch peer of bench/train_bench.cpp: the same four networks and training steps
// built with PyTorch's C++ API (bench/peers/torch_peer.cpp, compiled only when CMake finds
// libtorch; KILN_BENCH_HAVE_TORCH is then defined). This header has no torch includes, so
// the kiln side compiles without them.
#pragma once

#include <cstdint>
#include <memory>

namespace kiln::bench::torch_peer {

// One training step per call (forward, loss, backward, optimizer step) on a fixed random
// batch made at construction; returns the loss.
class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual double step() = 0;
};

void set_num_threads(int threads);  // torch::set_num_threads (intra-op)

// Debian's libtorch does its GEMMs in OpenBLAS, whose own thread pool competes with
// libtorch's OpenMP threads for the same cores. Sets OpenBLAS's thread count when
// libtorch loaded it (returns false when it did not); the benchmarks give the peer the
// faster of 1 and kiln's thread count (see bench/paired.h).
bool set_blas_threads(int threads);

// The shapes, losses and optimizers match bench/train_bench.cpp's kiln trainers.
std::unique_ptr<Trainer> mlp(int64_t batch);                    // Adam(1e-3), cross-entropy
std::unique_ptr<Trainer> resnet18(int64_t batch);               // 3x32x32, SGD(0.1, momentum 0.9)
std::unique_ptr<Trainer> lstm(int64_t seq, int64_t batch, int64_t input, int64_t hidden);  // Adam, MSE
std::unique_ptr<Trainer> transformer(int64_t seq, int64_t batch, int64_t d_model, int64_t heads,
                                     int64_t layers);           // AdamW, cross-entropy

// One epoch of the MLP over `samples` random 28x28 images per call: a fresh random
// permutation, batches gathered with index_select, as a DataLoader over a tensor data
// set does. Returns the mean loss.
std::unique_ptr<Trainer> mlp_epoch(int64_t samples, int64_t batch);

}  // namespace kiln::bench::torch_peer
