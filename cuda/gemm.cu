// The CUDA SGEMM ladder, each optimisation step kept as a numbered kernel (llm.c's habit):
//   version 1: naive, a thread per element of C                      (sgemm_kernel1)
//   version 2: 32x32 shared-memory tiles, a thread per element       (sgemm_kernel2)
//   version 3: 64x64 block tiles, BK = 16, 4x4 register tile/thread  (sgemm_kernel3)
//   version 4: 128x128 block tiles, BK = 8, 8x8 register tile/thread, float4 loads,
//              A transposed in shared memory, two shared buffers      (sgemm_kernel4)
//   version 5: tensor cores (WMMA m16n16k8, tf32 inputs, float sums),
//              128x128 block tiles, BK = 16, 64x32 per warp          (sgemm_kernel5)
// Every version is tested against the CPU reference on awkward shapes and all four
// transposition cases (tests/cuda/gemm_test.cpp). Conventions: cuda/gemm.h.
#include "cuda/gemm.h"

#include <cstdint>

#include <mma.h>

#include "core/error.h"
#include "cuda/runtime.h"

namespace kiln::cuda {

namespace {

// op(A)(i, p) and op(B)(p, j) of row-major storage with leading dimensions.
__device__ inline float op_a(const float* a, int64_t lda, bool trans, int64_t i, int64_t p) {
  return trans ? a[p * lda + i] : a[i * lda + p];
}
__device__ inline float op_b(const float* b, int64_t ldb, bool trans, int64_t p, int64_t j) {
  return trans ? b[j * ldb + p] : b[p * ldb + j];
}
// C(i, j) = alpha acc + beta C(i, j), C not read when beta == 0.
__device__ inline void store_c(float* c, int64_t ldc, int64_t i, int64_t j, float alpha, float acc, float beta) {
  float v = alpha * acc;
  if (beta != 0.0f) v += beta * c[i * ldc + j];
  c[i * ldc + j] = v;
}

// C: (m, n) = beta C, for k == 0 or alpha == 0 (zeros when beta == 0, NaN in C dropped).
__global__ void scale_c_kernel(float* c, int64_t ldc, int64_t m, int64_t n, float beta) {
  const int64_t total = m * n;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = e / n, j = e % n;
    c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
  }
}

// Version 1. Block (16, 16): thread (x, y) computes C(blockIdx.y * 16 + y, blockIdx.x * 16 + x).
__global__ void sgemm_kernel1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t i = blockIdx.y * int64_t(blockDim.y) + threadIdx.y;
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= m || j >= n) return;
  float acc = 0.0f;
  for (int64_t p = 0; p < k; ++p) acc += op_a(a, lda, ta, i, p) * op_b(b, ldb, tb, p, j);
  store_c(c, ldc, i, j, alpha, acc, beta);
}

// Version 2. Block (32, 32), one 32x32 tile of C. Each step stages a 32x32 tile of
// op(A) (rows of the C tile, k-slice p0..p0+31) and of op(B) in shared memory (zeros
// outside the matrices), then each thread runs 32 multiply-adds from shared memory.
constexpr int kTile2 = 32;
__global__ void sgemm_kernel2(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  __shared__ float as[kTile2][kTile2];
  __shared__ float bs[kTile2][kTile2 + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i = blockIdx.y * int64_t(kTile2) + ty;
  const int64_t j = blockIdx.x * int64_t(kTile2) + tx;
  float acc = 0.0f;
  for (int64_t p0 = 0; p0 < k; p0 += kTile2) {
    as[ty][tx] = (i < m && p0 + tx < k) ? op_a(a, lda, ta, i, p0 + tx) : 0.0f;
    bs[ty][tx] = (p0 + ty < k && j < n) ? op_b(b, ldb, tb, p0 + ty, j) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int q = 0; q < kTile2; ++q) acc += as[ty][q] * bs[q][tx];
    __syncthreads();  // before the next step overwrites the tiles
  }
  if (i < m && j < n) store_c(c, ldc, i, j, alpha, acc, beta);
}

// Version 3. 256 threads per 64x64 tile of C; thread t = 16 ty + tx owns the 4x4
// register tile rows 4 ty .. 4 ty + 3, columns 4 tx .. 4 tx + 3 of it. Each k-slice of
// 16 stages op(A) transposed (as[p][r]) and op(B) (bs[p][col]) in shared memory: 1024
// elements each, 4 loads per thread; then 16 outer products of a 4-vector of A and
// a 4-vector of B accumulate into the 16 registers.
constexpr int kBlock3 = 64, kDepth3 = 16, kThreads3 = 256, kReg3 = 4;
__global__ void __launch_bounds__(kThreads3) sgemm_kernel3(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                                           float alpha, const float* a, int64_t lda, const float* b,
                                                           int64_t ldb, float beta, float* c, int64_t ldc) {
  __shared__ float as[kDepth3][kBlock3];
  __shared__ float bs[kDepth3][kBlock3];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t row0 = blockIdx.y * int64_t(kBlock3), col0 = blockIdx.x * int64_t(kBlock3);
  float acc[kReg3][kReg3] = {};
  for (int64_t p0 = 0; p0 < k; p0 += kDepth3) {
#pragma unroll
    for (int e = 0; e < (kBlock3 * kDepth3) / kThreads3; ++e) {
      const int idx = tid + e * kThreads3;
      const int r = idx / kDepth3, pa = idx % kDepth3;  // A tile: 64 rows x 16 k
      const int64_t gi = row0 + r, gp = p0 + pa;
      as[pa][r] = (gi < m && gp < k) ? op_a(a, lda, ta, gi, gp) : 0.0f;
      const int pb = idx / kBlock3, col = idx % kBlock3;  // B tile: 16 k x 64 columns
      const int64_t gq = p0 + pb, gj = col0 + col;
      bs[pb][col] = (gq < k && gj < n) ? op_b(b, ldb, tb, gq, gj) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kDepth3; ++p) {
      float ar[kReg3], br[kReg3];
#pragma unroll
      for (int u = 0; u < kReg3; ++u) {
        ar[u] = as[p][ty * kReg3 + u];
        br[u] = bs[p][tx * kReg3 + u];
      }
#pragma unroll
      for (int u = 0; u < kReg3; ++u)
#pragma unroll
        for (int v = 0; v < kReg3; ++v) acc[u][v] += ar[u] * br[v];
    }
    __syncthreads();  // before the next slice overwrites the tiles
  }
#pragma unroll
  for (int u = 0; u < kReg3; ++u) {
#pragma unroll
    for (int v = 0; v < kReg3; ++v) {
      const int64_t i = row0 + ty * kReg3 + u, j = col0 + tx * kReg3 + v;
      if (i < m && j < n) store_c(c, ldc, i, j, alpha, acc[u][v], beta);
    }
  }
}

// Note [SGEMM vector loads]
// Versions 4 and 5 read their tiles of A and B as float4: four neighbours in a row of
// the operand's storage. op(A) is stored (m, k), or (k, m) when transposed, so a vector
// runs along k (A) or along the tile's rows (A^T); for B along n (B) or along k (B^T).
// A float4 load needs a 16-byte aligned address: the base pointer 16-byte aligned and
// the leading dimension a multiple of 4 (tiles start at multiples of 4, so every vector
// then is). The host checks both per operand (vec_a, vec_b); when they fail, or where a
// vector would cross the matrix's edge, the four floats are read one by one, each
// bounds-checked, zeros outside. So any m, n, k and leading dimension work, and only
// the speed depends on the layout.

// Four consecutive floats of the stored matrix x (rows x cols, leading dimension ld)
// from (r, c) on, zeros outside it.
__device__ inline float4 load_float4(const float* x, int64_t ld, int64_t rows, int64_t cols, int64_t r, int64_t c,
                                     bool vec) {
  float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (r >= rows) return v;
  const float* row = x + r * ld;
  if (vec && c + 3 < cols) return *reinterpret_cast<const float4*>(row + c);
  if (c < cols) v.x = row[c];
  if (c + 1 < cols) v.y = row[c + 1];
  if (c + 2 < cols) v.z = row[c + 2];
  if (c + 3 < cols) v.w = row[c + 3];
  return v;
}

// Vector f of the (kRows x kDepth) tile of op(A) at (row0, p0), and the tile position
// (i, p) of its first element; the four run along p when A is stored as is (kTransA
// false), along i when A is stored transposed.
template <bool kTransA, int kRows, int kDepth>
__device__ inline float4 load_a_float4(const float* a, int64_t lda, int64_t m, int64_t k, int64_t row0, int64_t p0,
                                       int f, bool vec, int& i, int& p) {
  if constexpr (!kTransA) {  // stored (m, k): kDepth / 4 vectors per tile row
    i = f / (kDepth / 4);
    p = (f % (kDepth / 4)) * 4;
    return load_float4(a, lda, m, k, row0 + i, p0 + p, vec);
  } else {  // stored (k, m): kRows / 4 vectors per k
    p = f / (kRows / 4);
    i = (f % (kRows / 4)) * 4;
    return load_float4(a, lda, k, m, p0 + p, row0 + i, vec);
  }
}
// Vector f of the (kDepth x kCols) tile of op(B) at (p0, col0), and the tile position
// (p, j) of its first element; the four run along j when B is stored as is, along p
// when transposed.
template <bool kTransB, int kCols, int kDepth>
__device__ inline float4 load_b_float4(const float* b, int64_t ldb, int64_t k, int64_t n, int64_t p0, int64_t col0,
                                       int f, bool vec, int& p, int& j) {
  if constexpr (!kTransB) {  // stored (k, n): kCols / 4 vectors per k
    p = f / (kCols / 4);
    j = (f % (kCols / 4)) * 4;
    return load_float4(b, ldb, k, n, p0 + p, col0 + j, vec);
  } else {  // stored (n, k): kDepth / 4 vectors per tile column
    j = f / (kDepth / 4);
    p = (f % (kDepth / 4)) * 4;
    return load_float4(b, ldb, n, k, col0 + j, p0 + p, vec);
  }
}

// Writes v to the shared tile s addressed as s[x * kStrideX + y * kStrideY], its first
// element at (x, y), the four along y when kAlongY (else along x). A unit stride along
// the vector makes it one 16-byte store (positions and strides are multiples of 4).
template <int kStrideX, int kStrideY, bool kAlongY>
__device__ inline void store_tile_float4(float* s, int x, int y, float4 v) {
  float* d = s + x * kStrideX + y * kStrideY;
  constexpr int step = kAlongY ? kStrideY : kStrideX;
  if constexpr (step == 1) {
    *reinterpret_cast<float4*>(d) = v;
  } else {
    d[0] = v.x;
    d[step] = v.y;
    d[2 * step] = v.z;
    d[3 * step] = v.w;
  }
}

// Version 4. 256 threads per 128x128 tile of C; thread t = 16 ty + tx owns an 8x8
// register tile: rows 4 ty .. 4 ty + 3 and 64 + 4 ty .. 64 + 4 ty + 3, the same split of
// columns by tx, so its reads of shared memory are two float4 per operand per k and a
// warp's B reads cover 256 contiguous bytes. Each k-slice of 8 is one float4 of A and
// one of B per thread (Note [SGEMM vector loads]); A is stored transposed, as[p][i], so
// the 8 values a thread needs at one p are contiguous. Two shared buffers: while the
// block multiplies slice s from one, each thread holds slice s + 1 in registers (its
// global loads in flight during the arithmetic) and writes it to the other buffer
// afterwards, one barrier per slice. The rows are padded by 4 floats: the untransposed
// A's scattered stores (as[p..p+3][i]) then fall in different banks. Launch bounds cap
// the registers at 128 per thread (64 of them the accumulators): two blocks per SM.
constexpr int kBlock4 = 128, kDepth4 = 8, kThreads4 = 256, kReg4 = 8, kLd4 = kBlock4 + 4;
template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kThreads4, 2)
    sgemm_kernel4(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, bool vec_a,
                  const float* b, int64_t ldb, bool vec_b, float beta, float* c, int64_t ldc) {
  __shared__ __align__(16) float as[2][kDepth4 * kLd4];  // as[buf][p * kLd4 + i] = op(A)(row0 + i, p0 + p)
  __shared__ __align__(16) float bs[2][kDepth4 * kLd4];  // bs[buf][p * kLd4 + j] = op(B)(p0 + p, col0 + j)
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t row0 = blockIdx.y * int64_t(kBlock4), col0 = blockIdx.x * int64_t(kBlock4);
  const int64_t slices = (k + kDepth4 - 1) / kDepth4;
  int ai, ap, bp, bj;  // where this thread's vectors go in the tiles
  float4 ra = load_a_float4<kTransA, kBlock4, kDepth4>(a, lda, m, k, row0, 0, tid, vec_a, ai, ap);
  float4 rb = load_b_float4<kTransB, kBlock4, kDepth4>(b, ldb, k, n, 0, col0, tid, vec_b, bp, bj);
  store_tile_float4<1, kLd4, !kTransA>(as[0], ai, ap, ra);
  store_tile_float4<kLd4, 1, !kTransB>(bs[0], bp, bj, rb);
  __syncthreads();
  float acc[kReg4][kReg4] = {};
  for (int64_t s = 0; s < slices; ++s) {
    const int cur = int(s & 1);
    const bool has_next = s + 1 < slices;
    if (has_next) {
      const int64_t p0 = (s + 1) * kDepth4;
      ra = load_a_float4<kTransA, kBlock4, kDepth4>(a, lda, m, k, row0, p0, tid, vec_a, ai, ap);
      rb = load_b_float4<kTransB, kBlock4, kDepth4>(b, ldb, k, n, p0, col0, tid, vec_b, bp, bj);
    }
#pragma unroll
    for (int p = 0; p < kDepth4; ++p) {
      const float* arow = &as[cur][p * kLd4];
      const float* brow = &bs[cur][p * kLd4];
      const float4 a0 = *reinterpret_cast<const float4*>(arow + 4 * ty);
      const float4 a1 = *reinterpret_cast<const float4*>(arow + 64 + 4 * ty);
      const float4 b0 = *reinterpret_cast<const float4*>(brow + 4 * tx);
      const float4 b1 = *reinterpret_cast<const float4*>(brow + 64 + 4 * tx);
      const float ar[kReg4] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float br[kReg4] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int u = 0; u < kReg4; ++u)
#pragma unroll
        for (int v = 0; v < kReg4; ++v) acc[u][v] += ar[u] * br[v];
    }
    if (has_next) {  // the other buffer was last read before the previous barrier
      store_tile_float4<1, kLd4, !kTransA>(as[cur ^ 1], ai, ap, ra);
      store_tile_float4<kLd4, 1, !kTransB>(bs[cur ^ 1], bp, bj, rb);
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < kReg4; ++u) {
    const int64_t i = row0 + (u / 4) * 64 + 4 * ty + u % 4;
    if (i >= m) continue;
#pragma unroll
    for (int v = 0; v < kReg4; ++v) {
      const int64_t j = col0 + (v / 4) * 64 + 4 * tx + v % 4;
      if (j < n) store_c(c, ldc, i, j, alpha, acc[u][v], beta);
    }
  }
}

// Version 5. Tensor cores through WMMA: 8 warps per 128x128 tile of C, laid out 2 x 4,
// each warp owning 64x32 of it as 4 x 2 accumulator fragments of 16x16 (float). A
// k-slice of 16 is two m16n16k8 steps; per step a warp loads 4 A and 2 B fragments from
// shared memory and issues 8 mma_sync. The fragments' inputs are rounded to tf32 (8-bit
// exponent, 10-bit mantissa, round to nearest) before the multiply, as the tf32 mma
// requires; products and sums are float. So results differ from float32 SGEMM by about
// 2^-11 relative per input, growing like sqrt(k) over the sum (tests use a looser
// tolerance). Tiles come in as in version 4 (float4 loads, two shared buffers, slice
// s + 1 held in registers while slice s is multiplied), A stored row-major here (WMMA
// reads row-major A). Row strides are padded by 4 floats; every fragment pointer stays
// 32-byte aligned, as load_matrix_sync asks. The epilogue applies alpha and beta per
// element: each fragment goes through a per-warp 16x16 staging tile in shared memory,
// from which the warp's lanes write C with bounds checks. 128 registers per thread at
// most (launch bounds), two blocks (16 warps) per SM.
constexpr int kBlock5 = 128, kDepth5 = 16, kThreads5 = 256, kLdA5 = kDepth5 + 4, kLdB5 = kBlock5 + 4;
constexpr int kWarpRows5 = 64, kWarpCols5 = 32, kFragsM5 = kWarpRows5 / 16, kFragsN5 = kWarpCols5 / 16;
constexpr int kVectors5 = kBlock5 * kDepth5 / 4 / kThreads5;  // float4s per thread per operand tile
template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kThreads5, 2)
    sgemm_kernel5(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, bool vec_a,
                  const float* b, int64_t ldb, bool vec_b, float beta, float* c, int64_t ldc) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // tf32 mma needs sm_80; the host refuses to launch this on older devices
#else
  namespace wmma = nvcuda::wmma;
  __shared__ __align__(32) float as[2][kBlock5 * kLdA5];     // as[buf][i * kLdA5 + p] = op(A)(row0 + i, p0 + p)
  __shared__ __align__(32) float bs[2][kDepth5 * kLdB5];     // bs[buf][p * kLdB5 + j] = op(B)(p0 + p, col0 + j)
  __shared__ __align__(32) float staging[kThreads5 / 32][16 * 16];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int warp_row = (warp / 4) * kWarpRows5, warp_col = (warp % 4) * kWarpCols5;
  const int64_t row0 = blockIdx.y * int64_t(kBlock5), col0 = blockIdx.x * int64_t(kBlock5);
  const int64_t slices = (k + kDepth5 - 1) / kDepth5;
  float4 ra[kVectors5], rb[kVectors5];
  int ai[kVectors5], ap[kVectors5], bp[kVectors5], bj[kVectors5];
#pragma unroll
  for (int e = 0; e < kVectors5; ++e) {
    const int f = tid + e * kThreads5;
    ra[e] = load_a_float4<kTransA, kBlock5, kDepth5>(a, lda, m, k, row0, 0, f, vec_a, ai[e], ap[e]);
    rb[e] = load_b_float4<kTransB, kBlock5, kDepth5>(b, ldb, k, n, 0, col0, f, vec_b, bp[e], bj[e]);
    store_tile_float4<kLdA5, 1, !kTransA>(as[0], ai[e], ap[e], ra[e]);
    store_tile_float4<kLdB5, 1, !kTransB>(bs[0], bp[e], bj[e], rb[e]);
  }
  __syncthreads();
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[kFragsM5][kFragsN5];
#pragma unroll
  for (int r = 0; r < kFragsM5; ++r)
#pragma unroll
    for (int q = 0; q < kFragsN5; ++q) wmma::fill_fragment(acc[r][q], 0.0f);
  for (int64_t s = 0; s < slices; ++s) {
    const int cur = int(s & 1);
    const bool has_next = s + 1 < slices;
    if (has_next) {
      const int64_t p0 = (s + 1) * kDepth5;
#pragma unroll
      for (int e = 0; e < kVectors5; ++e) {
        const int f = tid + e * kThreads5;
        ra[e] = load_a_float4<kTransA, kBlock5, kDepth5>(a, lda, m, k, row0, p0, f, vec_a, ai[e], ap[e]);
        rb[e] = load_b_float4<kTransB, kBlock5, kDepth5>(b, ldb, k, n, p0, col0, f, vec_b, bp[e], bj[e]);
      }
    }
#pragma unroll
    for (int kk = 0; kk < kDepth5; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[kFragsM5];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[kFragsN5];
#pragma unroll
      for (int r = 0; r < kFragsM5; ++r) {
        wmma::load_matrix_sync(fa[r], &as[cur][(warp_row + 16 * r) * kLdA5 + kk], kLdA5);
#pragma unroll
        for (int t = 0; t < fa[r].num_elements; ++t) fa[r].x[t] = wmma::__float_to_tf32(fa[r].x[t]);
      }
#pragma unroll
      for (int q = 0; q < kFragsN5; ++q) {
        wmma::load_matrix_sync(fb[q], &bs[cur][kk * kLdB5 + warp_col + 16 * q], kLdB5);
#pragma unroll
        for (int t = 0; t < fb[q].num_elements; ++t) fb[q].x[t] = wmma::__float_to_tf32(fb[q].x[t]);
      }
#pragma unroll
      for (int r = 0; r < kFragsM5; ++r)
#pragma unroll
        for (int q = 0; q < kFragsN5; ++q) wmma::mma_sync(acc[r][q], fa[r], fb[q], acc[r][q]);
    }
    if (has_next) {  // the other buffer was last read before the previous barrier
#pragma unroll
      for (int e = 0; e < kVectors5; ++e) {
        store_tile_float4<kLdA5, 1, !kTransA>(as[cur ^ 1], ai[e], ap[e], ra[e]);
        store_tile_float4<kLdB5, 1, !kTransB>(bs[cur ^ 1], bp[e], bj[e], rb[e]);
      }
    }
    __syncthreads();
  }
  float* stage = staging[warp];
#pragma unroll
  for (int r = 0; r < kFragsM5; ++r) {
#pragma unroll
    for (int q = 0; q < kFragsN5; ++q) {
      wmma::store_matrix_sync(stage, acc[r][q], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 16 * 16; e += 32) {
        const int64_t i = row0 + warp_row + 16 * r + e / 16, j = col0 + warp_col + 16 * q + e % 16;
        if (i < m && j < n) store_c(c, ldc, i, j, alpha, stage[e], beta);
      }
      __syncwarp();  // before the next fragment overwrites the staging tile
    }
  }
#endif
}

// Calls f.template operator()<ta, tb>(): the transposition flags as compile-time constants.
template <typename F>
void with_transposes(bool ta, bool tb, F&& f) {
  if (ta) {
    if (tb) f.template operator()<true, true>();
    else f.template operator()<true, false>();
  } else {
    if (tb) f.template operator()<false, true>();
    else f.template operator()<false, false>();
  }
}

// Whether float4 loads from x with leading dimension ld are aligned (Note [SGEMM vector loads]).
bool vector_loads(const float* x, int64_t ld) { return reinterpret_cast<std::uintptr_t>(x) % 16 == 0 && ld % 4 == 0; }

unsigned grid_dim(int64_t extent, int64_t tile, const char* what) {
  int64_t g = (extent + tile - 1) / tile;
  KILN_CHECK(g <= 65535, "sgemm: ", what, " of ", extent, " needs ", g, " tiles of ", tile,
             "; at most 65535 are supported");
  return unsigned(g);
}

}  // namespace

const char* sgemm_variant_name(int version) {
  switch (version) {
    case 1: return "sgemm_kernel1";
    case 2: return "sgemm_kernel2";
    case 3: return "sgemm_kernel3";
    case 4: return "sgemm_kernel4";
    case 5: return "sgemm_kernel5";
    default: break;
  }
  KILN_FAIL("sgemm_variant_name: expected a version in 1..", kNumSgemmVariants, ", got ", version);
}

void sgemm_variant(int version, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  KILN_CHECK(version >= 1 && version <= kNumSgemmVariants, "sgemm_variant: expected a version in 1..",
             kNumSgemmVariants, ", got ", version);
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0, "sgemm_variant: expected sizes >= 0, got m=", m, " n=", n, " k=", k);
  if (m == 0 || n == 0) return;
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  const cudaStream_t stream = stream_for(device);
  if (k == 0 || alpha == 0.0f) {
    auto cfg = launch_config_1d(m * n);
    scale_c_kernel<<<cfg.blocks, cfg.threads, 0, stream>>>(c, ldc, m, n, beta);
    check_launch("sgemm scale");
    return;
  }
  switch (version) {
    case 1: {
      dim3 grid(grid_dim(n, 16, "n"), grid_dim(m, 16, "m")), block(16, 16);
      sgemm_kernel1<<<grid, block, 0, stream>>>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      break;
    }
    case 2: {
      dim3 grid(grid_dim(n, kTile2, "n"), grid_dim(m, kTile2, "m")), block(kTile2, kTile2);
      sgemm_kernel2<<<grid, block, 0, stream>>>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      break;
    }
    case 3: {
      dim3 grid(grid_dim(n, kBlock3, "n"), grid_dim(m, kBlock3, "m"));
      sgemm_kernel3<<<grid, kThreads3, 0, stream>>>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      break;
    }
    case 4: {
      dim3 grid(grid_dim(n, kBlock4, "n"), grid_dim(m, kBlock4, "m"));
      const bool vec_a = vector_loads(a, lda), vec_b = vector_loads(b, ldb);
      with_transposes(trans_a, trans_b, [&]<bool kTransA, bool kTransB>() {
        sgemm_kernel4<kTransA, kTransB>
            <<<grid, kThreads4, 0, stream>>>(m, n, k, alpha, a, lda, vec_a, b, ldb, vec_b, beta, c, ldc);
      });
      break;
    }
    case 5: {
      int major = 0;
      KILN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
      KILN_CHECK(major >= 8, "sgemm_kernel5: expected a device of compute capability 8.0 or newer (tf32 tensor "
                 "cores), got ", major, ".x");
      dim3 grid(grid_dim(n, kBlock5, "n"), grid_dim(m, kBlock5, "m"));
      const bool vec_a = vector_loads(a, lda), vec_b = vector_loads(b, ldb);
      with_transposes(trans_a, trans_b, [&]<bool kTransA, bool kTransB>() {
        sgemm_kernel5<kTransA, kTransB>
            <<<grid, kThreads5, 0, stream>>>(m, n, k, alpha, a, lda, vec_a, b, ldb, vec_b, beta, c, ldc);
      });
      break;
    }
    default: break;
  }
  check_launch(sgemm_variant_name(version));
}

}  // namespace kiln::cuda
