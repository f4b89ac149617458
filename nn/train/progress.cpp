// ProgressBar: when to draw (time-throttled on a terminal, percent marks in plain mode)
// and what one line says. The format is documented in progress.h.
#include "nn/train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "core/error.h"

namespace kiln::nn::train {

namespace {

std::string printf_string(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string format_rate(double rate, const std::string& unit) {
  if (!(rate > 0) || !std::isfinite(rate)) return "? " + unit + "/s";
  if (rate < 1) return printf_string("%.2f", 1.0 / rate) + " s/" + unit;
  return printf_string(rate >= 100 ? "%.0f" : rate >= 10 ? "%.1f" : "%.2f", rate) + " " + unit + "/s";
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  int64_t s = int64_t(seconds);
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

ProgressBar::ProgressBar(int64_t total, ProgressBarOptions options) : total_(total), options_(std::move(options)) {
  KILN_CHECK(total >= 0, "ProgressBar: total must be non-negative, got ", total);
  KILN_CHECK(options_.width >= 0 && options_.plain_percent > 0 && options_.min_interval >= 0 &&
                 options_.plain_interval > 0,
             "ProgressBar: width and min_interval must be non-negative, plain_percent and plain_interval positive");
  out_ = options_.out != nullptr ? options_.out : &std::cerr;
  terminal_ = options_.terminal.value_or(out_ == &std::cerr && isatty(STDERR_FILENO));
  start_ = last_draw_ = now();
  if (terminal_) draw(start_);  // show the empty bar at once
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {  // a destructor must not throw; the stream may already be gone bad
  }
}

double ProgressBar::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ProgressBar::update(int64_t n, const Values& values) {
  KILN_CHECK(n >= 0, "ProgressBar::update: n must be non-negative, got ", n);
  KILN_CHECK(!finished_, "ProgressBar::update: called after finish()");
  done_ += n;
  for (const auto& [name, value] : values) {
    auto it = std::find_if(values_.begin(), values_.end(), [&](const auto& v) { return v.first == name; });
    if (it != values_.end()) it->second = value;
    else values_.emplace_back(name, value);
  }
  const double t = now();
  const bool last = done_ >= total_;
  if (terminal_) {
    if (last || t - last_draw_ >= options_.min_interval) draw(t);
    return;
  }
  // Plain: a line when the count passes into a new plain_percent bucket, or after
  // plain_interval seconds of silence.
  auto bucket = [&](int64_t count) {
    // A small allowance, so 30 of 100 in steps of 10% lands in bucket 3 despite rounding.
    return total_ > 0 ? int64_t(std::floor(double(std::min(count, total_)) * 100.0 / double(total_) /
                                               options_.plain_percent +
                                           1e-9))
                      : 0;
  };
  const bool new_mark = last_drawn_count_ < 0 ? bucket(done_) > 0 : bucket(done_) > bucket(last_drawn_count_);
  if (done_ != last_drawn_count_ && (new_mark || t - last_draw_ >= options_.plain_interval)) draw(t);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  const double t = now();
  if (terminal_) {
    draw(t);
    *out_ << '\n';
    out_->flush();
  } else if (done_ != last_drawn_count_) {
    draw(t);
  }
}

std::string ProgressBar::line() const { return line_at(now()); }

std::string ProgressBar::line_at(double t) const {
  const double elapsed = std::max(0.0, t - start_);
  // Integer arithmetic, so 29 of 100 shows 29%, not the 28 that floor(0.29 * 100) gives.
  const int64_t shown = std::min(done_, total_);
  const int64_t percent = total_ > 0 ? shown * 100 / total_ : 100;
  const int filled = int(total_ > 0 ? shown * options_.width / total_ : options_.width);
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0.0;
  const double eta = done_ >= total_ ? 0.0 : rate > 0 ? double(total_ - done_) / rate : NAN;

  std::string s = options_.desc.empty() ? "" : options_.desc + "  ";
  s += printf_string("%3.0f", double(percent)) + "% [" + std::string(size_t(filled), '#') +
       std::string(size_t(options_.width - filled), '.') + "] " + std::to_string(done_) + "/" +
       std::to_string(total_) + " [" + format_duration(elapsed) + "<" + format_duration(eta) + ", " +
       format_rate(rate, options_.unit);
  for (const auto& [name, value] : values_) s += ", " + name + "=" + printf_string("%.4g", value);
  return s + "]";
}

void ProgressBar::draw(double t) {
  std::string text = line_at(t);
  if (terminal_) {
    // Cover what is left of a longer previous line.
    size_t width = text.size();
    if (width < last_width_) text += std::string(last_width_ - width, ' ');
    last_width_ = width;
    *out_ << '\r' << text;
  } else {
    *out_ << text << '\n';
  }
  out_->flush();
  last_draw_ = t;
  last_drawn_count_ = done_;
}

}  // namespace kiln::nn::train
