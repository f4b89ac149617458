// CSV reading: an RFC 4180 record parser, number recognition for column types, and the
// conversion of columns to tensors. The API is in nn/data/csv.h.
#include "nn/data/csv.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "core/factory.h"

namespace kiln::nn::data {

// Note [CSV parsing]
// Records are separated by "\r\n", "\n" or "\r"; a UTF-8 byte order mark at the start
// is skipped; the last record may or may not end with a newline. A field that starts
// with the quote character is quoted: it ends at the next lone quote, "" inside it is
// one quote, and delimiters and newlines inside it are text; after the closing quote
// only a delimiter or the end of the record may follow. A quote inside an unquoted field
// is plain text. Lines are counted physically (a quoted newline starts a new line), so
// an error's line number is the one an editor shows.
//
// A field is a number when, after trimming spaces and tabs, it is all of one decimal or
// scientific number (an optional sign, "1", "-2.5", "1e-3", ".5") or inf/infinity/nan in
// any case; hexadecimal and trailing text ("3kg") are not numbers. Missing values (an
// empty field and pandas' NA spellings, see csv.h) count as numbers with value NaN.

namespace {

bool is_missing(std::string_view s) {
  static const std::set<std::string_view> kMissing = {"",    "NA",   "N/A",  "NaN",  "nan", "-nan", "-NaN",
                                                       "null", "NULL", "None", "<NA>", "#N/A", "n/a"};
  return kMissing.count(s) > 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The number a field holds (NaN when missing), or false when it is not one.
bool parse_number(std::string_view field, double* out) {
  std::string_view s = trim(field);
  if (is_missing(s)) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return false;
  }
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  if (end != s.data() + s.size()) return false;
  // Out of double's range ("1e999", "1e-999") is still a number: strtod saturates it to
  // +-inf or rounds it to 0 where from_chars reports an error.
  if (ec == std::errc::result_out_of_range) *out = std::strtod(std::string(s).c_str(), nullptr);
  return ec == std::errc() || ec == std::errc::result_out_of_range;
}

class CsvParser {
 public:
  CsvParser(std::string_view text, const CsvOptions& options, const std::string& source)
      : text_(text), options_(options), source_(source) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  // The next record's fields, or false at the end of the text. *line is its first line.
  bool next(std::vector<std::string>* fields, int64_t* line) {
    while (pos_ < text_.size()) {
      fields->clear();
      *line = line_;
      bool quoted_any = false;
      while (true) {
        fields->emplace_back();
        bool quoted = read_field(&fields->back());
        quoted_any = quoted_any || quoted;
        if (pos_ < text_.size() && text_[pos_] == options_.delimiter) {
          ++pos_;
          continue;
        }
        end_line();
        break;
      }
      bool blank = fields->size() == 1 && fields->front().empty() && !quoted_any;
      if (!(blank && options_.skip_blank_lines)) return true;
    }
    return false;
  }

 private:
  bool at_newline() const { return pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r'); }

  // Consumes "\r\n", "\n" or "\r" if one is next.
  void end_line() {
    if (!at_newline()) return;
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  // Reads one field up to (not including) the delimiter or newline after it.
  bool read_field(std::string* out) {
    const char delimiter = options_.delimiter, quote = options_.quotechar;
    if (pos_ < text_.size() && text_[pos_] == quote) {
      int64_t start_line = line_;
      ++pos_;
      while (true) {
        KILN_CHECK(pos_ < text_.size(), "read_csv: ", source_, ": unterminated quoted field starting on line ",
                   start_line);
        char c = text_[pos_];
        if (c == quote) {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == quote) {
            *out += quote;
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        if (c == '\n' || (c == '\r' && !(pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n'))) ++line_;
        *out += c;
        ++pos_;
      }
      KILN_CHECK(pos_ == text_.size() || text_[pos_] == delimiter || at_newline(), "read_csv: ", source_, ": line ",
                 line_, ": unexpected character '", text_[pos_], "' after the closing quote of a field");
      return true;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != delimiter && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
    out->assign(text_.substr(start, pos_ - start));
    return false;
  }

  std::string_view text_;
  const CsvOptions& options_;
  const std::string& source_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

CsvTable parse_csv(std::string_view text, const CsvOptions& options, const std::string& source) {
  KILN_CHECK(options.delimiter != options.quotechar && options.delimiter != '\n' && options.delimiter != '\r' &&
                 options.quotechar != '\n' && options.quotechar != '\r',
             "read_csv: the delimiter and quote character must differ and not be newlines");
  CsvParser parser(text, options, source);
  std::vector<std::string> fields;
  int64_t line = 0;
  std::vector<std::string> names;
  bool have_first = parser.next(&fields, &line);
  if (options.header) {
    KILN_CHECK(have_first, "read_csv: ", source, ": no header line (the file is empty)");
    // As pandas: an empty name becomes "Unnamed: i", a repeated one "name.1", "name.2", ...
    std::set<std::string> used;
    for (size_t i = 0; i < fields.size(); ++i) {
      std::string name = fields[i].empty() ? std::string("Unnamed: ").append(std::to_string(i)) : fields[i];
      if (used.count(name)) {
        auto numbered = [&](int k) { return std::string(name).append(".").append(std::to_string(k)); };
        int k = 1;
        while (used.count(numbered(k))) ++k;
        name = numbered(k);
      }
      used.insert(name);
      names.push_back(std::move(name));
    }
    have_first = parser.next(&fields, &line);
  } else if (have_first) {
    for (size_t i = 0; i < fields.size(); ++i) names.push_back(std::to_string(i));
  }
  std::vector<std::vector<std::string>> columns(names.size());
  std::vector<int64_t> lines;
  for (bool have = have_first; have; have = parser.next(&fields, &line)) {
    KILN_CHECK(fields.size() == names.size(), "read_csv: ", source, ": line ", line, " has ", fields.size(),
               " fields, expected ", names.size(), options.header ? " (as the header has)" : " (as the first row has)");
    for (size_t c = 0; c < fields.size(); ++c) columns[c].push_back(std::move(fields[c]));
    lines.push_back(line);
  }
  return CsvTable(source, std::move(names), std::move(columns), std::move(lines));
}

}  // namespace

CsvTable::CsvTable(std::string source, std::vector<std::string> names, std::vector<std::vector<std::string>> columns,
                   std::vector<int64_t> lines)
    : source_(std::move(source)), names_(std::move(names)), lines_(std::move(lines)) {
  KILN_CHECK(columns.size() == names_.size(), "CsvTable: ", names_.size(), " names for ", columns.size(), " columns");
  for (auto& text : columns) {
    KILN_CHECK(text.size() == lines_.size(), "CsvTable: a column has ", text.size(), " rows, expected ", lines_.size());
    Column c;
    c.values.resize(text.size());
    for (size_t r = 0; r < text.size(); ++r) {
      if (!parse_number(text[r], &c.values[r])) {
        c.first_bad_row = int64_t(r);
        c.values.clear();
        break;
      }
    }
    c.text = std::move(text);
    columns_.push_back(std::move(c));
  }
}

const CsvTable::Column& CsvTable::find(const std::string& name, const char* op) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end()) {
    std::string known;
    for (size_t i = 0; i < names_.size() && i < 20; ++i) known += (i ? ", '" : "'") + names_[i] + "'";
    if (names_.size() > 20) known += ", ...";
    KILN_FAIL(op, ": ", source_, ": no column named '", name, "' (columns: ", known, ")");
  }
  return columns_[size_t(it - names_.begin())];
}

bool CsvTable::is_numeric(const std::string& name) const { return find(name, "CsvTable::is_numeric").first_bad_row < 0; }

const std::vector<std::string>& CsvTable::strings(const std::string& name) const {
  return find(name, "CsvTable::strings").text;
}

Tensor CsvTable::numeric(const std::vector<std::string>& columns, DType dtype) const {
  KILN_CHECK(dtype == kFloat32 || dtype == kFloat64 || dtype == kInt64, "CsvTable::numeric: ", source_,
             ": expected dtype float32, float64 or int64, got ", dtype_name(dtype));
  const int64_t n = rows(), k = int64_t(columns.size());
  std::vector<const Column*> picked;
  for (const std::string& name : columns) {
    const Column& c = find(name, "CsvTable::numeric");
    KILN_CHECK(c.first_bad_row < 0, "CsvTable::numeric: ", source_, ": column '", name,
               "' is not numeric: value '", c.text[size_t(c.first_bad_row)], "' on line ",
               lines_[size_t(c.first_bad_row)], " is not a number");
    picked.push_back(&c);
  }
  if (dtype != kInt64) {
    std::vector<double> values(size_t(n * k));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < k; ++j) values[size_t(r * k + j)] = picked[size_t(j)]->values[size_t(r)];
    return tensor<double>(values, {n, k}, TensorOptions(dtype));
  }
  std::vector<int64_t> values(size_t(n * k));
  for (int64_t j = 0; j < k; ++j) {
    const Column& c = *picked[size_t(j)];
    for (int64_t r = 0; r < n; ++r) {
      std::string_view s = trim(c.text[size_t(r)]);
      if (!s.empty() && s.front() == '+') s.remove_prefix(1);
      int64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || end != s.data() + s.size()) {
        // "3.0" or "1e3": whole numbers written as floats are fine.
        double d = c.values[size_t(r)];
        KILN_CHECK(std::isfinite(d) && d == std::floor(d) && d >= -9223372036854775808.0 &&
                       d < 9223372036854775808.0,
                   "CsvTable::numeric: ", source_, ": column '", columns[size_t(j)], "' value '", c.text[size_t(r)],
                   "' on line ", lines_[size_t(r)], " is missing or not a whole number, so it has no int64 value");
        v = int64_t(d);
      }
      values[size_t(r * k + j)] = v;
    }
  }
  return tensor<int64_t>(values, {n, k});
}

Tensor CsvTable::column(const std::string& name, DType dtype) const {
  return numeric({name}, dtype).reshape({rows()});
}

CsvTable read_csv(const std::string& path, CsvOptions options) {
  std::ifstream in(path, std::ios::binary);
  KILN_CHECK(in.is_open(), "read_csv: cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream os;
  os << in.rdbuf();
  KILN_CHECK(!in.bad(), "read_csv: cannot read ", path);
  return parse_csv(os.str(), options, path);
}

CsvTable read_csv_from_memory(const std::string& text, CsvOptions options) {
  return parse_csv(text, options, "<memory>");
}

}  // namespace kiln::nn::data
