// PNG decoding and encoding through libpng, JPEG decoding through libjpeg-turbo, and
// the checks that keep a hostile file from doing harm. The API is in nn/data/image.h;
// see Note [libpng errors] for how the two libraries' longjmp-based errors become
// kiln::Errors.
#include "nn/data/image.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>

#include "core/error.h"
#include "core/file.h"
#include "core/factory.h"

namespace kiln::nn::data {

namespace {

// The largest decoded image accepted (bytes of H * W * C), and the largest file read.
constexpr uint64_t kMaxImageBytes = uint64_t(1) << 31;
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 30;

constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

void check_image_size(uint64_t width, uint64_t height, uint64_t channels, const std::string& where) {
  KILN_CHECK(width > 0 && height > 0, where, ": image has no pixels (", width, " x ", height, ")");
  KILN_CHECK(width * height <= kMaxImageBytes && width * height * channels <= kMaxImageBytes, where, ": image of ",
             width, " x ", height, " x ", channels, " bytes is larger than the limit of 2^31 bytes");
}

// Decoders write height rows of width * channels bytes; the tensor is [C, H, W].
Tensor hwc_to_chw(const Tensor& hwc) { return hwc.permute({2, 0, 1}).contiguous(); }

// ---- PNG ----

// Note [libpng errors]
// libpng reports an error by calling our error callback, which must not return: it
// copies the message into a plain buffer and longjmps back to the setjmp of the libpng
// call in progress. A longjmp skips destructors, so every function that calls setjmp
// (png_read_layout, png_read_pixels, png_write_image) is C-like: its locals are plain
// values, it allocates nothing, and it only reports true or false. The C++ callers own
// the png structs (PngReader, PngWriter) and the tensors, and turn false into a
// kiln::Error with the saved message. libpng's warnings (a bad CRC in an ancillary
// chunk, an unknown chunk) are ignored: such chunks are dropped and decoding goes on.
// libjpeg works the same way (its error_exit must not return either), and the JPEG
// functions that call setjmp (jpeg_read_layout, jpeg_read_pixels) follow the same rules.

struct PngMessage {
  char text[256] = "";
};

void png_error_callback(png_structp png, png_const_charp message) {
  auto* saved = static_cast<PngMessage*>(png_get_error_ptr(png));
  std::snprintf(saved->text, sizeof saved->text, "%s", message);
  png_longjmp(png, 1);
}

void png_warning_callback(png_structp, png_const_charp) {}

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

void png_read_callback(png_structp png, png_bytep out, size_t n) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > source->size - source->pos) png_error(png, "file is truncated");
  std::memcpy(out, source->data + source->pos, n);
  source->pos += n;
}

// What the decoder will deliver once its transformations are set up.
struct PngLayout {
  uint32_t width = 0, height = 0;
  int channels = 0;  // after the transformations
  int expected_channels = 0;
  int bit_depth = 0;
  int passes = 1;
  size_t rowbytes = 0;
};

// Reads the header and asks libpng for 8-bit samples in the channels of `mode`.
// C-like, see Note [libpng errors].
bool png_read_layout(png_structp png, png_infop info, ImageReadMode mode, PngLayout* layout) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, nullptr, nullptr);
  bool palette = color_type == PNG_COLOR_TYPE_PALETTE;
  bool has_color = (color_type & PNG_COLOR_MASK_COLOR) != 0;
  bool has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || (palette && png_get_valid(png, info, PNG_INFO_tRNS));
  if (palette) png_set_palette_to_rgb(png);  // and a tRNS chunk to alpha
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_strip_16(png);
  // torchvision's gray weights; libpng takes red and green and derives blue.
  constexpr double kRed = 0.2989, kGreen = 0.587;
  constexpr png_uint_32 kOpaque = 0xFFFF;  // the filler's low byte is used for 8-bit samples
  switch (mode) {
    case ImageReadMode::Unchanged: break;
    case ImageReadMode::Gray:
      if (has_alpha) png_set_strip_alpha(png);
      if (has_color) png_set_rgb_to_gray(png, PNG_ERROR_ACTION_NONE, kRed, kGreen);
      has_color = has_alpha = false;
      break;
    case ImageReadMode::GrayAlpha:
      if (has_color) png_set_rgb_to_gray(png, PNG_ERROR_ACTION_NONE, kRed, kGreen);
      if (!has_alpha) png_set_add_alpha(png, kOpaque, PNG_FILLER_AFTER);
      has_color = false, has_alpha = true;
      break;
    case ImageReadMode::RGB:
      if (!has_color) png_set_gray_to_rgb(png);
      if (has_alpha) png_set_strip_alpha(png);
      has_color = true, has_alpha = false;
      break;
    case ImageReadMode::RGBAlpha:
      if (!has_color) png_set_gray_to_rgb(png);
      if (!has_alpha) png_set_add_alpha(png, kOpaque, PNG_FILLER_AFTER);
      has_color = has_alpha = true;
      break;
  }
  layout->passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  layout->width = png_get_image_width(png, info);
  layout->height = png_get_image_height(png, info);
  layout->channels = png_get_channels(png, info);
  layout->expected_channels = (has_color ? 3 : 1) + (has_alpha ? 1 : 0);
  layout->bit_depth = png_get_bit_depth(png, info);
  layout->rowbytes = png_get_rowbytes(png, info);
  return true;
}

// Decodes every row (each Adam7 pass fills in its pixels of the same rows) and reads
// the chunks after the image data, so their CRCs are checked too. C-like, see Note
// [libpng errors].
bool png_read_pixels(png_structp png, png_infop info, uint8_t* pixels, const PngLayout* layout) {
  if (setjmp(png_jmpbuf(png))) return false;
  for (int pass = 0; pass < layout->passes; ++pass)
    for (uint32_t y = 0; y < layout->height; ++y) png_read_row(png, pixels + size_t(y) * layout->rowbytes, nullptr);
  png_read_end(png, info);
  return true;
}

class PngReader {
 public:
  explicit PngReader(const std::string& where) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &message_, png_error_callback, png_warning_callback);
    KILN_CHECK(png_ != nullptr, where, ": libpng could not create a read struct");
    info_ = png_create_info_struct(png_);
    KILN_CHECK(info_ != nullptr, where, ": libpng could not create an info struct");
  }
  ~PngReader() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  png_structp png() const { return png_; }
  png_infop info() const { return info_; }
  const char* message() const { return message_.text; }

 private:
  PngMessage message_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

Tensor decode_png(const uint8_t* data, size_t size, ImageReadMode mode, const std::string& where) {
  PngReader reader(where);
  PngSource source{data, size, 0};
  png_set_read_fn(reader.png(), &source, png_read_callback);
  PngLayout layout;
  KILN_CHECK(png_read_layout(reader.png(), reader.info(), mode, &layout), where, ": invalid PNG: ", reader.message());
  KILN_CHECK(layout.bit_depth == 8 && layout.channels == layout.expected_channels &&
                 layout.rowbytes == size_t(layout.width) * size_t(layout.channels),
             where, ": PNG decoder delivered ", layout.channels, " channels of ", layout.bit_depth,
             " bits, expected ", layout.expected_channels, " of 8");
  check_image_size(layout.width, layout.height, uint64_t(layout.channels), where);
  Tensor hwc = empty({int64_t(layout.height), int64_t(layout.width), int64_t(layout.channels)}, kUInt8);
  KILN_CHECK(png_read_pixels(reader.png(), reader.info(), hwc.data_ptr<uint8_t>(), &layout), where,
             ": invalid PNG: ", reader.message());
  return hwc_to_chw(hwc);
}

// A growable byte buffer in plain malloc'd memory, so that the write callback can fail
// with png_error instead of throwing through libpng's C frames.
struct PngSink {
  uint8_t* data = nullptr;
  size_t size = 0, capacity = 0;
};

void png_write_callback(png_structp png, png_bytep bytes, size_t n) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (n > sink->capacity - sink->size) {
    size_t capacity = sink->capacity ? sink->capacity : 4096;
    while (capacity - sink->size < n) capacity *= 2;
    void* grown = std::realloc(sink->data, capacity);
    if (grown == nullptr) png_error(png, "out of memory");
    sink->data = static_cast<uint8_t*>(grown);
    sink->capacity = capacity;
  }
  std::memcpy(sink->data + sink->size, bytes, n);
  sink->size += n;
}

void png_flush_callback(png_structp) {}

// pixels: (H, W, C) contiguous. C-like, see Note [libpng errors].
bool png_write_image(png_structp png, png_infop info, const uint8_t* pixels, uint32_t height, uint32_t width,
                     int channels) {
  if (setjmp(png_jmpbuf(png))) return false;
  const int color_types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                             PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, width, height, 8, color_types[channels - 1], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (uint32_t y = 0; y < height; ++y) png_write_row(png, pixels + size_t(y) * width * size_t(channels));
  png_write_end(png, nullptr);
  return true;
}

class PngWriter {
 public:
  PngWriter() {
    png_ = png_create_write_struct(PNG_LIBPNG_VER_STRING, &message_, png_error_callback, png_warning_callback);
    KILN_CHECK(png_ != nullptr, "encode_png: libpng could not create a write struct");
    info_ = png_create_info_struct(png_);
    KILN_CHECK(info_ != nullptr, "encode_png: libpng could not create an info struct");
  }
  ~PngWriter() {
    png_destroy_write_struct(&png_, info_ ? &info_ : nullptr);
    std::free(sink_.data);
  }
  PngWriter(const PngWriter&) = delete;
  PngWriter& operator=(const PngWriter&) = delete;

  png_structp png() const { return png_; }
  png_infop info() const { return info_; }
  PngSink& sink() { return sink_; }
  const char* message() const { return message_.text; }

 private:
  PngMessage message_;
  PngSink sink_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// ---- JPEG ----

// A file with more scans than this is rejected before decoding. Progressive files use
// about ten; a crafted one with many thousands of tiny scans would make libjpeg redo
// its work for each (the "scan limit" libjpeg-turbo's own tools offer).
constexpr int kMaxJpegScans = 1000;

// Walks the marker segments of a JPEG (skipping the entropy-coded data after each
// start-of-scan) up to the end-of-image marker. Returns what is wrong, or nullptr.
// libjpeg decodes a truncated file with a warning, filling the missing data with gray;
// the walk makes that an error, caps the number of scans, and names a Huffman table
// with too many codes (libjpeg rejects it too, as a "bogus Huffman table").
const char* check_jpeg_structure(const uint8_t* data, size_t size) {
  size_t pos = 2;  // after SOI
  bool in_scan = false;
  int scans = 0;
  while (true) {
    if (in_scan) {  // the next marker: FF followed by neither 00 (a stuffed FF) nor a restart marker
      while (pos + 1 < size &&
             !(data[pos] == 0xFF && data[pos + 1] != 0x00 && data[pos + 1] != 0xFF &&
               !(data[pos + 1] >= 0xD0 && data[pos + 1] <= 0xD7)))
        ++pos;
      if (pos + 1 >= size) return "the file is truncated (no end-of-image marker)";
      in_scan = false;
    }
    if (pos >= size) return "the file is truncated (no end-of-image marker)";
    if (data[pos] != 0xFF) return "the headers are truncated or corrupt";
    while (pos < size && data[pos] == 0xFF) ++pos;  // the marker's FF and any fill bytes
    if (pos >= size) return "the file is truncated (no end-of-image marker)";
    uint8_t marker = data[pos++];
    if (marker == 0xD9) return nullptr;  // EOI
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (size - pos < 2) return "the headers are truncated or corrupt";
    size_t length = (size_t(data[pos]) << 8) | data[pos + 1];
    if (length < 2 || length > size - pos) return "the headers are truncated or corrupt";
    if (marker == 0xC4) {  // DHT: tables of (class/id byte, 16 counts, the codes' symbols)
      for (size_t p = pos + 2, end = pos + length; p < end;) {
        if (end - p < 17) return "a Huffman table is truncated";
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += data[p + k];
        if (codes > 256) return "a Huffman table has more than 256 codes";
        p += 17 + codes;
        if (p > end) return "a Huffman table is truncated";
      }
    }
    pos += length;
    in_scan = marker == 0xDA;  // SOS
    static_assert(kMaxJpegScans == 1000, "the message below names the limit");
    if (in_scan && ++scans > kMaxJpegScans) return "the file has more than 1000 scans";
  }
}

// libjpeg's error manager, extended with the jump target and the message (Note [libpng
// errors]). `manager` must stay the first member: libjpeg hands back its address.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char text[JMSG_LENGTH_MAX] = "";
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->text);
  std::longjmp(errors->jump, 1);
}

// Warnings (corrupt entropy data that libjpeg recovers from, extraneous bytes before a
// marker) are ignored, as torchvision and PIL do; real-world cameras write such files.
void jpeg_ignore_message(j_common_ptr, int) {}

// What the decoder will deliver: libjpeg converts YCbCr to RGB or takes the luma (Y) as
// gray itself; CMYK (and YCCK, which libjpeg turns into CMYK) is converted afterwards.
struct JpegLayout {
  uint32_t width = 0, height = 0;
  int channels = 0;  // as decoded
  bool cmyk = false;
};

// C-like, see Note [libpng errors].
bool jpeg_read_layout(jpeg_decompress_struct* cinfo, JpegErrors* errors, const uint8_t* data, size_t size,
                      ImageReadMode mode, JpegLayout* layout) {
  if (setjmp(errors->jump)) return false;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  layout->cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  if (layout->cmyk)
    cinfo->out_color_space = JCS_CMYK;
  else if (mode == ImageReadMode::Gray || mode == ImageReadMode::GrayAlpha)
    cinfo->out_color_space = JCS_GRAYSCALE;
  else if (mode != ImageReadMode::Unchanged)
    cinfo->out_color_space = JCS_RGB;
  // torchvision's choices, which are also libjpeg's defaults: the exact integer IDCT and
  // "fancy" (triangle-filter) chroma upsampling.
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  jpeg_calc_output_dimensions(cinfo);
  layout->width = cinfo->output_width;
  layout->height = cinfo->output_height;
  layout->channels = cinfo->output_components;
  return true;
}

// C-like, see Note [libpng errors].
bool jpeg_read_pixels(jpeg_decompress_struct* cinfo, JpegErrors* errors, uint8_t* pixels, size_t rowbytes) {
  if (setjmp(errors->jump)) return false;
  jpeg_start_decompress(cinfo);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = pixels + size_t(cinfo->output_scanline) * rowbytes;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

class JpegReader {
 public:
  JpegReader() {
    cinfo_.err = jpeg_std_error(&errors_.manager);
    errors_.manager.error_exit = jpeg_error_exit;
    errors_.manager.emit_message = jpeg_ignore_message;
    jpeg_create_decompress(&cinfo_);  // cannot fail: libjpeg allocates here only the struct's pools
  }
  ~JpegReader() { jpeg_destroy_decompress(&cinfo_); }
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;

  jpeg_decompress_struct* cinfo() { return &cinfo_; }
  JpegErrors* errors() { return &errors_; }
  const char* message() const { return errors_.text; }

 private:
  JpegErrors errors_;
  jpeg_decompress_struct cinfo_{};
};

// Adobe's CMYK, stored inverted (255 = no ink), as Photoshop and PIL write it; RGB is
// c * k / 255 per channel, as torchvision (0.18 and later) converts it.
void cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, size_t pixels) {
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    uint32_t k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = uint8_t(uint32_t(cmyk[c]) * k / 255);
  }
}

// libjpeg's own RGB-to-gray weights (0.299, 0.587, 0.114 in 16-bit fixed point, rounded),
// which are what it applies when it takes the Y of a YCbCr file.
uint8_t rgb_to_gray(const uint8_t* rgb) {
  return uint8_t((19595u * rgb[0] + 38470u * rgb[1] + 7471u * rgb[2] + 32768u) >> 16);
}

// (H, W, decoded) pixels in the channels of `mode`: CMYK becomes RGB or gray unless the
// mode is Unchanged, and the alpha modes get an opaque alpha channel.
Tensor jpeg_pixels_in_mode(const Tensor& decoded, bool cmyk, ImageReadMode mode) {
  const bool gray = mode == ImageReadMode::Gray || mode == ImageReadMode::GrayAlpha;
  const bool alpha = mode == ImageReadMode::GrayAlpha || mode == ImageReadMode::RGBAlpha;
  if (!alpha && (!cmyk || mode == ImageReadMode::Unchanged)) return decoded;
  const int64_t height = decoded.size(0), width = decoded.size(1);
  const int64_t out_channels = (gray ? 1 : 3) + (alpha ? 1 : 0);
  const size_t pixels = size_t(height * width);
  Tensor color = decoded;  // 1 or 3 channels from here on
  if (cmyk) {
    color = empty({height, width, 3}, kUInt8);
    cmyk_to_rgb(decoded.data_ptr<uint8_t>(), color.data_ptr<uint8_t>(), pixels);
  }
  const int64_t color_channels = color.size(2);
  Tensor out = empty({height, width, out_channels}, kUInt8);
  const uint8_t* src = color.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (size_t i = 0; i < pixels; ++i, src += color_channels, dst += out_channels) {
    if (gray)
      dst[0] = color_channels == 3 ? rgb_to_gray(src) : src[0];
    else
      std::memcpy(dst, src, 3);
    if (alpha) dst[out_channels - 1] = 255;
  }
  return out;
}

Tensor decode_jpeg(const uint8_t* data, size_t size, ImageReadMode mode, const std::string& where) {
  const char* problem = check_jpeg_structure(data, size);
  KILN_CHECK(problem == nullptr, where, ": invalid JPEG: ", problem);
  JpegReader reader;
  JpegLayout layout;
  KILN_CHECK(jpeg_read_layout(reader.cinfo(), reader.errors(), data, size, mode, &layout), where,
             ": invalid JPEG: ", reader.message());
  KILN_CHECK(layout.channels == 1 || layout.channels == 3 || layout.channels == 4, where, ": invalid JPEG: ",
             layout.channels, " components in an unknown colour space");
  check_image_size(layout.width, layout.height, uint64_t(layout.channels), where);
  // libjpeg's own buffers: a progressive file keeps 2 bytes per sample of every
  // component until the last scan, so allow twice the largest image and some headroom.
  reader.cinfo()->mem->max_memory_to_use = long(2 * kMaxImageBytes + (uint64_t(64) << 20));
  Tensor hwc = empty({int64_t(layout.height), int64_t(layout.width), int64_t(layout.channels)}, kUInt8);
  KILN_CHECK(jpeg_read_pixels(reader.cinfo(), reader.errors(), hwc.data_ptr<uint8_t>(),
                              size_t(layout.width) * size_t(layout.channels)),
             where, ": invalid JPEG: ", reader.message());
  return hwc_to_chw(jpeg_pixels_in_mode(hwc, layout.cmyk, mode));
}

// ---- files ----

Tensor decode(const uint8_t* data, size_t size, ImageReadMode mode, const std::string& where) {
  if (size >= 8 && std::memcmp(data, kPngSignature, 8) == 0) return decode_png(data, size, mode, where);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, size, mode, where);
  KILN_FAIL(where, ": not a PNG or JPEG file (unrecognised signature)");
}

// The whole file, through core/file.h's FileSource (which names the file in its errors).
std::vector<uint8_t> read_file(const std::string& path) {
  FileSource source(path, "read_image");
  KILN_CHECK(source.size() <= kMaxFileBytes, "read_image: ", path, ": file of ", source.size(),
             " bytes is too large");
  std::vector<uint8_t> bytes(size_t(source.size()));
  source.read(0, bytes.size(), bytes.data());
  return bytes;
}

}  // namespace

Tensor read_image(const std::string& path, ImageReadMode mode) {
  std::string where = "read_image: " + path;
  std::vector<uint8_t> bytes = read_file(path);
  return decode(bytes.data(), bytes.size(), mode, where);
}

Tensor decode_image(const std::vector<uint8_t>& data, ImageReadMode mode) {
  return decode(data.data(), data.size(), mode, "decode_image: <memory>");
}

std::vector<uint8_t> encode_png(const Tensor& image) {
  KILN_CHECK(image.defined() && image.dtype() == kUInt8 && (image.dim() == 2 || image.dim() == 3), "encode_png: ",
             "expected a uint8 [C, H, W] or [H, W] image, got ", image.defined() ? image.meta_str() : "undefined");
  Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  int64_t channels = chw.size(0), height = chw.size(1), width = chw.size(2);
  KILN_CHECK(channels >= 1 && channels <= 4, "encode_png: expected 1, 2, 3 or 4 channels, got shape ",
             image.shape());
  KILN_CHECK(height > 0 && width > 0 && height <= int64_t(PNG_UINT_31_MAX) && width <= int64_t(PNG_UINT_31_MAX),
             "encode_png: expected a positive height and width, got shape ", image.shape());
  Tensor hwc = chw.to(Device::cpu()).permute({1, 2, 0}).contiguous();
  PngWriter writer;
  png_set_write_fn(writer.png(), &writer.sink(), png_write_callback, png_flush_callback);
  KILN_CHECK(png_write_image(writer.png(), writer.info(), hwc.data_ptr<uint8_t>(), uint32_t(height), uint32_t(width),
                             int(channels)),
             "encode_png: libpng failed: ", writer.message());
  return std::vector<uint8_t>(writer.sink().data, writer.sink().data + writer.sink().size);
}

void write_png(const std::string& path, const Tensor& image) {
  std::vector<uint8_t> bytes = encode_png(image);
  write_file_atomically(path, [&](const ByteSink& sink) { return sink(bytes.data(), bytes.size()); }, "write_png");
}

}  // namespace kiln::nn::data
