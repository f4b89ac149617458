// CPU kernels of im2col / col2im (ops/im2col.cpp) for either column layout of
// Note [Column layouts] (ops/kernels/im2col.h): a row's place comes from cols' strides,
// and the order planes are visited in from the layout (for_each_plane_row). col2im sums
// overlapping patches, which stay inside one plane, so planes never race.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/im2col.h"

namespace kiln {

namespace {

// Calls f(plane, i, j, row) for every image plane (n, c) = n * C + c and kernel tap
// (i, j), row being where that tap's column row of the plane starts in cols, split
// across threads. In the per-image layout a thread's task is a plane, its taps in turn.
// In the batch layout (image n's rows adjacent: cols.stride(0) < cols.stride(1)) a task
// is a channel, and each tap's row is visited image after image, so its writes run on
// contiguously through the whole batch: in plane order they would be pieces of L
// elements N L apart (L = 4 at ResNet-18's third stage on 32x32 inputs). Either way one
// task owns whole planes, so col2im's sums into a plane never race.
template <typename F>
void for_each_plane_row(const Tensor& cols, const Im2colGeometry& g, const F& f) {
  if (g.planes == 0) return;
  const bool by_channel = cols.stride(0) < cols.stride(1);
  const int64_t tasks = by_channel ? g.channels : g.planes, images = by_channel ? g.planes / g.channels : 1;
  const int64_t taps = g.kh * g.kw, task_cols = images * taps * g.out_h * g.out_w;
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(task_cols, 1));
  const int64_t image_stride = cols.stride(0), row_stride = cols.stride(1);
  cpu::parallel_for(0, tasks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      // The task's first plane; image k's is k * C further on (batch layout only).
      const int64_t n0 = by_channel ? 0 : task / g.channels, c = by_channel ? task : task % g.channels;
      const int64_t first_plane = n0 * g.channels + c;
      for (int64_t i = 0; i < g.kh; ++i) {
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t row = n0 * image_stride + (c * taps + i * g.kw + j) * row_stride;
          for (int64_t k = 0; k < images; ++k) f(first_plane + k * g.channels, i, j, row + k * image_stride);
        }
      }
    }
  });
}

// Note [Small maps in im2col]
// Row by row, a tap of a plane costs a bounds check, two zero fills and a copy loop per
// output row, which on the deep layers' small maps (rows of 2 or 4 pixels) costs more
// than the copying. There, every tap is instead given a table of the pixel each of its L
// column entries reads (an offset in the plane, or -1 for padding), built once per call:
// the same for every plane, so a tap of a plane becomes one table-driven loop over L
// entries. Each entry is still read and written once, and col2im adds into each pixel in
// the same order, so both paths give the same bits. Measured on one thread (3x3,
// padding 1, batch 32; table / rows, us): 2x2 maps with 256 channels im2col 416 / 985,
// col2im 398 / 598; 4x4 with 128, 612 / 932 and 580 / 705; 8x8 with 64, 967 / 978 and
// 970 / 752, where the rows win, so rows of 8 and more keep the row loop. Unit-stride
// "same" geometries take the shifted planes instead (Note [Shifted planes in im2col],
// faster still), so the tables serve the strided and unpadded ones.
constexpr int64_t kTableMaxRow = 8;            // output rows shorter than this take the tables
constexpr int64_t kTableMaxEntries = 1 << 16;  // kh kw L, so the tables stay in L1/L2

// The tables of Note [Small maps in im2col], or an empty vector when the rows are long.
std::vector<int32_t> tap_tables(const Im2colGeometry& g) {
  const int64_t l = g.out_h * g.out_w;
  if (g.out_w >= kTableMaxRow || g.kh * g.kw * l > kTableMaxEntries) return {};
  std::vector<int32_t> table(size_t(g.kh * g.kw * l), -1);
  for (int64_t i = 0; i < g.kh; ++i) {
    for (int64_t j = 0; j < g.kw; ++j) {
      int32_t* t = table.data() + (i * g.kw + j) * l;
      const int64_t off_w = j * g.dw - g.pw;
      const StepRange r = steps_inside(off_w, g.sw, g.w, g.out_w);
      for (int64_t oy = 0; oy < g.out_h; ++oy) {
        const int64_t iy = oy * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t ox = r.lo; ox < r.hi; ++ox) t[oy * g.out_w + ox] = int32_t(iy * g.w + ox * g.sw + off_w);
      }
    }
  }
  return table;
}

// Note [Shifted planes in im2col]
// With unit strides and out_w == w (a "same" convolution, any dilation), column entry
// e = oy * w + ox of tap (i, j) reads pixel e + shift of the plane, shift = (i dh - ph) w
// + (j dw - pw), whenever that pixel lies in the tap's rows and columns. A tap of a plane
// is then one loop over the entries [lo, hi) whose rows are inside the image, copying
// each, or zero where its column is outside (ox + j dw - pw outside [0, w), which the
// shift would wrap into the neighbouring row). The column test is a mask per (j, e), the
// same for every plane, ANDed with the pixel's bits: no branch and no select, so GCC
// vectorises the loop, where the row loop pays a bounds check, two fills and a short
// copy per output row. col2im adds each entry, or -0.0 where the mask is clear (x + -0.0
// is x for every x, signed zeros included), so all paths give the same bits. Measured
// on one thread (batch 32, 3x3, padding 1, im2col / col2im in us, before -> after):
// 2x2 maps with 256 channels 488 -> 376 / 444 -> 324, 4x4 with 128 793 -> 228 /
// 623 -> 217, 8x8 with 64 1005 -> 230 / 753 -> 281, 32x32 with 64 7244 -> 3684 /
// 7281 -> 5108. On 56x56 maps (batch 8) col2im lost (4055 -> 4547), so rows wider than
// 32 keep the row loop.
constexpr int64_t kShiftMaxRow = 32;            // wider rows keep the row loop (col2im is faster there)
constexpr int64_t kShiftMaxEntries = 1 << 16;  // kw L masks, so the table stays in L1/L2

bool shifted_planes_apply(const Im2colGeometry& g) {
  return g.sh == 1 && g.sw == 1 && g.out_w == g.w && g.w <= kShiftMaxRow &&
         g.kw * g.out_h * g.out_w <= kShiftMaxEntries;
}

// The unsigned integer as wide as T, for masks on T's bits.
template <typename T>
using BitsOf = std::conditional_t<sizeof(T) == 2, uint16_t, std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;

// mask[j * L + e]: all ones where entry e's column is inside the image for tap column
// j, else zero; ANDed with a pixel's bits it keeps the pixel or makes +0.0.
template <typename Bits>
std::vector<Bits> shifted_plane_masks(const Im2colGeometry& g) {
  const int64_t l = g.out_h * g.out_w;
  std::vector<Bits> mask(size_t(g.kw * l));
  for (int64_t j = 0; j < g.kw; ++j)
    for (int64_t e = 0; e < l; ++e) {
      const int64_t ix = e % g.w + j * g.dw - g.pw;
      mask[size_t(j * l + e)] = ix >= 0 && ix < g.w ? Bits(~Bits(0)) : Bits(0);
    }
  return mask;
}

// Tap (i, j)'s entries [lo, hi) whose rows are inside the image, less any at either end
// whose pixel e + shift would fall outside the plane (their columns are outside too).
struct TapSpan {
  int64_t lo, hi, shift;
};

// The span of every tap, (i, j) at i * kw + j, worked out once per call rather than once
// per plane and tap (on 4x4 maps the divisions cost as much as the copying).
std::vector<TapSpan> tap_spans(const Im2colGeometry& g) {
  std::vector<TapSpan> spans;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t off_h = i * g.dh - g.ph;
    const StepRange rows = steps_inside(off_h, 1, g.h, g.out_h);
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t shift = off_h * g.w + j * g.dw - g.pw;
      const int64_t lo = std::max(rows.lo * g.w, -shift), hi = std::min(rows.hi * g.w, g.h * g.w - shift);
      // An empty span is {0, 0, 0}, so that even its (unused) pixel pointer is in the plane.
      spans.push_back(lo < hi ? TapSpan{lo, hi, shift} : TapSpan{0, 0, 0});
    }
  }
  return spans;
}

// x: (N, C, H, W) -> cols: (N, C * kh * kw, out_h * out_w).
void im2col_forward_cpu(const Tensor& cols, const Tensor& x, const IntList& kernel, const IntList& dilation,
                        const IntList& padding, const IntList& stride) {
  Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  const bool shifted = shifted_planes_apply(g);
  const std::vector<int32_t> tables = shifted ? std::vector<int32_t>{} : tap_tables(g);
  dispatch_floating_and_half(x.dtype(), "im2col", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* cp = cols.data_ptr<T>();
    if (shifted) {
      using Bits = BitsOf<T>;
      const std::vector<Bits> masks = shifted_plane_masks<Bits>(g);
      const std::vector<TapSpan> spans = tap_spans(g);
      const int64_t l = g.out_h * g.out_w;
      for_each_plane_row(cols, g, [&](int64_t plane, int64_t i, int64_t j, int64_t row_start) {
        const TapSpan span = spans[size_t(i * g.kw + j)];
        const T* __restrict img = xp + plane * g.h * g.w + span.lo + span.shift;
        const Bits* __restrict mask = masks.data() + j * l + span.lo;
        T* __restrict row = cp + row_start;
        for (int64_t e = 0; e < span.lo; ++e) row[e] = T(0);
        T* __restrict out = row + span.lo;
        for (int64_t e = 0; e < span.hi - span.lo; ++e)
          out[e] = std::bit_cast<T>(Bits(std::bit_cast<Bits>(img[e]) & mask[e]));
        for (int64_t e = span.hi; e < l; ++e) row[e] = T(0);
      });
      return;
    }
    if (!tables.empty()) {
      const int64_t l = g.out_h * g.out_w;
      for_each_plane_row(cols, g, [&](int64_t plane, int64_t i, int64_t j, int64_t row_start) {
        const T* img = xp + plane * g.h * g.w;
        const int32_t* t = tables.data() + (i * g.kw + j) * l;
        T* row = cp + row_start;
        for (int64_t e = 0; e < l; ++e) {
          const T v = img[t[e] < 0 ? 0 : t[e]];  // a select, not a branch
          row[e] = t[e] < 0 ? T(0) : v;
        }
      });
      return;
    }
    for_each_plane_row(cols, g, [&](int64_t plane, int64_t i, int64_t j, int64_t row_start) {
      const T* img = xp + plane * g.h * g.w;
      T* row = cp + row_start;
      int64_t off_w = j * g.dw - g.pw;
      const StepRange r = steps_inside(off_w, g.sw, g.w, g.out_w);
      for (int64_t oy = 0; oy < g.out_h; ++oy) {
        T* dst = row + oy * g.out_w;
        int64_t iy = oy * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.h) {
          std::fill_n(dst, g.out_w, T(0));
          continue;
        }
        const T* line = img + iy * g.w;
        std::fill(dst, dst + r.lo, T(0));
        for (int64_t ox = r.lo; ox < r.hi; ++ox) dst[ox] = line[ox * g.sw + off_w];
        std::fill(dst + r.hi, dst + g.out_w, T(0));
      }
    });
  });
}

// cols: (N, C * kh * kw, out_h * out_w) -> x: (N, C, H, W), zero on entry; every column
// entry is added to the pixel it was read from, so overlapping patches sum.
void col2im_forward_cpu(const Tensor& x, const Tensor& cols, const IntList& kernel, const IntList& dilation,
                        const IntList& padding, const IntList& stride) {
  Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  const bool shifted = shifted_planes_apply(g);
  const std::vector<int32_t> tables = shifted ? std::vector<int32_t>{} : tap_tables(g);
  dispatch_floating_and_half(x.dtype(), "col2im", [&]<typename T>() {
    T* xp = x.data_ptr<T>();
    const T* cp = cols.data_ptr<T>();
    if (shifted) {
      using Bits = BitsOf<T>;
      const std::vector<Bits> masks = shifted_plane_masks<Bits>(g);
      const std::vector<TapSpan> spans = tap_spans(g);
      const Bits sign = Bits(Bits(1) << (8 * sizeof(T) - 1));  // -0.0: x + -0.0 == x for every x
      const int64_t l = g.out_h * g.out_w;
      for_each_plane_row(cols, g, [&](int64_t plane, int64_t i, int64_t j, int64_t row_start) {
        const TapSpan span = spans[size_t(i * g.kw + j)];
        T* __restrict img = xp + plane * g.h * g.w + span.lo + span.shift;
        const Bits* __restrict mask = masks.data() + j * l + span.lo;
        const T* __restrict row = cp + row_start + span.lo;
        for (int64_t e = 0; e < span.hi - span.lo; ++e) {
          const Bits m = mask[e];
          img[e] += std::bit_cast<T>(Bits((std::bit_cast<Bits>(row[e]) & m) | (sign & Bits(~m))));
        }
      });
      return;
    }
    if (!tables.empty()) {
      const int64_t l = g.out_h * g.out_w;
      for_each_plane_row(cols, g, [&](int64_t plane, int64_t i, int64_t j, int64_t row_start) {
        T* img = xp + plane * g.h * g.w;
        const int32_t* t = tables.data() + (i * g.kw + j) * l;
        const T* row = cp + row_start;
        for (int64_t e = 0; e < l; ++e)
          if (t[e] >= 0) img[t[e]] += row[e];
      });
      return;
    }
    for_each_plane_row(cols, g, [&](int64_t plane, int64_t i, int64_t j, int64_t row_start) {
      T* img = xp + plane * g.h * g.w;
      const T* row = cp + row_start;
      int64_t off_w = j * g.dw - g.pw;
      const StepRange r = steps_inside(off_w, g.sw, g.w, g.out_w);
      for (int64_t oy = 0; oy < g.out_h; ++oy) {
        int64_t iy = oy * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.h) continue;
        const T* src = row + oy * g.out_w;
        T* line = img + iy * g.w;
        for (int64_t ox = r.lo; ox < r.hi; ++ox) line[ox * g.sw + off_w] += src[ox];
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(im2col_stub, DeviceType::CPU, im2col_forward_cpu);
KILN_REGISTER_KERNEL(col2im_stub, DeviceType::CPU, col2im_forward_cpu);

}  // namespace kiln
