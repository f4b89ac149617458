// Data loading and metrics: IDX files (plain, gzip, malformed), DataLoader order,
// seeded shuffling, drop_last, prefetch and its shutdown, pinned batches (over a fake
// CUDA backend with pinned memory), and classification metrics
// against scikit-learn's documented values.
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <gmock/gmock.h>

#include "core/storage.h"
#include "kiln.h"
#include "nn/data/dataloader.h"
#include "nn/data/idx.h"
#include "nn/metrics/classification.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"
#include "support/host_backend.h"

namespace kiln {
namespace {

using test::error_of;
namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("kiln_data_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string s = {0, 0, 8, char(dims.size())};
  for (uint32_t d : dims) s += {char(d >> 24), char(d >> 16), char(d >> 8), char(d)};
  s.append(data.begin(), data.end());
  return s;
}

void write_file(const std::string& path, const std::string& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
}

TEST(Idx, ReadsPlainAndGzipFiles) {
  std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6};
  for (bool gz : {false, true}) {
    std::string p = temp_path(gz ? "a.idx.gz" : "a.idx");
    write_file(p, idx_bytes({2, 3}, data), gz);
    Tensor t = nn::data::read_idx(p);
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.dtype(), kUInt8);
    EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(Idx, MalformedFilesGiveErrorsNamingTheFile) {
  std::string p = temp_path("bad.idx");
  write_file(p, idx_bytes({2, 3}, {1, 2, 3}), false);
  EXPECT_EQ(error_of([&] { nn::data::read_idx(p); }),
            "read_idx: " + p + ": truncated while reading the data (3 more bytes expected)");
  write_file(p, std::string("\x01\x02\x08\x01", 4), false);
  EXPECT_EQ(error_of([&] { nn::data::read_idx(p); }), "read_idx: " + p + " is not an IDX file (bad magic number)");
  write_file(p, idx_bytes({2}, {1, 2, 3}), false);
  EXPECT_EQ(error_of([&] { nn::data::read_idx(p); }),
            "read_idx: " + p + ": more data than the shape [2] accounts for");
  write_file(p, std::string("\x00\x00\x0d\x01", 4), false);
  EXPECT_EQ(error_of([&] { nn::data::read_idx(p); }),
            "read_idx: " + p + ": element type 0xd is not supported (only unsigned bytes, 0x08)");
  write_file(p, idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {}), false);
  EXPECT_NE(error_of([&] { nn::data::read_idx(p); }).find("implausibly large"), std::string::npos);
  EXPECT_EQ(error_of([] { nn::data::read_idx("/nonexistent/file"); }).rfind("read_idx: cannot open /nonexistent", 0),
            0u);
}

std::shared_ptr<nn::data::TensorDataset> numbers(int64_t n) {
  Tensor x = arange(double(n), kFloat32).unsqueeze(1);
  return std::make_shared<nn::data::TensorDataset>(x, arange(double(n)));
}

std::vector<int64_t> epoch_targets(nn::data::DataLoader& loader, std::vector<int64_t>* sizes = nullptr) {
  std::vector<int64_t> seen;
  nn::data::Batch b;
  for (loader.start_epoch(); loader.next(b);) {
    auto v = b.target.to_vector<int64_t>();
    seen.insert(seen.end(), v.begin(), v.end());
    if (sizes) sizes->push_back(b.target.size(0));
    EXPECT_EQ(b.input.size(0), b.target.size(0));
  }
  return seen;
}

TEST(DataLoader, InOrderWithAndWithoutPrefetch) {
  for (int prefetch : {0, 1, 3}) {
    nn::data::DataLoaderOptions o;
    o.batch_size = 4, o.prefetch = prefetch;
    nn::data::DataLoader loader(numbers(10), o);
    std::vector<int64_t> sizes;
    std::vector<int64_t> seen = epoch_targets(loader, &sizes);
    std::vector<int64_t> expected(10);
    for (int i = 0; i < 10; ++i) expected[size_t(i)] = i;
    EXPECT_EQ(seen, expected) << "prefetch " << prefetch;
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
    EXPECT_EQ(loader.num_batches(), 3);
  }
}

TEST(DataLoader, DropLastDropsTheShortBatch) {
  nn::data::DataLoaderOptions o;
  o.batch_size = 4, o.drop_last = true;
  nn::data::DataLoader loader(numbers(10), o);
  EXPECT_EQ(epoch_targets(loader).size(), 8u);
  EXPECT_EQ(loader.num_batches(), 2);
}

TEST(DataLoader, ShuffleIsASeededPermutationThatChangesEachEpoch) {
  nn::data::DataLoaderOptions o;
  o.batch_size = 3, o.shuffle = true, o.seed = 42;
  nn::data::DataLoader a(numbers(20), o), b(numbers(20), o);
  auto a1 = epoch_targets(a), b1 = epoch_targets(b);
  EXPECT_EQ(a1, b1);  // same seed, same order
  EXPECT_EQ(std::set<int64_t>(a1.begin(), a1.end()).size(), 20u);
  auto a2 = epoch_targets(a);
  EXPECT_NE(a1, a2);  // a new permutation each epoch
}

// Host memory as cuda:0 with "pinned" blocks, counted (no kernel runs on it).
struct PinningBackend final : test::HostMemoryBackend {
  std::atomic<int64_t> live_pinned{0};
  void* allocate_pinned(size_t nbytes) override {
    ++live_pinned;
    return std::malloc(nbytes > 0 ? nbytes : 1);
  }
  void deallocate_pinned(void* p, size_t) override {
    --live_pinned;
    std::free(p);
  }
};

TEST(DataLoader, PinMemoryGivesPinnedBatchesWithTheSameValues) {
  static PinningBackend fake;  // outlives every tensor made on it
  DeviceBackend* real = register_backend(DeviceType::CUDA, &fake);
  for (int prefetch : {0, 2}) {
    nn::data::DataLoaderOptions o;
    o.batch_size = 4, o.prefetch = prefetch, o.pin_memory = true;
    nn::data::DataLoader loader(numbers(10), o);
    std::vector<int64_t> seen;
    nn::data::Batch b;
    for (loader.start_epoch(); loader.next(b);) {
      EXPECT_TRUE(b.input.is_pinned());
      EXPECT_TRUE(b.target.is_pinned());
      EXPECT_TRUE(b.input.device().is_cpu());
      auto v = b.target.to_vector<int64_t>();
      seen.insert(seen.end(), v.begin(), v.end());
      EXPECT_EQ(b.input.squeeze(1).to(kInt64).to_vector<int64_t>(), v);
    }
    EXPECT_EQ(seen.size(), 10u) << "prefetch " << prefetch;
  }
  register_backend(DeviceType::CUDA, real);
  EXPECT_EQ(fake.live_pinned.load(), 0);
}

TEST(DataLoader, PinMemoryWithoutCudaIsAClearError) {
#ifdef KILN_WITH_CUDA
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
#endif
  nn::data::DataLoaderOptions o;
  o.batch_size = 4, o.prefetch = 1, o.pin_memory = true;
  nn::data::DataLoader loader(numbers(10), o);
  nn::data::Batch b;
  loader.start_epoch();
  EXPECT_THAT(error_of([&] { loader.next(b); }),
              ::testing::HasSubstr("pin_memory: pinned memory needs CUDA, which is not available: "));
}

TEST(DataLoader, StopsCleanlyMidEpochAndReportsWorkerErrors) {
  nn::data::DataLoaderOptions o;
  o.batch_size = 2, o.prefetch = 2;
  {
    nn::data::DataLoader loader(numbers(1000), o);
    nn::data::Batch b;
    loader.start_epoch();
    ASSERT_TRUE(loader.next(b));
    loader.start_epoch();  // abandon the first epoch with the worker still running
    ASSERT_TRUE(loader.next(b));
    EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  }  // destroyed mid-epoch: the worker must be joined, not left running
  struct Failing : nn::data::Dataset {
    int64_t size() const override { return 4; }
    nn::data::Example get(int64_t i) const override {
      KILN_CHECK(i < 2, "Failing: example ", i, " is unreadable");
      return {zeros({1}), zeros({})};
    }
  };
  nn::data::DataLoader loader(std::make_shared<Failing>(), o);
  nn::data::Batch b;
  loader.start_epoch();
  EXPECT_TRUE(loader.next(b));
  EXPECT_EQ(error_of([&] { loader.next(b); }), "Failing: example 2 is unreadable");
}

TEST(Metrics, MatchScikitLearnDocumentedValues) {
  // sklearn.metrics.f1_score docs: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
  Tensor t = tensor<int64_t>({0, 1, 2, 0, 1, 2}), p = tensor<int64_t>({0, 2, 1, 0, 0, 1});
  EXPECT_NEAR(nn::metrics::f1_score(p, t, 3, "macro"), 0.26666666666666666, 1e-12);
  EXPECT_NEAR(nn::metrics::f1_score(p, t, 3, "micro"), 0.3333333333333333, 1e-12);
  EXPECT_NEAR(nn::metrics::f1_score(p, t, 3, "weighted"), 0.26666666666666666, 1e-12);
  EXPECT_NEAR(nn::metrics::precision(p, t, 3, "macro"), 0.2222222222222222, 1e-12);
  EXPECT_NEAR(nn::metrics::recall(p, t, 3, "macro"), 0.3333333333333333, 1e-12);
  EXPECT_NEAR(nn::metrics::accuracy(p, t), 2.0 / 6.0, 1e-12);
  EXPECT_EQ(nn::metrics::confusion_matrix(p, t, 3).to_vector<int64_t>(),
            (std::vector<int64_t>{2, 0, 0, 1, 0, 1, 0, 2, 0}));
  // binary: precision_score([0, 1, 1, 0], [0, 1, 0, 0]) = 1, recall = 0.5
  Tensor bt = tensor<int64_t>({0, 1, 1, 0}), bp = tensor<int64_t>({0, 1, 0, 0});
  EXPECT_DOUBLE_EQ(nn::metrics::precision(bp, bt, 2, "binary"), 1.0);
  EXPECT_DOUBLE_EQ(nn::metrics::recall(bp, bt, 2, "binary"), 0.5);
  EXPECT_EQ(error_of([&] { nn::metrics::f1_score(p, t, 3, "samples"); }),
            "f1_score: average must be 'macro', 'micro', 'weighted' or 'binary', got 'samples'");
  EXPECT_EQ(error_of([&] { nn::metrics::confusion_matrix(p, t, 2); }),
            "confusion_matrix: class 2 at position 1 is out of range for 2 classes");
}

}  // namespace
}  // namespace kiln
