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
