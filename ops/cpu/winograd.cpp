// The CPU kernel of the Winograd convolution (ops/conv.h): F(2x2, 3x3) filter, input and
// output tile transforms around 16 GEMMs over channels (ops/cpu/gemm.h). The maths is in
// Note [Winograd F(2x2, 3x3)]; its reference is the im2col + GEMM conv2d of nn/conv.cpp.
#include <algorithm>
#include <memory>

#include "core/dtype.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/conv.h"

namespace kiln {

namespace {

// Note [Winograd F(2x2, 3x3)]
// A 2x2 output tile Y of a 3x3 filter g (stride 1) over the 4x4 input tile d under it is
//   Y = A^T [ (G g G^T) * (B^T d B) ] A      (* elementwise)
// with
//   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
//         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
//         [0 -1  1  0]         [1/2 -1/2  1/2]
//         [0  1  0 -1]         [ 0    0    1 ]
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2015). Neighbouring
// input tiles overlap by 2 rows or columns; tiles past the image read zeros, and output
// tiles past an odd OH or OW are cut. Summed over input channels, the elementwise product
// becomes, at each of the 16 positions xi of the 4x4 tile, one matrix product
//   M[xi] (C_out, T) = U[xi] (C_out, C_in) @ V[xi] (C_in, T),   U = G g G^T, V = B^T d B
// over T tiles: 16 multiplies for 4 outputs where im2col + GEMM spends 36 (2.25x fewer
// flops), for transforms that only add and halve. Every entry of B, G and A is 0, +-1 or
// +-1/2, so float32 loses little: V sums 4 inputs, U is exact to a rounding, and the
// output sums 9 products (about 2x im2col's rounding error on the same data).
//
// Tiles are processed in blocks of about kBlockBytes of V and M, so a block's transforms
// and GEMMs work in cache. With several blocks, blocks run in parallel and each block's
// stages on one thread; a single block splits its stages over the threads instead
// (parallel_for runs serially when already inside a parallel region).
constexpr int64_t kBlockBytes = 1 << 20;
constexpr int64_t kMinBlockTiles = 64;

struct Geometry {
  int64_t n, c_in, c_out, h, w, ph, pw, oh, ow, th, tw, tiles;  // th x tw tiles per image
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// w: (C_out, C_in, 3, 3) -> u: (16, C_out, C_in), u[xi] = (G g G^T)[xi / 4][xi % 4].
template <typename T>
void filter_transform(T* u, const T* w, int64_t c_out, int64_t c_in) {
  const int64_t planes = c_out * c_in;
  cpu::parallel_for(0, planes, 2048, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* g = w + p * 9;
      T gg[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        gg[0][j] = g[j];
        gg[1][j] = T(0.5) * (g[j] + g[3 + j] + g[6 + j]);
        gg[2][j] = T(0.5) * (g[j] - g[3 + j] + g[6 + j]);
        gg[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {  // (G g) G^T, row i
        const T a = gg[i][0], b = gg[i][1], c = gg[i][2];
        T* out = u + 4 * i * planes + p;
        out[0] = a;
        out[planes] = T(0.5) * (a + b + c);
        out[2 * planes] = T(0.5) * (a - b + c);
        out[3 * planes] = c;
      }
    }
  });
}

// x: (N, C_in, H, W) -> v: (16, C_in, t1 - t0) for tiles [t0, t1) of the batch, tile
// t = (image * th + tile_row) * tw + tile_col.
template <typename T>
void input_transform(T* v, const T* x, const Geometry& g, int64_t t0, int64_t t1) {
  const int64_t nt = t1 - t0, step = g.c_in * nt;  // step: between positions xi
  cpu::parallel_for(0, g.c_in, std::max<int64_t>(1, 4096 / nt), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t img = t / (g.th * g.tw), r = t % (g.th * g.tw);
        const int64_t y0 = (r / g.tw) * 2 - g.ph, x0 = (r % g.tw) * 2 - g.pw;
        const T* plane = x + (img * g.c_in + c) * g.h * g.w;
        T d[4][4];
        if (y0 >= 0 && x0 >= 0 && y0 + 4 <= g.h && x0 + 4 <= g.w) {
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) d[i][j] = plane[(y0 + i) * g.w + x0 + j];
        } else {
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              const int64_t yy = y0 + i, xx = x0 + j;
              d[i][j] = (yy >= 0 && yy < g.h && xx >= 0 && xx < g.w) ? plane[yy * g.w + xx] : T(0);
            }
        }
        T e[4][4];  // B^T d
        for (int j = 0; j < 4; ++j) {
          e[0][j] = d[0][j] - d[2][j];
          e[1][j] = d[1][j] + d[2][j];
          e[2][j] = d[2][j] - d[1][j];
          e[3][j] = d[1][j] - d[3][j];
        }
        T* out = v + c * nt + (t - t0);
        for (int i = 0; i < 4; ++i) {  // (B^T d) B, row i
          out[(4 * i + 0) * step] = e[i][0] - e[i][2];
          out[(4 * i + 1) * step] = e[i][1] + e[i][2];
          out[(4 * i + 2) * step] = e[i][2] - e[i][1];
          out[(4 * i + 3) * step] = e[i][1] - e[i][3];
        }
      }
    }
  });
}

// m: (16, C_out, t1 - t0) -> the 2x2 output tiles [t0, t1) of y: (N, C_out, OH, OW).
template <typename T>
void output_transform(T* y, const T* m, const Geometry& g, int64_t t0, int64_t t1) {
  const int64_t nt = t1 - t0, step = g.c_out * nt;
  cpu::parallel_for(0, g.c_out, std::max<int64_t>(1, 4096 / nt), [&](int64_t c0, int64_t c1) {
    for (int64_t co = c0; co < c1; ++co) {
      for (int64_t t = t0; t < t1; ++t) {
        const T* s = m + co * nt + (t - t0);
        T a[2][4];  // A^T m
        for (int j = 0; j < 4; ++j) {
          const T m0 = s[j * step], m1 = s[(4 + j) * step], m2 = s[(8 + j) * step], m3 = s[(12 + j) * step];
          a[0][j] = m0 + m1 + m2;
          a[1][j] = m1 - m2 - m3;
        }
        const int64_t img = t / (g.th * g.tw), r = t % (g.th * g.tw);
        const int64_t oy = (r / g.tw) * 2, ox = (r % g.tw) * 2;
        T* plane = y + (img * g.c_out + co) * g.oh * g.ow;
        for (int i = 0; i < 2 && oy + i < g.oh; ++i) {  // (A^T m) A, row i
          plane[(oy + i) * g.ow + ox] = a[i][0] + a[i][1] + a[i][2];
          if (ox + 1 < g.ow) plane[(oy + i) * g.ow + ox + 1] = a[i][1] - a[i][2] - a[i][3];
        }
      }
    }
  });
}

// y: (N, C_out, OH, OW), x: (N, C_in, H, W), w: (C_out, C_in, 3, 3), all contiguous.
template <typename T>
void conv2d_winograd_f2x3(T* y, const T* x, const T* w, const Geometry& g) {
  auto u = std::make_unique_for_overwrite<T[]>(size_t(16 * g.c_out * g.c_in));
  filter_transform(u.get(), w, g.c_out, g.c_in);
  int64_t block = std::max<int64_t>(kMinBlockTiles, kBlockBytes / (16 * (g.c_in + g.c_out) * int64_t(sizeof(T))));
  int64_t blocks = ceil_div(g.tiles, block);
  if (blocks > 1) {  // a multiple of the thread count, so that every thread gets as many
    const int64_t threads = cpu::num_threads();
    block = ceil_div(g.tiles, ceil_div(blocks, threads) * threads);
    blocks = ceil_div(g.tiles, block);
  }
  cpu::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    const int64_t cap = std::min(block, g.tiles);
    auto v = std::make_unique_for_overwrite<T[]>(size_t(16 * g.c_in * cap));
    auto m = std::make_unique_for_overwrite<T[]>(size_t(16 * g.c_out * cap));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t t0 = b * block, t1 = std::min(g.tiles, t0 + block), nt = t1 - t0;
      input_transform(v.get(), x, g, t0, t1);
      cpu::parallel_for(0, 16, 1, [&](int64_t xi0, int64_t xi1) {
        for (int64_t xi = xi0; xi < xi1; ++xi)
          cpu::gemm<T>(false, false, g.c_out, nt, g.c_in, T(1), u.get() + xi * g.c_out * g.c_in, g.c_in,
                       v.get() + xi * g.c_in * nt, nt, T(0), m.get() + xi * g.c_out * nt, nt);
      });
      output_transform(y, m.get(), g, t0, t1);
    }
  });
}

void conv2d_winograd_cpu(const Tensor& y, const Tensor& x, const Tensor& weight, int64_t pad_h, int64_t pad_w) {
  Geometry g{};
  g.n = x.size(0), g.c_in = x.size(1), g.h = x.size(2), g.w = x.size(3), g.c_out = weight.size(0);
  g.ph = pad_h, g.pw = pad_w, g.oh = y.size(2), g.ow = y.size(3);
  g.th = ceil_div(g.oh, 2), g.tw = ceil_div(g.ow, 2), g.tiles = g.n * g.th * g.tw;
  if (y.numel() == 0) return;
  dispatch_floating(x.dtype(), "conv2d_winograd", [&]<typename T>() {
    conv2d_winograd_f2x3(y.data_ptr<T>(), x.data_ptr<T>(), weight.data_ptr<T>(), g);
  });
}

}  // namespace

KILN_REGISTER_KERNEL(conv2d_winograd_stub, DeviceType::CPU, conv2d_winograd_cpu);

}  // namespace kiln
