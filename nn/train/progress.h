// ProgressBar: progress of a loop of known length on stderr, redrawn in place on a
// terminal and as occasional plain lines in a log file. nn/train/trainer.h uses one per
// epoch; the clock and the stream are injectable so tests can check the text.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::nn::train {

struct ProgressBarOptions {
  std::string desc{};              // label in front ("epoch 1/5"); empty: none
  std::string unit = "it";         // what one step is, for the rate ("12.5 it/s")
  std::ostream* out = nullptr;     // nullptr: std::cerr
  // Redrawn in place with '\r' (a terminal) or plain lines. Unset: a terminal when
  // writing to std::cerr and stderr is a tty, else plain.
  std::optional<bool> terminal{};
  // Seconds since any fixed origin; unset: std::chrono::steady_clock.
  std::function<double()> clock{};
  int width = 30;                  // bar characters
  double min_interval = 0.1;       // terminal: seconds between redraws
  double plain_percent = 10;       // plain: a line each time progress passes a multiple of this
  double plain_interval = 10;      // plain: ... or when this many seconds passed since the last line
};

// for (...) { ...; bar.update(1, {{"loss", running_loss}}); }  bar.finish();
//
// A terminal line looks like (desc, percent, bar, count, elapsed<ETA, rate, values):
//   epoch 1/5  42% [############..................] 198/469 [00:03<00:04, 61.2 it/s, loss=0.5123]
// The rate is done / elapsed ("s/it" once it falls below 1 per second); the ETA is
// (total - done) / rate, "?" before the first step or when no time has passed. Times are
// mm:ss, h:mm:ss from an hour. Values print with 4 significant digits (%.4g) in the order
// first given; a later update replaces a value of the same name.
// Terminal mode redraws at most every min_interval seconds, always at the last step and
// at finish(), padding with spaces over the rest of a longer previous line; finish()
// ends the line with '\n'. Plain mode writes the same text without '\r' as one line at
// each plain_percent mark (or after plain_interval seconds) and at finish(), never the
// same count twice.
class ProgressBar {
 public:
  using Values = std::vector<std::pair<std::string, double>>;

  explicit ProgressBar(int64_t total, ProgressBarOptions options = {});
  ~ProgressBar();  // finish() if not yet called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t n = 1, const Values& values = {});  // n >= 0 more steps done
  void finish();                                          // the final line; once
  int64_t count() const { return done_; }
  int64_t total() const { return total_; }
  // The text of the line for the current state (no '\r' or '\n'), as it would be drawn now.
  std::string line() const;

 private:
  std::string line_at(double t) const;
  void draw(double t);
  double now() const;

  int64_t total_;
  ProgressBarOptions options_;
  bool terminal_;
  std::ostream* out_;
  Values values_;
  int64_t done_ = 0;
  double start_ = 0, last_draw_ = 0;
  int64_t last_drawn_count_ = -1;
  size_t last_width_ = 0;
  bool finished_ = false;
};

// "05:07", "1:02:03": whole seconds, rounded down.
std::string format_duration(double seconds);

}  // namespace kiln::nn::train
