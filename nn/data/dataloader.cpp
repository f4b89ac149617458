// The DataLoader's epoch order, its producer/consumer queue, and pinning of batches.
#include "nn/data/dataloader.h"

#include "core/factory.h"
#include "ops/index.h"

namespace kiln::nn::data {

Batch Dataset::get_batch(const IntList& indices) const {
  TensorList inputs, targets;
  for (int64_t i : indices) {
    Example e = get(i);
    inputs.push_back(e.input);
    targets.push_back(e.target);
  }
  return {stack(inputs, 0), stack(targets, 0)};
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  KILN_CHECK(inputs_.dim() >= 1 && targets_.dim() >= 1 && inputs_.size(0) == targets_.size(0),
             "TensorDataset: inputs ", inputs_.meta_str(), " and targets ", targets_.meta_str(),
             " must have the same first dim");
}

Example TensorDataset::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), "TensorDataset: index ", index, " is out of range for ", size(),
             " examples");
  return {inputs_.select(0, index), targets_.select(0, index)};
}

Batch TensorDataset::get_batch(const IntList& indices) const {
  Tensor idx = tensor(indices, {int64_t(indices.size())});
  return {index_select(inputs_, 0, idx), index_select(targets_, 0, idx)};
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  KILN_CHECK(dataset_ != nullptr, "DataLoader: dataset is null");
  KILN_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size);
  KILN_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be non-negative, got ", options_.prefetch);
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::num_batches() const {
  int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

IntList DataLoader::batch_indices(int64_t b) const {
  int64_t begin = b * options_.batch_size;
  int64_t end = std::min<int64_t>(begin + options_.batch_size, int64_t(order_.size()));
  return IntList(order_.begin() + begin, order_.begin() + end);
}

Batch DataLoader::load_batch(int64_t b) const {
  Batch batch = dataset_->get_batch(batch_indices(b));
  if (options_.pin_memory) {
    batch.input = batch.input.pin_memory();
    batch.target = batch.target.pin_memory();
  }
  return batch;
}

void DataLoader::start_epoch() {
  stop_worker();
  ++epoch_;
  int64_t n = dataset_->size();
  if (options_.shuffle) {
    Generator gen(options_.seed + uint64_t(epoch_));
    order_ = randperm(n, kInt64, &gen).to_vector<int64_t>();
  } else {
    order_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) order_[size_t(i)] = i;
  }
  next_batch_ = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  ready_.clear();
  produced_ = consumed_ = 0;
  epoch_batches_ = num_batches();
  stop_ = false;
  error_ = nullptr;
  if (options_.prefetch > 0) worker_ = std::thread(&DataLoader::worker_loop, this, epoch_batches_);
}

void DataLoader::worker_loop(int64_t epoch_batches) {
  for (int64_t b = 0; b < epoch_batches; ++b) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || int64_t(ready_.size()) < options_.prefetch; });
      if (stop_) return;
    }
    Batch batch;
    try {
      batch = load_batch(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.push_back(std::move(batch));
    ++produced_;
    changed_.notify_all();
  }
}

bool DataLoader::next(Batch& batch) {
  KILN_CHECK(epoch_ >= 0, "DataLoader: call start_epoch() before next()");
  if (options_.prefetch == 0) {
    if (next_batch_ >= num_batches()) return false;
    batch = load_batch(next_batch_++);
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (consumed_ >= epoch_batches_) return false;
  changed_.wait(lock, [&] { return !ready_.empty() || error_ != nullptr; });
  if (ready_.empty() && error_) std::rethrow_exception(error_);
  batch = std::move(ready_.front());
  ready_.pop_front();
  ++consumed_;
  changed_.notify_all();
  return true;
}

void DataLoader::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

}  // namespace kiln::nn::data
