// MetricsLog: CSV and JSON-lines writers. Numbers use std::to_chars's shortest
// round-trip form; each record is built in memory and written with one flush.
#include "nn/train/metrics_log.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"

namespace kiln::nn::train {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;  // UTF-8 bytes pass through
        }
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return format_number(v);
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string s;
  for (const std::string& k : keys) s += (s.empty() ? "'" : ", '") + k + "'";
  return s.empty() ? "none" : s;
}

}  // namespace

double LogValue::number() const {
  KILN_CHECK(is_number(), "LogValue: '", std::get<std::string>(value_), "' is a string, not a number");
  return std::get<double>(value_);
}

const std::string& LogValue::text() const {
  KILN_CHECK(!is_number(), "LogValue: ", std::get<double>(value_), " is a number, not a string");
  return std::get<std::string>(value_);
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)) {
  KILN_CHECK(ends_with(path_, ".csv") || ends_with(path_, ".jsonl"), "MetricsLog: '", path_,
             "' must end in .csv or .jsonl (the extension chooses the format)");
  csv_ = ends_with(path_, ".csv");
  file_.open(path_, std::ios::out | std::ios::trunc | std::ios::binary);
  KILN_CHECK(file_.is_open(), "MetricsLog: cannot create '", path_, "'");
}

void MetricsLog::write(const LogRecord& record) {
  KILN_CHECK(!record.empty(), "MetricsLog::write: empty record for '", path_, "'");
  std::map<std::string, const LogValue*> by_key;
  for (const auto& [key, value] : record)
    KILN_CHECK(by_key.emplace(key, &value).second, "MetricsLog::write: key '", key, "' appears twice in a record");

  std::string text;
  if (!csv_) {
    text = "{";
    for (const auto& [key, value] : record) {
      if (text.size() > 1) text += ", ";
      text += json_string(key) + ": " + (value.is_number() ? json_number(value.number()) : json_string(value.text()));
    }
    text += "}\n";
  } else {
    if (columns_.empty()) {
      for (const auto& [key, value] : record) columns_.push_back(key);
      for (size_t i = 0; i < columns_.size(); ++i) {
        if (i) text += ',';
        text += csv_field(columns_[i]);
      }
      text += '\n';
    } else {
      std::vector<std::string> missing, unexpected;
      for (const std::string& c : columns_)
        if (!by_key.count(c)) missing.push_back(c);
      for (const auto& [key, value] : record)
        if (std::find(columns_.begin(), columns_.end(), key) == columns_.end()) unexpected.push_back(key);
      KILN_CHECK(missing.empty() && unexpected.empty(), "MetricsLog::write: '", path_,
                 "' has the columns fixed by its first record; this record lacks ", join_keys(missing),
                 " and adds ", join_keys(unexpected));
    }
    std::string row;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const LogValue& v = *by_key.at(columns_[i]);
      if (i) row += ',';
      row += v.is_number() ? format_number(v.number()) : csv_field(v.text());
    }
    text += row + "\n";
  }
  file_.write(text.data(), std::streamsize(text.size()));
  file_.flush();
  KILN_CHECK(file_.good(), "MetricsLog::write: writing '", path_, "' failed");
  ++records_;
}

}  // namespace kiln::nn::train
