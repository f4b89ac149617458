// .npy/.npz files (nn/data/npy.h): NumPy-written files (tests/reference/gen_npy.py) read
// back, kiln's writes byte-identical to NumPy's, round trips, precise errors for
// malformed files and archives, and a mutation fuzz that must never crash.
#include <unistd.h>

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
#include "nn/data/npy.h"
#include "ops/binary.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln::nn::data {
namespace {

using ::testing::HasSubstr;
using kiln::test::error_of;
using kiln::test::ScratchDir;
using kiln::test::read_bytes;
using kiln::test::write_bytes;
using kiln::test::same_tensor;
namespace fs = std::filesystem;
using NamedArrays = std::vector<std::pair<std::string, Tensor>>;

const std::string kDir = std::string(KILN_REFERENCE_DIR) + "/npy/";

void expect_same(const NamedArrays& actual, const NamedArrays& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first) << "at position " << i;
    EXPECT_TRUE(same_tensor(actual[i].second, expected[i].second)) << "array " << expected[i].first;
  }
}

constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
const float kInfF = std::numeric_limits<float>::infinity();
const double kInf = std::numeric_limits<double>::infinity();

// The arrays of gen_npy.py whose dtype kiln has, by file name.
std::vector<std::pair<std::string, Tensor>> numpy_files_kiln_writes_identically() {
  return {
      {"bool.npy", tensor<bool>({true, false, true, false, false, true}, {2, 3})},
      {"uint8.npy", tensor<uint8_t>({0, 1, 127, 128, 255}, {5}, TensorOptions(kUInt8))},
      {"int64.npy", tensor<int64_t>({kI64Min, -1, 0, 1, 2, kI64Max}, {2, 3})},
      {"float32.npy", tensor<float>({1.5f, -0.0f, kInfF, std::nanf(""), 1e-40f, 3.25f}, {2, 3})},
      {"float64.npy", tensor<double>({0.1, -kInf, 1e308, 5e-324}, {4})},
      {"float64_3d.npy", ((arange(24, kFloat64) - 10.0) / 4.0).reshape({2, 3, 4})},
      {"scalar.npy", scalar_tensor(3.5, kFloat64)},
      {"empty.npy", zeros({0, 3})},
      {"empty_1d_i8.npy", zeros({0}, kInt64)},
      {"scalar_bool.npy", scalar_tensor(1, kBool)},
      {"float16.npy", tensor<float>({1.0f, -2.5f, 65504.0f, 6e-8f, kInfF, std::nanf("")}, {6}).to(kFloat16)},
  };
}

// The arrays of gen_npy.py's archives, in archive order (np.savez puts keyword arrays
// first, then the positional ones as arr_0, arr_1, ...).
NamedArrays numpy_archive_arrays() {
  return {
      {"labels", tensor<int64_t>({3, -1, 4})},
      {"mask", tensor<bool>({true, false})},
      {"scalar", scalar_tensor(2.25, kFloat64)},
      {"empty", zeros({2, 0}, kUInt8)},
      {"arr_0", arange(6, kFloat32).reshape({2, 3}) / 2.0},
  };
}

// A .npy file from a header dict text (padded as numpy does) and raw data bytes.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict + "\n";
  std::string out = std::string("\x93NUMPY", 6) + char(major) + char(0);
  size_t n = header.size();
  out += char(n & 0xFF);
  out += char((n >> 8) & 0xFF);
  if (major > 1) out += std::string(2, '\0');
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// ---- reading NumPy's files ----

TEST(NpyFormat, ReadsEveryKilnDtypeWrittenByNumpy) {
  for (const auto& [file, expected] : numpy_files_kiln_writes_identically()) {
    Tensor t = read_npy(kDir + file);
    EXPECT_TRUE(same_tensor(t, expected)) << file;
    EXPECT_TRUE(t.is_contiguous()) << file;
  }
}

TEST(NpyFormat, WidensNarrowIntegersToInt64Exactly) {
  EXPECT_TRUE(same_tensor(read_npy(kDir + "int8.npy"), tensor<int64_t>({-128, -1, 0, 127})));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "int16.npy"), tensor<int64_t>({-32768, -2, 32767})));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "int32.npy"),
                          tensor<int64_t>({-2147483648LL, 7, 70000, 2147483647LL}, {2, 2})));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "uint16.npy"), tensor<int64_t>({0, 65535})));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "uint32.npy"), tensor<int64_t>({0, 4294967295LL})));
}

TEST(NpyFormat, FortranOrderArraysComeBackCContiguous) {
  Tensor f = read_npy(kDir + "fortran.npy");
  EXPECT_TRUE(f.is_contiguous());
  EXPECT_TRUE(same_tensor(f, arange(6, kFloat32).reshape({2, 3})));
  Tensor f3 = read_npy(kDir + "fortran_3d.npy");
  EXPECT_TRUE(f3.is_contiguous());
  EXPECT_TRUE(same_tensor(f3, arange(24, kInt64).reshape({2, 3, 4})));
  // The header really says so (the test would be vacuous otherwise).
  EXPECT_NE(read_bytes(kDir + "fortran_3d.npy").find("'fortran_order': True"), std::string::npos);
}

TEST(NpyFormat, BigEndianIsByteSwappedAndNativeOrderAccepted) {
  EXPECT_TRUE(same_tensor(read_npy(kDir + "big_f8.npy"), tensor<double>({-1.0, -0.5, 0.0, 0.5})));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "big_f2.npy"), tensor<float>({-1.0f, 0.5f, 65504.0f}).to(kFloat16)));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "big_i4.npy"), tensor<int64_t>({-2, 1, 70000})));
  EXPECT_TRUE(same_tensor(read_npy(kDir + "big_i8.npy"), tensor<int64_t>({-3, 5}, {1, 2})));
  std::string native = read_bytes(kDir + "float64.npy");
  native.replace(native.find("'<f8'"), 5, "'=f8'");
  EXPECT_TRUE(same_tensor(read_npy_from_memory(native), tensor<double>({0.1, -kInf, 1e308, 5e-324})));
}

TEST(NpyFormat, ReadsFormatVersions2And3) {
  for (const char* file : {"version2.npy", "version3.npy"}) {
    std::string bytes = read_bytes(kDir + file);
    ASSERT_GT(bytes.size(), 8u);
    EXPECT_EQ(int(bytes[6]), file[7] - '0') << file;
    EXPECT_TRUE(same_tensor(read_npy(kDir + file), tensor<float>({1, 2, 3}))) << file;
  }
}

TEST(NpyFormat, HeaderParserAcceptsWhatPythonLiteralsAllow) {
  std::string data = raw<float>({1, 2, 3, 4, 5, 6});
  Tensor expected = arange(1, 7, 1, kFloat32).reshape({2, 3});
  for (const char* dict : {
           "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
           "{ \"descr\" : \"<f4\" , 'fortran_order':False,'shape':(2,3,),}",
           "{'descr': '<f4',\n 'fortran_order': False,\n 'shape': (\n2, 3)}   \t",
           "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2, 3), }",
       })
    EXPECT_TRUE(same_tensor(read_npy_from_memory(make_npy(dict, data)), expected)) << dict;
  EXPECT_TRUE(same_tensor(read_npy_from_memory(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
                                                        data, 2)),
                          arange(1, 7, 1, kFloat32)));
  EXPECT_TRUE(same_tensor(read_npy_from_memory(make_npy("{'descr':'|u1','fortran_order':False,'shape':()}", "\x07")),
                          scalar_tensor(7, kUInt8)));
}

TEST(NpyFormat, UnsupportedDtypesNameTheFileAndTheDescr) {
  for (const auto& [file, descr] : std::vector<std::pair<std::string, std::string>>{
           {"complex64.npy", "'<c8'"}, {"unicode.npy", "'<U5'"}, {"longdouble.npy", "'<f16'"}, {"uint64.npy", "'<u8'"}}) {
    std::string message = error_of([&] { read_npy(kDir + file); });
    EXPECT_THAT(message, HasSubstr("read_npy: " + kDir + file + ": unsupported dtype descr " + descr)) << file;
  }
  std::string structured = make_npy("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,)}", "abcd");
  EXPECT_THAT(error_of([&] { read_npy_from_memory(structured); }),
              HasSubstr("unsupported dtype descr [('x', '<f4')] (structured or not a string)"));
  EXPECT_THAT(error_of([&] { read_npy_from_memory(make_npy("{'descr': '|O', 'fortran_order': False, 'shape': ()}",
                                                           "12345678")); }),
              HasSubstr("unsupported dtype descr '|O'"));
  EXPECT_THAT(error_of([&] { read_npy_from_memory(make_npy("{'descr': '|i4', 'fortran_order': False, 'shape': ()}",
                                                           "1234")); }),
              HasSubstr("byte order '|' on a multi-byte type"));
}

TEST(NpyFormat, MalformedFilesGiveErrorsSayingWhatIsWrong) {
  auto err = [](const std::string& bytes) { return error_of([&] { read_npy_from_memory(bytes); }); };
  const std::string f4 = "'descr': '<f4', 'fortran_order': False";
  const std::string two = raw<float>({1, 2});
  EXPECT_THAT(err(""), HasSubstr("read_npy: <memory>: not a .npy file"));
  EXPECT_THAT(err("PK\x03\x04 not numpy at all"), HasSubstr("not a .npy file (bad magic)"));
  EXPECT_THAT(err(std::string("\x93NUMPY\x04\x00\x10\x00", 10)), HasSubstr("unsupported .npy format version 4.0"));
  EXPECT_THAT(err(std::string("\x93NUMPY\x01\x00\xff\x00{}", 12)),
              HasSubstr("header length 255 exceeds the 2 bytes that follow it"));
  EXPECT_THAT(err(make_npy("{" + f4 + "}", "")), HasSubstr("the header lacks 'shape'"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2,), 'extra': 1}", two)), HasSubstr("unexpected key 'extra'"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2,), 'shape': (2,)}", two)),
              HasSubstr("key 'shape' appears twice"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2)}", two)), HasSubstr("shape must be a tuple, got (2)"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': [2]}", two)), HasSubstr("shape must be a tuple, got [2]"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (-2,)}", two)), HasSubstr("non-negative integers"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2.0,)}", two)), HasSubstr("expected an integer"));
  EXPECT_THAT(err(make_npy("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", two)),
              HasSubstr("malformed header"));
  EXPECT_THAT(err(make_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", two)),
              HasSubstr("fortran_order must be True or False, got 0"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2,)} x", two)), HasSubstr("unexpected text after the dict"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2,)", two)), HasSubstr("unexpected end of the header"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (" + std::string(100, '(') + "2,)}", two)),
              HasSubstr("nested deeper than 32 levels"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (99999999999999999999,)}", two)),
              HasSubstr("integer out of the int64 range"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (4294967296, 4294967296)}", two)),
              HasSubstr("has too many elements"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (3,)}", two)),
              HasSubstr("shape [3] of 4-byte elements needs 12 data bytes, but 8 follow the header (truncated file)"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (1,)}", two)), HasSubstr("needs 4 data bytes, but 8 follow"));
  EXPECT_THAT(err(make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", std::string("\x01\x00\x02", 3))),
              HasSubstr("bool element 2 has byte value 2 (expected 0 or 1)"));
  EXPECT_THAT(err(make_npy("{" + f4 + ", 'shape': (2,)}" + std::string(1, '\0'), two)),
              HasSubstr("NUL byte in the header"));
}

TEST(NpyFormat, FileErrorsNameThePath) {
  ScratchDir dir("kiln_npy");
  EXPECT_THAT(error_of([&] { read_npy(dir.file("missing.npy")); }),
              HasSubstr("read_npy: cannot open " + dir.file("missing.npy") + ": No such file"));
  write_bytes(dir.file("short.npy"), read_bytes(kDir + "float64.npy").substr(0, 150));
  EXPECT_THAT(error_of([&] { read_npy(dir.file("short.npy")); }),
              HasSubstr("read_npy: " + dir.file("short.npy") + ": shape [4] of 8-byte elements needs 32 data bytes, "
                        "but 22 follow the header (truncated file)"));
}

// ---- writing ----

TEST(NpyWrite, BytesAreIdenticalToNumpys) {
  ScratchDir dir("kiln_npy");
  for (const auto& [file, t] : numpy_files_kiln_writes_identically()) {
    std::string expected = read_bytes(kDir + file);
    EXPECT_EQ(write_npy_to_memory(t), expected) << file;
    write_npy(dir.file(file), t);
    EXPECT_EQ(read_bytes(dir.file(file)), expected) << file;
  }
  EXPECT_EQ(dir.entries().size(), numpy_files_kiln_writes_identically().size());  // no temporary files left
}

TEST(NpyWrite, RoundTripsEveryDtypeAndStridedInputs) {
  Tensor base = arange(24, kFloat64).reshape({4, 6});
  std::vector<Tensor> cases = {
      rand({3, 5}),
      base,
      base.t(),
      base.slice(1, 1, 6, 2),
      base.to(kInt64).select(1, 3),
      base.to(kUInt8).permute({1, 0}),
      tensor<bool>({true, false, false, true, true, false}, {2, 3}).t(),
      tensor<double>({1.0, 2.0}, {2, 1}).expand({2, 3}),
      zeros({2, 0, 4}, kBool),
      scalar_tensor(-2, kInt64),
      randn({2, 3}).requires_grad_(),
  };
  for (const Tensor& t : cases) {
    Tensor back = read_npy_from_memory(write_npy_to_memory(t));
    EXPECT_TRUE(same_tensor(back, t.detach())) << t.meta_str();
    EXPECT_FALSE(back.requires_grad());
  }
}

TEST(NpyWrite, UsesVersion2OnlyWhenTheHeaderDoesNotFit) {
  // 21850 dims of size 1 need "1, " each: a header over 65535 bytes.
  Tensor big = zeros(Shape(21850, 1), kInt64);
  std::string bytes = write_npy_to_memory(big);
  EXPECT_EQ(int(bytes[6]), 2);
  uint32_t len = uint32_t(uint8_t(bytes[8])) | uint32_t(uint8_t(bytes[9])) << 8 | uint32_t(uint8_t(bytes[10])) << 16;
  EXPECT_GT(len, 65535u);
  EXPECT_EQ((12 + len) % 64, 0u);
  EXPECT_TRUE(same_tensor(read_npy_from_memory(bytes), big));
  EXPECT_EQ(int(write_npy_to_memory(zeros(Shape(21000, 1), kInt64))[6]), 1);
}

TEST(NpyWrite, FailureLeavesTheTargetUntouchedAndNamesIt) {
  ScratchDir dir("kiln_npy");
  write_npy(dir.file("x.npy"), ones({2}));
  std::string before = read_bytes(dir.file("x.npy"));
  EXPECT_THAT(error_of([&] { write_npy(dir.file("no/such/dir/x.npy"), ones({2})); }),
              HasSubstr("write_npy: cannot write " + dir.file("no/such/dir/x.npy") + ": creating"));
  EXPECT_THAT(error_of([&] { write_npy(dir.file("x.npy"), Tensor()); }), HasSubstr("write_npy: the tensor is undefined"));
  EXPECT_EQ(read_bytes(dir.file("x.npy")), before);
  EXPECT_EQ(dir.entries().size(), 1u);
}

// ---- archives ----

TEST(NpyArchive, ReadsNumpySavezAndSavezCompressed) {
  expect_same(read_npz(kDir + "savez.npz"), numpy_archive_arrays());
  expect_same(read_npz(kDir + "savez_compressed.npz"), numpy_archive_arrays());
  expect_same(read_npz(kDir + "int32.npz"), {{"counts", tensor<int64_t>({1, -2, 3})}});
}

TEST(NpyArchive, StoredArchivesAreByteIdenticalToNumpysAndCompressedOnesRoundTrip) {
  ScratchDir dir("kiln_npy");
  NamedArrays arrays = numpy_archive_arrays();
  EXPECT_EQ(write_npz_to_memory(arrays), read_bytes(kDir + "savez.npz"));
  write_npz(dir.file("a.npz"), arrays);
  EXPECT_EQ(read_bytes(dir.file("a.npz")), read_bytes(kDir + "savez.npz"));
  write_npz(dir.file("c.npz"), arrays, /*compressed=*/true);
  std::string compressed = read_bytes(dir.file("c.npz"));
  EXPECT_LT(compressed.size(), read_bytes(dir.file("a.npz")).size());
  EXPECT_EQ(compressed.substr(8, 2), std::string("\x08\x00", 2));  // method 8: deflate
  expect_same(read_npz(dir.file("c.npz")), arrays);
  EXPECT_EQ(dir.entries().size(), 2u);
}

TEST(NpyArchive, RoundTripsStridedArraysUnicodeNamesAndEmptyArchives) {
  Tensor base = arange(12, kFloat32).reshape({3, 4});
  NamedArrays arrays = {{"t", base.t()}, {"caf\xC3\xA9", base.slice(1, 0, 4, 3).to(kInt64)}, {"s", scalar_tensor(1)}};
  for (bool compressed : {false, true}) {
    expect_same(read_npz_from_memory(write_npz_to_memory(arrays, compressed)), arrays);
    EXPECT_TRUE(read_npz_from_memory(write_npz_to_memory({}, compressed)).empty());
  }
  EXPECT_THAT(error_of([&] { write_npz_to_memory({{"a", ones({1})}, {"a", ones({1})}}); }),
              HasSubstr("write_npz: duplicate array name 'a'"));
  EXPECT_THAT(error_of([&] { write_npz_to_memory({{"", ones({1})}}); }), HasSubstr("names must be non-empty"));
}

// Rewrites a stored archive so that its end records are ZIP64 ones (EOCD fields
// 0xFFFF/0xFFFFFFFF) and every central entry carries its sizes and offset in a
// ZIP64 extra field, as a writer of huge archives does.
std::string with_zip64_records(const std::string& zip) {
  auto le = [&](const std::string& s, size_t at, int n) {
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | uint8_t(s[at + size_t(k)]);
    return v;
  };
  auto put = [](std::string& s, uint64_t v, int n) {
    for (int k = 0; k < n; ++k) s += char((v >> (8 * k)) & 0xFF);
  };
  size_t eocd = zip.size() - 22;
  uint64_t count = le(zip, eocd + 10, 2), cd_offset = le(zip, eocd + 16, 4);
  std::string out = zip.substr(0, size_t(cd_offset));
  size_t pos = size_t(cd_offset);
  for (uint64_t k = 0; k < count; ++k) {
    size_t name_len = le(zip, pos + 28, 2), extra_len = le(zip, pos + 30, 2);
    std::string entry = zip.substr(pos, 46);
    uint64_t csize = le(zip, pos + 20, 4), size = le(zip, pos + 24, 4), offset = le(zip, pos + 42, 4);
    for (size_t at : {size_t(20), size_t(24), size_t(42)}) entry.replace(at, 4, "\xFF\xFF\xFF\xFF");
    entry.replace(30, 2, std::string("\x1c\x00", 2));
    entry += zip.substr(pos + 46, name_len);
    put(entry, 1, 2);
    put(entry, 24, 2);
    put(entry, size, 8);
    put(entry, csize, 8);
    put(entry, offset, 8);
    out += entry;
    pos += 46 + name_len + extra_len;
  }
  uint64_t cd_size = out.size() - cd_offset, z_pos = out.size();
  put(out, 0x06064b50, 4);
  put(out, 44, 8);
  put(out, 45, 2);
  put(out, 45, 2);
  put(out, 0, 8);
  put(out, count, 8);
  put(out, count, 8);
  put(out, cd_size, 8);
  put(out, cd_offset, 8);
  put(out, 0x07064b50, 4);
  put(out, 0, 4);
  put(out, z_pos, 8);
  put(out, 1, 4);
  put(out, 0x06054b50, 4);
  put(out, 0, 4);
  put(out, 0xFFFF, 2);
  put(out, 0xFFFF, 2);
  put(out, 0xFFFFFFFF, 4);
  put(out, 0xFFFFFFFF, 4);
  put(out, 0, 2);
  return out;
}

TEST(NpyArchive, ReadsZip64EndRecordsAndCentralExtraFields) {
  std::string zip64 = with_zip64_records(read_bytes(kDir + "savez.npz"));
  expect_same(read_npz_from_memory(zip64), numpy_archive_arrays());
  // An archive comment after the end record is allowed.
  std::string commented = read_bytes(kDir + "savez.npz");
  commented.replace(commented.size() - 2, 2, std::string("\x05\x00", 2));
  expect_same(read_npz_from_memory(commented + "hello"), numpy_archive_arrays());
}

// Where the first entry's data starts in savez.npz (entry "labels.npy").
constexpr size_t kFirstDataOffset = 30 + 10 + 20;

TEST(NpyArchive, MalformedArchivesGiveErrorsSayingWhatIsWrong) {
  const std::string valid = read_bytes(kDir + "savez.npz");
  auto err = [](const std::string& bytes) { return error_of([&] { read_npz_from_memory(bytes); }); };
  size_t cd = valid.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(cd, std::string::npos);

  EXPECT_THAT(err("short"), HasSubstr("read_npz: <memory>: not a zip archive (5 bytes)"));
  EXPECT_THAT(err(valid.substr(0, valid.size() - 1)), HasSubstr("no end of central directory record"));
  std::string corrupt = valid;
  corrupt[kFirstDataOffset + 130] ^= 0x01;  // a data byte of labels.npy
  EXPECT_THAT(err(corrupt), HasSubstr("read_npz: <memory>: entry 'labels.npy': CRC-32 mismatch"));
  std::string offset = valid;
  offset.replace(cd + 42, 4, std::string("\x00\x10\x00\x00", 4));
  EXPECT_THAT(err(offset), HasSubstr("entry 'labels.npy': local header offset 4096 is outside the file"));
  std::string shifted = valid;
  shifted[cd + 42] = 4;
  EXPECT_THAT(err(shifted), HasSubstr("bad local header signature at offset 4"));
  std::string size = valid;
  size.replace(cd + 20, 8, std::string("\x00\x10\x00\x00\x00\x10\x00\x00", 8));
  EXPECT_THAT(err(size), HasSubstr("runs past the start of the central directory"));
  std::string encrypted = valid;
  encrypted[cd + 8] = 1;
  EXPECT_THAT(err(encrypted), HasSubstr("entry 'labels.npy' is encrypted"));
  std::string method = valid;
  method[cd + 10] = 12;
  EXPECT_THAT(err(method), HasSubstr("unsupported compression method 12"));
  std::string name = valid;
  name.replace(cd + 46 + 7, 3, "txt");
  EXPECT_THAT(err(name), HasSubstr("entry 'labels.txt': not a .npy file"));
  std::string cd_offset = valid;
  cd_offset.replace(cd_offset.size() - 6, 4, std::string("\xff\xff\x00\x00", 4));
  EXPECT_THAT(err(cd_offset), HasSubstr("central directory [65535, "));
  std::string count = valid;
  count.replace(count.size() - 14, 4, std::string("\xff\x00\xff\x00", 4));
  EXPECT_THAT(err(count), HasSubstr("255 entries cannot fit"));
  std::string compressed = read_bytes(kDir + "savez_compressed.npz");
  std::string deflate = compressed;
  deflate[kFirstDataOffset + 3] ^= 0x55;
  EXPECT_THAT(err(deflate), HasSubstr("entry 'labels.npy': "));
  size_t ccd = compressed.find(std::string("PK\x01\x02", 4));
  std::string ratio = compressed;
  ratio.replace(ccd + 24, 4, std::string("\x00\x00\x00\x7f", 4));
  EXPECT_THAT(err(ratio), HasSubstr("beyond what deflate can reach"));
  std::string longer = compressed;
  longer[ccd + 24] = char(longer[ccd + 24] + 1);
  EXPECT_THAT(err(longer), HasSubstr("deflate data holds"));
  ScratchDir dir("kiln_npy");
  write_bytes(dir.file("bad.npz"), corrupt);
  EXPECT_THAT(error_of([&] { read_npz(dir.file("bad.npz")); }),
              HasSubstr("read_npz: " + dir.file("bad.npz") + ": entry 'labels.npy': CRC-32 mismatch"));
}

// ---- fuzz: mutations of valid files load or throw kiln::Error, never anything worse ----

struct FuzzTally {
  int loaded = 0, rejected = 0;
};

template <typename Load>
void try_load(Load&& load, FuzzTally& tally, const std::string& prefix, const std::string& what) {
  try {
    for (const Tensor& t : load()) {
      double sum = 0;  // touch every element, as a caller would
      for (double v : t.to(kFloat64).to_vector<double>()) sum += std::isfinite(v) ? v : 0;
      (void)sum;
    }
    ++tally.loaded;
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr(prefix)) << what;
    ++tally.rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-kiln exception: " << e.what();
  }
}

std::string mutate(const std::string& valid, std::mt19937_64& rng, int i) {
  auto below = [&](size_t bound) { return size_t(rng() % bound); };
  std::string m = valid;
  const char kSignificant[] = "{}()[]',:-0123456789 \n\xff\x00TF";
  switch (i % 4) {
    case 0: {  // bit flips
      for (size_t k = 0, n = 1 + below(3); k < n; ++k) {
        size_t pos = below(m.size());
        m[pos] = char(m[pos] ^ (1 << below(8)));
      }
      break;
    }
    case 1: m.resize(below(m.size())); break;  // truncation
    case 2: {  // header-significant bytes
      size_t pos = below(std::min<size_t>(m.size(), 128));
      m[pos] = kSignificant[below(sizeof(kSignificant) - 1)];
      break;
    }
    default: {  // a random 1-4 byte little-endian integer overwritten with an extreme value
      const uint64_t values[] = {0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 22, 46, 64, 4096};
      uint64_t v = values[below(std::size(values))];
      size_t n = size_t(1) << below(3), pos = below(m.size());
      for (size_t k = 0; k < n && pos + k < m.size(); ++k) m[pos + k] = char((v >> (8 * k)) & 0xFF);
      break;
    }
  }
  return m;
}

TEST(NpyFuzz, MutatedNpyFilesLoadOrThrowKilnErrors) {
  std::mt19937_64 rng(20240611);
  FuzzTally tally;
  for (const char* file : {"float32.npy", "fortran_3d.npy", "big_i4.npy", "bool.npy", "version3.npy"}) {
    const std::string valid = read_bytes(kDir + file);
    for (int i = 0; i < 120; ++i) {
      std::string m = mutate(valid, rng, i);
      try_load([&] { return std::vector<Tensor>{read_npy_from_memory(m)}; }, tally, "read_npy: <memory>: ",
               std::string(file) + " mutation " + std::to_string(i));
    }
  }
  RecordProperty("loaded", tally.loaded);
  RecordProperty("rejected", tally.rejected);
  EXPECT_GT(tally.rejected, 300);
  EXPECT_GT(tally.loaded, 20);
}

TEST(NpyFuzz, MutatedNpzArchivesLoadOrThrowKilnErrors) {
  std::mt19937_64 rng(20240612);
  FuzzTally tally;
  for (const char* file : {"savez.npz", "savez_compressed.npz"}) {
    for (bool zip64 : {false, true}) {
      std::string valid = read_bytes(kDir + file);
      if (zip64) valid = with_zip64_records(valid);
      for (int i = 0; i < 150; ++i) {
        std::string m = mutate(valid, rng, i);
        try_load(
            [&] {
              std::vector<Tensor> out;
              for (auto& [name, t] : read_npz_from_memory(m)) out.push_back(t);
              return out;
            },
            tally, "read_npz: <memory>: ", std::string(file) + " mutation " + std::to_string(i));
      }
    }
  }
  RecordProperty("loaded", tally.loaded);
  RecordProperty("rejected", tally.rejected);
  EXPECT_GT(tally.rejected, 300);
  EXPECT_GT(tally.loaded, 5);
}

}  // namespace
}  // namespace kiln::nn::data
