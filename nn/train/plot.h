// Plots drawn into uint8 RGB tensors (3, H, W), ready for a PNG writer: a line chart of
// training curves and a captioned grid of images. Text uses kiln's own 5x7 bitmap font
// (plot.cpp); no plotting library is involved.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::nn::train {

using Rgb = std::array<uint8_t, 3>;

// ---- text ----
// Glyphs are 5x7 pixels in a 6x8 cell (one blank column right, one blank row below), each
// pixel drawn as a scale x scale square. Letters have one (upper case) form; the font has
// digits, A-Z and  space . , : ; - _ / % ( ) [ ] = + * ' ! ? < > #  (anything else draws as '?').
int text_width(const std::string& text, int scale = 1);  // 6 * scale per character
int text_height(int scale = 1);                           // 8 * scale
// Draws into `image`, a uint8 (3, H, W) tensor, with the text's top-left cell corner at
// (x, y); pixels outside the image are skipped.
void draw_text(Tensor& image, int x, int y, const std::string& text, Rgb colour = {0, 0, 0}, int scale = 1);

// ---- line chart ----
struct Series {
  std::string name;        // shown in the legend
  std::vector<double> y;
  std::vector<double> x;   // empty: 0, 1, ..., y.size() - 1 (as matplotlib's plot(y))
};

// The plot area is the rectangle of columns [margin_left, width - margin_right) and rows
// [margin_top, height - margin_bottom); the frame is drawn just outside it. The x range
// [min x, max x] (widened by 1 on each side when all x are equal) spans its columns
// left .. right - 1; the y range is [min y, max y] widened by 5% of its extent on each
// side (by 1 when all y are equal), and spans its rows bottom - 1 (low) .. top (high).
// NaN points do not count. A point maps to
//   column = left + round((x - x_lo) / (x_hi - x_lo) * (right - 1 - left))
//   row    = bottom - 1 - round((y - y_lo) / (y_hi - y_lo) * (bottom - 1 - top))
// where right = width - margin_right and bottom = height - margin_bottom.
struct ChartOptions {
  int width = 640, height = 400;
  int margin_left = 70, margin_right = 20, margin_top = 30, margin_bottom = 50;
  int line_width = 2;       // pixels; a point covers rows/columns [p - (w-1)/2, p + w/2]
  int font_scale = 1;
  bool grid = true;         // light grey lines at the ticks
};

// One line per series in matplotlib's default colours (tab10, cycled), ticks with
// numeric labels on both axes (3 to 7 ticks at "nice" steps: 1, 2, 2.5 or 5 times a
// power of 10),
// the title centred above, the x label centred below and a legend (a colour swatch and
// the name per series) in the plot's top-right corner. NaN values leave a gap in their
// line. Errors: no series, a series with no points, x and y of different lengths,
// infinite values, or margins that leave no plot area.
Tensor line_chart(const std::vector<Series>& series, const std::string& title = "", const std::string& x_label = "",
                  const ChartOptions& options = {});

// ---- image grid ----
// images: (N, C, h, w) with C = 1 (grey) or 3 (RGB); float32/float64 in [0, 1] (clamped,
// then round(255 v)) or uint8. Tiles are the images enlarged `scale` times (nearest),
// laid out row by row in min(columns, N) columns with `padding` background pixels around
// and between them; tile i sits at
//   x = padding + (i % columns) (w scale + padding)
//   y = padding + (i / columns) (h scale + caption_height + padding)
// where caption_height is 0 without captions, else text_height(1) + 4. A caption is drawn
// in black, centred under its tile, starting 2 rows below it and clipped to the tile's
// columns. captions: empty, or one per image. Returns uint8 (3, H, W) on a white
// background (pad_value as in torchvision's make_grid, but white so captions show).
Tensor image_grid(const Tensor& images, const std::vector<std::string>& captions = {}, int columns = 8, int scale = 1,
                  int padding = 2);

}  // namespace kiln::nn::train
