// MetricsLog: one record per epoch (or any step) appended to a CSV or JSON-lines file,
// flushed as it is written, so a run killed at any moment leaves a log that parses.
// nn/train/trainer.h writes one; pandas.read_csv / read_json(lines=True) read it.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kiln::nn::train {

// A logged value: a number (integers are stored as double) or a string.
class LogValue {
 public:
  // Implicit, so that a record reads {{"epoch", 3}, {"loss", 0.25}, {"split", "train"}}.
  LogValue(double v) : value_(v) {}
  LogValue(float v) : value_(double(v)) {}
  LogValue(int v) : value_(double(v)) {}
  LogValue(int64_t v) : value_(double(v)) {}
  LogValue(const char* v) : value_(std::string(v)) {}
  LogValue(std::string v) : value_(std::move(v)) {}

  bool is_number() const { return std::holds_alternative<double>(value_); }
  double number() const;             // an error for a string
  const std::string& text() const;   // an error for a number

 private:
  std::variant<double, std::string> value_;
};

// Keys in the order they are written.
using LogRecord = std::vector<std::pair<std::string, LogValue>>;

// The shortest decimal that reads back as the same double ("0.1", "1e-05", "3"), as
// Python's repr; "nan", "inf", "-inf" for the non-finite.
std::string format_number(double v);

// The format comes from the extension: ".csv" or ".jsonl".
//  - CSV: a header line from the first record's keys; every later record must have the
//    same keys (in any order: it is written in the header's order), else an error naming
//    the missing and unexpected keys. Fields holding a comma, a quote or a line break are
//    quoted ("" for a quote), as RFC 4180.
//  - JSON lines: one object per record, keys in the record's order; records may differ
//    in their keys. Non-finite numbers are written NaN, Infinity, -Infinity, as Python's
//    json module writes (and reads) them.
// The constructor creates or truncates the file. Each record is written as one complete
// line and flushed before write() returns; a failed write is an error naming the file.
class MetricsLog {
 public:
  explicit MetricsLog(std::string path);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const LogRecord& record);
  const std::string& path() const { return path_; }
  const std::vector<std::string>& columns() const { return columns_; }  // CSV: fixed by the first record
  int64_t records() const { return records_; }

 private:
  std::string path_;
  bool csv_;
  std::ofstream file_;
  std::vector<std::string> columns_;
  int64_t records_ = 0;
};

}  // namespace kiln::nn::train
