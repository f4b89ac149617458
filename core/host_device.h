// KILN_HOST_DEVICE marks the element formulas that the CPU kernels and the CUDA kernels
// of one op share (ops/kernels/<family>.h), so both devices evaluate one expression: a
// __host__ __device__ function under nvcc, a plain inline function elsewhere. Such
// functions use only arithmetic and std:: math (which CUDA provides in device code).
#pragma once

#if defined(__CUDACC__)
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HOST_DEVICE
#endif

// KILN_ALWAYS_INLINE: an element formula that per-ISA files (ops/cpu/*_avx512.cpp, built
// with their own -m flags) also call. Forced inline, no compiled copy of it is ever
// emitted, so the linker cannot pick an AVX-512 copy for code that runs on any CPU
// (the same concern as Note [GEMM micro-kernels]).
#if defined(__CUDACC__)
#define KILN_ALWAYS_INLINE __forceinline__
#else
#define KILN_ALWAYS_INLINE inline __attribute__((always_inline))
#endif
