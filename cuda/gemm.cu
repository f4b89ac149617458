// The CUDA SGEMM ladder, each optimisation step kept as a numbered kernel (llm.c's habit):
//   version 1: naive, a thread per element of C                      (sgemm_kernel1)
//   version 2: 32x32 shared-memory tiles, a thread per element       (sgemm_kernel2)
//   version 3: 64x64 block tiles, BK = 16, 4x4 register tile/thread  (sgemm_kernel3)
// Every version is tested against the CPU reference on awkward shapes and all four
// transposition cases (tests/cuda/gemm_test.cpp). Conventions: cuda/gemm.h.
#include "cuda/gemm.h"

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
    default: break;
  }
  check_launch(sgemm_variant_name(version));
}

}  // namespace kiln::cuda
