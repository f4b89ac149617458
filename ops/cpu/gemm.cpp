// The CPU GEMM ladder, C = alpha * op(A) op(B) + beta * C (Note [GEMM conventions] in
// ops/cpu/gemm.h). Every version is kept, tested against version 1 on awkward shapes
// (tests/ops/gemm_test.cpp) and benchmarked side by side (bench/linalg_bench.cpp):
//
// version 1: naive triple loop, one dot product per element of C. The reference.
// version 2: cache-blocked i-p-j loop order: the inner loop is an axpy along a row of C
//            and a row of op(B), contiguous (unless op(B) is transposed), so the compiler
//            vectorises it; a (kBlockK2 x kBlockN2) block of op(B) stays in L2 while every
//            row of A goes past it. Threads over rows of C.
// version 3: BLIS-style packing and register blocking in portable C++: op(A) and op(B)
//            are copied into panels of MR rows and NR columns laid out in the order the
//            micro-kernel reads them; the micro-kernel keeps an MR x NR block of C in
//            registers for a whole panel depth (kKC) and does MR * NR multiply-adds per
//            MR + NR values loaded. Macro tiles of C (at most kMC x kNC) are spread over
//            threads.
// version 4: version 3's idea with the ISA's SIMD micro-kernel, on one thread: packing and
//            micro-kernel come from ops/cpu/gemm_avx512.cpp or gemm_avx2.cpp, chosen at
//            run time by active_isa() (ops/cpu/cpu_features.h), or the portable template
//            on generic CPUs (Note [GEMM micro-kernels] in ops/cpu/gemm_microkernel.h).
//            Loops as in BLIS, with the A micro-panel as the L1 resident (Note [GEMM
//            blocking]).
// version 5: version 4 on all threads: C is cut into one rectangle per thread, rows or
//            columns, whichever costs least in padding and packing (Note [GEMM
//            threading]).
//
// gemm() runs version 5, or 1 and 2 for the vector shapes where they measure faster.
// Versions 1-3 are plain C++ compiled for the baseline ISA (SSE2 on x86-64).
#include "ops/cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/gemm_microkernel.h"
#include "ops/cpu/parallel.h"

namespace kiln::cpu {
namespace {

// Below this many flops a parallel region costs more than it saves.
constexpr double kMinParallelFlops = double(1 << 20);

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t multiple) { return ceil_div(a, multiple) * multiple; }

// op(X) as a read-only matrix: element (i, j) at data[i * row_stride + j * col_stride].
template <typename T>
struct MatrixRef {
  const T* data;
  int64_t row_stride, col_stride;
  T operator()(int64_t i, int64_t j) const { return data[i * row_stride + j * col_stride]; }
};

template <typename T>
MatrixRef<T> op_of(const T* x, int64_t ld, bool trans) {
  return trans ? MatrixRef<T>{x, 1, ld} : MatrixRef<T>{x, ld, 1};
}

// C[r0:r1, :n] = beta * C; beta == 0 writes zeros without reading C.
template <typename T>
void scale_rows(T beta, int64_t r0, int64_t r1, int64_t n, T* c, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = r0; i < r1; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// ---- version 1: naive ----

// C(i, j) = alpha * sum_p A(i, p) B(p, j) + beta * C(i, j), one element at a time.
template <typename T>
void gemm_kernel1(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  MatrixRef<T> A = op_of(a, lda, trans_a), B = op_of(b, ldb, trans_b);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      T sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += A(i, p) * B(p, j);
      T& cij = c[i * ldc + j];
      cij = beta == T(0) ? alpha * sum : alpha * sum + beta * cij;
    }
  }
}

// ---- version 2: cache-blocked, vectorised axpy ----

constexpr int64_t kBlockK2 = 128;  // rows of op(B) per block
constexpr int64_t kBlockN2 = 512;  // columns: 128 x 512 floats = 256 KiB, in L2

// y[0:n] += alpha * x[0:n]
template <typename T>
void axpy(int64_t n, T alpha, const T* __restrict x, T* __restrict y) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] += alpha * x[j];
}

template <typename T>
void gemm_kernel2(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  MatrixRef<T> A = op_of(a, lda, trans_a), B = op_of(b, ldb, trans_b);
  int64_t grain = std::max<int64_t>(1, int64_t(kMinParallelFlops / (2.0 * double(n) * double(k))));
  parallel_for(0, m, grain, [&](int64_t i0, int64_t i1) {
    scale_rows(beta, i0, i1, n, c, ldc);
    for (int64_t j0 = 0; j0 < n; j0 += kBlockN2) {
      int64_t j1 = std::min(n, j0 + kBlockN2);
      for (int64_t p0 = 0; p0 < k; p0 += kBlockK2) {
        int64_t p1 = std::min(k, p0 + kBlockK2);
        for (int64_t i = i0; i < i1; ++i) {
          T* crow = c + i * ldc;
          for (int64_t p = p0; p < p1; ++p) {
            T aip = alpha * A(i, p);
            const T* brow = B.data + p * B.row_stride;
            if (B.col_stride == 1) {
              axpy(j1 - j0, aip, brow + j0, crow + j0);
            } else {
              for (int64_t j = j0; j < j1; ++j) crow[j] += aip * brow[j * B.col_stride];
            }
          }
        }
      }
    }
  });
}

// ---- version 3: packed panels, register-blocked micro-kernel ----

// The micro-tile: MR x NR accumulators = 12 vector registers of 16 bytes (6 rows of two
// 4-float or two 2-double registers), plus 2 for a row of the B panel and 1 for the
// broadcast A value: 15 of SSE's 16 registers, so nothing spills to the stack.
template <typename T>
struct MicroTile;
template <>
struct MicroTile<float> {
  static constexpr int kMR = 6, kNR = 8;
};
template <>
struct MicroTile<double> {
  static constexpr int kMR = 6, kNR = 4;
};

constexpr int64_t kKC = 256;  // panel depth: a 256 x NR B micro-panel (8 KiB of floats) stays in L1
constexpr int64_t kMC = 96;   // macro-tile rows: the packed A block (96 x 256) stays in L2
constexpr int64_t kNC = 256;  // macro-tile columns: the packed B block (256 x 256), L2 as well

// Packs op(A)[i0:i0+mc, p0:p0+kc] as ceil(mc / MR) panels, each kc steps of MR values
// (panel rows interleaved), the last panel padded with zero rows.
template <typename T>
void pack_a(MatrixRef<T> A, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out) {
  constexpr int MR = MicroTile<T>::kMR;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    int64_t rows = std::min<int64_t>(MR, mc - ir);
    for (int64_t p = 0; p < kc; ++p) {
      for (int64_t i = 0; i < MR; ++i) *out++ = i < rows ? A(i0 + ir + i, p0 + p) : T(0);
    }
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] as ceil(nc / NR) panels, each kc steps of NR values,
// the last panel padded with zero columns.
template <typename T>
void pack_b(MatrixRef<T> B, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int NR = MicroTile<T>::kNR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    int64_t cols = std::min<int64_t>(NR, nc - jr);
    for (int64_t p = 0; p < kc; ++p) {
      for (int64_t j = 0; j < NR; ++j) *out++ = j < cols ? B(p0 + p, j0 + jr + j) : T(0);
    }
  }
}

// ap: (kc, MR) packed, bp: (kc, NR) packed, acc: (MR, NR) = ap^T bp.
// Written so that GCC keeps acc in registers: the i loop is unrolled, the j loop is one
// simd multiply-add over NR lanes with a[i] broadcast.
template <typename T>
void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* __restrict acc_out) {
  constexpr int MR = MicroTile<T>::kMR, NR = MicroTile<T>::kNR;
  T acc[MR * NR];
#pragma GCC unroll 48
  for (int x = 0; x < MR * NR; ++x) acc[x] = 0;
  for (int64_t p = 0; p < kc; ++p) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const T ai = ap[p * MR + i];
#pragma omp simd
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += ai * bp[p * NR + j];
    }
  }
#pragma GCC unroll 48
  for (int x = 0; x < MR * NR; ++x) acc_out[x] = acc[x];
}

// c[:rows, :cols] (leading dimension ldc) = alpha * acc + (first ? beta * c : c), where
// first marks the first panel of k: only it applies beta, and with beta == 0 it does not
// read c.
template <typename T>
void store_tile(const T* acc, int64_t rows, int64_t cols, T alpha, T beta, bool first, T* c, int64_t ldc) {
  constexpr int NR = MicroTile<T>::kNR;
  for (int64_t i = 0; i < rows; ++i) {
    const T* src = acc + i * NR;
    T* dst = c + i * ldc;
    if (!first || beta == T(1)) {
      for (int64_t j = 0; j < cols; ++j) dst[j] += alpha * src[j];
    } else if (beta == T(0)) {
      for (int64_t j = 0; j < cols; ++j) dst[j] = alpha * src[j];
    } else {
      for (int64_t j = 0; j < cols; ++j) dst[j] = beta * dst[j] + alpha * src[j];
    }
  }
}

// Splits extent into near-equal tiles of at most max_tile (a multiple of `multiple`),
// each a multiple of `multiple`: 128 rows become 66 + 62, not 96 + 32, so threads get
// similar work.
int64_t tile_size(int64_t extent, int64_t max_tile, int64_t multiple) {
  int64_t parts = ceil_div(extent, max_tile);
  return round_up(ceil_div(extent, parts), multiple);
}

template <typename T>
void gemm_kernel3(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int MR = MicroTile<T>::kMR, NR = MicroTile<T>::kNR;
  MatrixRef<T> A = op_of(a, lda, trans_a), B = op_of(b, ldb, trans_b);
  const int64_t tile_m = tile_size(m, kMC, MR), tile_n = tile_size(n, kNC, NR);
  const int64_t tiles_n = ceil_div(n, tile_n);
  const int64_t tiles = ceil_div(m, tile_m) * tiles_n;
  const int64_t kc_max = std::min(k, kKC);
  const double tile_flops = 2.0 * double(tile_m) * double(tile_n) * double(k);
  const int64_t grain = std::max<int64_t>(1, int64_t(kMinParallelFlops / tile_flops));
  parallel_for(0, tiles, grain, [&](int64_t t0, int64_t t1) {
    // This thread's packing buffers (tile_m and tile_n are multiples of MR and NR).
    std::unique_ptr<T[]> apack(new T[size_t(tile_m * kc_max)]);
    std::unique_ptr<T[]> bpack(new T[size_t(kc_max * tile_n)]);
    T acc[MR * NR];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = (t / tiles_n) * tile_m, j0 = (t % tiles_n) * tile_n;
      const int64_t mc = std::min(tile_m, m - i0), nc = std::min(tile_n, n - j0);
      for (int64_t p0 = 0; p0 < k; p0 += kKC) {
        const int64_t kc = std::min(kKC, k - p0);
        pack_a(A, i0, mc, p0, kc, apack.get());
        pack_b(B, p0, kc, j0, nc, bpack.get());
        // jr outer: one B micro-panel stays in L1 while the A panels stream from L2.
        for (int64_t jr = 0; jr < nc; jr += NR) {
          for (int64_t ir = 0; ir < mc; ir += MR) {
            micro_kernel<T>(kc, apack.get() + ir * kc, bpack.get() + jr * kc, acc);
            store_tile<T>(acc, std::min<int64_t>(MR, mc - ir), std::min<int64_t>(NR, nc - jr), alpha, beta, p0 == 0,
                          c + (i0 + ir) * ldc + j0 + jr, ldc);
          }
        }
      }
    }
  });
}

// ---- versions 4 and 5: packed panels, SIMD micro-kernel chosen at run time ----

// The portable vector interface of gemm_micro_kernel (ops/cpu/gemm_microkernel.h): GCC
// vector extensions of 16 bytes, which any x86-64 (SSE2) or ARM (NEON) CPU has. No fused
// multiply-add in the baseline ISA, so fmadd is a multiply and an add.
template <typename T>
struct GenericVector {
  using Scalar = T;
  typedef T Reg __attribute__((vector_size(16)));
  static constexpr int kLanes = int(16 / sizeof(T));
  static Reg zero() { return Reg{}; }
  static Reg load(const T* p) { return loadu(p); }
  static Reg loadu(const T* p) {
    Reg r;
    std::memcpy(&r, p, sizeof(Reg));
    return r;
  }
  static void storeu(T* p, Reg x) { std::memcpy(p, &x, sizeof(Reg)); }
  static Reg broadcast(const T* p) { return Reg{} + *p; }
  static Reg fmadd(Reg a, Reg b, Reg c) { return a * b + c; }
  static Reg mul(Reg a, Reg b) { return a * b; }
};

// Note [GEMM blocking]
// The loops around the micro-kernel, outermost first (BLIS's five loops, the two inner
// ones swapped):
//   jc: columns of C in blocks of nc       op(B) block kc x nc packed: lives in L2
//   pc: the depth k in blocks of kc        beta applies on the first block only
//   ic: rows of C in blocks of mc          op(A) block mc x kc packed: lives in L3/L2
//   ir: MR-row panels of the A block       one A micro-panel (MR x kc) stays in L1
//   jr: NR-column panels of the B block    streams from L2, kc x NR values per call
// Zen 4/5 have 32/48 KiB of L1d and 1 MiB of L2 per core (shared by its two SMT threads)
// and a shared L3. The AVX-512 float kernel (14 x 32) with kc = 256 keeps a 14 x 256 A
// micro-panel (14 KiB) in L1 and a 256 x 384 B block (384 KiB) in L2, so two threads on
// one core fit side by side; every B micro-panel (32 KiB) is read from L2 once per A
// micro-panel, 128 bytes per 28 FMAs, well inside L2's bandwidth. mc = 336 (24 panels, a
// 336 KiB A block) bounds the packing buffer. Putting the A micro-panel (MR rows) rather
// than the B micro-panel (NR = 32 columns, twice as wide) in L1 allows the deeper kc.
// Each ISA file states its own numbers, measured with bench/linalg_bench.cpp.
template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }
  // At least n values, 64-byte aligned; the contents are not kept when it grows.
  T* get(int64_t n) {
    if (n > size_) {
      std::free(data_);
      data_ = static_cast<T*>(std::aligned_alloc(64, size_t(round_up(n * int64_t(sizeof(T)), 64))));
      KILN_CHECK(data_ != nullptr, "gemm: out of memory for a ", n, "-value packing buffer");
      size_ = n;
    }
    return data_;
  }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
};

// One pair of packing buffers per thread, kept for the thread's life: a GEMM in a
// training loop reuses them instead of page-faulting fresh memory on every call.
template <typename T>
struct PackBuffers {
  AlignedBuffer<T> a, b;
  AlignedBuffer<T> narrow_c;  // C^T of a narrow product (Note [Narrow products])
};
template <typename T>
PackBuffers<T>& thread_pack_buffers() {
  static thread_local PackBuffers<T> buffers;
  return buffers;
}

// The largest register block of any micro-kernel (14 x 32 floats), for edge tiles.
constexpr int kMaxMicroTile = 14 * 32;

// The block sizes of versions 4 and 5 for a product of depth k over an m_span x n_span
// rectangle of C. Blocks of near-equal size rather than full ones and a remainder: k =
// 784 with kc = 256 runs 4 panels of 208 (multiples of 16 suit the transposing packs),
// not 256 + 256 + 256 + 16, whose last panel would pay the C update for 16 steps of work.
struct GemmBlocks {
  int64_t mc, nc, kc;
};
template <typename T>
GemmBlocks gemm_blocks(const GemmMicroKernel<T>& uk, int64_t m_span, int64_t n_span, int64_t k) {
  return {tile_size(m_span, uk.mc, uk.mr), tile_size(n_span, uk.nc, uk.nr), tile_size(k, uk.kc, 16)};
}

// C[i_begin:i_end, jc:jc+nc] (+)= alpha * op(A)[i_begin:i_end, pc:pc+kc] @ the packed B
// block bpack (op(B)[pc:pc+kc, jc:jc+nc]), on the calling thread: op(A) is packed mc_step
// rows at a time into apack, then every MR x NR tile runs the micro-kernel. beta_block
// is beta for the first block of k, 1 after. Edge tiles of fewer than NR columns are
// computed into a local tile and added to C element by element.
template <typename T>
void gemm_multiply_packed_b(const GemmMicroKernel<T>& uk, bool trans_a, int64_t i_begin, int64_t i_end, int64_t mc_step,
                            int64_t jc, int64_t nc, int64_t pc, int64_t kc, T alpha, const T* a, int64_t lda,
                            const T* bpack, T beta_block, T* apack, T* c, int64_t ldc) {
  const int64_t MR = uk.mr, NR = uk.nr;
  alignas(64) T edge[kMaxMicroTile];
  for (int64_t ic = i_begin; ic < i_end; ic += mc_step) {
    const int64_t mc = std::min(mc_step, i_end - ic);
    uk.pack_a(trans_a, a, lda, ic, mc, pc, kc, apack);
    for (int64_t ir = 0; ir < mc; ir += MR) {
      const int64_t rows = std::min(MR, mc - ir);
      // A panel of fewer rows runs a kernel of that many rows (Note [GEMM edge rows]).
      const typename GemmMicroKernel<T>::Kernel kernel = uk.row_kernel[rows];
      for (int64_t jr = 0; jr < nc; jr += NR) {
        const int64_t cols = std::min(NR, nc - jr);
        T* ct = c + (ic + ir) * ldc + jc + jr;
        if (cols == NR) {
          kernel(kc, apack + ir * kc, bpack + jr * kc, alpha, beta_block, ct, ldc);
          continue;
        }
        kernel(kc, apack + ir * kc, bpack + jr * kc, alpha, T(0), edge, NR);
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t j = 0; j < cols; ++j) {
            T& cij = ct[i * ldc + j];
            cij = beta_block == T(0) ? edge[i * NR + j] : edge[i * NR + j] + beta_block * cij;
          }
        }
      }
    }
  }
}

// C[i_begin:i_end, j_begin:j_end] of the product, on the calling thread with its own
// packing buffers (see Note [GEMM blocking]). With `prepacked` (Note [Prepacked B]),
// op(B) is read from there instead of being packed.
template <typename T>
void gemm_packed_block(const GemmMicroKernel<T>& uk, bool trans_a, bool trans_b, int64_t i_begin, int64_t i_end,
                       int64_t j_begin, int64_t j_end, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                       int64_t ldb, T beta, T* c, int64_t ldc, const T* prepacked = nullptr, int64_t n_pad = 0) {
  const GemmBlocks blocks = gemm_blocks(uk, i_end - i_begin, j_end - j_begin, k);
  PackBuffers<T>& buffers = thread_pack_buffers<T>();
  T* apack = buffers.a.get(blocks.mc * blocks.kc);
  T* bbuffer = prepacked ? nullptr : buffers.b.get(blocks.kc * blocks.nc);
  for (int64_t jc = j_begin; jc < j_end; jc += blocks.nc) {
    const int64_t nc = std::min(blocks.nc, j_end - jc);
    for (int64_t pc = 0; pc < k; pc += blocks.kc) {
      const int64_t kc = std::min(blocks.kc, k - pc);
      const T* bpack = bbuffer;
      if (prepacked) {
        bpack = prepacked + pc * n_pad + jc * kc;  // depth block pc, panel jc / NR
      } else {
        uk.pack_b(trans_b, b, ldb, pc, kc, jc, nc, bbuffer);
      }
      gemm_multiply_packed_b(uk, trans_a, i_begin, i_end, blocks.mc, jc, nc, pc, kc, alpha, a, lda, bpack,
                             pc == 0 ? beta : T(1), apack, c, ldc);
    }
  }
}

// The micro-kernel of the active ISA (Note [CPU ISA levels]). An ISA file's function is
// called only once the CPU is known to have that ISA: its code may use the instructions.
template <typename T>
const GemmMicroKernel<T>& active_micro_kernel() {
  static const GemmMicroKernel<T> generic = make_gemm_micro_kernel<GenericVector<T>, 6, 2>("generic", 96, 256, 384);
  switch (active_isa()) {
    case CpuIsa::Avx512: {
      static const GemmMicroKernel<T> avx512 = gemm_micro_kernel_avx512<T>();
      return avx512;
    }
    case CpuIsa::Avx2: {
      static const GemmMicroKernel<T> avx2 = gemm_micro_kernel_avx2<T>();
      return avx2;
    }
    case CpuIsa::Generic: break;
  }
  return generic;
}

// Note [GEMM threading]
// Version 5 gives each thread one rectangle of C and runs version 4's loops on it with the
// thread's own packing buffers: no synchronisation inside the product. With t threads C is
// cut into tm x tn rectangles (tm * tn = t), and the split of least cost wins, the cost of
// a thread per unit of depth being
//   (its rectangle padded to whole MR x NR tiles: multiply-adds)
//     + kPackCost * (the rows of op(A) plus the columns of op(B) that it packs).
// A packed value costs about ten multiply-add lanes: about 0.1 ns to stream it in from L2
// or L3 and store it, against 0.0094 ns a lane at this machine's 212 GFLOP/s per thread.
// On a tie, the split that packs fewer values, then rows: 1024 x 1024 on 2 threads is two
// 512 x 1024 halves. The padding alone decided until the packing was counted, and it let
// the LSTM's input products (3840 x 512 x 128 forward, 3840 x 128 x 512 for dx) and the
// weight gradient's 512 x 128 x 3776 run as column halves, because those padded a few
// percent less: each thread then packed all 3840 rows of A (the gate gradients: 7.7 MB).
// Counting the packing makes them bands of rows: the LSTM training step took 24.2 ->
// 21.9 ms (medians of 12 interleaved runs); the MLP, ResNet and transformer steps did not
// change.
//
// The MLP's forward product, 128 x 256 with B the transposed weight, pads the same as two
// bands of 64 rows or two 128-column halves and packs less as halves. Each thread then
// reads only the half of the weight that it updates in the optimizer step (elementwise
// kernels split a tensor into contiguous halves, which are these halves of the weight's
// rows). With the row split both threads read all of it, half of it from the other core's
// cache, and the Adam step that follows waits for those lines to come back. In the
// training step (medians of separate runs of 2000 steps) the product took 188-196 -> 175
// us and Adam 47 -> 42 us; in a slow stretch of the VM, when memory-bound kernels ran at
// 2.5 times their usual time, Adam took 118 -> 60 us and the product 220 -> 240 us. On its
// own, with its operands hot, the product takes the same time either way (BM_GemmMlp).
// Packing a row split's shared op(B) once, each thread a share of its panels, then a
// barrier, measured slower: 165 -> 245 us on the MLP's product, as every panel then
// crosses between the cores' caches.
//
// Where the work stays on a core matters as much as the padding: tensors are written and
// read by the elementwise kernels in contiguous chunks, thread i taking rows
// [i ceil(m / t), (i + 1) ceil(m / t)) of a matrix (parallel_for), and a row of A or C that
// another core last wrote crosses between the caches. So
// - a band of rows is ceil(m / tm) rows, the same rows as those chunks, with a short
//   last panel where that is not a multiple of MR (Note [GEMM edge rows]), rather than
//   a multiple of MR: 64 rows on 2 threads are 32 + 32, not 42 + 22;
// - with a prepacked op(B) (Note [Prepacked B]), which no thread packs and all read, C is
//   split into bands of rows whenever each band gets a whole panel. The LSTM's step
//   products (64 x 512 x 128 forward, 64 x 128 x 512 backward) then read the rows of h
//   and of the gate gradients that the same thread's part of the cell kernel has just
//   written, and write the rows that it reads next. Before, they were split into column
//   halves (which pad less): each thread read all of A. In an LSTM training step, when
//   the VM's memory was slow, the backward's step products took 3.2-3.5 -> 2.1-2.4 ms per
//   layer and the step 35.3 -> 30.9 ms (medians of 12 interleaved rounds); when it was
//   fast, the step did not change.
//
// A thread needs kMinFlopsPerThread of work, or the product runs on fewer threads (waking
// a sleeping OpenMP thread costs tens of microseconds with OMP_WAIT_POLICY=passive).
constexpr double kMinFlopsPerThread = 4e6;
constexpr int64_t kPackCost = 10;  // multiply-add lanes per packed value

// Note [Narrow products]
// A C narrower than the micro-tile wastes most of it: the MLP's logits, (128 x 256) @
// (256 x 10), use 10 of every tile's 32 columns, and 128 rows round up to 140. The same
// product transposed, C^T = op(B)^T op(A)^T, puts the narrow side along MR = 14 instead:
// one panel of 14 rows for 10, and 128 columns in whole panels of 32, 2.5 times less
// padding. So when C has fewer than NR columns and its transpose pads at most 3/4 as much,
// versions 4 and 5 compute C^T into a per-thread scratch buffer (alpha applied, beta 0)
// and add it into C transposed, which for n < NR costs little next to the product.
template <typename T>
bool narrow_product_is_better_transposed(const GemmMicroKernel<T>& uk, int64_t m, int64_t n) {
  if (n >= uk.nr) return false;
  const int64_t padded = round_up(m, uk.mr) * round_up(n, uk.nr);
  const int64_t padded_transposed = round_up(n, uk.mr) * round_up(m, uk.nr);
  return 4 * padded_transposed <= 3 * padded;
}

// How version 5 cuts C among threads (Note [GEMM threading]): `threads` rectangles of
// rows x cols, tn of them side by side in each band of rows. shared_b: op(B) is
// prepacked, so every thread reads it and none packs it.
struct GemmSplit {
  int threads;
  int64_t tn, rows, cols;
};
template <typename T>
GemmSplit gemm_split(const GemmMicroKernel<T>& uk, int threads, int64_t m, int64_t n, int64_t k,
                     bool shared_b = false) {
  const double flops = 2.0 * double(m) * double(n) * double(k);
  threads = int(std::max<double>(1, std::min<double>(threads, flops / kMinFlopsPerThread)));
  if (shared_b && m >= int64_t(threads) * uk.mr) return {threads, 1, ceil_div(m, threads), n};
  int64_t best_tm = 1, best_cost = -1, best_packed = -1;
  for (int64_t tm = threads; tm >= 1; --tm) {
    if (threads % tm != 0) continue;
    const int64_t tn = threads / tm;
    const int64_t packed = ceil_div(m, tm) + ceil_div(n, tn);  // rows of op(A) + columns of op(B)
    const int64_t cost = round_up(ceil_div(m, tm), uk.mr) * round_up(ceil_div(n, tn), uk.nr) + kPackCost * packed;
    if (best_cost < 0 || cost < best_cost || (cost == best_cost && packed < best_packed)) {
      best_cost = cost, best_packed = packed, best_tm = tm;
    }
  }
  const int64_t tn = threads / best_tm;
  return {threads, tn, ceil_div(m, best_tm), round_up(ceil_div(n, tn), uk.nr)};
}

// Runs block(i0, i1, j0, j1) for each thread's rectangle of C, on its thread.
template <typename Block>
void for_each_thread_block(const GemmSplit& split, int64_t m, int64_t n, const Block& block) {
  parallel_for(0, split.threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = (t / split.tn) * split.rows, j0 = (t % split.tn) * split.cols;
      if (i0 < m && j0 < n) block(i0, std::min(m, i0 + split.rows), j0, std::min(n, j0 + split.cols));
    }
  });
}

template <typename T>
void gemm_kernel45(int threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const GemmMicroKernel<T>& uk = active_micro_kernel<T>();
  if (narrow_product_is_better_transposed(uk, m, n)) {
    T* ct = thread_pack_buffers<T>().narrow_c.get(n * m);
    gemm_kernel45(threads, !trans_b, !trans_a, n, m, k, alpha, b, ldb, a, lda, T(0), ct, m);
    for (int64_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) row[j] = beta == T(0) ? ct[j * m + i] : ct[j * m + i] + beta * row[j];
    }
    return;
  }
  for_each_thread_block(gemm_split(uk, threads, m, n, k), m, n, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    gemm_packed_block(uk, trans_a, trans_b, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
  });
}

// The cases with nothing to multiply, shared by every entry point: an empty C is left
// alone, and with k = 0 or alpha = 0 C becomes beta C without reading A or B. Returns
// whether it was one of them (C is then done).
template <typename T>
bool gemm_without_product(int64_t m, int64_t n, int64_t k, T alpha, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return true;
  if (k != 0 && alpha != T(0)) return false;
  scale_rows(beta, 0, m, n, c, ldc);
  return true;
}

// The header of a prepacked op(B) (Note [Prepacked B]): which micro-kernel packed it,
// for which shape, with which depth blocks.
struct PrepackedHeader {
  const void* kernel;
  int64_t k, n, kc;
};
constexpr size_t kPrepackedHeaderBytes = 64;  // the values after it stay 64-byte aligned
static_assert(sizeof(PrepackedHeader) <= kPrepackedHeaderBytes);

}  // namespace

template <typename T>
size_t gemm_prepacked_b_bytes(int64_t k, int64_t n) {
  const GemmMicroKernel<T>& uk = active_micro_kernel<T>();
  return kPrepackedHeaderBytes + sizeof(T) * size_t(k * round_up(n, uk.nr));
}

template <typename T>
void gemm_prepack_b(bool trans_b, int64_t k, int64_t n, const T* b, int64_t ldb, void* out) {
  const GemmMicroKernel<T>& uk = active_micro_kernel<T>();
  const int64_t kc_step = tile_size(k, uk.kc, 16), n_pad = round_up(n, uk.nr);
  const PrepackedHeader header{&uk, k, n, kc_step};
  std::memcpy(out, &header, sizeof(header));
  T* packed = reinterpret_cast<T*>(static_cast<char*>(out) + kPrepackedHeaderBytes);
  if (n == 0) return;
  for (int64_t pc = 0; pc < k; pc += kc_step)
    uk.pack_b(trans_b, b, ldb, pc, std::min(kc_step, k - pc), 0, n, packed + pc * n_pad);
}

template <typename T>
bool gemm_prepacked(bool trans_a, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                    const void* packed_b, T beta, T* c, int64_t ldc) {
  const GemmMicroKernel<T>& uk = active_micro_kernel<T>();
  PrepackedHeader header;
  std::memcpy(&header, packed_b, sizeof(header));
  if (header.kernel != &uk || header.k != k || header.n != n || header.kc != tile_size(k, uk.kc, 16)) return false;
  if (gemm_without_product(m, n, k, alpha, beta, c, ldc)) return true;
  const T* packed = reinterpret_cast<const T*>(static_cast<const char*>(packed_b) + kPrepackedHeaderBytes);
  const int64_t n_pad = round_up(n, uk.nr);
  for_each_thread_block(gemm_split(uk, available_threads(), m, n, k, /*shared_b=*/true), m, n,
                        [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
                          gemm_packed_block<T>(uk, trans_a, false, i0, i1, j0, j1, k, alpha, a, lda, nullptr, 0, beta,
                                               c, ldc, packed, n_pad);
                        });
  return true;
}

const char* gemm_variant_name(int version) {
  switch (version) {
    case 1: return "gemm_kernel1";
    case 2: return "gemm_kernel2";
    case 3: return "gemm_kernel3";
    case 4: return "gemm_kernel4";
    case 5: return "gemm_kernel5";
    default: return "gemm_kernel?";
  }
}

// The shared cases run here, so each variant sees m, n, k >= 1 and alpha != 0.
template <typename T>
void gemm_variant(int version, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  KILN_CHECK(version >= 1 && version <= kNumGemmVariants, "gemm: no variant ", version, " (variants are 1 to ",
             kNumGemmVariants, ")");
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  if (gemm_without_product(m, n, k, alpha, beta, c, ldc)) return;
  switch (version) {
    case 1: gemm_kernel1(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return;
    case 2: gemm_kernel2(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return;
    case 3: gemm_kernel3(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return;
    case 4: gemm_kernel45(1, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return;
    default: gemm_kernel45(available_threads(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return;
  }
}

// Version 5, except where its MR x NR micro-tile is mostly padding (BM_GemmVector
// measures these): a 1 x 1 C (a dot product) would use 1 of its lanes, on one thread;
// the naive loop is faster. A one-row C (vector @ matrix) streams op(B) once, which
// version 2's axpy over contiguous rows of B does faster.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  int version = 5;
  if (m == 1 && n == 1) {
    version = 1;
  } else if (m == 1 && !trans_b) {
    version = 2;
  }
  gemm_variant<T>(version, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);
template size_t gemm_prepacked_b_bytes<float>(int64_t, int64_t);
template size_t gemm_prepacked_b_bytes<double>(int64_t, int64_t);
template void gemm_prepack_b<float>(bool, int64_t, int64_t, const float*, int64_t, void*);
template void gemm_prepack_b<double>(bool, int64_t, int64_t, const double*, int64_t, void*);
template bool gemm_prepacked<float>(bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const void*, float,
                                    float*, int64_t);
template bool gemm_prepacked<double>(bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const void*,
                                     double, double*, int64_t);
template void gemm_variant<float>(int, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                  const float*, int64_t, float, float*, int64_t);
template void gemm_variant<double>(int, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                   const double*, int64_t, double, double*, int64_t);

}  // namespace kiln::cpu
