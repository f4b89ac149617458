// safetensors checkpoints (nn/serialize.h): round trips of every dtype and layout,
// atomic writes, a file written on the PyTorch side (tests/reference/gen_safetensors.py),
// precise errors for malformed files, and a mutation fuzz that must never crash.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/factory.h"
#include "nn/layers.h"
#include "nn/serialize.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln::nn {
namespace {

using ::testing::HasSubstr;
using kiln::test::error_of;
using kiln::test::ScratchDir;
using kiln::test::read_bytes;
using kiln::test::write_bytes;
using kiln::test::same_tensor;
namespace fs = std::filesystem;

void expect_same(const NamedTensors& actual, const NamedTensors& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first) << "at position " << i;
    EXPECT_TRUE(same_tensor(actual[i].second, expected[i].second)) << "tensor " << expected[i].first;
  }
}

// A safetensors file from a header text and a data section.
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) out[size_t(k)] = char((n >> (8 * k)) & 0xFF);
  return out + header + data;
}

NamedTensors every_dtype() {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"f32", tensor<float>({1.5f, -0.0f, float(inf), std::nanf(""), 1e-40f, 3.25f}, {2, 3})},
      {"f64", tensor<double>({0.1, -inf, 1e308, 4.9e-324}, {4})},
      {"i64", tensor<int64_t>({std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()},
                              {2, 1, 2})},
      {"u8", tensor<uint8_t>({0, 1, 127, 128, 255}, {5}, TensorOptions(kUInt8))},
      {"mask", tensor<bool>({true, false, false, true}, {2, 2})},
      {"scalar", scalar_tensor(-7.0, kFloat64)},
      {"empty", zeros({0, 3})},
      {"empty_i64", zeros({3, 0, 2}, kInt64)},
  };
}

// ---- round trips ----

TEST(Safetensors, RoundTripsEveryDtypeZeroDimAndEmptyTensorsInOrder) {
  ScratchDir dir("kiln_serialize");
  NamedTensors tensors = every_dtype();
  save_safetensors(dir.file("all.safetensors"), tensors);
  expect_same(load_safetensors(dir.file("all.safetensors")), tensors);
  expect_same(load_safetensors_from_memory(save_safetensors_to_memory(tensors)), tensors);
  EXPECT_EQ(read_bytes(dir.file("all.safetensors")), save_safetensors_to_memory(tensors));
}

TEST(Safetensors, SavesNonContiguousTensorsInRowMajorOrder) {
  Tensor base = arange(24, kFloat32).reshape({4, 6});
  NamedTensors tensors = {
      {"transposed", base.t()},
      {"strided", base.slice(1, 0, 6, 2)},
      {"expanded", tensor<double>({1.0, 2.0}, {2, 1}).expand({2, 3})},
      {"requires_grad", randn({3}).requires_grad_()},
  };
  ASSERT_FALSE(tensors[0].second.is_contiguous());
  NamedTensors loaded = load_safetensors_from_memory(save_safetensors_to_memory(tensors));
  expect_same(loaded, tensors);
  EXPECT_EQ(loaded[2].second.to_vector<double>(), (std::vector<double>{1, 1, 1, 2, 2, 2}));
  EXPECT_FALSE(loaded[3].second.requires_grad());
}

TEST(Safetensors, RoundTripsMetadataAndUnusualNames) {
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"quote\"back\\slash", "line\nbreak\ttab\x01"},
      {"utf8 \xC3\xA9", "\xF0\x9F\x98\x80"},
      {"", ""}};
  NamedTensors tensors = {{"layer.0/\"w\"\\\n\xC3\xA9", ones({2})}, {"", zeros({1}, kInt64)}};
  std::map<std::string, std::string> loaded_metadata;
  NamedTensors loaded = load_safetensors_from_memory(save_safetensors_to_memory(tensors, metadata), &loaded_metadata);
  expect_same(loaded, tensors);
  EXPECT_EQ(loaded_metadata, metadata);
  std::map<std::string, std::string> none = {{"stale", "value"}};
  load_safetensors_from_memory(save_safetensors_to_memory(tensors), &none);
  EXPECT_TRUE(none.empty());
}

TEST(Safetensors, PadsTheHeaderWithSpacesToEightBytes) {
  for (int n = 0; n < 9; ++n) {
    std::string bytes = save_safetensors_to_memory({{std::string(size_t(n), 'x'), ones({1})}});
    uint64_t header_size = 0;
    for (int k = 7; k >= 0; --k) header_size = (header_size << 8) | static_cast<unsigned char>(bytes[size_t(k)]);
    EXPECT_EQ(header_size % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + header_size + 4);
    std::string header = bytes.substr(8, header_size);
    EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1).back(), '}');
  }
}

TEST(Safetensors, ReturnsTensorsInDataOrderNotHeaderOrder) {
  // "b" is listed first but its bytes come second; extra keys and values are skipped;
  // \u escapes (a surrogate pair among them) decode to UTF-8.
  std::string header =
      R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2],"note":{"x":[1,-2.5e3,true,false,null,"s"]}},)"
      R"("a":{"data_offsets":[0,1],"shape":[],"dtype":"U8"},)"
      R"("e\u00e9\ud83d\ude00":{"dtype":"BOOL","shape":[0],"data_offsets":[2,2]}})";
  NamedTensors loaded = load_safetensors_from_memory(make_file(header, std::string("\x07\x09", 2)));
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded[0].first, "a");
  EXPECT_EQ(loaded[0].second.item<int64_t>(), 7);
  EXPECT_EQ(loaded[0].second.dim(), 0);
  EXPECT_EQ(loaded[1].first, "b");
  EXPECT_EQ(loaded[1].second.item<int64_t>(), 9);
  EXPECT_EQ(loaded[2].first, "e\xC3\xA9\xF0\x9F\x98\x80");
}

// ---- atomic writes ----

TEST(Safetensors, WriteIntoAMissingDirectoryFailsNamingThePathAndLeavesNothing) {
  ScratchDir dir("kiln_serialize");
  std::string path = dir.file("missing/model.safetensors");
  std::string msg = error_of([&] { save_safetensors(path, {{"w", ones({2})}}); });
  EXPECT_THAT(msg, HasSubstr("save_safetensors: cannot write " + path));
  EXPECT_THAT(msg, HasSubstr("No such file or directory"));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Safetensors, FailedRenameRemovesTheTemporaryFile) {
  ScratchDir dir("kiln_serialize");
  fs::create_directory(dir.file("target"));  // a file cannot be renamed over a directory
  std::string msg = error_of([&] { save_safetensors(dir.file("target"), {{"w", ones({2})}}); });
  EXPECT_THAT(msg, HasSubstr("renaming"));
  EXPECT_THAT(msg, HasSubstr(dir.file("target")));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"target"});
}

TEST(Safetensors, FailedWriteLeavesTheExistingTargetUntouched) {
  ScratchDir dir("kiln_serialize");
  std::string path = dir.file("model.safetensors");
  write_bytes(path, "previous checkpoint");
  // A file size limit makes write() fail with EFBIG part way through (SIGXFSZ ignored).
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg = error_of([&] { save_safetensors(path, {{"big", zeros({100000})}}); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_THAT(msg, HasSubstr("writing"));
  EXPECT_THAT(msg, HasSubstr(std::strerror(EFBIG)));
  EXPECT_EQ(read_bytes(path), "previous checkpoint");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, OverwritesAnExistingFileAndLeavesNoTemporary) {
  ScratchDir dir("kiln_serialize");
  std::string path = dir.file("model.safetensors");
  write_bytes(path, "previous checkpoint");
  save_safetensors(path, {{"w", ones({3})}});
  expect_same(load_safetensors(path), {{"w", ones({3})}});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, SaveRejectsBadNamesAndTensors) {
  EXPECT_THAT(error_of([] { save_safetensors_to_memory({{"a", ones({1})}, {"a", ones({1})}}); }),
              HasSubstr("duplicate tensor name 'a'"));
  EXPECT_THAT(error_of([] { save_safetensors_to_memory({{"__metadata__", ones({1})}}); }),
              HasSubstr("cannot be named __metadata__"));
  EXPECT_THAT(error_of([] { save_safetensors_to_memory({{"u", Tensor()}}); }), HasSubstr("tensor 'u' is undefined"));
  EXPECT_THAT(error_of([] { save_safetensors_to_memory({{"bad\xFF", ones({1})}}); }), HasSubstr("not valid UTF-8"));
}

// ---- a file written on the PyTorch side ----

struct ExpectedTensor {
  std::string name;
  Tensor value;
};

// tests/reference/data/torch_linear.txt: name dtype ndim dims... numel values...
std::vector<ExpectedTensor> read_expected() {
  std::ifstream in(std::string(KILN_REFERENCE_DIR) + "/torch_linear.txt");
  KILN_CHECK(in.good(), "cannot open torch_linear.txt");
  std::vector<ExpectedTensor> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::string name, dtype;
    int64_t ndim = 0, numel = 0;
    is >> name >> dtype >> ndim;
    Shape shape(static_cast<size_t>(ndim), 0);
    for (auto& d : shape) is >> d;
    is >> numel;
    if (dtype == "int64") {
      std::vector<int64_t> v(static_cast<size_t>(numel));
      for (auto& x : v) is >> x;
      out.push_back({name, tensor(v, shape)});
      continue;
    }
    std::vector<double> v(static_cast<size_t>(numel));
    for (auto& x : v) is >> x;
    DType d = dtype == "float32" ? kFloat32 : dtype == "float64" ? kFloat64 : dtype == "uint8" ? kUInt8 : kBool;
    out.push_back({name, tensor(v, shape, TensorOptions(d))});
  }
  return out;
}

TEST(Safetensors, LoadsAFileWrittenByThePyTorchSideWriter) {
  std::string path = std::string(KILN_REFERENCE_DIR) + "/torch_linear.safetensors";
  std::map<std::string, std::string> metadata;
  NamedTensors loaded = load_safetensors(path, &metadata);
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  // The writer lays tensors out by element size, then name; load returns that order.
  std::vector<std::string> names;
  for (const auto& [name, t] : loaded) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"extra.f64", "extra.i64", "bias", "extra.empty", "extra.scalar",
                                             "weight", "extra.mask", "extra.u8"}));
  std::map<std::string, Tensor> by_name(loaded.begin(), loaded.end());
  int checked = 0;
  for (const ExpectedTensor& e : read_expected()) {
    if (e.name.rfind("forward.", 0) == 0) continue;
    ASSERT_TRUE(by_name.count(e.name)) << e.name;
    EXPECT_TRUE(same_tensor(by_name[e.name], e.value)) << e.name;
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(Safetensors, LoadsPyTorchLinearWeightsIntoAKilnLinear) {
  std::string path = std::string(KILN_REFERENCE_DIR) + "/torch_linear.safetensors";
  Linear linear(4, 3);
  // The file holds extra tensors besides the Linear's: strict loading names them.
  std::string msg = error_of([&] { load(linear, path); });
  EXPECT_THAT(msg, HasSubstr("load: " + path));
  EXPECT_THAT(msg, HasSubstr("unexpected keys: extra.f64"));
  load(linear, path, /*strict=*/false);
  std::map<std::string, Tensor> expected;
  for (const ExpectedTensor& e : read_expected()) expected[e.name] = e.value;
  EXPECT_TRUE(same_tensor(linear.weight.detach(), expected["weight"]));
  EXPECT_TRUE(same_tensor(linear.bias.detach(), expected["bias"]));
  EXPECT_TRUE(linear.weight.requires_grad());
  EXPECT_TRUE(kiln::test::allclose(linear.forward(expected["forward.input"]).detach(), expected["forward.output"]));
}

TEST(Safetensors, ModuleSaveThenLoadRestoresEveryParameter) {
  ScratchDir dir("kiln_serialize");
  std::string path = dir.file("linear.safetensors");
  Linear a(5, 2), b(5, 2);
  save(a, path);
  std::map<std::string, std::string> metadata;
  load_safetensors(path, &metadata);
  EXPECT_EQ(metadata.at("format"), "pt");
  load(b, path);
  EXPECT_TRUE(same_tensor(b.weight.detach(), a.weight.detach()));
  EXPECT_TRUE(same_tensor(b.bias.detach(), a.bias.detach()));
  Linear wrong(4, 2);
  std::string msg = error_of([&] { load(wrong, path); });
  EXPECT_THAT(msg, HasSubstr("load: " + path));
  EXPECT_THAT(msg, HasSubstr("shape mismatch for weight"));
}

// ---- malformed files: every one a precise kiln::Error ----

std::string load_error(const std::string& bytes) {
  return error_of([&] { load_safetensors_from_memory(bytes); });
}

const char* kGoodEntry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

TEST(Safetensors, RejectsBadHeaderLengths) {
  EXPECT_THAT(load_error(""), HasSubstr("<memory>: the file is 0 bytes, too short"));
  EXPECT_THAT(load_error("\x01\x02\x03"), HasSubstr("too short"));
  std::string huge = make_file("{}");
  huge[7] = '\x7F';
  EXPECT_THAT(load_error(huge), HasSubstr("exceeds the limit of 104857600 bytes"));
  std::string past_end = make_file("{}");
  past_end[0] = 3;
  EXPECT_THAT(load_error(past_end), HasSubstr("header length 3 exceeds the 2 bytes that follow it"));
  EXPECT_THAT(load_error(make_file("")), HasSubstr("unexpected end of header"));
}

TEST(Safetensors, RejectsMalformedJson) {
  EXPECT_THAT(load_error(make_file("[]")), HasSubstr("the header is not a JSON object"));
  EXPECT_THAT(load_error(make_file("{} x")), HasSubstr("unexpected bytes after the header"));
  EXPECT_THAT(load_error(make_file("{\"t\":")), HasSubstr("unexpected end of header"));
  EXPECT_THAT(load_error(make_file("{\"t\" 1}")), HasSubstr("expected ':' after an object key"));
  EXPECT_THAT(load_error(make_file("{\"t\":{\"dtype\":\"F32\" \"shape\":[]}}")),
              HasSubstr("expected ',' or '}' in an object"));
  EXPECT_THAT(load_error(make_file("{\"unterminated")), HasSubstr("unterminated string"));
  EXPECT_THAT(load_error(make_file("{\"a\tb\":1}")), HasSubstr("unescaped control character"));
  EXPECT_THAT(load_error(make_file("{\"\\q\":1}")), HasSubstr("invalid escape \\q"));
  EXPECT_THAT(load_error(make_file("{\"\\u12G4\":1}")), HasSubstr("invalid hex digit"));
  EXPECT_THAT(load_error(make_file("{\"\\ud800x\":1}")), HasSubstr("high surrogate without a low surrogate"));
  EXPECT_THAT(load_error(make_file("{\"\\udc00\":1}")), HasSubstr("lone low surrogate"));
  EXPECT_THAT(load_error(make_file("{\"\xC0\xAF\":1}")), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(load_error(make_file("{\"\xED\xA0\x80\":1}")), HasSubstr("invalid UTF-8"));  // encoded surrogate
  EXPECT_THAT(load_error(make_file("{\"t\":{\"x\":tru}}")), HasSubstr("expected a JSON value"));
  EXPECT_THAT(load_error(make_file("{\"t\":{\"x\":-}}")), HasSubstr("malformed number"));
  std::string deep = "{\"t\":{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_THAT(load_error(make_file(deep)), HasSubstr("nested deeper than 64 levels"));
}

TEST(Safetensors, RejectsBadTensorEntries) {
  auto entry = [](const std::string& body) { return make_file("{\"t\":{" + body + "}}", std::string(8, '\0')); };
  EXPECT_THAT(load_error(make_file("{\"t\":[1]}")), HasSubstr("tensor 't': expected an object"));
  EXPECT_THAT(load_error(entry(R"("dtype":"Q7","shape":[2],"data_offsets":[0,8])")),
              HasSubstr("tensor 't' has unknown dtype 'Q7'"));
  EXPECT_THAT(load_error(entry(R"("dtype":"I16","shape":[4],"data_offsets":[0,8])")),
              HasSubstr("tensor 't' has unsupported dtype I16"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8])")),
              HasSubstr("unsupported dtype F8_E4M3"));
  // The 16-bit floats are read, and their byte count is checked like any other.
  EXPECT_THAT(load_error(entry(R"("dtype":"F16","shape":[3],"data_offsets":[0,8])")), HasSubstr("8"));
  EXPECT_THAT(load_error(entry(R"("dtype":7,"shape":[2],"data_offsets":[0,8])")), HasSubstr("dtype must be a string"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2,-1],"data_offsets":[0,8])")),
              HasSubstr("negative dim -1"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])")),
              HasSubstr("expected an integer, got a fractional number"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999])")),
              HasSubstr("integer out of the int64 range"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0])")),
              HasSubstr("more elements than int64 can count"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8])")),
              HasSubstr("more bytes than int64 can count"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0])")),
              HasSubstr("data_offsets must have exactly 2 entries, got 1"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,8,16])")),
              HasSubstr("data_offsets must have exactly 2 entries"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2],"data_offsets":[8,16])")),
              HasSubstr("data_offsets [8, 16] outside the data section of 8 bytes"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])")), HasSubstr("outside"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])")), HasSubstr("outside"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])")),
              HasSubstr("holding 8 bytes, but F32 shape [3] needs 12"));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","shape":[2])")), HasSubstr("tensor 't' is missing \"data_offsets\""));
  EXPECT_THAT(load_error(entry(R"("dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8])")),
              HasSubstr("has \"dtype\" twice"));
  std::string rank65 = "[";
  for (int i = 0; i < 65; ++i) rank65 += (i ? ",1" : "1");
  EXPECT_THAT(load_error(entry("\"dtype\":\"F32\",\"shape\":" + rank65 + "],\"data_offsets\":[0,4]")),
              HasSubstr("more than 64 dims"));
}

TEST(Safetensors, RejectsDuplicatesOverlapsAndBadValues) {
  std::string data(16, '\0');
  EXPECT_THAT(load_error(make_file(std::string("{") + kGoodEntry + "," + kGoodEntry + "}", data)),
              HasSubstr("duplicate tensor name 't'"));
  EXPECT_THAT(load_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"U8","shape":[2],"data_offsets":[7,9]}})",
                                   data)),
              HasSubstr("tensors 'a' [0, 8) and 'b' [7, 9) overlap"));
  // Empty tensors overlap nothing, even inside another tensor's bytes.
  EXPECT_EQ(load_safetensors_from_memory(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                                   R"("b":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}})",
                                                   data))
                .size(),
            2u);
  std::string bool_bytes("\x01\x00\x02", 3);
  EXPECT_THAT(load_error(make_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", bool_bytes)),
              HasSubstr("BOOL tensor 'm' element 2 has byte value 2 (expected 0 or 1)"));
  EXPECT_THAT(load_error(make_file(R"({"__metadata__":{"k":1}})")),
              HasSubstr("__metadata__ value of 'k' is not a string"));
  EXPECT_THAT(load_error(make_file(R"({"__metadata__":[]})")), HasSubstr("__metadata__ must be an object"));
  EXPECT_THAT(load_error(make_file(R"({"__metadata__":{},"__metadata__":{}})")), HasSubstr("appears twice"));
}

TEST(Safetensors, FileErrorsNameThePath) {
  ScratchDir dir("kiln_serialize");
  std::string missing = dir.file("nope.safetensors");
  EXPECT_THAT(error_of([&] { load_safetensors(missing); }),
              HasSubstr("cannot open " + missing + ": No such file or directory"));
  fs::create_directory(dir.file("sub"));
  EXPECT_THAT(error_of([&] { load_safetensors(dir.file("sub")); }), HasSubstr("not a regular file"));
  write_bytes(dir.file("bad.safetensors"), make_file(R"({"t":{"dtype":"I32","shape":[],"data_offsets":[0,4]}})"));
  EXPECT_THAT(error_of([&] { load_safetensors(dir.file("bad.safetensors")); }),
              HasSubstr("load_safetensors: " + dir.file("bad.safetensors") + ": tensor 't' has unsupported dtype I32"));
}

// ---- fuzz: mutations of a valid file load or throw kiln::Error, never anything worse ----

struct FuzzTally {
  int loaded = 0, rejected = 0;
};

void try_load(const std::string& bytes, FuzzTally& tally, const std::string& what) {
  try {
    NamedTensors tensors = load_safetensors_from_memory(bytes);
    for (const auto& [name, t] : tensors) {
      // Touch every element, as a caller would.
      double sum = 0;
      for (double v : t.to(kFloat64).to_vector<double>()) sum += std::isfinite(v) ? v : 0;
      (void)sum;
    }
    ++tally.loaded;
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("load_safetensors: <memory>: ")) << what;
    ++tally.rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-kiln exception: " << e.what();
  }
}

TEST(SafetensorsFuzz, MutatedFilesLoadOrThrowKilnErrors) {
  NamedTensors tensors = every_dtype();
  tensors.emplace_back("weight", arange(12, kFloat32).reshape({3, 4}));
  const std::string valid = save_safetensors_to_memory(tensors, {{"format", "pt"}, {"note", "fuzz \\u \"x\""}});
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(valid[size_t(k)]);
  const size_t header_end = size_t(8 + n);
  std::mt19937_64 rng(20240601);
  auto below = [&](size_t bound) { return size_t(rng() % bound); };
  FuzzTally tally;

  try_load(valid, tally, "the valid file");
  ASSERT_EQ(tally.loaded, 1);

  for (int i = 0; i < 300; ++i) {  // single bit flips anywhere, mostly in the header
    std::string m = valid;
    size_t pos = i % 3 == 0 ? below(m.size()) : below(header_end);
    m[pos] = char(m[pos] ^ (1 << below(8)));
    try_load(m, tally, "bit flip at " + std::to_string(pos));
  }
  for (size_t len = 0; len < valid.size(); len += 3)  // truncations
    try_load(valid.substr(0, len), tally, "truncated to " + std::to_string(len));
  for (uint64_t length : {uint64_t(0), uint64_t(1), uint64_t(2), uint64_t(7), n - 8, n - 1, n + 1, n + 8,
                          uint64_t(valid.size() - 8), uint64_t(valid.size() - 7), uint64_t(1) << 32,
                          (uint64_t(100) << 20) + 1, uint64_t(1) << 63, ~uint64_t(0)}) {  // header length
    std::string m = valid;
    for (int k = 0; k < 8; ++k) m[size_t(k)] = char((length >> (8 * k)) & 0xFF);
    try_load(m, tally, "header length " + std::to_string(length));
  }
  const char kJsonBytes[] = "{}[]\",:-.0123456789eE\\u \x00\x80\xFF\xC3tfn";
  const std::string json_bytes(kJsonBytes, sizeof(kJsonBytes) - 1);
  for (int i = 0; i < 300; ++i) {  // random and JSON-significant bytes in the header
    std::string m = valid;
    size_t count = 1 + below(4);
    for (size_t k = 0; k < count; ++k) {
      size_t pos = 8 + below(n);
      m[pos] = i % 2 ? char(rng() & 0xFF) : json_bytes[below(json_bytes.size())];
    }
    try_load(m, tally, "header bytes, mutation " + std::to_string(i));
  }
  // Numbers in the header (dims and offsets) replaced by others, the header length
  // updated to match or not.
  std::vector<size_t> number_starts;
  for (size_t p = 8; p < header_end; ++p)
    if (valid[p] >= '0' && valid[p] <= '9' && !(valid[p - 1] >= '0' && valid[p - 1] <= '9')) number_starts.push_back(p);
  const char* replacements[] = {"0", "1", "3", "7", "8", "64", "999", "-1", "9223372036854775807",
                                "9223372036854775808", "18446744073709551616", "1e3", "4611686018427387904"};
  for (int i = 0; i < 200; ++i) {
    size_t start = number_starts[below(number_starts.size())];
    size_t end = start;
    while (valid[end] >= '0' && valid[end] <= '9') ++end;
    std::string header = valid.substr(8, n);
    header.replace(start - 8, end - start, replacements[below(std::size(replacements))]);
    std::string data = valid.substr(header_end);
    std::string m = i % 2 ? make_file(header, data) : valid.substr(0, 8) + header + data;
    try_load(m, tally, "number replaced at " + std::to_string(start));
  }
  RecordProperty("loaded", tally.loaded);
  RecordProperty("rejected", tally.rejected);
  EXPECT_GT(tally.rejected, 500);
  EXPECT_GT(tally.loaded, 20);
}

}  // namespace
}  // namespace kiln::nn
