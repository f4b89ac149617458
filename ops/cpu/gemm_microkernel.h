// Internal to the GEMM (ops/cpu/gemm*.cpp): the packing routines and the register-blocked
// micro-kernel, written once as templates over a small SIMD interface and compiled once
// per ISA (gemm.cpp: generic, gemm_avx2.cpp, gemm_avx512.cpp). See Note [GEMM micro-kernels].
#pragma once

#include <cstdint>
#include <cstring>

namespace kiln::cpu {

// Note [GEMM micro-kernels]
// The packed GEMM (versions 4 and 5 in ops/cpu/gemm.cpp) multiplies an MR x kc panel of
// op(A) by a kc x NR panel of op(B), both packed (Note [GEMM packing]), keeping the
// MR x NR block of C in registers: MR rows of NR / lanes vectors. Each step p of the
// panel depth loads NR / lanes vectors of B's row p, broadcasts the MR values of A's
// column p and does MR * NR / lanes fused multiply-adds, so the loads are a small part
// of the work and every register is in use:
//   AVX-512 float 14 x 32 (28 accumulators, 2 B vectors, 1 broadcast: 31 of 32 zmm)
//   AVX-512 double 14 x 16, AVX2 float 6 x 16 and double 6 x 8 (12 of 16 ymm + 3),
//   generic float 6 x 8 and double 6 x 4 (two 16-byte vectors per row, 12 of 16 xmm).
// Each ISA file fills a GemmMicroKernel with its shape, its cache blocking (kMC, kKC,
// kNC: see the ISA file for why those numbers) and three function pointers; gemm.cpp
// chooses one from active_isa() at run time, so no -m flag leaks into the rest of kiln.
//
// NOTE: everything below sits in an unnamed namespace on purpose: each ISA file compiles
// its own copy with its own -m flags, and a shared (inline, external) copy would let the
// linker keep the AVX-512 one for everybody. For the same reason this code calls no
// standard-library templates.

// Note [GEMM packing]
// pack_a copies op(A)[i0 : i0 + mc, p0 : p0 + kc] into ceil(mc / MR) panels, each kc
// steps of MR values (the panel's column p, top to bottom), the last panel padded with
// zero rows. pack_b copies op(B)[p0 : p0 + kc, j0 : j0 + nc] into ceil(nc / NR) panels,
// each kc steps of NR values (the panel's row p), the last padded with zero columns. The
// transposition is resolved here: the micro-kernel only ever sees packed panels. The
// outputs are 64-byte aligned, and so is every panel (MR * kc and NR * kc values with
// NR a multiple of the vector width).
template <typename T>
struct GemmMicroKernel {
  const char* isa;       // "generic", "avx2", "avx512"
  int mr, nr;            // the register block of C
  int64_t mc, kc, nc;    // the cache blocks: A block mc x kc, B block kc x nc
  void (*pack_a)(bool trans_a, const T* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out);
  void (*pack_b)(bool trans_b, const T* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* out);
  // c[0:mr, 0:nr] (leading dimension ldc) = alpha * ap^T bp + beta * c, where ap is a
  // packed (kc, mr) panel and bp a packed (kc, nr) one; beta == 0 does not read c.
  using Kernel = void (*)(int64_t kc, const T* ap, const T* bp, T alpha, T beta, T* c, int64_t ldc);
  Kernel kernel;
  // row_kernel[r] (1 <= r <= mr): the same for the first r rows of the panel only, for
  // the last panel of an m that is not a multiple of mr (Note [GEMM edge rows]);
  // row_kernel[mr] is `kernel`.
  static constexpr int kMaxRows = 16;
  Kernel row_kernel[kMaxRows + 1];
};

// Defined in gemm_avx512.cpp and gemm_avx2.cpp; call only when active_isa() allows.
template <typename T>
GemmMicroKernel<T> gemm_micro_kernel_avx512();
template <typename T>
GemmMicroKernel<T> gemm_micro_kernel_avx2();

namespace {

inline int64_t gemm_min(int64_t a, int64_t b) { return a < b ? a : b; }

// See Note [GEMM packing].
template <typename T, int MR>
void gemm_pack_a(bool trans_a, const T* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out) {
  if (trans_a) {
    // op(A)(i, p) = a[p * lda + i]: row p of a holds column p of every panel. Rows are
    // read front to back in groups of kRowGroup (16 x mc values stay in L1), and each
    // panel takes its MR values of every row of the group as one contiguous run. Filling
    // one panel at a time instead reads a few dozen bytes of every row per panel, and
    // with a large lda (the weight gradients' (T N, 4H) activations) that cost 15 % of
    // the product; dealing each row to every panel in turn writes mc / MR streams MR kc
    // values apart, which for kc = 256 is 14 KiB: the streams fall into two L1 sets and
    // evict each other's half-written lines.
    constexpr int64_t kRowGroup = 16;
    const int64_t full = mc / MR * MR;
    for (int64_t g0 = 0; g0 < kc; g0 += kRowGroup) {
      const int64_t g1 = gemm_min(kc, g0 + kRowGroup);
      const T* rows = a + (p0 + g0) * lda + i0;
      for (int64_t ir = 0; ir < full; ir += MR) {
        T* dst = out + ir * kc + g0 * MR;
        for (int64_t p = 0; p < g1 - g0; ++p) std::memcpy(dst + p * MR, rows + p * lda + ir, sizeof(T) * MR);
      }
      if (full < mc) {
        T* dst = out + full * kc + g0 * MR;
        for (int64_t p = 0; p < g1 - g0; ++p)
          for (int i = 0; i < MR; ++i) dst[p * MR + i] = full + i < mc ? rows[p * lda + full + i] : T(0);
      }
    }
    return;
  }
  for (int64_t ir = 0; ir < mc; ir += MR, out += MR * kc) {
    const int64_t rows = gemm_min(MR, mc - ir);
    // op(A)(i, p) = a[i * lda + p]: MR rows read side by side
    const T* src = a + (i0 + ir) * lda + p0;
    if (rows == MR) {
      for (int64_t p = 0; p < kc; ++p) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) out[p * MR + i] = src[i * lda + p];
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        for (int i = 0; i < MR; ++i) out[p * MR + i] = i < rows ? src[i * lda + p] : T(0);
      }
    }
  }
}

// See Note [GEMM packing].
template <typename T, int NR>
void gemm_pack_b(bool trans_b, const T* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  for (int64_t jr = 0; jr < nc; jr += NR, out += NR * kc) {
    const int64_t cols = gemm_min(NR, nc - jr);
    if (!trans_b) {  // op(B)(p, j) = b[p * ldb + j]: row p of the panel is contiguous
      const T* src = b + p0 * ldb + j0 + jr;
      for (int64_t p = 0; p < kc; ++p, src += ldb) {
        T* dst = out + p * NR;
        if (cols == NR) {
          std::memcpy(dst, src, sizeof(T) * NR);
        } else {
          for (int j = 0; j < NR; ++j) dst[j] = j < cols ? src[j] : T(0);
        }
      }
    } else {  // op(B)(p, j) = b[j * ldb + p]: a transpose, NR rows of b read side by side
      const T* src = b + (j0 + jr) * ldb + p0;
      if (cols == NR) {
        for (int64_t p = 0; p < kc; ++p) {
#pragma GCC unroll 32
          for (int j = 0; j < NR; ++j) out[p * NR + j] = src[j * ldb + p];
        }
      } else {
        for (int64_t p = 0; p < kc; ++p) {
          for (int j = 0; j < NR; ++j) out[p * NR + j] = j < cols ? src[j * ldb + p] : T(0);
        }
      }
    }
  }
}

// Note [Transposing packs]
// Two of the four packing cases read across rows: op(A) not transposed (MR values of
// column p sit in MR different rows) and op(B) transposed (likewise for NR values of row
// p). Value by value those copies cost about as much as the multiply itself on the MLP's
// shapes, so the SIMD float kernels transpose L x L blocks in registers (L = V::kLanes:
// 16 on AVX-512, 8 on AVX2): L row loads, three rounds of shuffles, L stores. Besides the
// micro-kernel's interface V provides `store` (aligned), `transpose(Reg in[L])` (in[r]
// = row r before, in[c] = column c after; forced inline, see the ISA files) and
// `store_a_column(dst, column, last)`, which writes the first MR values of a column (and
// may write past them when `last` is false: the next column's store comes after).

// gemm_pack_a for a non-transposed A, L columns of the depth at a time; rows past the
// panel's last (those of the block beyond MR, and those of a partial last panel) are
// zero. Packed value by value, the partial panel cost a third of the packing in the
// LSTM's step products (64 rows = 4 x 14 + 8, or 2 x 14 + 4 per thread).
template <typename V, int MR>
void pack_a_transposing(bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                        float* out) {
  constexpr int L = V::kLanes;
  static_assert(MR <= L, "a block holds a whole panel's rows");
  const int64_t kcl = kc / L * L;
  if (trans_a || kcl == 0) return gemm_pack_a<float, MR>(trans_a, a, lda, i0, mc, p0, kc, out);
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int rows = int(gemm_min(MR, mc - ir));
    float* panel = out + ir * kc;
    const float* src = a + (i0 + ir) * lda + p0;
    for (int64_t p = 0; p < kcl; p += L) {
      typename V::Reg block[L];
      for (int r = 0; r < L; ++r) block[r] = r < rows ? V::loadu(src + r * lda + p) : V::zero();
      V::transpose(block);
      for (int c = 0; c < L; ++c) V::store_a_column(panel + (p + c) * MR, block[c], c == L - 1);
    }
    if (kcl < kc) gemm_pack_a<float, MR>(false, a, lda, i0 + ir, rows, p0 + kcl, kc - kcl, panel + kcl * MR);
  }
}

// gemm_pack_b for a transposed B: each full panel as NR / L blocks side by side per L
// steps of p; a partial last panel goes value by value. Each block row also prefetches
// its row two blocks ahead: a transposed B is most often a weight that the optimizer step
// has just written, so it comes from the other core or from L3, L rows at a time, more
// streams than the hardware prefetcher follows. In the MLP's training step (AVX-512) the
// forward product (128 x 784 @ 784 x 256) took 254 -> 238 us with it (the same prefetch
// in the A pack measured no gain: its rows are the batch, read once).
template <typename V, int NR>
void pack_b_transposing(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                        float* out) {
  constexpr int L = V::kLanes;
  static_assert(NR % L == 0, "a panel is whole blocks wide");
  const int64_t full = trans_b ? nc / NR * NR : 0;
  const int64_t kcl = kc / L * L;
  for (int64_t jr = 0; jr < full && kcl > 0; jr += NR) {
    float* panel = out + jr * kc;
    for (int side = 0; side < NR / L; ++side) {
      const float* src = b + (j0 + jr + L * side) * ldb + p0;
      for (int64_t p = 0; p < kcl; p += L) {
        typename V::Reg block[L];
        for (int r = 0; r < L; ++r) {
          block[r] = V::loadu(src + r * ldb + p);
          __builtin_prefetch(src + r * ldb + p + 2 * L);
        }
        V::transpose(block);
        for (int c = 0; c < L; ++c) V::store(panel + (p + c) * NR + L * side, block[c]);
      }
    }
    if (kcl < kc) gemm_pack_b<float, NR>(true, b, ldb, p0 + kcl, kc - kcl, j0 + jr, NR, panel + kcl * NR);
  }
  const int64_t done = kcl > 0 ? full : 0;
  if (done < nc) gemm_pack_b<float, NR>(trans_b, b, ldb, p0, kc, j0 + done, nc - done, out + done * kc);
}

// Note [GEMM edge rows]
// When MR does not divide m, the last panel of A has fewer rows (the MLP's 128 = 9 x 14
// + 2). Running the full kernel on it wastes MR - r rows of multiply-adds: 12 of 14 for
// the MLP, a tenth of its forward product. So every row count r < MR has its own kernel,
// the same template with r rows of accumulators reading the first r values of each step
// of the padded panel (which keeps its MR stride), and writing r rows of C.

// The micro-kernel of Note [GEMM micro-kernels]: R rows of NV vectors of V::kLanes
// values, from an A panel packed MR values per step (R == MR, or fewer at an edge). V is
// the ISA's vector interface: a register type `Reg`, kLanes, and zero, load (aligned),
// loadu/storeu (unaligned), broadcast, fmadd(a, b, c) = a * b + c, mul.
// ap: (kc, MR) packed, bp: (kc, NV * kLanes) packed, c: (R, NV * kLanes), row stride ldc.
template <typename V, int MR, int NV, int R = MR>
void gemm_micro_kernel(int64_t kc, const typename V::Scalar* ap, const typename V::Scalar* bp,
                       typename V::Scalar alpha, typename V::Scalar beta, typename V::Scalar* c, int64_t ldc) {
  using T = typename V::Scalar;
  using Reg = typename V::Reg;
  constexpr int NR = NV * V::kLanes;
  Reg acc[R][NV];
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  }
  // The C block is needed only after the loop: start fetching it now.
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + NR - 1, 1);
  }
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    Reg b[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) b[j] = V::load(bp + j * V::kLanes);
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i) {
      const Reg ai = V::broadcast(ap + i);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fmadd(ai, b[j], acc[i][j]);
    }
    ap += MR;
    bp += NR;
  }
  const Reg alpha_v = V::broadcast(&alpha), beta_v = V::broadcast(&beta);
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i) {
    T* row = c + i * ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      T* at = row + j * V::kLanes;
      if (beta == T(0)) {
        V::storeu(at, V::mul(alpha_v, acc[i][j]));
      } else if (beta == T(1)) {
        V::storeu(at, V::fmadd(alpha_v, acc[i][j], V::loadu(at)));
      } else {
        V::storeu(at, V::fmadd(alpha_v, acc[i][j], V::mul(beta_v, V::loadu(at))));
      }
    }
  }
}

// Fills row_kernel[1 .. R] with the kernels of R, R - 1, ..., 1 rows.
template <typename V, int MR, int NV, int R>
void fill_row_kernels(GemmMicroKernel<typename V::Scalar>& k) {
  k.row_kernel[R] = &gemm_micro_kernel<V, MR, NV, R>;
  if constexpr (R > 1) fill_row_kernels<V, MR, NV, R - 1>(k);
}

// A GemmMicroKernel for the vector interface V with an MR x (NV * lanes) register block.
template <typename V, int MR, int NV>
GemmMicroKernel<typename V::Scalar> make_gemm_micro_kernel(const char* isa, int64_t mc, int64_t kc, int64_t nc) {
  using T = typename V::Scalar;
  constexpr int NR = NV * V::kLanes;
  static_assert(MR <= GemmMicroKernel<T>::kMaxRows, "row_kernel has room for kMaxRows rows");
  GemmMicroKernel<T> k{isa, MR, NR, mc, kc, nc, &gemm_pack_a<T, MR>, &gemm_pack_b<T, NR>, &gemm_micro_kernel<V, MR, NV>,
                       {}};
  fill_row_kernels<V, MR, NV, MR>(k);
  return k;
}

}  // namespace
}  // namespace kiln::cpu
