// Block-wide sums for kernels that give a row or a channel part to one block
// (cuda/norm.cu, cuda/batch_norm.cu): a warp shuffle tree, then warp 0 adds the warps'
// sums, always in the same order, so a launch's result does not change between runs.
#pragma once

#include <cuda_runtime.h>

namespace kiln::cuda {

// The sum of v over the block; every thread gets it. `scratch` holds 33 doubles in
// shared memory; every thread of the block must call this (it synchronises), and
// blockDim.x must be a multiple of 32.
__device__ inline double block_sum(double v, double* scratch) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32, warps = int(blockDim.x) / 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? scratch[lane] : 0.0;
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) scratch[32] = v;
  }
  __syncthreads();
  const double total = scratch[32];
  __syncthreads();  // scratch is rewritten by the next call
  return total;
}

}  // namespace kiln::cuda
