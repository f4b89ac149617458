// CSV files as tables of named columns (pandas.read_csv's defaults, much reduced): RFC
// 4180 parsing, numeric/string column types, and columns to tensors. The parser and
// its rules are in nn/data/csv.cpp (Note [CSV parsing]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::nn::data {

struct CsvOptions {
  char delimiter = ',';
  char quotechar = '"';
  bool header = true;            // the first record names the columns; else "0", "1", ...
  bool skip_blank_lines = true;  // as pandas: a line with nothing on it is not a row
};

// A parsed CSV file. Every column keeps the raw text of its fields; a column is numeric
// when each field is missing or parses fully as a number (see Note [CSV parsing]), and
// string otherwise (so dates like 2020-01-31 stay strings). Missing numeric fields
// (empty, or NA, N/A, NaN, nan, null, NULL, None, <NA>, #N/A, n/a) are NaN, as in pandas.
class CsvTable {
 public:
  // `source` names the file in error messages; `lines[r]` is the line row r starts on.
  CsvTable(std::string source, std::vector<std::string> names, std::vector<std::vector<std::string>> columns,
           std::vector<int64_t> lines);

  const std::vector<std::string>& names() const { return names_; }
  int64_t rows() const { return int64_t(lines_.size()); }
  // Each of these throws a kiln::Error naming the file and the column for an unknown name.
  bool is_numeric(const std::string& name) const;
  const std::vector<std::string>& strings(const std::string& name) const;  // raw text of any column
  // The named numeric columns side by side: a [rows, columns.size()] tensor of `dtype`
  // (float32, float64, or int64, which needs every value to be a whole number; then the
  // text is read exactly, so int64 values beyond 2^53 keep every digit). A string
  // column is an error naming it and its first non-numeric value with its line.
  Tensor numeric(const std::vector<std::string>& columns, DType dtype = kFloat32) const;
  // One numeric column as a [rows] tensor.
  Tensor column(const std::string& name, DType dtype = kFloat32) const;

 private:
  struct Column {
    std::vector<std::string> text;
    std::vector<double> values;  // parsed, NaN for missing; empty for a string column
    int64_t first_bad_row = -1;  // the first field that is not a number; -1 when numeric
  };
  const Column& find(const std::string& name, const char* op) const;

  std::string source_;
  std::vector<std::string> names_;
  std::vector<Column> columns_;
  std::vector<int64_t> lines_;
};

// Reads a CSV file (see CsvOptions and Note [CSV parsing]). Malformed input (a row with
// the wrong number of fields, an unterminated quote, text after a closing quote) is a
// kiln::Error naming the file and the line.
CsvTable read_csv(const std::string& path, CsvOptions options = {});
// The same from CSV text; errors say "<memory>" instead of a path.
CsvTable read_csv_from_memory(const std::string& text, CsvOptions options = {});

}  // namespace kiln::nn::data
