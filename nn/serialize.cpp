// safetensors reading and writing: a small pull-style JSON reader for the header, the
// checks that keep a corrupt or hostile file from doing harm, and atomic writes through
// a temporary file. The API and its guarantees are in nn/serialize.h.
#include "nn/serialize.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/file.h"
#include "core/factory.h"

namespace kiln::nn {

// Note [safetensors format]
//   file   = N (8 bytes, little-endian uint64) | header (N bytes of UTF-8 JSON) | data
//   header = {"__metadata__": {"key": "value", ...},          (optional, strings only)
//             "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// Offsets are bytes into the data section (which starts right after the header), end
// exclusive; each tensor is row-major and little-endian. Writers pad the header with
// spaces so that the data starts 8-byte aligned.
//
// A file may come from anywhere, so load checks, before it allocates or reads any data:
// N <= 100 MB and N fits in the file; the header is valid JSON and UTF-8, nested at most
// kMaxJsonDepth deep; every entry has a known dtype, a shape of at most kMaxRank
// non-negative dims whose product (and byte size) does not overflow, and data_offsets
// with begin <= end <= data size and end - begin == numel * element size; no name
// appears twice and no two tensors' bytes overlap; BOOL bytes are 0 or 1. Gaps between
// tensors and bytes after the last one are allowed (the reference reader is stricter).
// Every tensor is then allocated with at most the bytes the file holds for it.

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; kiln reads and writes it with plain copies");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxRank = 64;
constexpr const char* kMetadataKey = "__metadata__";

// ---- dtype names ----

struct DTypeCode {
  const char* name;
  std::optional<DType> dtype;  // empty: a safetensors dtype kiln has no counterpart for
};

// Every dtype the safetensors specification names.
constexpr DTypeCode kDTypeCodes[] = {
    {"F32", DType::Float32}, {"F64", DType::Float64}, {"I64", DType::Int64},  {"U8", DType::UInt8},
    {"BOOL", DType::Bool},   {"F16", DType::Float16}, {"BF16", DType::BFloat16}, {"I8", std::nullopt},
    {"I16", std::nullopt},   {"U16", std::nullopt},   {"I32", std::nullopt},  {"U32", std::nullopt},
    {"U64", std::nullopt},   {"F8_E5M2", std::nullopt}, {"F8_E4M3", std::nullopt},
    {"F8_E8M0", std::nullopt}, {"F4", std::nullopt}, {"F6_E2M3", std::nullopt}, {"F6_E3M2", std::nullopt},
    {"C64", std::nullopt},
};

const char* safetensors_dtype_name(DType dtype) {
  for (const DTypeCode& code : kDTypeCodes)
    if (code.dtype == dtype) return code.name;
  KILN_FAIL("save_safetensors: no safetensors name for dtype ", dtype_name(dtype));
}

// ---- UTF-8 ----

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (bad
// lead byte, missing continuation, overlong form, surrogate, above U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07u;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---- JSON reader ----

// Reads JSON straight off the header text: the caller asks for the value it expects
// (an object, a string, an integer, ...) and the reader checks that it is there. Values
// the caller has no use for are skipped without being stored, so a header allocates
// only what describes tensors. Errors name the source and the byte offset.
class JsonReader {
 public:
  JsonReader(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  [[noreturn]] void fail(const std::string& what) const {
    KILN_FAIL("load_safetensors: ", where_, ": invalid header JSON at byte ", pos_, ": ", what);
  }

  void skip_whitespace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() {
    skip_whitespace();
    return pos_ == text_.size();
  }
  char peek() {
    skip_whitespace();
    if (pos_ == text_.size()) fail("unexpected end of header");
    return text_[pos_];
  }
  void expect(char c, const char* what) {
    if (peek() != c) fail(std::string("expected ") + what);
    ++pos_;
  }

  // Calls on_member(key) once per member of an object; on_member reads the value.
  template <typename F>
  void read_object(int depth, F&& on_member) {
    check_depth(depth);
    expect('{', "'{'");
    if (peek() == '}') {
      ++pos_;
      return;
    }
    while (true) {
      if (peek() != '"') fail("expected a string key");
      std::string key = read_string();
      expect(':', "':' after an object key");
      on_member(key);
      char c = peek();
      ++pos_;
      if (c == '}') return;
      if (c != ',') fail("expected ',' or '}' in an object");
    }
  }

  // Calls on_item() once per element of an array; on_item reads the element.
  template <typename F>
  void read_array(int depth, F&& on_item) {
    check_depth(depth);
    expect('[', "'['");
    if (peek() == ']') {
      ++pos_;
      return;
    }
    while (true) {
      on_item();
      char c = peek();
      ++pos_;
      if (c == ']') return;
      if (c != ',') fail("expected ',' or ']' in an array");
    }
  }

  std::string read_string() {
    expect('"', "a string");
    std::string out;
    while (true) {
      if (pos_ == text_.size()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("unescaped control character in a string");
      if (c == '\\') {
        read_escape(out);
        continue;
      }
      size_t len = utf8_sequence_length(text_, pos_);
      if (len == 0) fail("invalid UTF-8 in a string");
      out.append(text_.substr(pos_, len));
      pos_ += len;
    }
  }

  // A JSON number that is an integer and fits in int64.
  int64_t read_integer() {
    size_t start = (skip_whitespace(), pos_);
    bool negative = pos_ < text_.size() && text_[pos_] == '-';
    if (negative) ++pos_;
    if (pos_ == text_.size() || !is_digit(text_[pos_])) fail("expected an integer");
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))
      fail("leading zeros in a number");
    uint64_t magnitude = 0;
    constexpr uint64_t kLimit = uint64_t(std::numeric_limits<int64_t>::max());
    while (pos_ < text_.size() && is_digit(text_[pos_])) {
      uint64_t digit = uint64_t(text_[pos_] - '0');
      if (magnitude > (kLimit + 1 - digit) / 10) {
        pos_ = start;
        fail("integer out of the int64 range");
      }
      magnitude = magnitude * 10 + digit;
      ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
      fail("expected an integer, got a fractional number");
    if (!negative && magnitude > kLimit) {
      pos_ = start;
      fail("integer out of the int64 range");
    }
    // -2^63 has a magnitude one past int64's max: negate in unsigned arithmetic.
    return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  }

  // Reads and discards any JSON value.
  void skip_value(int depth) {
    char c = peek();
    if (c == '{') {
      read_object(depth, [&](const std::string&) { skip_value(depth + 1); });
    } else if (c == '[') {
      read_array(depth, [&] { skip_value(depth + 1); });
    } else if (c == '"') {
      read_string();
    } else if (c == '-' || is_digit(c)) {
      skip_number();
    } else if (!skip_literal("true") && !skip_literal("false") && !skip_literal("null")) {
      fail("expected a JSON value");
    }
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  void check_depth(int depth) const {
    if (depth > kMaxJsonDepth) fail("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }

  uint32_t read_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    uint32_t value = 0;
    for (int k = 0; k < 4; ++k) {
      char h = text_[pos_++];
      uint32_t digit;
      if (h >= '0' && h <= '9') digit = uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f') digit = uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') digit = uint32_t(h - 'A' + 10);
      else fail("invalid hex digit in a \\u escape");
      value = value * 16 + digit;
    }
    return value;
  }

  // At a backslash: appends the escaped character. \uD83D\uDE00 is one code point
  // written as a UTF-16 surrogate pair; a lone surrogate is an error.
  void read_escape(std::string& out) {
    ++pos_;
    if (pos_ == text_.size()) fail("unterminated escape");
    char e = text_[pos_++];
    switch (e) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default: fail(std::string("invalid escape \\") + e);
    }
    uint32_t cp = read_hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in a \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
        fail("high surrogate without a low surrogate in a \\u escape");
      pos_ += 2;
      uint32_t low = read_hex4();
      if (low < 0xDC00 || low > 0xDFFF) fail("high surrogate without a low surrogate in a \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  void skip_number() {
    auto digits = [&] {
      size_t start = pos_;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
      if (pos_ == start) fail("malformed number");
    };
    if (text_[pos_] == '-') ++pos_;
    digits();
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      digits();
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      digits();
    }
  }

  bool skip_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
};

// ---- header ----

struct TensorEntry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  int64_t begin = 0, end = 0;  // byte range in the data section
  int64_t nbytes = 0;
  size_t header_index = 0;
};

struct Header {
  std::vector<TensorEntry> tensors;
  std::map<std::string, std::string> metadata;
};

std::string quoted(const std::string& name) { return "'" + name + "'"; }

DType parse_dtype(const std::string& code, const std::string& tensor, const std::string& where) {
  for (const DTypeCode& known : kDTypeCodes) {
    if (code != known.name) continue;
    KILN_CHECK(known.dtype.has_value(), "load_safetensors: ", where, ": tensor ", quoted(tensor),
               " has unsupported dtype ", code, " (kiln reads F32, F64, F16, BF16, I64, U8 and BOOL)");
    return *known.dtype;
  }
  KILN_FAIL("load_safetensors: ", where, ": tensor ", quoted(tensor), " has unknown dtype ", quoted(code));
}

// {"dtype": ..., "shape": [...], "data_offsets": [b, e]}; other keys are skipped.
TensorEntry parse_entry(JsonReader& json, const std::string& name, const std::string& where) {
  KILN_CHECK(json.peek() == '{', "load_safetensors: ", where, ": tensor ", quoted(name),
             ": expected an object with dtype, shape and data_offsets");
  TensorEntry entry;
  entry.name = name;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  auto once = [&](bool& seen, const std::string& key) {
    KILN_CHECK(!seen, "load_safetensors: ", where, ": tensor ", quoted(name), " has \"", key, "\" twice");
    seen = true;
  };
  json.read_object(2, [&](const std::string& key) {
    if (key == "dtype") {
      once(has_dtype, key);
      KILN_CHECK(json.peek() == '"', "load_safetensors: ", where, ": tensor ", quoted(name),
                 ": dtype must be a string");
      entry.dtype = parse_dtype(json.read_string(), name, where);
    } else if (key == "shape") {
      once(has_shape, key);
      KILN_CHECK(json.peek() == '[', "load_safetensors: ", where, ": tensor ", quoted(name),
                 ": shape must be an array of integers");
      json.read_array(3, [&] {
        KILN_CHECK(entry.shape.size() < kMaxRank, "load_safetensors: ", where, ": tensor ", quoted(name),
                   " has more than ", kMaxRank, " dims");
        int64_t dim = json.read_integer();
        KILN_CHECK(dim >= 0, "load_safetensors: ", where, ": tensor ", quoted(name), " has a negative dim ", dim);
        entry.shape.push_back(dim);
      });
    } else if (key == "data_offsets") {
      once(has_offsets, key);
      KILN_CHECK(json.peek() == '[', "load_safetensors: ", where, ": tensor ", quoted(name),
                 ": data_offsets must be an array [begin, end]");
      std::vector<int64_t> offsets;
      json.read_array(3, [&] {
        KILN_CHECK(offsets.size() < 2, "load_safetensors: ", where, ": tensor ", quoted(name),
                   ": data_offsets must have exactly 2 entries");
        offsets.push_back(json.read_integer());
      });
      KILN_CHECK(offsets.size() == 2, "load_safetensors: ", where, ": tensor ", quoted(name),
                 ": data_offsets must have exactly 2 entries, got ", offsets.size());
      entry.begin = offsets[0];
      entry.end = offsets[1];
    } else {
      json.skip_value(3);
    }
  });
  KILN_CHECK(has_dtype && has_shape && has_offsets, "load_safetensors: ", where, ": tensor ", quoted(name),
             " is missing ", !has_dtype ? "\"dtype\"" : !has_shape ? "\"shape\"" : "\"data_offsets\"");
  return entry;
}

Header parse_header(std::string_view text, const std::string& where) {
  JsonReader json(text, where);
  Header header;
  std::set<std::string> names;
  bool has_metadata = false;
  KILN_CHECK(json.peek() == '{', "load_safetensors: ", where, ": the header is not a JSON object");
  json.read_object(1, [&](const std::string& key) {
    if (key == kMetadataKey) {
      KILN_CHECK(!has_metadata, "load_safetensors: ", where, ": __metadata__ appears twice");
      has_metadata = true;
      KILN_CHECK(json.peek() == '{', "load_safetensors: ", where, ": __metadata__ must be an object of strings");
      json.read_object(2, [&](const std::string& meta_key) {
        KILN_CHECK(json.peek() == '"', "load_safetensors: ", where, ": __metadata__ value of ", quoted(meta_key),
                   " is not a string");
        bool inserted = header.metadata.emplace(meta_key, json.read_string()).second;
        KILN_CHECK(inserted, "load_safetensors: ", where, ": __metadata__ key ", quoted(meta_key), " appears twice");
      });
      return;
    }
    KILN_CHECK(names.insert(key).second, "load_safetensors: ", where, ": duplicate tensor name ", quoted(key));
    header.tensors.push_back(parse_entry(json, key, where));
    header.tensors.back().header_index = header.tensors.size() - 1;
  });
  KILN_CHECK(json.at_end(), "load_safetensors: ", where, ": unexpected bytes after the header JSON object");
  return header;
}

// Checks sizes and offsets against the data section (see Note [safetensors format]) and
// returns the tensors in file order: by offset, ties kept in header order.
std::vector<TensorEntry> validate(Header& header, int64_t data_size, const std::string& where) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (TensorEntry& t : header.tensors) {
    // Every partial product of the non-zero dims must fit, or strides would overflow.
    int64_t numel = 1, strided = 1;
    for (int64_t d : t.shape) {
      int64_t factor = std::max<int64_t>(d, 1);
      KILN_CHECK(strided <= kMax / factor, "load_safetensors: ", where, ": tensor ", quoted(t.name), " shape ",
                 t.shape, " has more elements than int64 can count");
      strided *= factor;
      numel *= d;
    }
    int64_t esize = int64_t(element_size(t.dtype));
    KILN_CHECK(numel <= kMax / esize, "load_safetensors: ", where, ": tensor ", quoted(t.name), " shape ", t.shape,
               " has more bytes than int64 can count");
    t.nbytes = numel * esize;
    KILN_CHECK(0 <= t.begin && t.begin <= t.end && t.end <= data_size, "load_safetensors: ", where, ": tensor ",
               quoted(t.name), " has data_offsets [", t.begin, ", ", t.end, "] outside the data section of ",
               data_size, " bytes (expected 0 <= begin <= end <= ", data_size, ")");
    KILN_CHECK(t.end - t.begin == t.nbytes, "load_safetensors: ", where, ": tensor ", quoted(t.name),
               " has data_offsets [", t.begin, ", ", t.end, "] holding ", t.end - t.begin, " bytes, but ",
               safetensors_dtype_name(t.dtype), " shape ", t.shape, " needs ", t.nbytes);
  }
  std::vector<TensorEntry> order = std::move(header.tensors);
  std::stable_sort(order.begin(), order.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Empty ranges hold no bytes and overlap nothing.
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& t : order) {
    if (t.nbytes == 0) continue;
    KILN_CHECK(previous == nullptr || previous->end <= t.begin, "load_safetensors: ", where, ": tensors ",
               quoted(previous ? previous->name : ""), " [", previous ? previous->begin : 0, ", ",
               previous ? previous->end : 0, ") and ", quoted(t.name), " [", t.begin, ", ", t.end,
               ") overlap in the data section");
    previous = &t;
  }
  return order;
}

NamedTensors load_from(const ByteSource& source, const std::string& where,
                       std::map<std::string, std::string>* metadata) {
  uint64_t size = source.size();
  KILN_CHECK(size >= 8, "load_safetensors: ", where, ": the file is ", size,
             " bytes, too short for the 8-byte header length");
  unsigned char length_bytes[8];
  source.read(0, 8, length_bytes);
  uint64_t header_size = 0;
  for (int k = 7; k >= 0; --k) header_size = (header_size << 8) | length_bytes[k];
  KILN_CHECK(header_size <= kMaxHeaderBytes, "load_safetensors: ", where, ": header length ", header_size,
             " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  KILN_CHECK(header_size <= size - 8, "load_safetensors: ", where, ": header length ", header_size,
             " exceeds the ", size - 8, " bytes that follow it in the file");
  std::string text(header_size, '\0');
  source.read(8, header_size, text.data());
  Header header = parse_header(text, where);
  uint64_t data_start = 8 + header_size;
  std::vector<TensorEntry> order = validate(header, int64_t(size - data_start), where);

  NamedTensors out;
  out.reserve(order.size());
  for (const TensorEntry& entry : order) {
    Tensor t = empty(entry.shape, TensorOptions(entry.dtype));
    if (entry.nbytes > 0) source.read(data_start + uint64_t(entry.begin), size_t(entry.nbytes), t.raw_data());
    if (entry.dtype == DType::Bool) {
      // Any other byte in a C++ bool is undefined behaviour when read.
      const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
      for (int64_t i = 0; i < entry.nbytes; ++i)
        KILN_CHECK(bytes[i] <= 1, "load_safetensors: ", where, ": BOOL tensor ", quoted(entry.name), " element ", i,
                   " has byte value ", int(bytes[i]), " (expected 0 or 1)");
    }
    out.emplace_back(entry.name, std::move(t));
  }
  if (metadata) *metadata = std::move(header.metadata);
  return out;
}

// ---- writing ----

std::string json_string(const std::string& s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20) out += std::string("\\u00") + kHex[c >> 4] + kHex[c & 0xF];
    else out += ch;
  }
  return out + "\"";
}

// The header (padded with spaces to a multiple of 8 bytes) and each tensor's CPU,
// contiguous data, in the order given.
struct Prepared {
  std::string header;
  std::vector<Tensor> data;
};

Prepared prepare(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                 const std::string& where) {
  Prepared p;
  std::string& h = p.header;
  h = "{";
  if (!metadata.empty()) {
    h += json_string(kMetadataKey) + ":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      KILN_CHECK(is_valid_utf8(key) && is_valid_utf8(value), "save_safetensors: ", where,
                 ": metadata key and value must be valid UTF-8, got key ", quoted(key));
      h += (first ? "" : ",") + json_string(key) + ":" + json_string(value);
      first = false;
    }
    h += "}";
  }
  std::set<std::string> names;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    KILN_CHECK(name != kMetadataKey, "save_safetensors: ", where, ": a tensor cannot be named __metadata__");
    KILN_CHECK(is_valid_utf8(name), "save_safetensors: ", where, ": tensor name ", quoted(name),
               " is not valid UTF-8");
    KILN_CHECK(names.insert(name).second, "save_safetensors: ", where, ": duplicate tensor name ", quoted(name));
    KILN_CHECK(tensor.defined(), "save_safetensors: ", where, ": tensor ", quoted(name), " is undefined");
    Tensor t = tensor.detach().to(Device::cpu()).contiguous();
    int64_t nbytes = t.numel() * int64_t(element_size(t.dtype()));
    h += (h.size() > 1 ? "," : "") + json_string(name) + ":{\"dtype\":\"" + safetensors_dtype_name(t.dtype()) +
         "\",\"shape\":[";
    for (size_t d = 0; d < t.shape().size(); ++d) h += (d ? "," : "") + std::to_string(t.shape()[d]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
    p.data.push_back(std::move(t));
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  return p;
}

// Feeds the file's bytes to write(data, n), which returns false on failure.
template <typename Write>
bool emit(const Prepared& p, Write&& write) {
  unsigned char length_bytes[8];
  uint64_t n = p.header.size();
  for (int k = 0; k < 8; ++k) length_bytes[k] = static_cast<unsigned char>(n >> (8 * k));
  if (!write(length_bytes, 8) || !write(p.header.data(), p.header.size())) return false;
  for (const Tensor& t : p.data)
    if (t.numel() > 0 && !write(t.raw_data(), size_t(t.numel()) * element_size(t.dtype()))) return false;
  return true;
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Prepared p = prepare(tensors, metadata, path);
  write_file_atomically(path, [&](const ByteSink& sink) { return emit(p, sink); }, "save_safetensors");
}

std::string save_safetensors_to_memory(const NamedTensors& tensors,
                                       const std::map<std::string, std::string>& metadata) {
  Prepared p = prepare(tensors, metadata, "<memory>");
  std::string out;
  emit(p, [&](const void* data, size_t n) {
    out.append(static_cast<const char*>(data), n);
    return true;
  });
  return out;
}

NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  FileSource source(path, "load_safetensors");
  return load_from(source, path, metadata);
}

NamedTensors load_safetensors_from_memory(const std::string& bytes, std::map<std::string, std::string>* metadata) {
  MemorySource source(bytes);
  return load_from(source, "<memory>", metadata);
}

void save(const Module& m, const std::string& path) { save_safetensors(path, m.state_dict(), {{"format", "pt"}}); }

void load(Module& m, const std::string& path, bool strict) {
  NamedTensors state = load_safetensors(path);
  try {
    m.load_state_dict(state, strict);
  } catch (const Error& e) {
    KILN_FAIL("load: ", path, ": ", e.message());
  }
}

}  // namespace kiln::nn
