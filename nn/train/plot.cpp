// Raster drawing for plot.h: a 5x7 bitmap font, a small canvas (pixels, rectangles,
// thick lines by Bresenham), tick placement, and the two plots built from them.
#include "nn/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/factory.h"

namespace kiln::nn::train {

namespace {

// ---- the font: 7 rows of 5 columns per glyph, '#' is ink ----
struct Glyph {
  char c;
  const char* rows[7];
};

// clang-format off
const Glyph kGlyphs[] = {
  {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
  {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
  {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
  {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
  {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
  {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
  {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
  {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
  {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
  {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
  {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
  {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
  {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
  {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
  {'D', {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."}},
  {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
  {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
  {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
  {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
  {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
  {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
  {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
  {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
  {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
  {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
  {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
  {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
  {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
  {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
  {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
  {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
  {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
  {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
  {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
  {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
  {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
  {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
  {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
  {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
  {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
  {';', {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."}},
  {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
  {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
  {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
  {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"}},
  {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
  {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
  {'[', {".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."}},
  {']', {".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."}},
  {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
  {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
  {'*', {".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."}},
  {'\'', {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."}},
  {'!', {"..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."}},
  {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
  {'<', {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."}},
  {'>', {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."}},
  {'#', {".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."}},
};
// clang-format on

const Glyph& glyph(char c) {
  if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  static const Glyph* question = nullptr;
  for (const Glyph& g : kGlyphs) {
    if (g.c == c) return g;
    if (g.c == '?') question = &g;
  }
  return *question;
}

constexpr int kCellWidth = 6, kCellHeight = 8;

// matplotlib's default colour cycle ("tab10").
const Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
                        {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
const Rgb kBlack = {0, 0, 0}, kWhite = {255, 255, 255}, kGrid = {225, 225, 225};

// A clip rectangle: columns [x0, x1), rows [y0, y1).
struct Rect {
  int x0, y0, x1, y1;
  bool contains(int x, int y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

// Pixels of a contiguous uint8 (3, H, W) tensor: plane c, row y, column x.
class Canvas {
 public:
  explicit Canvas(Tensor& image) : w_(int(image.size(2))), h_(int(image.size(1))), p_(image.data_ptr<uint8_t>()) {}
  int width() const { return w_; }
  int height() const { return h_; }
  Rect bounds() const { return {0, 0, w_, h_}; }

  void set(int x, int y, Rgb c, const Rect& clip) {
    if (!clip.contains(x, y) || x < 0 || y < 0 || x >= w_ || y >= h_) return;
    for (int ch = 0; ch < 3; ++ch) p_[(size_t(ch) * size_t(h_) + size_t(y)) * size_t(w_) + size_t(x)] = c[size_t(ch)];
  }
  void fill(const Rect& r, Rgb c) {
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) set(x, y, c, bounds());
  }
  void hline(int x0, int x1, int y, Rgb c) { fill({x0, y, x1 + 1, y + 1}, c); }  // x0..x1 inclusive
  void vline(int x, int y0, int y1, Rgb c) { fill({x, y0, x + 1, y1 + 1}, c); }
  void outline(const Rect& r, Rgb c) {  // on the rectangle's outermost pixels
    hline(r.x0, r.x1 - 1, r.y0, c), hline(r.x0, r.x1 - 1, r.y1 - 1, c);
    vline(r.x0, r.y0, r.y1 - 1, c), vline(r.x1 - 1, r.y0, r.y1 - 1, c);
  }
  // A square of side w around (x, y): offsets -(w-1)/2 .. w/2.
  void stamp(int x, int y, int w, Rgb c, const Rect& clip) {
    for (int dy = -(w - 1) / 2; dy <= w / 2; ++dy)
      for (int dx = -(w - 1) / 2; dx <= w / 2; ++dx) set(x + dx, y + dy, c, clip);
  }
  // Bresenham's line from (x0, y0) to (x1, y1), both ends included, stamped w wide.
  void line(int x0, int y0, int x1, int y1, int w, Rgb c, const Rect& clip) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      stamp(x0, y0, w, c, clip);
      if (x0 == x1 && y0 == y1) return;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  void text(int x, int y, const std::string& s, Rgb c, int scale, const Rect& clip) {
    for (size_t i = 0; i < s.size(); ++i) {
      const Glyph& g = glyph(s[i]);
      const int gx = x + int(i) * kCellWidth * scale;
      for (int row = 0; row < 7; ++row)
        for (int col = 0; col < 5; ++col)
          if (g.rows[row][col] == '#')
            for (int sy = 0; sy < scale; ++sy)
              for (int sx = 0; sx < scale; ++sx) set(gx + col * scale + sx, y + row * scale + sy, c, clip);
    }
  }

 private:
  int w_, h_;
  uint8_t* p_;
};

Tensor blank_image(int width, int height) {
  return full({3, int64_t(height), int64_t(width)}, 255.0, kUInt8);
}

// ---- ticks ----
struct Ticks {
  std::vector<double> values;
  int decimals = 0;  // digits after the point that show every tick exactly
};

// About `target` steps over [lo, hi]: the step of 1, 2, 2.5 or 5 times a power of ten
// nearest (on a log scale) to (hi - lo) / target, so there are about 3.5 to 7 ticks.
Ticks nice_ticks(double lo, double hi, int target = 5) {
  const double raw = (hi - lo) / target;
  const int exponent = int(std::floor(std::log10(raw)));
  const double magnitude = std::pow(10.0, exponent);
  const double norm = raw / magnitude;  // in [1, 10); the cut points are geometric means
  const double mult = norm < std::sqrt(2.0) ? 1 : norm < std::sqrt(5.0) ? 2 : norm < std::sqrt(12.5) ? 2.5
                      : norm < std::sqrt(50.0) ? 5 : 10;
  const double step = mult * magnitude;
  Ticks t;
  t.decimals = std::max(0, (mult == 2.5 ? 1 : 0) - (mult == 10 ? exponent + 1 : exponent));
  const auto first = int64_t(std::ceil(lo / step - 1e-9)), last = int64_t(std::floor(hi / step + 1e-9));
  for (int64_t k = first; k <= last; ++k) t.values.push_back(double(k) * step);
  return t;
}

std::string tick_label(double v, int decimals) {
  char buf[48];
  if (std::abs(v) < 1e-12) v = 0;  // no "-0"
  if (std::abs(v) >= 1e6 || decimals > 6) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void check_image(const Tensor& image, const char* op) {
  KILN_CHECK(image.dtype() == kUInt8 && image.dim() == 3 && image.size(0) == 3 && image.is_contiguous() &&
                 image.device().is_cpu(),
             op, ": expected a contiguous uint8 (3, H, W) image on the CPU, got ", image.meta_str());
}

}  // namespace

int text_width(const std::string& text, int scale) { return int(text.size()) * kCellWidth * scale; }
int text_height(int scale) { return kCellHeight * scale; }

void draw_text(Tensor& image, int x, int y, const std::string& text, Rgb colour, int scale) {
  check_image(image, "draw_text");
  KILN_CHECK(scale >= 1, "draw_text: scale must be at least 1, got ", scale);
  Canvas canvas(image);
  canvas.text(x, y, text, colour, scale, canvas.bounds());
}

Tensor line_chart(const std::vector<Series>& series, const std::string& title, const std::string& x_label,
                  const ChartOptions& o) {
  KILN_CHECK(!series.empty(), "line_chart: no series to draw");
  const int left = o.margin_left, right = o.width - o.margin_right;
  const int top = o.margin_top, bottom = o.height - o.margin_bottom;
  KILN_CHECK(o.margin_left >= 0 && o.margin_right >= 0 && o.margin_top >= 0 && o.margin_bottom >= 0 &&
                 right - left >= 2 && bottom - top >= 2,
             "line_chart: a ", o.width, "x", o.height, " chart with margins ", o.margin_left, "/", o.margin_right, "/",
             o.margin_top, "/", o.margin_bottom, " (left/right/top/bottom) leaves no plot area");
  KILN_CHECK(o.line_width >= 1 && o.font_scale >= 1, "line_chart: line_width and font_scale must be at least 1");

  // Data ranges over the finite points.
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : series) {
    KILN_CHECK(!s.y.empty(), "line_chart: series '", s.name, "' has no points");
    KILN_CHECK(s.x.empty() || s.x.size() == s.y.size(), "line_chart: series '", s.name, "' has ", s.x.size(),
               " x values for ", s.y.size(), " y values");
    for (size_t i = 0; i < s.y.size(); ++i) {
      const double x = s.x.empty() ? double(i) : s.x[i], y = s.y[i];
      KILN_CHECK(std::isfinite(x) && !std::isinf(y), "line_chart: series '", s.name, "' point ", i, " is (", x, ", ",
                 y, "); x must be finite and y finite or NaN (a gap)");
      if (std::isnan(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  KILN_CHECK(std::isfinite(y_lo), "line_chart: every y value is NaN");
  if (x_lo == x_hi) x_lo -= 1, x_hi += 1;
  if (y_lo == y_hi) {
    y_lo -= 1, y_hi += 1;
  } else {
    const double pad = 0.05 * (y_hi - y_lo);
    y_lo -= pad, y_hi += pad;
  }
  auto column = [&](double x) { return left + int(std::lround((x - x_lo) / (x_hi - x_lo) * (right - 1 - left))); };
  auto row = [&](double y) {
    return bottom - 1 - int(std::lround((y - y_lo) / (y_hi - y_lo) * (bottom - 1 - top)));
  };

  Tensor image = blank_image(o.width, o.height);
  Canvas canvas(image);
  const Rect plot{left, top, right, bottom};
  const int fs = o.font_scale, th = text_height(fs);

  Ticks xt = nice_ticks(x_lo, x_hi), yt = nice_ticks(y_lo, y_hi);
  for (double v : xt.values) {
    const int c = column(v);
    if (o.grid) canvas.vline(c, top, bottom - 1, kGrid);
    canvas.vline(c, bottom + 1, bottom + 4, kBlack);
    const std::string label = tick_label(v, xt.decimals);
    canvas.text(c - text_width(label, fs) / 2, bottom + 7, label, kBlack, fs, canvas.bounds());
  }
  for (double v : yt.values) {
    const int r = row(v);
    if (o.grid) canvas.hline(left, right - 1, r, kGrid);
    canvas.hline(left - 5, left - 2, r, kBlack);
    const std::string label = tick_label(v, yt.decimals);
    canvas.text(left - 8 - text_width(label, fs), r - (th - fs) / 2, label, kBlack, fs, canvas.bounds());
  }

  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const Rgb colour = kPalette[k % std::size(kPalette)];
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (std::isnan(s.y[i])) continue;
      const int c = column(s.x.empty() ? double(i) : s.x[i]), r = row(s.y[i]);
      canvas.stamp(c, r, o.line_width, colour, plot);
      if (i + 1 < s.y.size() && !std::isnan(s.y[i + 1]))
        canvas.line(c, r, column(s.x.empty() ? double(i + 1) : s.x[i + 1]), row(s.y[i + 1]), o.line_width, colour,
                    plot);
    }
  }
  canvas.outline({left - 1, top - 1, right + 1, bottom + 1}, kBlack);

  // Legend: a swatch and the name per series, boxed, in the top-right corner.
  int name_width = 0;
  for (const Series& s : series) name_width = std::max(name_width, text_width(s.name, fs));
  const int swatch = 16 * fs, line_h = th + 4;
  const int box_w = 6 + swatch + 6 + name_width + 6, box_h = 4 + int(series.size()) * line_h;
  const Rect box{right - 8 - box_w, top + 8, right - 8, top + 8 + box_h};
  canvas.fill(box, kWhite);
  canvas.outline(box, {160, 160, 160});
  for (size_t k = 0; k < series.size(); ++k) {
    const int y = box.y0 + 4 + int(k) * line_h;
    const Rgb colour = kPalette[k % std::size(kPalette)];
    canvas.fill({box.x0 + 6, y + th / 2 - 1, box.x0 + 6 + swatch, y + th / 2 + 1}, colour);
    canvas.text(box.x0 + 6 + swatch + 6, y, series[k].name, kBlack, fs, box);
  }

  if (!title.empty())
    canvas.text((o.width - text_width(title, fs)) / 2, std::max(0, (top - th) / 2), title, kBlack, fs, canvas.bounds());
  if (!x_label.empty())
    canvas.text(left + (right - left - text_width(x_label, fs)) / 2, bottom + 7 + th + 6, x_label, kBlack, fs,
                canvas.bounds());
  return image;
}

Tensor image_grid(const Tensor& images, const std::vector<std::string>& captions, int columns, int scale,
                  int padding) {
  KILN_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
             "image_grid: expected images of shape (N, 1 or 3, h, w), got ", images.meta_str());
  KILN_CHECK(images.dtype() == kUInt8 || images.dtype() == kFloat32 || images.dtype() == kFloat64,
             "image_grid: expected uint8 or floating images in [0, 1], got ", images.meta_str());
  const int64_t n = images.size(0), channels = images.size(1), h = images.size(2), w = images.size(3);
  KILN_CHECK(n > 0 && h > 0 && w > 0, "image_grid: no pixels in ", images.meta_str());
  KILN_CHECK(captions.empty() || int64_t(captions.size()) == n, "image_grid: ", captions.size(), " captions for ", n,
             " images; give one per image or none");
  KILN_CHECK(columns >= 1 && scale >= 1 && padding >= 0, "image_grid: columns and scale must be at least 1 and ",
             "padding non-negative, got ", columns, ", ", scale, ", ", padding);

  const int cols = int(std::min<int64_t>(columns, n)), rows = int((n + cols - 1) / cols);
  const int tw = int(w) * scale, th = int(h) * scale;
  const int caption_h = captions.empty() ? 0 : text_height(1) + 4;
  const int width = padding + cols * (tw + padding), height = padding + rows * (th + caption_h + padding);
  Tensor grid = blank_image(width, height);
  Canvas canvas(grid);

  std::vector<double> v = images.to_vector<double>();
  const bool floating = images.dtype() != kUInt8;
  auto byte = [&](double x) -> uint8_t {
    if (!floating) return uint8_t(x);
    if (!(x > 0)) return 0;  // also NaN
    return uint8_t(std::lround(std::min(x, 1.0) * 255.0));
  };
  for (int64_t i = 0; i < n; ++i) {
    const int x0 = padding + int(i % cols) * (tw + padding);
    const int y0 = padding + int(i / cols) * (th + caption_h + padding);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        Rgb px;
        for (int64_t c = 0; c < 3; ++c) {
          const int64_t src = channels == 1 ? 0 : c;
          px[size_t(c)] = byte(v[size_t(((i * channels + src) * h + y) * w + x)]);
        }
        canvas.fill({x0 + int(x) * scale, y0 + int(y) * scale, x0 + int(x + 1) * scale, y0 + int(y + 1) * scale}, px);
      }
    if (!captions.empty()) {
      const std::string& text = captions[size_t(i)];
      const int start = x0 + std::max(0, (tw - text_width(text)) / 2);
      canvas.text(start, y0 + th + 2, text, kBlack, 1, {x0, y0 + th, x0 + tw, y0 + th + caption_h});
    }
  }
  return grid;
}

}  // namespace kiln::nn::train
