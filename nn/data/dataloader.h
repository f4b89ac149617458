// Datasets and the DataLoader: seeded shuffling, batching through a collate step,
// drop_last, and background prefetch on a worker thread so training never waits on data.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "core/tensor.h"

namespace kiln::nn::data {

struct Example {
  Tensor input, target;
};
using Batch = Example;  // a batch is an example whose tensors have a leading batch dim

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  // The collate step: by default get() each index and stack the inputs and targets.
  // Datasets held in memory override it with one gather.
  virtual Batch get_batch(const IntList& indices) const;
};

// (inputs[i], targets[i]) from two tensors with the same first dim.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);
  int64_t size() const override { return inputs_.size(0); }
  Example get(int64_t index) const override;
  Batch get_batch(const IntList& indices) const override;  // index_select on both

 private:
  Tensor inputs_, targets_;
};

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;  // drop a last batch smaller than batch_size
  uint64_t seed = 0;       // epoch e shuffles with the permutation of Philox seed (seed + e)
  int prefetch = 2;        // batches a worker thread keeps ready; 0: load on the calling thread
  // Batches in pinned host memory (Tensor::pin_memory, done on the loading thread), so
  // that batch.input.to(cuda, non_blocking=true) is an asynchronous copy (Note [Pinned
  // memory and non_blocking copies] in core/storage.h). Needs CUDA and a device: without
  // them next() throws pin_memory's error.
  bool pin_memory = false;
};

// for (loader.start_epoch(); loader.next(batch);) { ... }
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;
  // Begins the next epoch (stopping a worker still busy with the previous one).
  void start_epoch();
  // The next batch of the epoch; false when the epoch is over. Rethrows, on the
  // calling thread, an error the worker met while loading.
  bool next(Batch& batch);
  int64_t epoch() const { return epoch_; }

 private:
  IntList batch_indices(int64_t b) const;
  Batch load_batch(int64_t b) const;  // get_batch, then pinned if asked
  void stop_worker();
  void worker_loop(int64_t epoch_batches);

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  IntList order_;
  int64_t epoch_ = -1;
  int64_t next_batch_ = 0;  // for prefetch == 0

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  int64_t produced_ = 0, consumed_ = 0, epoch_batches_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace kiln::nn::data
