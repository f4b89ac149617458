// .npy and .npz reading and writing: a strict parser for the Python literal that is a
// .npy header, the dtype table, a small ZIP reader/writer (stored and deflate entries,
// ZIP64 fields) on top of zlib, and atomic file writes. The API is in nn/data/npy.h.
#include "nn/data/npy.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <set>
#include <string_view>

#include "core/error.h"
#include "core/file.h"
#include "core/factory.h"

namespace kiln::nn::data {

// Note [npy format]
//   file   = "\x93NUMPY" | major | minor | header length (2 bytes LE in 1.0, 4 bytes LE
//            in 2.0 and 3.0) | header | data
//   header = a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False,
//            'shape': (2, 3), } padded with spaces and ended by '\n' (3.0: UTF-8 text,
//            else latin-1); data = the elements in C (or Fortran) order.
// The header is parsed by a recursive-descent reader of the literal subset numpy
// writes (strings, ints, True/False/None, tuples, lists; nesting bounded), never
// evaluated. It must have exactly the keys descr, fortran_order and shape. The bytes
// after the header must be exactly numel * itemsize, computed with overflow checks, so
// that nothing is allocated beyond what the file holds (times 8 for widened ints).
//
// Note [npz format]
// An .npz is a ZIP archive of .npy entries. A reader finds the end of central directory
// record (EOCD, searched backwards over at most the last 22 + 65535 bytes), the ZIP64
// locator and end record just before it when present, then the central directory: one
// record per entry with its method, CRC-32, sizes and local header offset (ZIP64 extra
// field 0x0001 when a size or offset is 0xFFFFFFFF). Each local header is followed by
// the entry's bytes. numpy 1.24 (through Python's zipfile, force_zip64=True) writes a
// ZIP64 extra with both sizes in every local header but none in the central directory
// unless a value exceeds 2^31 - 1, DOS date 1980-01-01 and external attributes 0600.
// Every offset and size is checked against the file before use, the central directory's
// entry count against its size, and a deflated entry's claimed size against a
// compression ratio deflate can reach, so a hostile archive cannot cause a huge
// allocation; the CRC-32 is verified on the uncompressed bytes.

static_assert(std::endian::native == std::endian::little, "npy data is read and written as little-endian");

namespace {

using NamedArrays = std::vector<std::pair<std::string, Tensor>>;

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;
constexpr int kMaxLiteralDepth = 32;
constexpr size_t kArrayAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy pads the header for in-place growth

uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) { return uint32_t(le16(p)) | (uint32_t(le16(p + 2)) << 16); }
uint64_t le64(const unsigned char* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }

void put16(std::string& out, uint16_t v) {
  out += char(v & 0xFF);
  out += char(v >> 8);
}
void put32(std::string& out, uint32_t v) {
  put16(out, uint16_t(v & 0xFFFF));
  put16(out, uint16_t(v >> 16));
}
void put64(std::string& out, uint64_t v) {
  put32(out, uint32_t(v & 0xFFFFFFFFu));
  put32(out, uint32_t(v >> 32));
}

// ---- the header literal ----

// A value of the Python literal subset: 'text', 123, True/False/None, (...), [...].
// `source` is the value's text in the header, for error messages.
struct PyValue {
  enum class Kind { String, Int, Bool, None, Tuple, List };
  Kind kind = Kind::None;
  std::string text;
  int64_t integer = 0;
  bool flag = false;
  std::vector<PyValue> items;
  std::string_view source;
};

class LiteralReader {
 public:
  LiteralReader(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  [[noreturn]] void fail(const std::string& what) const {
    KILN_FAIL(where_, ": malformed header at character ", pos_, ": ", what, " in ", text_);
  }

  // {'key': value, ...} followed by nothing but whitespace.
  std::vector<std::pair<std::string, PyValue>> read_dict() {
    std::vector<std::pair<std::string, PyValue>> members;
    expect('{');
    while (true) {
      if (peek() == '}') break;
      if (peek() != '\'' && peek() != '"') fail("expected a string key");
      std::string key = read_string();
      expect(':');
      members.emplace_back(std::move(key), read_value(1));
      char c = peek();
      if (c == '}') break;
      if (c != ',') fail("expected ',' or '}' in the dict");
      ++pos_;
    }
    ++pos_;
    skip_whitespace();
    if (pos_ != text_.size()) fail("unexpected text after the dict");
    return members;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  void skip_whitespace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  char peek() {
    skip_whitespace();
    if (pos_ == text_.size()) fail("unexpected end of the header");
    return text_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  PyValue read_value(int depth) {
    if (depth > kMaxLiteralDepth) fail("nested deeper than " + std::to_string(kMaxLiteralDepth) + " levels");
    char c = peek();
    size_t start = pos_;
    PyValue v;
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::String;
      v.text = read_string();
    } else if (c == '(' || c == '[') {
      v = read_sequence(depth);
    } else if (c == '-' || is_digit(c)) {
      v.kind = PyValue::Kind::Int;
      v.integer = read_integer();
    } else if (read_word("True")) {
      v.kind = PyValue::Kind::Bool;
      v.flag = true;
    } else if (read_word("False")) {
      v.kind = PyValue::Kind::Bool;
    } else if (!read_word("None")) {
      fail("expected a string, integer, True, False, None, tuple or list");
    }
    v.source = text_.substr(start, pos_ - start);
    return v;
  }

  // (a, b), (a,), () and [a, b]; a trailing comma is allowed. (a) is just a.
  PyValue read_sequence(int depth) {
    char open = text_[pos_++];
    char close = open == '(' ? ')' : ']';
    PyValue v;
    v.kind = open == '(' ? PyValue::Kind::Tuple : PyValue::Kind::List;
    bool trailing_comma = false;
    while (peek() != close) {
      v.items.push_back(read_value(depth + 1));
      trailing_comma = false;
      char c = peek();
      if (c == close) break;
      if (c != ',') fail(std::string("expected ',' or '") + close + "'");
      ++pos_;
      trailing_comma = true;
    }
    ++pos_;
    if (open == '(' && v.items.size() == 1 && !trailing_comma) return std::move(v.items[0]);
    return v;
  }

  bool read_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    size_t end = pos_ + word.size();
    if (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_'))
      return false;
    pos_ = end;
    return true;
  }

  int64_t read_integer() {
    bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    if (pos_ == text_.size() || !is_digit(text_[pos_])) fail("expected digits");
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1])) fail("leading zeros in an integer");
    uint64_t magnitude = 0;
    constexpr uint64_t kLimit = uint64_t(std::numeric_limits<int64_t>::max());
    while (pos_ < text_.size() && is_digit(text_[pos_])) {
      uint64_t digit = uint64_t(text_[pos_] - '0');
      if (magnitude > (kLimit - digit) / 10) fail("integer out of the int64 range");
      magnitude = magnitude * 10 + digit;
      ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E' ||
                                std::isalpha(static_cast<unsigned char>(text_[pos_]))))
      fail("expected an integer");
    return negative ? -int64_t(magnitude) : int64_t(magnitude);
  }

  // '...' or "..." with the escapes \\ \' \" \n \t \r \0 and \xHH.
  std::string read_string() {
    char quote = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      char c = text_[pos_++];
      if (c == quote) return out;
      if (c == '\n' || c == '\r') fail("newline in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '\\': case '\'': case '"': out += e; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '0': out += '\0'; break;
        case 'x': {
          if (text_.size() - pos_ < 2 || !std::isxdigit(static_cast<unsigned char>(text_[pos_])) ||
              !std::isxdigit(static_cast<unsigned char>(text_[pos_ + 1])))
            fail("malformed \\x escape");
          out += char(std::stoi(std::string(text_.substr(pos_, 2)), nullptr, 16));
          pos_ += 2;
          break;
        }
        default: fail(std::string("unsupported escape \\") + e);
      }
    }
  }

  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
};

// ---- dtypes ----

// How the bytes of one element are stored and what kiln dtype they become.
struct NpyType {
  DType dtype = DType::Float32;
  size_t itemsize = 0;  // in the file
  bool is_signed = false;
  bool swap = false;    // big-endian in the file
  bool widen = false;   // an integer narrower than int64, stored as int64
};

NpyType parse_descr(const PyValue& descr, const std::string& where) {
  auto unsupported = [&](const char* why) {
    KILN_FAIL(where, ": unsupported dtype descr ", descr.source, " (", why,
              "); kiln reads |b1, |u1, |i1, <i2, <u2, <i4, <u4, <i8, <f4 and <f8 in any byte order");
  };
  if (descr.kind != PyValue::Kind::String) unsupported("structured or not a string");
  const std::string& s = descr.text;
  if (s.size() < 3) unsupported("not a simple type");
  char order = s[0], kind = s[1];
  if (order != '<' && order != '>' && order != '=' && order != '|') unsupported("unknown byte order");
  std::string_view digits = std::string_view(s).substr(2);
  if (digits.size() > 2 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    unsupported("not a simple type");
  size_t itemsize = size_t(std::stoi(std::string(digits)));
  NpyType t;
  t.itemsize = itemsize;
  if (kind == 'b' && itemsize == 1) t.dtype = DType::Bool;
  else if (kind == 'u' && itemsize == 1) t.dtype = DType::UInt8;
  else if (kind == 'f' && itemsize == 4) t.dtype = DType::Float32;
  else if (kind == 'f' && itemsize == 8) t.dtype = DType::Float64;
  else if (kind == 'f' && itemsize == 2) t.dtype = DType::Float16;
  else if (kind == 'i' && itemsize == 8) t.dtype = DType::Int64;
  else if ((kind == 'i' && (itemsize == 1 || itemsize == 2 || itemsize == 4)) ||
           (kind == 'u' && (itemsize == 2 || itemsize == 4))) {
    t.dtype = DType::Int64;
    t.widen = true;
    t.is_signed = kind == 'i';
  } else {
    unsupported("no kiln dtype holds it");
  }
  if (order == '|' && itemsize > 1) unsupported("byte order '|' on a multi-byte type");
  t.swap = order == '>' && itemsize > 1;
  return t;
}

const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::Bool: return "|b1";
    case DType::UInt8: return "|u1";
    case DType::Int64: return "<i8";
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Float16: return "<f2";
    case DType::BFloat16: break;  // numpy has no bfloat16
  }
  KILN_FAIL("write_npy: no npy descr for dtype ", dtype_name(dtype));
}

// ---- reading .npy ----

struct NpyHeader {
  NpyType type;
  bool fortran_order = false;
  Shape shape;
  int64_t numel = 0;
  uint64_t data_offset = 0;
};

NpyHeader read_header(const ByteSource& src, const std::string& where) {
  uint64_t size = src.size();
  KILN_CHECK(size >= kNpyMagicSize + 2, where, ": not a .npy file (", size, " bytes, too short for the magic)");
  unsigned char prefix[12] = {};
  src.read(0, kNpyMagicSize + 2, prefix);
  KILN_CHECK(std::memcmp(prefix, kNpyMagic, kNpyMagicSize) == 0, where, ": not a .npy file (bad magic)");
  int major = prefix[6], minor = prefix[7];
  KILN_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, where, ": unsupported .npy format version ",
             major, ".", minor, " (kiln reads 1.0, 2.0 and 3.0)");
  size_t length_bytes = major == 1 ? 2 : 4;
  KILN_CHECK(size >= 8 + length_bytes, where, ": truncated before the header length");
  src.read(8, length_bytes, prefix + 8);
  uint64_t header_len = major == 1 ? le16(prefix + 8) : le32(prefix + 8);
  uint64_t header_start = 8 + length_bytes;
  KILN_CHECK(header_len <= kMaxHeaderBytes, where, ": header length ", header_len, " exceeds the limit of ",
             kMaxHeaderBytes, " bytes");
  KILN_CHECK(header_len <= size - header_start, where, ": header length ", header_len, " exceeds the ",
             size - header_start, " bytes that follow it");
  std::string text(header_len, '\0');
  src.read(header_start, header_len, text.data());
  KILN_CHECK(text.find('\0') == std::string::npos, where, ": NUL byte in the header");

  LiteralReader reader(text, where);
  bool seen_descr = false, seen_order = false, seen_shape = false;
  NpyHeader h;
  for (const auto& [key, value] : reader.read_dict()) {
    bool* seen = key == "descr" ? &seen_descr : key == "fortran_order" ? &seen_order : key == "shape" ? &seen_shape
                                                                                                       : nullptr;
    KILN_CHECK(seen != nullptr, where, ": unexpected key '", key, "' in the header (expected descr, fortran_order, shape)");
    KILN_CHECK(!*seen, where, ": key '", key, "' appears twice in the header");
    *seen = true;
    if (key == "descr") {
      h.type = parse_descr(value, where);
    } else if (key == "fortran_order") {
      KILN_CHECK(value.kind == PyValue::Kind::Bool, where, ": fortran_order must be True or False, got ", value.source);
      h.fortran_order = value.flag;
    } else {
      KILN_CHECK(value.kind == PyValue::Kind::Tuple, where, ": shape must be a tuple, got ", value.source);
      for (const PyValue& dim : value.items) {
        KILN_CHECK(dim.kind == PyValue::Kind::Int && dim.integer >= 0, where,
                   ": shape must hold non-negative integers, got ", value.source);
        h.shape.push_back(dim.integer);
      }
    }
  }
  KILN_CHECK(seen_descr && seen_order && seen_shape, where, ": the header lacks '",
             !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape", "'");

  // numel and bytes without overflow: a zero dim makes the array empty whatever the rest.
  bool has_zero = std::find(h.shape.begin(), h.shape.end(), 0) != h.shape.end();
  uint64_t numel = 1;
  constexpr uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
  if (has_zero) {
    numel = 0;
  } else {
    for (int64_t d : h.shape) {
      KILN_CHECK(numel <= kMax / uint64_t(d), where, ": shape ", h.shape, " has too many elements");
      numel *= uint64_t(d);
    }
  }
  KILN_CHECK(numel <= kMax / 8, where, ": shape ", h.shape, " has too many elements");
  uint64_t nbytes = numel * h.type.itemsize;
  h.data_offset = header_start + header_len;
  uint64_t available = size - h.data_offset;
  KILN_CHECK(nbytes == available, where, ": shape ", h.shape, " of ", h.type.itemsize, "-byte elements needs ",
             nbytes, " data bytes, but ", available, " follow the header",
             nbytes > available ? " (truncated file)" : "");
  h.numel = int64_t(numel);
  return h;
}

template <typename T>
void widen_to_int64(const unsigned char* in, int64_t n, int64_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, in + size_t(i) * sizeof(T), sizeof(T));
    out[i] = int64_t(v);
  }
}

void byte_swap(unsigned char* data, int64_t n, size_t itemsize) {
  for (int64_t i = 0; i < n; ++i) std::reverse(data + size_t(i) * itemsize, data + size_t(i + 1) * itemsize);
}

Tensor read_npy_from(const ByteSource& src, const std::string& where) {
  NpyHeader h = read_header(src, where);
  // Fortran order: the bytes are a C-order array of the reversed shape, transposed back.
  Shape stored = h.shape;
  if (h.fortran_order) std::reverse(stored.begin(), stored.end());
  Tensor t = empty(stored, TensorOptions(h.type.dtype));
  size_t nbytes = size_t(h.numel) * h.type.itemsize;
  if (h.numel > 0) {
    if (h.type.widen) {
      std::vector<unsigned char> buffer(nbytes);
      src.read(h.data_offset, nbytes, buffer.data());
      if (h.type.swap) byte_swap(buffer.data(), h.numel, h.type.itemsize);
      auto* out = t.data_ptr<int64_t>();
      const unsigned char* in = buffer.data();
      if (h.type.is_signed && h.type.itemsize == 1) widen_to_int64<int8_t>(in, h.numel, out);
      else if (h.type.is_signed && h.type.itemsize == 2) widen_to_int64<int16_t>(in, h.numel, out);
      else if (h.type.is_signed) widen_to_int64<int32_t>(in, h.numel, out);
      else if (h.type.itemsize == 2) widen_to_int64<uint16_t>(in, h.numel, out);
      else widen_to_int64<uint32_t>(in, h.numel, out);
    } else {
      auto* bytes = static_cast<unsigned char*>(t.raw_data());
      src.read(h.data_offset, nbytes, bytes);
      if (h.type.swap) byte_swap(bytes, h.numel, h.type.itemsize);
      if (h.type.dtype == DType::Bool) {
        // Any other byte in a C++ bool is undefined behaviour when read.
        for (int64_t i = 0; i < h.numel; ++i)
          KILN_CHECK(bytes[i] <= 1, where, ": bool element ", i, " has byte value ", int(bytes[i]),
                     " (expected 0 or 1)");
      }
    }
  }
  if (h.fortran_order && t.dim() > 1) {
    IntList reversed(size_t(t.dim()));
    for (int64_t d = 0; d < t.dim(); ++d) reversed[size_t(d)] = t.dim() - 1 - d;
    t = t.permute(reversed).contiguous();
  }
  return t;
}

// ---- writing .npy ----

// np.save's header for a C-contiguous array, magic and length included.
std::string npy_header(const Tensor& t) {
  std::string shape = "(";
  for (int64_t d = 0; d < t.dim(); ++d) shape += (d ? ", " : "") + std::to_string(t.size(d));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string dict = std::string("{'descr': '") + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': " +
                     shape + ", }";
  if (t.dim() > 0) dict.append(kGrowthAxisMaxDigits - std::to_string(t.size(0)).size(), ' ');
  size_t hlen = dict.size() + 1;  // the closing '\n'
  for (int major : {1, 2}) {
    size_t prefix = kNpyMagicSize + 2 + (major == 1 ? 2 : 4);
    size_t padding = kArrayAlign - (prefix + hlen) % kArrayAlign;
    size_t total = hlen + padding;
    if (major == 1 && total > 0xFFFF) continue;
    std::string out(kNpyMagic, kNpyMagicSize);
    out += char(major);
    out += char(0);
    if (major == 1) put16(out, uint16_t(total));
    else put32(out, uint32_t(total));
    out += dict;
    out.append(padding, ' ');
    out += '\n';
    return out;
  }
  KILN_FAIL("write_npy: the header for shape ", t.shape(), " is too long");
}

// A file's bytes as pieces: owned strings and views of tensor data (kept alive here).
class Output {
 public:
  void add(std::string bytes) {
    owned_.push_back(std::move(bytes));
    pieces_.emplace_back(owned_.back().data(), owned_.back().size());
    size_ += owned_.back().size();
  }
  void add(const Tensor& t) {
    size_t n = size_t(t.numel()) * element_size(t.dtype());
    keep_.push_back(t);
    if (n > 0) pieces_.emplace_back(t.raw_data(), n);
    size_ += n;
  }
  uint64_t size() const { return size_; }
  const std::vector<std::pair<const void*, size_t>>& pieces() const { return pieces_; }
  std::string to_string() const {
    std::string out;
    out.reserve(size_t(size_));
    for (const auto& [data, n] : pieces_) out.append(static_cast<const char*>(data), n);
    return out;
  }

 private:
  std::deque<std::string> owned_;  // a deque keeps the strings' addresses stable
  std::vector<Tensor> keep_;
  std::vector<std::pair<const void*, size_t>> pieces_;
  uint64_t size_ = 0;
};

Tensor cpu_contiguous(const Tensor& t, const char* op, const std::string& what) {
  KILN_CHECK(t.defined(), op, ": ", what, " is undefined");
  return t.detach().to(Device::cpu()).contiguous();
}

// Writes the pieces of `output` to `path` atomically (core/file.h).
void write_atomically(const std::string& path, const Output& output, const char* op) {
  write_file_atomically(
      path,
      [&](const ByteSink& sink) {
        for (const auto& [data, n] : output.pieces())
          if (!sink(data, n)) return false;
        return true;
      },
      op);
}

Output npy_output(const Tensor& tensor) {
  Tensor t = cpu_contiguous(tensor, "write_npy", "the tensor");
  Output out;
  out.add(npy_header(t));
  out.add(t);
  return out;
}

// ---- ZIP ----

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30, kCentralHeaderSize = 46, kEndSize = 22;
constexpr size_t kZip64EndSize = 56, kZip64LocatorSize = 20;
constexpr uint64_t kZip64Limit = (1ull << 31) - 1;  // Python's zipfile switches to ZIP64 above this
constexpr uint16_t kMethodStored = 0, kMethodDeflate = 8;
constexpr uint16_t kDosDate1980 = 0x21;              // 1980-01-01, time 00:00:00
constexpr uint32_t kUnixMode0600 = 0600u << 16;
constexpr uint16_t kFlagUtf8Name = 0x800;
// Deflate cannot expand data by more than about 1032:1.
constexpr uint64_t kMaxDeflateRatio = 1100;

uint32_t crc32_of(uint32_t crc, const void* data, size_t n) {
  return uint32_t(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

struct ZipEntry {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0, size = 0, offset = 0;
};

std::string inflate_entry(const std::string& in, uint64_t size, const std::string& where) {
  std::string out(size_t(size), '\0');
  z_stream zs{};
  KILN_CHECK(inflateInit2(&zs, -15) == Z_OK, where, ": zlib inflateInit2 failed");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  constexpr size_t kChunk = 1u << 30;
  size_t in_pos = 0, out_pos = 0;
  unsigned char spare = 0;
  while (true) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      size_t n = std::min(kChunk, in.size() - in_pos);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = uInt(n);
      in_pos += n;
    }
    bool probing = false;
    if (zs.avail_out == 0) {
      if (out_pos < out.size()) {
        size_t n = std::min(kChunk, out.size() - out_pos);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
        zs.avail_out = uInt(n);
        out_pos += n;
      } else {
        zs.next_out = &spare;  // one byte to see whether the stream holds more than `size`
        zs.avail_out = 1;
        probing = true;
      }
    }
    int ret = inflate(&zs, Z_NO_FLUSH);
    KILN_CHECK(!(probing && zs.avail_out == 0), where, ": deflate data holds more than the ", size,
               " bytes the archive states");
    if (ret == Z_STREAM_END) break;
    KILN_CHECK(!(ret == Z_BUF_ERROR && zs.avail_in == 0 && in_pos == in.size()), where,
               ": truncated deflate data");
    KILN_CHECK(ret == Z_OK, where, ": corrupt deflate data (", zs.msg ? zs.msg : "zlib error", ")");
  }
  KILN_CHECK(uint64_t(zs.total_out) == size, where, ": deflate data holds ", uint64_t(zs.total_out),
             " bytes, but the archive states ", size);
  return out;
}

struct CentralDirectory {
  std::vector<ZipEntry> entries;
  uint64_t offset = 0;  // every entry's local header and data lie before this
};

// Reads the central directory; see Note [npz format].
CentralDirectory read_central_directory(const ByteSource& src, const std::string& where) {
  uint64_t size = src.size();
  KILN_CHECK(size >= kEndSize, where, ": not a zip archive (", size, " bytes)");
  uint64_t tail_size = std::min<uint64_t>(size, kEndSize + 0xFFFF);
  std::vector<unsigned char> tail(static_cast<size_t>(tail_size));
  src.read(size - tail_size, size_t(tail_size), tail.data());
  int64_t found = -1;
  for (int64_t i = int64_t(tail_size - kEndSize); i >= 0; --i) {
    const unsigned char* p = tail.data() + i;
    if (le32(p) == kEndSig && uint64_t(i) + kEndSize + le16(p + 20) == tail_size) {
      found = i;
      break;
    }
  }
  KILN_CHECK(found >= 0, where, ": not a zip archive (no end of central directory record)");
  const unsigned char* e = tail.data() + found;
  uint64_t end_pos = size - tail_size + uint64_t(found);
  uint64_t count = le16(e + 10), cd_size = le32(e + 12), cd_offset = le32(e + 16);
  KILN_CHECK(le16(e + 4) == 0 && le16(e + 6) == 0 && le16(e + 8) == le16(e + 10), where,
             ": multi-disk zip archives are not supported");
  uint64_t cd_limit = end_pos;  // the central directory ends before this
  if (end_pos >= kZip64LocatorSize) {
    unsigned char loc[kZip64LocatorSize];
    src.read(end_pos - kZip64LocatorSize, kZip64LocatorSize, loc);
    if (le32(loc) == kZip64LocatorSig) {
      uint64_t z_pos = le64(loc + 8);
      KILN_CHECK(le32(loc + 4) == 0 && le32(loc + 16) <= 1, where, ": multi-disk zip archives are not supported");
      KILN_CHECK(z_pos <= end_pos - kZip64LocatorSize && end_pos - kZip64LocatorSize - z_pos >= kZip64EndSize, where,
                 ": ZIP64 end record offset ", z_pos, " is outside the file");
      unsigned char z[kZip64EndSize];
      src.read(z_pos, kZip64EndSize, z);
      KILN_CHECK(le32(z) == kZip64EndSig, where, ": bad ZIP64 end of central directory signature");
      KILN_CHECK(le32(z + 16) == 0 && le32(z + 20) == 0 && le64(z + 24) == le64(z + 32), where,
                 ": multi-disk zip archives are not supported");
      count = le64(z + 32), cd_size = le64(z + 40), cd_offset = le64(z + 48);
      cd_limit = z_pos;
    }
  }
  KILN_CHECK(cd_offset <= cd_limit && cd_size <= cd_limit - cd_offset, where, ": central directory [", cd_offset,
             ", +", cd_size, ") lies outside the file");
  KILN_CHECK(count <= cd_size / kCentralHeaderSize, where, ": ", count, " entries cannot fit in a ", cd_size,
             "-byte central directory");
  std::vector<unsigned char> cd(static_cast<size_t>(cd_size));
  src.read(cd_offset, size_t(cd_size), cd.data());

  std::vector<ZipEntry> entries;
  std::set<std::string> names;
  size_t pos = 0;
  for (uint64_t k = 0; k < count; ++k) {
    KILN_CHECK(cd.size() - pos >= kCentralHeaderSize, where, ": central directory truncated at entry ", k);
    const unsigned char* c = cd.data() + pos;
    KILN_CHECK(le32(c) == kCentralHeaderSig, where, ": bad central directory signature at entry ", k);
    uint16_t flags = le16(c + 8);
    size_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
    KILN_CHECK(cd.size() - pos - kCentralHeaderSize >= name_len + extra_len + comment_len, where,
               ": central directory truncated at entry ", k);
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(c + kCentralHeaderSize), name_len);
    std::string entry_where = where + ": entry '" + entry.name + "'";
    KILN_CHECK((flags & 0x41) == 0, entry_where, " is encrypted");
    entry.method = le16(c + 10);
    KILN_CHECK(entry.method == kMethodStored || entry.method == kMethodDeflate, entry_where,
               ": unsupported compression method ", entry.method, " (kiln reads stored and deflate)");
    KILN_CHECK(le16(c + 34) == 0, where, ": multi-disk zip archives are not supported");
    entry.crc = le32(c + 16);
    entry.compressed_size = le32(c + 20);
    entry.size = le32(c + 24);
    entry.offset = le32(c + 42);
    // ZIP64 extra field: the 8-byte values of the fields that hold 0xFFFFFFFF, in order.
    const unsigned char* x = c + kCentralHeaderSize + name_len;
    for (size_t xpos = 0; xpos + 4 <= extra_len;) {
      uint16_t tag = le16(x + xpos), len = le16(x + xpos + 2);
      KILN_CHECK(extra_len - xpos - 4 >= len, entry_where, ": extra field overruns its entry");
      if (tag == 0x0001) {
        const unsigned char* v = x + xpos + 4;
        size_t used = 0;
        for (uint64_t* field : {&entry.size, &entry.compressed_size, &entry.offset}) {
          if (*field != 0xFFFFFFFFu) continue;
          KILN_CHECK(len - used >= 8, entry_where, ": ZIP64 extra field too short");
          *field = le64(v + used);
          used += 8;
        }
      }
      xpos += 4 + size_t(len);
    }
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;

    KILN_CHECK(entry.name.size() >= 4 && entry.name.compare(entry.name.size() - 4, 4, ".npy") == 0, entry_where,
               ": not a .npy file (an .npz holds only .npy entries)");
    KILN_CHECK(names.insert(entry.name).second, entry_where, " appears twice");
    KILN_CHECK(entry.offset <= cd_offset && cd_offset - entry.offset >= kLocalHeaderSize, entry_where,
               ": local header offset ", entry.offset, " is outside the file");
    if (entry.method == kMethodStored)
      KILN_CHECK(entry.size == entry.compressed_size, entry_where, ": stored entry with compressed size ",
                 entry.compressed_size, " != size ", entry.size);
    else
      KILN_CHECK(entry.size / kMaxDeflateRatio <= entry.compressed_size, entry_where, ": claims ", entry.size,
                 " bytes from ", entry.compressed_size, " compressed, beyond what deflate can reach");
    entries.push_back(std::move(entry));
  }
  return {std::move(entries), cd_offset};
}

// The uncompressed, CRC-checked bytes of one entry.
std::string read_entry(const ByteSource& src, const ZipEntry& entry, uint64_t cd_offset,
                       const std::string& where) {
  unsigned char h[kLocalHeaderSize];
  src.read(entry.offset, kLocalHeaderSize, h);
  KILN_CHECK(le32(h) == kLocalHeaderSig, where, ": bad local header signature at offset ", entry.offset);
  uint64_t name_len = le16(h + 26), extra_len = le16(h + 28);
  uint64_t data_start = entry.offset + kLocalHeaderSize + name_len + extra_len;
  KILN_CHECK(data_start <= cd_offset && entry.compressed_size <= cd_offset - data_start, where, ": data [",
             data_start, ", +", entry.compressed_size, ") runs past the start of the central directory");
  std::string local_name(size_t(name_len), '\0');
  src.read(entry.offset + kLocalHeaderSize, size_t(name_len), local_name.data());
  KILN_CHECK(local_name == entry.name, where, ": the local header names it '", local_name, "'");
  std::string bytes(size_t(entry.compressed_size), '\0');
  src.read(data_start, bytes.size(), bytes.data());
  if (entry.method == kMethodDeflate) bytes = inflate_entry(bytes, entry.size, where);
  uint32_t crc = crc32_of(0, bytes.data(), bytes.size());
  KILN_CHECK(crc == entry.crc, where, ": CRC-32 mismatch (stored ", entry.crc, ", computed ", crc,
             "): the archive is corrupt");
  return bytes;
}

NamedArrays read_npz_from(const ByteSource& src, const std::string& where) {
  CentralDirectory cd = read_central_directory(src, where);
  NamedArrays out;
  out.reserve(cd.entries.size());
  for (const ZipEntry& entry : cd.entries) {
    std::string entry_where = where + ": entry '" + entry.name + "'";
    std::string bytes = read_entry(src, entry, cd.offset, entry_where);
    MemorySource npy(bytes);
    out.emplace_back(entry.name.substr(0, entry.name.size() - 4), read_npy_from(npy, entry_where));
  }
  return out;
}

std::string deflate_pieces(const std::string& header, const Tensor& data) {
  z_stream zs{};
  KILN_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK,
             "write_npz: zlib deflateInit2 failed");
  struct End {
    z_stream* zs;
    ~End() { deflateEnd(zs); }
  } end{&zs};
  std::string out;
  constexpr size_t kChunk = 1u << 20;
  std::vector<unsigned char> buffer(kChunk);
  auto feed = [&](const void* p, size_t n, int flush) {
    const auto* bytes = static_cast<const unsigned char*>(p);
    do {
      size_t take = std::min(n, kChunk);
      zs.next_in = const_cast<Bytef*>(bytes);
      zs.avail_in = uInt(take);
      bytes += take, n -= take;
      int mode = n == 0 ? flush : Z_NO_FLUSH;
      int ret;
      do {
        zs.next_out = buffer.data();
        zs.avail_out = uInt(kChunk);
        ret = deflate(&zs, mode);
        KILN_CHECK(ret != Z_STREAM_ERROR, "write_npz: zlib deflate failed");
        out.append(reinterpret_cast<const char*>(buffer.data()), kChunk - zs.avail_out);
      } while (zs.avail_out == 0 || (mode == Z_FINISH && ret != Z_STREAM_END));
    } while (n > 0);
  };
  feed(header.data(), header.size(), Z_NO_FLUSH);
  feed(data.numel() > 0 ? data.raw_data() : nullptr, size_t(data.numel()) * element_size(data.dtype()), Z_FINISH);
  return out;
}

// The archive as np.savez / np.savez_compressed writes it; see Note [npz format].
Output npz_output(const NamedArrays& arrays, bool compressed) {
  Output out;
  std::string central;
  std::set<std::string> names;
  for (const auto& [name, tensor] : arrays) {
    KILN_CHECK(!name.empty(), "write_npz: array names must be non-empty");
    KILN_CHECK(names.insert(name).second, "write_npz: duplicate array name '", name, "'");
    std::string file_name = name + ".npy";
    KILN_CHECK(file_name.size() <= 0xFFFF, "write_npz: array name '", name.substr(0, 64), "...' is too long");
    Tensor t = cpu_contiguous(tensor, "write_npz", "array '" + name + "'");
    std::string header = npy_header(t);
    uint64_t data_size = uint64_t(t.numel()) * element_size(t.dtype());
    uint32_t crc = crc32_of(0, header.data(), header.size());
    if (data_size > 0) crc = crc32_of(crc, t.raw_data(), size_t(data_size));
    uint64_t size = header.size() + data_size;
    std::string deflated;
    if (compressed) deflated = deflate_pieces(header, t);
    uint64_t csize = compressed ? deflated.size() : size;
    uint64_t offset = out.size();
    bool large = size > kZip64Limit || csize > kZip64Limit;
    uint16_t version = large ? 45 : 20;
    uint16_t flags = std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })
                         ? kFlagUtf8Name : 0;
    uint16_t method = compressed ? kMethodDeflate : kMethodStored;

    std::string local;
    put32(local, kLocalHeaderSig);
    put16(local, version);
    put16(local, flags);
    put16(local, method);
    put16(local, 0);
    put16(local, kDosDate1980);
    put32(local, crc);
    put32(local, large ? 0xFFFFFFFFu : uint32_t(csize));
    put32(local, large ? 0xFFFFFFFFu : uint32_t(size));
    put16(local, uint16_t(file_name.size()));
    put16(local, 20);
    local += file_name;
    put16(local, 0x0001);  // ZIP64 extra, always written (numpy's force_zip64=True)
    put16(local, 16);
    put64(local, size);
    put64(local, csize);
    out.add(std::move(local));
    if (compressed) {
      out.add(std::move(deflated));
    } else {
      out.add(std::move(header));
      out.add(t);
    }

    std::string extra;
    if (large) {
      put64(extra, size);
      put64(extra, csize);
    }
    if (offset > kZip64Limit) put64(extra, offset);
    if (!extra.empty()) {
      std::string field;
      put16(field, 0x0001);
      put16(field, uint16_t(extra.size()));
      extra = field + extra;
      version = 45;
    }
    put32(central, kCentralHeaderSig);
    put16(central, uint16_t(version | (3 << 8)));  // made by: Unix
    put16(central, version);
    put16(central, flags);
    put16(central, method);
    put16(central, 0);
    put16(central, kDosDate1980);
    put32(central, crc);
    put32(central, large ? 0xFFFFFFFFu : uint32_t(csize));
    put32(central, large ? 0xFFFFFFFFu : uint32_t(size));
    put16(central, uint16_t(file_name.size()));
    put16(central, uint16_t(extra.size()));
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, kUnixMode0600);
    put32(central, offset > kZip64Limit ? 0xFFFFFFFFu : uint32_t(offset));
    central += file_name;
    central += extra;
  }
  uint64_t cd_offset = out.size(), cd_size = central.size(), count = arrays.size();
  out.add(std::move(central));
  std::string end;
  if (count > 0xFFFF || cd_offset > kZip64Limit || cd_size > kZip64Limit) {
    uint64_t z_pos = out.size();
    put32(end, kZip64EndSig);
    put64(end, kZip64EndSize - 12);
    put16(end, 45);
    put16(end, 45);
    put32(end, 0);
    put32(end, 0);
    put64(end, count);
    put64(end, count);
    put64(end, cd_size);
    put64(end, cd_offset);
    put32(end, kZip64LocatorSig);
    put32(end, 0);
    put64(end, z_pos);
    put32(end, 1);
  }
  put32(end, kEndSig);
  put16(end, 0);
  put16(end, 0);
  put16(end, uint16_t(std::min<uint64_t>(count, 0xFFFF)));
  put16(end, uint16_t(std::min<uint64_t>(count, 0xFFFF)));
  put32(end, uint32_t(std::min<uint64_t>(cd_size, 0xFFFFFFFFu)));
  put32(end, uint32_t(std::min<uint64_t>(cd_offset, 0xFFFFFFFFu)));
  put16(end, 0);
  out.add(std::move(end));
  return out;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  FileSource src(path, "read_npy");
  return read_npy_from(src, "read_npy: " + path);
}

Tensor read_npy_from_memory(const std::string& bytes) {
  MemorySource src(bytes);
  return read_npy_from(src, "read_npy: <memory>");
}

void write_npy(const std::string& path, const Tensor& t) { write_atomically(path, npy_output(t), "write_npy"); }

std::string write_npy_to_memory(const Tensor& t) { return npy_output(t).to_string(); }

NamedArrays read_npz(const std::string& path) {
  FileSource src(path, "read_npz");
  return read_npz_from(src, "read_npz: " + path);
}

NamedArrays read_npz_from_memory(const std::string& bytes) {
  MemorySource src(bytes);
  return read_npz_from(src, "read_npz: <memory>");
}

void write_npz(const std::string& path, const NamedArrays& arrays, bool compressed) {
  write_atomically(path, npz_output(arrays, compressed), "write_npz");
}

std::string write_npz_to_memory(const NamedArrays& arrays, bool compressed) {
  return npz_output(arrays, compressed).to_string();
}

}  // namespace kiln::nn::data
