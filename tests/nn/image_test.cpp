// Image files (nn/data/image.h) and ImageFolder (nn/data/image_folder.h): decoding the
// committed PNG/JPEG files against torchvision's pixels (tests/reference/gen_transforms.py),
// PNG round trips, malformed files, a mutation fuzz that must never crash, and the
// folder walk of ImageFolder.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/factory.h"
#include "nn/data/dataloader.h"
#include "nn/data/image.h"
#include "nn/data/image_folder.h"
#include "nn/data/transforms.h"
#include "ops/binary.h"
#include "ops/reduce.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/files.h"
#include "support/reference.h"

namespace kiln::nn::data {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using kiln::test::error_of;
using kiln::test::ScratchDir;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

const std::string kImages = std::string(KILN_REFERENCE_DIR) + "/images/";

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

ImageReadMode mode_named(const std::string& name) {
  if (name == "unchanged") return ImageReadMode::Unchanged;
  if (name == "gray") return ImageReadMode::Gray;
  if (name == "gray_alpha") return ImageReadMode::GrayAlpha;
  if (name == "rgb") return ImageReadMode::RGB;
  if (name == "rgb_alpha") return ImageReadMode::RGBAlpha;
  KILN_FAIL("unknown mode ", name);
}

// Same shape, dtype and pixels.
::testing::AssertionResult same_pixels(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "got " << actual.meta_str() << ", expected " << expected.meta_str();
  return kiln::test::allclose(actual.to(kFloat64), expected.to(kFloat64), 0.0, 0.0);
}

Tensor random_image(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randint(0, 256, shape, kUInt8, &gen);
}

// ---- decoding against torchvision ----

std::vector<std::string> decode_case_names() { return kiln::test::reference_case_names("images/decode"); }

class DecodeReference : public ::testing::TestWithParam<std::string> {};

// Exact pixels: PNG through libpng as torchvision; JPEG through the same libjpeg-turbo,
// with torchvision's choices (islow IDCT, fancy upsampling, Y as gray). The CMYK file's
// RGB and gray come from its unchanged pixels (see tests/reference/gen_transforms.py).
TEST_P(DecodeReference, MatchesTorchvisionPixels) {
  const auto& c = kiln::test::reference_case("images/decode", GetParam());
  size_t slash = c.name.find('/');
  std::string file = c.name.substr(0, slash);
  Tensor got = read_image(kImages + file, mode_named(c.name.substr(slash + 1)));
  EXPECT_TRUE(same_pixels(got, c.outputs.at(0)));
}

INSTANTIATE_TEST_SUITE_P(Images, DecodeReference, ::testing::ValuesIn(decode_case_names()),
                         kiln::test::case_test_name);

TEST(ReadImage, CoversEveryFileAndModeOfTheReference) {
  // 11 PNG files x 5 modes (rgb16.png without the 2 gray modes) + 5 JPEG x 3.
  EXPECT_EQ(decode_case_names().size(), size_t(11 * 5 - 2 + 5 * 3));
}

TEST(ReadImage, DetectsTheFormatFromTheContentNotTheName) {
  ScratchDir dir("kiln_image");
  fs::copy_file(kImages + "rgb8.png", dir.file("really_a_png.jpg"));
  fs::copy_file(kImages + "color444.jpg", dir.file("really_a_jpeg.png"));
  EXPECT_TRUE(same_pixels(read_image(dir.file("really_a_png.jpg")), read_image(kImages + "rgb8.png")));
  EXPECT_TRUE(same_pixels(read_image(dir.file("really_a_jpeg.png")), read_image(kImages + "color444.jpg")));
}

// The alpha modes append an opaque channel to the RGB / gray pixels, for YCbCr and for
// CMYK (converted first) alike.
TEST(ReadImage, JpegGrayAlphaAndRgbAlphaAddAnOpaqueChannel) {
  for (const char* name : {"color444.jpg", "cmyk.jpg"}) {
    const std::string file = kImages + name;
    Tensor rgba = read_image(file, ImageReadMode::RGBAlpha);
    ASSERT_EQ(rgba.shape(), (Shape{4, 11, 19})) << name;
    EXPECT_TRUE(same_pixels(rgba.narrow(0, 0, 3), read_image(file, ImageReadMode::RGB))) << name;
    EXPECT_EQ(rgba.select(0, 3).to(kInt64).min().item<int64_t>(), 255) << name;
    Tensor gray_alpha = read_image(file, ImageReadMode::GrayAlpha);
    ASSERT_EQ(gray_alpha.shape(), (Shape{2, 11, 19})) << name;
    EXPECT_TRUE(same_pixels(gray_alpha.narrow(0, 0, 1), read_image(file, ImageReadMode::Gray))) << name;
    EXPECT_EQ(gray_alpha.select(0, 1).to(kInt64).min().item<int64_t>(), 255) << name;
  }
}

TEST(ReadImage, DecodeImageReadsTheSameBytesFromMemory) {
  for (const char* file : {"rgba8_interlaced.png", "progressive.jpg"}) {
    Tensor from_memory = decode_image(read_bytes(kImages + file), ImageReadMode::RGB);
    EXPECT_TRUE(same_pixels(from_memory, read_image(kImages + file, ImageReadMode::RGB))) << file;
  }
}

// ---- writing ----

TEST(WritePng, RoundTripsEveryChannelCount) {
  ScratchDir dir("kiln_image");
  for (int64_t channels : {1, 2, 3, 4}) {
    Tensor image = random_image({channels, 13, 29}, uint64_t(channels));
    std::string path = dir.file(std::to_string(channels) + "_channels.png");
    write_png(path, image);
    EXPECT_TRUE(same_pixels(read_image(path), image)) << channels << " channels";
    EXPECT_TRUE(same_pixels(decode_image(encode_png(image)), image)) << channels << " channels";
  }
}

TEST(WritePng, WritesTwoDimensionalAndNonContiguousImages) {
  ScratchDir dir("kiln_image");
  Tensor gray = random_image({6, 9}, 7);
  write_png(dir.file("gray.png"), gray);
  EXPECT_TRUE(same_pixels(read_image(dir.file("gray.png")), gray.unsqueeze(0)));
  // An HWC buffer viewed as CHW, and a strided slice of it.
  Tensor hwc = random_image({10, 12, 3}, 8);
  Tensor chw = hwc.permute({2, 0, 1});
  write_png(dir.file("permuted.png"), chw);
  EXPECT_TRUE(same_pixels(read_image(dir.file("permuted.png")), chw.contiguous()));
  Tensor strided = chw.slice(1, 1, 10, 2).slice(2, 0, 12, 3);
  write_png(dir.file("strided.png"), strided);
  EXPECT_TRUE(same_pixels(read_image(dir.file("strided.png")), strided.contiguous()));
}

TEST(WritePng, WritesAFileTorchvisionGaveTheSamePixels) {
  // rgb8.png was written by the generator; re-encoding kiln's decode gives the same pixels.
  Tensor image = read_image(kImages + "rgb8.png");
  EXPECT_TRUE(same_pixels(decode_image(encode_png(image)), image));
  Bytes png = encode_png(image);
  ASSERT_GE(png.size(), size_t(8));
  EXPECT_EQ(std::string(png.begin() + 1, png.begin() + 4), "PNG");
}

TEST(WritePng, OverwritesAtomicallyAndLeavesNoTemporaryFile) {
  ScratchDir dir("kiln_image");
  write_png(dir.file("a.png"), random_image({3, 4, 5}, 1));
  Tensor second = random_image({1, 2, 3}, 2);
  write_png(dir.file("a.png"), second);
  EXPECT_TRUE(same_pixels(read_image(dir.file("a.png")), second));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.png"});
}

TEST(WritePng, RejectsBadImagesAndPaths) {
  ScratchDir dir("kiln_image");
  EXPECT_THAT(error_of([&] { write_png(dir.file("x.png"), zeros({3, 4, 5})); }),
              HasSubstr("encode_png: expected a uint8 [C, H, W] or [H, W] image, got float32[3, 4, 5]"));
  EXPECT_THAT(error_of([&] { encode_png(zeros({5, 4, 4}, kUInt8)); }),
              HasSubstr("encode_png: expected 1, 2, 3 or 4 channels, got shape [5, 4, 4]"));
  EXPECT_THAT(error_of([&] { encode_png(zeros({3, 0, 4}, kUInt8)); }),
              HasSubstr("encode_png: expected a positive height and width, got shape [3, 0, 4]"));
  EXPECT_THAT(error_of([&] { encode_png(zeros({2, 3, 4, 5}, kUInt8)); }), HasSubstr("got uint8[2, 3, 4, 5]"));
  std::string missing = dir.file("no/such/dir/x.png");
  EXPECT_THAT(error_of([&] { write_png(missing, zeros({1, 2, 2}, kUInt8)); }),
              HasSubstr("write_png: cannot write " + missing + ": creating"));
  EXPECT_TRUE(dir.entries().empty());
}

// ---- malformed files ----

// PNG chunks: length (4, big-endian) | type (4) | data | CRC (4) over type and data.
struct Chunk {
  size_t start;  // offset of the length field
  std::string type;
  size_t length;
};

std::vector<Chunk> png_chunks(const Bytes& png) {
  std::vector<Chunk> chunks;
  for (size_t pos = 8; pos + 12 <= png.size();) {
    size_t length = (size_t(png[pos]) << 24) | (size_t(png[pos + 1]) << 16) | (size_t(png[pos + 2]) << 8) | png[pos + 3];
    chunks.push_back({pos, std::string(png.begin() + long(pos) + 4, png.begin() + long(pos) + 8), length});
    pos += 12 + length;
  }
  return chunks;
}

void fix_crc(Bytes& png, const Chunk& c) {
  if (c.start + 12 + c.length > png.size()) return;
  uint32_t crc = uint32_t(crc32(0, png.data() + c.start + 4, uInt(4 + c.length)));
  for (int k = 0; k < 4; ++k) png[c.start + 8 + c.length + size_t(k)] = uint8_t(crc >> (24 - 8 * k));
}

const Chunk& find_chunk(const std::vector<Chunk>& chunks, const std::string& type) {
  for (const Chunk& c : chunks)
    if (c.type == type) return c;
  KILN_FAIL("no ", type, " chunk");
}

std::string decode_error(const Bytes& bytes) {
  return error_of([&] { decode_image(bytes); });
}

TEST(ReadImage, RejectsUnknownSignaturesAndEmptyFiles) {
  ScratchDir dir("kiln_image");
  write_bytes(dir.file("text.png"), Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  EXPECT_THAT(error_of([&] { read_image(dir.file("text.png")); }),
              HasSubstr("read_image: " + dir.file("text.png") + ": not a PNG or JPEG file (unrecognised signature)"));
  write_bytes(dir.file("empty.png"), {});
  EXPECT_THAT(error_of([&] { read_image(dir.file("empty.png")); }), HasSubstr("unrecognised signature"));
  Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
  EXPECT_THAT(decode_error(gif), HasSubstr("decode_image: <memory>: not a PNG or JPEG file"));
  EXPECT_THAT(error_of([&] { read_image(dir.file("missing.png")); }),
              HasSubstr("read_image: cannot open " + dir.file("missing.png") + ": No such file or directory"));
  EXPECT_THAT(error_of([&] { read_image(dir.file("")); }), HasSubstr("not a regular file"));
}

TEST(ReadImage, RejectsTruncatedPngs) {
  Bytes png = read_bytes(kImages + "rgba8_interlaced.png");
  std::vector<Chunk> chunks = png_chunks(png);
  const Chunk& idat = find_chunk(chunks, "IDAT");
  for (size_t len : {size_t(8), size_t(20), size_t(33), idat.start + 8, idat.start + 8 + idat.length / 2,
                     idat.start + 12 + idat.length, png.size() - 1}) {
    Bytes cut(png.begin(), png.begin() + long(len));
    EXPECT_THAT(decode_error(cut), HasSubstr("decode_image: <memory>: invalid PNG: ")) << "truncated to " << len;
  }
  EXPECT_THAT(decode_error(Bytes(png.begin(), png.begin() + 20)), HasSubstr("file is truncated"));
}

TEST(ReadImage, RejectsPngsWithBadCrcsOrCorruptData) {
  const Bytes png = read_bytes(kImages + "rgb8.png");
  std::vector<Chunk> chunks = png_chunks(png);
  const Chunk& ihdr = find_chunk(chunks, "IHDR");
  const Chunk& idat = find_chunk(chunks, "IDAT");
  Bytes bad_crc = png;
  bad_crc[ihdr.start + 8 + ihdr.length] ^= 0x01;
  EXPECT_THAT(decode_error(bad_crc), HasSubstr("invalid PNG: IHDR: CRC error"));
  bad_crc = png;
  bad_crc[idat.start + 8 + idat.length + 3] ^= 0x40;
  EXPECT_THAT(decode_error(bad_crc), HasSubstr("invalid PNG: IDAT: CRC error"));
  Bytes bad_zlib = png;
  bad_zlib[idat.start + 8] = 0x00;  // the zlib header's method byte, CRC fixed up
  fix_crc(bad_zlib, idat);
  EXPECT_THAT(decode_error(bad_zlib), HasSubstr("invalid PNG: "));
  Bytes bad_depth = png;
  bad_depth[ihdr.start + 8 + 8] = 7;  // bit depth 7
  fix_crc(bad_depth, ihdr);
  EXPECT_THAT(decode_error(bad_depth), HasSubstr("invalid PNG: "));
}

TEST(ReadImage, RejectsAbsurdDimensionsBeforeAllocating) {
  Bytes png = read_bytes(kImages + "rgb8.png");
  const Chunk ihdr = find_chunk(png_chunks(png), "IHDR");
  auto with_size = [&](uint32_t width, uint32_t height) {
    Bytes m = png;
    for (int k = 0; k < 4; ++k) {
      m[ihdr.start + 8 + size_t(k)] = uint8_t(width >> (24 - 8 * k));
      m[ihdr.start + 12 + size_t(k)] = uint8_t(height >> (24 - 8 * k));
    }
    fix_crc(m, ihdr);
    return m;
  };
  // Each side within libpng's limit of 10^6, the product far beyond 2^31 bytes.
  EXPECT_THAT(decode_error(with_size(900000, 900000)), HasSubstr("is larger than the limit of 2^31 bytes"));
  EXPECT_THAT(decode_error(with_size(0x7FFFFFFF, 1)), HasSubstr("invalid PNG: "));
  EXPECT_THAT(decode_error(with_size(0, 5)), HasSubstr("invalid PNG: "));
  // A plausible size the data does not fill.
  EXPECT_THAT(decode_error(with_size(70, 50)), HasSubstr("invalid PNG: "));
}

TEST(ReadImage, RejectsTruncatedAndCorruptJpegs) {
  const Bytes jpeg = read_bytes(kImages + "color420.jpg");
  for (size_t len : {size_t(3), size_t(4), size_t(40), size_t(200), jpeg.size() / 2, jpeg.size() - 2}) {
    Bytes cut(jpeg.begin(), jpeg.begin() + long(len));
    EXPECT_THAT(decode_error(cut), HasSubstr("decode_image: <memory>: invalid JPEG: ")) << "truncated to " << len;
  }
  EXPECT_THAT(decode_error(Bytes(jpeg.begin(), jpeg.end() - 2)), HasSubstr("no end-of-image marker"));
  EXPECT_THAT(decode_error(Bytes(jpeg.begin(), jpeg.begin() + 40)), HasSubstr("headers are truncated or corrupt"));
  // The frame header (SOF0, FF C0) claiming 0 rows.
  Bytes zero_height = jpeg;
  for (size_t i = 2; i + 8 < zero_height.size(); ++i) {
    if (zero_height[i] == 0xFF && zero_height[i + 1] == 0xC0) {
      zero_height[i + 5] = 0, zero_height[i + 6] = 0;
      break;
    }
  }
  EXPECT_THAT(decode_error(zero_height), HasSubstr("invalid JPEG: "));
  // A Huffman table whose code counts add up to 16 * 255.
  Bytes big_table = jpeg;
  for (size_t i = 2; i + 21 < big_table.size(); ++i) {
    if (big_table[i] == 0xFF && big_table[i + 1] == 0xC4) {
      std::fill(big_table.begin() + long(i) + 5, big_table.begin() + long(i) + 21, uint8_t(255));
      break;
    }
  }
  EXPECT_THAT(decode_error(big_table), HasSubstr("invalid JPEG: a Huffman table has more than 256 codes"));
  // The same scan repeated 1001 times: a crafted file that would make the decoder redo
  // its work per scan. 1000 scans still get to libjpeg (which rejects the repeats).
  auto with_scans = [&](int count) {
    size_t sos = 0;
    for (size_t i = 2; i + 1 < jpeg.size(); ++i)
      if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) sos = i;
    Bytes scan(jpeg.begin() + long(sos), jpeg.end() - 2), out(jpeg.begin(), jpeg.begin() + long(sos));
    for (int k = 0; k < count; ++k) out.insert(out.end(), scan.begin(), scan.end());
    out.push_back(0xFF), out.push_back(0xD9);
    return out;
  };
  EXPECT_THAT(decode_error(with_scans(1001)), HasSubstr("invalid JPEG: the file has more than 1000 scans"));
  EXPECT_THAT(decode_error(with_scans(1000)), Not(HasSubstr("scans")));
}

// ---- fuzz: mutated files decode or throw kiln::Error, never anything worse ----

struct FuzzTally {
  int decoded = 0, rejected = 0;
};

void try_decode(const Bytes& bytes, FuzzTally& tally, const std::string& what) {
  for (ImageReadMode mode : {ImageReadMode::Unchanged, ImageReadMode::Gray, ImageReadMode::RGBAlpha}) {
    try {
      Tensor image = decode_image(bytes, mode);
      ASSERT_EQ(image.dim(), 3) << what;
      ASSERT_EQ(image.dtype(), kUInt8) << what;
      ASSERT_TRUE(image.size(0) >= 1 && image.size(0) <= 4 && image.numel() > 0) << what;
      EXPECT_GE(image.to(kInt64).sum().item<int64_t>(), 0);  // touch every pixel
      ++tally.decoded;
    } catch (const Error& e) {
      EXPECT_THAT(e.message(), HasSubstr("decode_image: <memory>: ")) << what;
      ++tally.rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": threw a non-kiln exception: " << e.what();
    }
  }
}

void fuzz_file(const std::string& file, bool png, FuzzTally& tally) {
  const Bytes valid = read_bytes(kImages + file);
  std::mt19937_64 rng(std::hash<std::string>{}(file));
  auto below = [&](size_t bound) { return size_t(rng() % bound); };
  const std::vector<Chunk> chunks = png ? png_chunks(valid) : std::vector<Chunk>{};
  for (int i = 0; i < 150; ++i) {  // bit flips and random bytes, a few at a time
    Bytes m = valid;
    size_t count = 1 + below(3);
    for (size_t k = 0; k < count; ++k) {
      size_t pos = below(m.size());
      m[pos] = i % 2 ? uint8_t(m[pos] ^ (1u << below(8))) : uint8_t(rng());
    }
    // PNG: recompute every CRC half of the time, so mutations reach libpng and zlib
    // instead of stopping at the CRC check.
    if (png && i % 4 < 2)
      for (const Chunk& c : chunks) fix_crc(m, c);
    try_decode(m, tally, file + ": mutation " + std::to_string(i));
  }
  for (size_t len = 0; len < valid.size(); len += 1 + valid.size() / 60)  // truncations
    try_decode(Bytes(valid.begin(), valid.begin() + long(len)), tally, file + ": truncated to " + std::to_string(len));
}

TEST(ReadImageFuzz, MutatedPngsAndJpegsDecodeOrThrowKilnErrors) {
  FuzzTally tally;
  for (const char* file : {"rgba8_interlaced.png", "palette_trns.png", "gray_alpha16.png"}) fuzz_file(file, true, tally);
  for (const char* file : {"color420.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"}) fuzz_file(file, false, tally);
  RecordProperty("decoded", tally.decoded);
  RecordProperty("rejected", tally.rejected);
  EXPECT_GT(tally.rejected, 1000);
  EXPECT_GT(tally.decoded, 100);
}

// ---- ImageFolder ----

// root/<class>/<files>; each image is a constant colour so its label can be checked.
class ImageFolderTest : public ::testing::Test {
 protected:
  void add(const std::string& relative, int64_t value, int64_t channels = 3) {
    fs::path path = fs::path(root()) / relative;
    fs::create_directories(path.parent_path());
    write_png(path.string(), full({channels, 4, 6}, double(value), kUInt8));
  }
  std::string root() const { return dir_.file("root"); }
  ScratchDir dir_;
};

TEST_F(ImageFolderTest, FindsSortedClassesAndSamplesInTorchvisionOrder) {
  add("dog/b.png", 10);
  add("dog/A.PNG", 11);
  add("cat/z.jpeg.png", 20);
  add("cat/sub/a.png", 21);  // folder cat/sub sorts after cat's own files
  add("cat/b0.png", 22);
  add("bird/x.png", 30);
  fs::create_directories(fs::path(root()) / "bird");
  std::ofstream(fs::path(root()) / "bird" / "notes.txt") << "not an image";
  std::ofstream(fs::path(root()) / "README.md") << "files in root are ignored";
  ImageFolder folder(root());
  EXPECT_EQ(folder.classes(), (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(folder.class_to_idx().at("cat"), 1);
  ASSERT_EQ(folder.size(), 6);
  std::vector<std::string> names;
  for (const auto& [path, label] : folder.samples()) names.push_back(fs::relative(path, root()).string());
  EXPECT_EQ(names, (std::vector<std::string>{"bird/x.png", "cat/b0.png", "cat/z.jpeg.png", "cat/sub/a.png",
                                             "dog/A.PNG", "dog/b.png"}));
  EXPECT_EQ(folder.targets(), (std::vector<int64_t>{0, 1, 1, 1, 2, 2}));
}

TEST_F(ImageFolderTest, GetReturnsTheImageAsFloatAndAnInt64Label) {
  add("a/one.png", 51);
  add("b/two.png", 204, 1);  // gray: read as RGB by default
  ImageFolder folder(root());
  Example e = folder.get(1);
  EXPECT_EQ(e.input.shape(), (Shape{3, 4, 6}));
  EXPECT_EQ(e.input.dtype(), kFloat32);
  EXPECT_TRUE(kiln::test::allclose(e.input, full({3, 4, 6}, 0.8)));
  EXPECT_EQ(e.target.dim(), 0);
  EXPECT_EQ(e.target.dtype(), kInt64);
  EXPECT_EQ(e.target.item<int64_t>(), 1);
  ImageFolder gray(root(), nullptr, ImageReadMode::Gray);
  EXPECT_EQ(gray.get(0).input.shape(), (Shape{1, 4, 6}));
  EXPECT_THAT(error_of([&] { folder.get(2); }), HasSubstr("ImageFolder: index 2 is out of range for 2 samples"));
}

TEST_F(ImageFolderTest, AppliesTheTransformWithItsOwnSeededGenerator) {
  for (int k = 0; k < 4; ++k) add("c/" + std::to_string(k) + ".png", 10 * k);
  auto transform = std::make_shared<transforms::Compose>(std::vector<transforms::TransformPtr>{
      std::make_shared<transforms::ToTensor>(), std::make_shared<transforms::RandomResizedCrop>(IntList{3, 5}),
      std::make_shared<transforms::Normalize>(std::vector<double>{0.5}, std::vector<double>{0.25})});
  ImageFolder a(root(), transform, ImageReadMode::RGB, 7), b(root(), transform, ImageReadMode::RGB, 7);
  for (int64_t i = 0; i < 4; ++i) {
    Tensor x = a.get(i).input;
    EXPECT_EQ(x.shape(), (Shape{3, 3, 5}));
    EXPECT_TRUE(kiln::test::allclose(x, b.get(i).input)) << "sample " << i;
    EXPECT_TRUE(kiln::test::allclose(x, full({3, 3, 5}, (double(10 * i) / 255.0 - 0.5) / 0.25)));
  }
  // Batches through the DataLoader stack the transformed images.
  DataLoader loader(std::make_shared<ImageFolder>(root(), transform), {.batch_size = 2});
  Batch batch;
  loader.start_epoch();
  ASSERT_TRUE(loader.next(batch));
  EXPECT_EQ(batch.input.shape(), (Shape{2, 3, 3, 5}));
  EXPECT_EQ(batch.target.to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
}

TEST_F(ImageFolderTest, RejectsMissingRootsAndFoldersWithoutImages) {
  EXPECT_THAT(error_of([&] { ImageFolder folder(root()); }), HasSubstr("ImageFolder: " + root() + " is not a directory"));
  fs::create_directories(root());
  EXPECT_THAT(error_of([&] { ImageFolder folder(root()); }), HasSubstr("couldn't find any class folder in " + root()));
  add("full/a.png", 1);
  fs::create_directories(fs::path(root()) / "empty");
  fs::create_directories(fs::path(root()) / "texts");
  std::ofstream(fs::path(root()) / "texts" / "a.txt") << "x";
  EXPECT_THAT(error_of([&] { ImageFolder folder(root()); }),
              HasSubstr("ImageFolder: found no .png, .jpg or .jpeg file for the classes empty, texts in " + root()));
  std::ofstream(fs::path(root()) / "empty" / "broken.png") << "not a png";
  fs::remove_all(fs::path(root()) / "texts");
  ImageFolder folder(root());
  EXPECT_THAT(error_of([&] { folder.get(0); }), HasSubstr("read_image: " + root() + "/empty/broken.png: not a PNG"));
}

}  // namespace
}  // namespace kiln::nn::data
