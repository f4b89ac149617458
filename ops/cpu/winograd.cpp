// The CPU kernels of the Winograd convolution (ops/conv.h): F(2x2, 3x3) filter, input and
// output tile transforms around 16 GEMMs over channels (ops/cpu/gemm.h) for the forward
// and the input gradient, and the same algorithm differentiated for the weight gradient.
// The maths is in Note [Winograd F(2x2, 3x3)], Note [Transposed Winograd filters] and
// Note [Winograd weight gradient]; the reference is the im2col + GEMM conv2d of nn/conv.cpp.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/factory.h"
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
// Tiles are processed in blocks of about kBlockBytes of V and M (whole rows of tiles), so
// a block's transforms and GEMMs work in cache. With several blocks, blocks run in
// parallel and each block's stages on one thread; a single block splits its stages over
// the threads instead (parallel_for runs serially when already inside a parallel region).
constexpr int64_t kBlockBytes = 1 << 20;
constexpr int64_t kMinBlockTiles = 64;

struct Geometry {
  int64_t n, c_in, c_out, h, w, ph, pw, oh, ow, th, tw, tiles;  // th x tw tiles per image
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Note [Winograd transforms]
// The data transforms run kLanes tiles side by side: the 16 values of each tile are
// gathered into lane l of 16 small rows, the transform is then a few adds and subtracts of
// whole rows (loops over the lanes, which the compiler vectorises), and its 16 results are
// 16 runs of kLanes consecutive values of V, one per position. Tile by tile, each tile
// wrote 16 single values `step` apart, and bounds-tested its 16 reads (on 8x8 maps 12 of
// every 16 tiles touch the padding): the transforms took 52 % of a 64-channel 8x8
// convolution at batch 32, the GEMMs 20 %. Tiles are read from a zero-padded copy of the
// rows they cover instead, one per channel, image by image; the offset of each tile in it
// (and of each output tile in y) is the same for every channel and is worked out once per
// block. Positions are `step` apart, padded so that step is never a multiple of 4 KiB
// (16 streams a multiple of 4 KiB apart share one L1 set and evict each other's lines).
constexpr int kLanes = 16;

// The distance between positions xi of V (16, C, nt) or M: C nt values, padded past a
// multiple of 4 KiB.
template <typename T>
int64_t position_step(int64_t channels, int64_t nt) {
  const int64_t line = 64 / int64_t(sizeof(T)), page = 4096 / int64_t(sizeof(T));
  int64_t step = ceil_div(channels * nt, line) * line;
  if (step % page == 0) step += line;
  return step;
}

// The tiles [t0, t1) of the batch (whole rows of tiles; tile t = (image * th + tile_row) *
// tw + tile_col) as the data transforms see them: the input rows they cover, padded to
// wp = 2 tw + 2 columns and stacked image after image (rows 2 r - ph .. 2 r + 3 - ph of
// image img's tile rows r_first .. r_last), each tile's offset in that stack, and each
// output tile's offset in y's plane of (image, channel 0) with whether its right column
// and bottom row exist (an odd OW or OH cuts the last tiles).
struct TileBlock {
  struct Segment {
    int64_t img, y_begin, y_end;  // input rows [y_begin, y_end), some outside the image
  };
  int64_t nt = 0, wp = 0, stack_rows = 0;
  std::vector<Segment> segments;
  std::vector<int64_t> in_offset, out_offset;
  std::vector<uint8_t> out_right, out_below;
};

TileBlock tile_block(const Geometry& g, int64_t t0, int64_t t1) {
  TileBlock b;
  b.nt = t1 - t0, b.wp = 2 * g.tw + 2;
  b.in_offset.resize(size_t(b.nt)), b.out_offset.resize(size_t(b.nt));
  b.out_right.resize(size_t(b.nt)), b.out_below.resize(size_t(b.nt));
  for (int64_t q = t0 / g.tw; q < t1 / g.tw;) {  // tile rows, one image's at a time
    const int64_t img = q / g.th, r_first = q % g.th, r_end = std::min(g.th, r_first + (t1 / g.tw - q));
    const int64_t stack_start = b.stack_rows;
    b.segments.push_back({img, 2 * r_first - g.ph, 2 * r_end + 2 - g.ph});
    b.stack_rows += 2 * (r_end - r_first) + 2;
    for (int64_t r = r_first; r < r_end; ++r) {
      for (int64_t tc = 0; tc < g.tw; ++tc) {
        const size_t u = size_t((img * g.th + r) * g.tw + tc - t0);
        b.in_offset[u] = (stack_start + 2 * (r - r_first)) * b.wp + 2 * tc;
        b.out_offset[u] = img * g.c_out * g.oh * g.ow + 2 * r * g.ow + 2 * tc;
        b.out_right[u] = 2 * tc + 1 < g.ow;
        b.out_below[u] = 2 * r + 1 < g.oh;
      }
    }
    q += r_end - r_first;
  }
  return b;
}

// Lanes l .. l + 3 of the 16 rows d[4 i + j] from the 4x4 inputs of four tiles, p[m]
// pointing at tile m's top-left value in rows wp apart: each row of a tile is one 4-value
// load, and a 4 x 4 transpose turns the four tiles' row i into the lanes of d[4 i + 0..3].
// Value by value the gather was 32 scalar loads and stores a tile and half of the input
// transform's time.
inline void gather_four_tiles(float (*d)[kLanes], int l, const float* const p[4], int64_t wp) {
  typedef float V4 __attribute__((vector_size(16)));
  for (int i = 0; i < 4; ++i) {
    V4 r[4];
    for (int m = 0; m < 4; ++m) std::memcpy(&r[m], p[m] + i * wp, sizeof(V4));
    const V4 t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 1, 5), t1 = __builtin_shufflevector(r[0], r[1], 2, 6, 3, 7);
    const V4 t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 1, 5), t3 = __builtin_shufflevector(r[2], r[3], 2, 6, 3, 7);
    const V4 c[4] = {__builtin_shufflevector(t0, t2, 0, 1, 4, 5), __builtin_shufflevector(t0, t2, 2, 3, 6, 7),
                     __builtin_shufflevector(t1, t3, 0, 1, 4, 5), __builtin_shufflevector(t1, t3, 2, 3, 6, 7)};
    for (int j = 0; j < 4; ++j) std::memcpy(&d[4 * i + j][l], &c[j], sizeof(V4));
  }
}

// x: (N, C_in, H, W) -> v: (16, C_in, nt), positions `step` apart, for the block's tiles.
template <typename T>
void input_transform(T* v, int64_t step, const T* x, const Geometry& g, const TileBlock& b) {
  const int64_t nt = b.nt, wp = b.wp;
  cpu::parallel_for(0, g.c_in, std::max<int64_t>(1, 4096 / nt), [&](int64_t c0, int64_t c1) {
    // The padding is the same for every channel: zero once, then copy only the pixels.
    std::vector<T> stack(size_t(b.stack_rows * wp), T(0));
    alignas(64) T d[16][kLanes] = {};
    T e[16][kLanes];
    const int64_t x_lo = std::min(wp, g.pw), x_hi = std::min(wp, g.pw + g.w);  // image columns in a row
    for (int64_t c = c0; c < c1; ++c) {
      T* row = stack.data();
      for (const TileBlock::Segment& s : b.segments) {
        const T* plane = x + (s.img * g.c_in + c) * g.h * g.w;
        for (int64_t yy = s.y_begin; yy < s.y_end; ++yy, row += wp)
          if (yy >= 0 && yy < g.h)
            for (int64_t k = x_lo; k < x_hi; ++k) row[k] = plane[yy * g.w + k - g.pw];
      }
      for (int64_t u0 = 0; u0 < nt; u0 += kLanes) {
        const int lanes = int(std::min<int64_t>(kLanes, nt - u0));
        int gathered = 0;  // lanes filled
        if constexpr (std::is_same_v<T, float>) {
          for (; gathered + 4 <= lanes; gathered += 4) {
            const float* p[4];
            for (int m = 0; m < 4; ++m) p[m] = stack.data() + b.in_offset[size_t(u0 + gathered + m)];
            gather_four_tiles(d, gathered, p, wp);
          }
        }
        for (; gathered < lanes; ++gathered) {
          const T* p = stack.data() + b.in_offset[size_t(u0 + gathered)];
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) d[4 * i + j][gathered] = p[i * wp + j];
        }
        for (int j = 0; j < 4; ++j) {  // B^T d: rows of e are combinations of rows of d
          for (int l = 0; l < kLanes; ++l) {
            e[j][l] = d[j][l] - d[8 + j][l];
            e[4 + j][l] = d[4 + j][l] + d[8 + j][l];
            e[8 + j][l] = d[8 + j][l] - d[4 + j][l];
            e[12 + j][l] = d[4 + j][l] - d[12 + j][l];
          }
        }
        T* out = v + c * nt + u0;
        for (int i = 0; i < 4; ++i) {  // (B^T d) B, row i: position 4 i + k
          const T *e0 = e[4 * i], *e1 = e[4 * i + 1], *e2 = e[4 * i + 2], *e3 = e[4 * i + 3];
          T *o0 = out + (4 * i) * step, *o1 = o0 + step, *o2 = o1 + step, *o3 = o2 + step;
          for (int l = 0; l < lanes; ++l) {
            o0[l] = e0[l] - e2[l];
            o1[l] = e1[l] + e2[l];
            o2[l] = e2[l] - e1[l];
            o3[l] = e1[l] - e3[l];
          }
        }
      }
    }
  });
}

// m: (16, C_out, nt), positions `step` apart -> the block's 2x2 output tiles of y:
// (N, C_out, OH, OW).
template <typename T>
void output_transform(T* y, const T* m, int64_t step, const Geometry& g, const TileBlock& b) {
  const int64_t nt = b.nt, plane_size = g.oh * g.ow;
  cpu::parallel_for(0, g.c_out, std::max<int64_t>(1, 4096 / nt), [&](int64_t c0, int64_t c1) {
    T s[16][kLanes] = {}, a[8][kLanes], o[4][kLanes];
    for (int64_t co = c0; co < c1; ++co) {
      for (int64_t u0 = 0; u0 < nt; u0 += kLanes) {
        const int lanes = int(std::min<int64_t>(kLanes, nt - u0));
        for (int xi = 0; xi < 16; ++xi) {
          const T* src = m + xi * step + co * nt + u0;
          for (int l = 0; l < lanes; ++l) s[xi][l] = src[l];
        }
        for (int j = 0; j < 4; ++j) {  // A^T m
          for (int l = 0; l < kLanes; ++l) {
            a[j][l] = s[j][l] + s[4 + j][l] + s[8 + j][l];
            a[4 + j][l] = s[4 + j][l] - s[8 + j][l] - s[12 + j][l];
          }
        }
        for (int i = 0; i < 2; ++i) {  // (A^T m) A
          for (int l = 0; l < kLanes; ++l) {
            o[2 * i][l] = a[4 * i][l] + a[4 * i + 1][l] + a[4 * i + 2][l];
            o[2 * i + 1][l] = a[4 * i + 1][l] - a[4 * i + 2][l] - a[4 * i + 3][l];
          }
        }
        for (int l = 0; l < lanes; ++l) {
          const size_t u = size_t(u0 + l);
          T* p = y + co * plane_size + b.out_offset[u];
          p[0] = o[0][l];
          if (b.out_right[u]) p[1] = o[1][l];
          if (b.out_below[u]) {
            p[g.ow] = o[2][l];
            if (b.out_right[u]) p[g.ow + 1] = o[3][l];
          }
        }
      }
    }
  });
}

// w: (C_out, C_in, 3, 3) -> u: (16, C_out, C_in), positions `step` apart, u[xi] =
// (G g G^T)[xi / 4][xi % 4], kLanes planes side by side (Note [Winograd transforms]).
template <typename T>
void filter_transform(T* u, int64_t step, const T* w, int64_t c_out, int64_t c_in) {
  const int64_t planes = c_out * c_in;
  cpu::parallel_for(0, ceil_div(planes, kLanes), 2048 / kLanes, [&](int64_t b0, int64_t b1) {
    T g[9][kLanes] = {}, gg[12][kLanes];
    for (int64_t p0 = b0 * kLanes; p0 < std::min(planes, b1 * kLanes); p0 += kLanes) {
      const int lanes = int(std::min<int64_t>(kLanes, planes - p0));
      for (int l = 0; l < lanes; ++l)
        for (int k = 0; k < 9; ++k) g[k][l] = w[(p0 + l) * 9 + k];
      for (int j = 0; j < 3; ++j) {  // G g: row i of gg is gg[3 i .. 3 i + 2]
        for (int l = 0; l < kLanes; ++l) {
          gg[j][l] = g[j][l];
          gg[3 + j][l] = T(0.5) * (g[j][l] + g[3 + j][l] + g[6 + j][l]);
          gg[6 + j][l] = T(0.5) * (g[j][l] - g[3 + j][l] + g[6 + j][l]);
          gg[9 + j][l] = g[6 + j][l];
        }
      }
      for (int i = 0; i < 4; ++i) {  // (G g) G^T, row i: positions 4 i .. 4 i + 3
        const T *a = gg[3 * i], *b = gg[3 * i + 1], *c = gg[3 * i + 2];
        T* o0 = u + 4 * i * step + p0;
        T *o1 = o0 + step, *o2 = o1 + step, *o3 = o2 + step;
        for (int l = 0; l < lanes; ++l) {
          o0[l] = a[l];
          o1[l] = T(0.5) * (a[l] + b[l] + c[l]);
          o2[l] = T(0.5) * (a[l] - b[l] + c[l]);
          o3[l] = c[l];
        }
      }
    }
  });
}

// Note [Transposed Winograd filters]
// The input gradient of a convolution by w is the convolution of dy by w'[c, o, a, b] =
// w[o, c, 2 - a, 2 - b]. Its transformed filter needs no transform of its own: flipping g
// reverses the columns of G, and G with reversed columns is G with rows 0 and 3 swapped
// (P G, P that swap), so G g' G^T = P (G g G^T) P^T, and with the channels swapped,
//   U'[xi][c][o] = U[perm(xi)][o][c],   perm(4 a + b) = 4 P(a) + P(b).
// The backward multiplies by U[perm(xi)]^T, read transposed in place by the GEMM, from
// the U the forward made: one filter transform per step instead of two (for ResNet-18's
// 256-channel layers, 0.6 M weights become 1 M transformed values each time).
constexpr int kSwap03[4] = {3, 1, 2, 0};
int transposed_position(int xi) { return 4 * kSwap03[xi / 4] + kSwap03[xi % 4]; }

// y: (N, C_out, OH, OW), x: (N, C_in, H, W), all contiguous; u: the 16 transformed filters
// (C_out, C_in) `u_step` apart, or with `transposed` (C_in, C_out), read as U'
// (Note [Transposed Winograd filters]).
template <typename T>
void conv2d_winograd_f2x3(T* y, const T* x, const T* u, int64_t u_step, bool transposed, const Geometry& g) {
  // Blocks of whole tile rows (Note [Winograd transforms]).
  const int64_t tile_rows = g.tiles / g.tw;
  int64_t block = std::max<int64_t>(kMinBlockTiles, kBlockBytes / (16 * (g.c_in + g.c_out) * int64_t(sizeof(T))));
  block = std::max<int64_t>(1, block / g.tw);  // in tile rows from here on
  int64_t blocks = ceil_div(tile_rows, block);
  if (blocks > 1) {  // a multiple of the thread count, so that every thread gets as many
    const int64_t threads = cpu::num_threads();
    block = ceil_div(tile_rows, ceil_div(blocks, threads) * threads);
    blocks = ceil_div(tile_rows, block);
  }
  const int64_t cap = std::min(block, tile_rows) * g.tw;  // tiles in the largest block
  const int64_t v_step = position_step<T>(g.c_in, cap), m_step = position_step<T>(g.c_out, cap);
  cpu::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    // From kiln's allocator, whose cache of freed blocks saves the page faults of fresh
    // memory on every call.
    Tensor vm_buffer = empty({16 * (v_step + m_step)}, TensorOptions(dtype_of<T>::value));
    T* v = vm_buffer.data_ptr<T>();
    T* m = v + 16 * v_step;
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t t0 = b * block * g.tw, t1 = std::min(tile_rows, (b + 1) * block) * g.tw, nt = t1 - t0;
      const int64_t vs = position_step<T>(g.c_in, nt), ms = position_step<T>(g.c_out, nt);
      const TileBlock tiles = tile_block(g, t0, t1);
      input_transform(v, vs, x, g, tiles);
      cpu::parallel_for(0, 16, 1, [&](int64_t xi0, int64_t xi1) {
        for (int64_t xi = xi0; xi < xi1; ++xi) {
          if (transposed) {
            cpu::gemm<T>(true, false, g.c_out, nt, g.c_in, T(1), u + transposed_position(int(xi)) * u_step, g.c_out,
                         v + xi * vs, nt, T(0), m + xi * ms, nt);
          } else {
            cpu::gemm<T>(false, false, g.c_out, nt, g.c_in, T(1), u + xi * u_step, g.c_in, v + xi * vs, nt, T(0),
                         m + xi * ms, nt);
          }
        }
      });
      output_transform(y, m, ms, g, tiles);
    }
  });
}

// Note [Winograd weight gradient]
// Written as a trilinear form, F(2x2, 3x3) is sum_i Y_i z_i = sum_k (A z)_k (G g)_k
// (B^T d)_k over the 16 positions k, for any output cotangent z; its derivative in g is
// the weight gradient of one tile, G^T [(A dy A^T) * (B^T d B)] G (2D, * elementwise).
// Summed over the tiles of the batch, at each position xi that is one product
//   M[xi] (C_out, C_in) = W[xi] (C_out, T) @ V[xi]^T (T, C_in),   W = A dy A^T,
// V the forward's input transform of the same tiles of x, and dw = G^T M G: 16 multiplies
// per 4 output pixels and tap where im2col's weight gradient spends 36, with no columns
// (9x the input) and no transposed copy of dy. V is transformed again here rather than
// kept from the forward, which holds it only a block at a time: kept whole it would be
// 16/4 = 4x the input for every convolution of the graph. Tiles run in chunks of about
// kChunkBytes of V and W, each position's GEMM adding its chunk into M[xi].
constexpr int64_t kChunkBytes = 8 << 20;

// dy: (N, C_out, OH, OW) -> w: (16, C_out, nt), positions `step` apart, A dy A^T of each
// 2x2 output tile of the block (entries past an odd OH or OW count as zero).
template <typename T>
void gradient_transform(T* w, int64_t step, const T* dy, const Geometry& g, const TileBlock& b) {
  const int64_t nt = b.nt, plane_size = g.oh * g.ow;
  cpu::parallel_for(0, g.c_out, std::max<int64_t>(1, 4096 / nt), [&](int64_t c0, int64_t c1) {
    T d[4][kLanes] = {}, e[8][kLanes];
    for (int64_t co = c0; co < c1; ++co) {
      for (int64_t u0 = 0; u0 < nt; u0 += kLanes) {
        const int lanes = int(std::min<int64_t>(kLanes, nt - u0));
        for (int l = 0; l < lanes; ++l) {
          const size_t u = size_t(u0 + l);
          const T* p = dy + co * plane_size + b.out_offset[u];
          const bool right = b.out_right[u], below = b.out_below[u];
          d[0][l] = p[0];
          d[1][l] = right ? p[1] : T(0);
          d[2][l] = below ? p[g.ow] : T(0);
          d[3][l] = right && below ? p[g.ow + 1] : T(0);
        }
        for (int j = 0; j < 2; ++j) {  // A dy: rows (p, p + r, p - r, -r) of column j
          for (int l = 0; l < kLanes; ++l) {
            e[j][l] = d[j][l];
            e[2 + j][l] = d[j][l] + d[2 + j][l];
            e[4 + j][l] = d[j][l] - d[2 + j][l];
            e[6 + j][l] = -d[2 + j][l];
          }
        }
        T* out = w + co * nt + u0;
        for (int i = 0; i < 4; ++i) {  // (A dy) A^T, row i: (u, u + v, u - v, -v)
          const T *a = e[2 * i], *c = e[2 * i + 1];
          T* o0 = out + (4 * i) * step;
          T *o1 = o0 + step, *o2 = o1 + step, *o3 = o2 + step;
          for (int l = 0; l < lanes; ++l) {
            o0[l] = a[l];
            o1[l] = a[l] + c[l];
            o2[l] = a[l] - c[l];
            o3[l] = -c[l];
          }
        }
      }
    }
  });
}

// m: (16, C_out, C_in), positions `step` apart -> dw: (C_out, C_in, 3, 3), G^T m G.
template <typename T>
void weight_gradient_output(T* dw, const T* m, int64_t step, int64_t planes) {
  cpu::parallel_for(0, ceil_div(planes, kLanes), 2048 / kLanes, [&](int64_t b0, int64_t b1) {
    T s[16][kLanes] = {}, r[12][kLanes], o[9][kLanes];
    for (int64_t p0 = b0 * kLanes; p0 < std::min(planes, b1 * kLanes); p0 += kLanes) {
      const int lanes = int(std::min<int64_t>(kLanes, planes - p0));
      for (int xi = 0; xi < 16; ++xi)
        for (int l = 0; l < lanes; ++l) s[xi][l] = m[xi * step + p0 + l];
      for (int j = 0; j < 4; ++j) {  // G^T m: rows m0 + (m1 + m2) / 2, (m1 - m2) / 2, (m1 + m2) / 2 + m3
        for (int l = 0; l < kLanes; ++l) {
          const T half_sum = T(0.5) * (s[4 + j][l] + s[8 + j][l]);
          r[j][l] = s[j][l] + half_sum;
          r[4 + j][l] = T(0.5) * (s[4 + j][l] - s[8 + j][l]);
          r[8 + j][l] = half_sum + s[12 + j][l];
        }
      }
      for (int a = 0; a < 3; ++a) {  // (G^T m) G, row a: the same combination of columns
        const T *c0 = r[4 * a], *c1 = r[4 * a + 1], *c2 = r[4 * a + 2], *c3 = r[4 * a + 3];
        for (int l = 0; l < kLanes; ++l) {
          const T half_sum = T(0.5) * (c1[l] + c2[l]);
          o[3 * a][l] = c0[l] + half_sum;
          o[3 * a + 1][l] = T(0.5) * (c1[l] - c2[l]);
          o[3 * a + 2][l] = half_sum + c3[l];
        }
      }
      for (int l = 0; l < lanes; ++l)
        for (int k = 0; k < 9; ++k) dw[(p0 + l) * 9 + k] = o[k][l];
    }
  });
}

// dw: (C_out, C_in, 3, 3), x: (N, C_in, H, W), dy: (N, C_out, OH, OW), all contiguous.
template <typename T>
void conv2d_winograd_weight_f2x3(T* dw, const T* x, const T* dy, const Geometry& g) {
  const int64_t tile_rows = g.tiles / g.tw;
  const int64_t chunk = std::max<int64_t>(
      1, kChunkBytes / (16 * (g.c_in + g.c_out) * int64_t(sizeof(T))) / g.tw);  // tile rows per chunk
  const int64_t cap = std::min(chunk, tile_rows) * g.tw;
  const int64_t v_step = position_step<T>(g.c_in, cap), w_step = position_step<T>(g.c_out, cap);
  const int64_t m_step = position_step<T>(g.c_out, g.c_in);
  Tensor buffer = empty({16 * (v_step + w_step + m_step)}, TensorOptions(dtype_of<T>::value));
  T* v = buffer.data_ptr<T>();
  T* w = v + 16 * v_step;
  T* m = w + 16 * w_step;
  for (int64_t q0 = 0; q0 < tile_rows; q0 += chunk) {
    const int64_t t0 = q0 * g.tw, t1 = std::min(tile_rows, q0 + chunk) * g.tw, nt = t1 - t0;
    const int64_t vs = position_step<T>(g.c_in, nt), ws = position_step<T>(g.c_out, nt);
    const TileBlock tiles = tile_block(g, t0, t1);
    input_transform(v, vs, x, g, tiles);
    gradient_transform(w, ws, dy, g, tiles);
    cpu::parallel_for(0, 16, 1, [&](int64_t xi0, int64_t xi1) {
      for (int64_t xi = xi0; xi < xi1; ++xi)
        cpu::gemm<T>(false, true, g.c_out, g.c_in, nt, T(1), w + xi * ws, nt, v + xi * vs, nt, T(q0 == 0 ? 0 : 1),
                     m + xi * m_step, g.c_in);
    });
  }
  weight_gradient_output(dw, m, m_step, g.c_out * g.c_in);
}

// The geometry of a convolution of x (N, C_in, H, W) into y (N, C_out, OH, OW).
Geometry geometry_of(const Tensor& x, const Tensor& y, int64_t pad_h, int64_t pad_w) {
  Geometry g{};
  g.n = x.size(0), g.c_in = x.size(1), g.h = x.size(2), g.w = x.size(3), g.c_out = y.size(1);
  g.ph = pad_h, g.pw = pad_w, g.oh = y.size(2), g.ow = y.size(3);
  g.th = ceil_div(g.oh, 2), g.tw = ceil_div(g.ow, 2), g.tiles = g.n * g.th * g.tw;
  return g;
}

// weight: (C_out, C_in, 3, 3), contiguous -> (16, u_step): the transformed filters.
Tensor conv2d_winograd_filter_cpu(const Tensor& weight) {
  const int64_t c_out = weight.size(0), c_in = weight.size(1);
  Tensor u;
  dispatch_floating(weight.dtype(), "conv2d_winograd", [&]<typename T>() {
    u = empty({16, position_step<T>(c_out, c_in)}, options_of(weight));
    filter_transform(u.data_ptr<T>(), u.size(1), weight.data_ptr<T>(), c_out, c_in);
  });
  return u;
}

void conv2d_winograd_cpu(const Tensor& y, const Tensor& x, const Tensor& u, int64_t pad_h, int64_t pad_w,
                         bool transposed) {
  const Geometry g = geometry_of(x, y, pad_h, pad_w);
  if (y.numel() == 0) return;
  dispatch_floating(x.dtype(), "conv2d_winograd", [&]<typename T>() {
    conv2d_winograd_f2x3(y.data_ptr<T>(), x.data_ptr<T>(), u.data_ptr<T>(), u.size(1), transposed, g);
  });
}

void conv2d_winograd_weight_cpu(const Tensor& dw, const Tensor& x, const Tensor& dy, int64_t pad_h, int64_t pad_w) {
  const Geometry g = geometry_of(x, dy, pad_h, pad_w);
  if (dw.numel() == 0) return;
  dispatch_floating(x.dtype(), "conv2d_winograd", [&]<typename T>() {
    if (g.tiles == 0) {  // an empty batch: no terms
      std::fill_n(dw.data_ptr<T>(), dw.numel(), T(0));
      return;
    }
    conv2d_winograd_weight_f2x3(dw.data_ptr<T>(), x.data_ptr<T>(), dy.data_ptr<T>(), g);
  });
}

}  // namespace

KILN_REGISTER_KERNEL(conv2d_winograd_filter_stub, DeviceType::CPU, conv2d_winograd_filter_cpu);
KILN_REGISTER_KERNEL(conv2d_winograd_stub, DeviceType::CPU, conv2d_winograd_cpu);
KILN_REGISTER_KERNEL(conv2d_winograd_weight_stub, DeviceType::CPU, conv2d_winograd_weight_cpu);

}  // namespace kiln
