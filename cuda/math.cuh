// Device math overloaded on float and double, so a kernel templated on T calls one name
// (math::exp(v)) and gets expf for float32 and exp for float64. Used by cuda/*.cu.
#pragma once

#include <type_traits>

#include <cuda_runtime.h>

namespace kiln::cuda::math {

__device__ inline float exp(float v) { return ::expf(v); }
__device__ inline double exp(double v) { return ::exp(v); }
__device__ inline float expm1(float v) { return ::expm1f(v); }
__device__ inline double expm1(double v) { return ::expm1(v); }
__device__ inline float log(float v) { return ::logf(v); }
__device__ inline double log(double v) { return ::log(v); }
__device__ inline float log1p(float v) { return ::log1pf(v); }
__device__ inline double log1p(double v) { return ::log1p(v); }
__device__ inline float sqrt(float v) { return ::sqrtf(v); }
__device__ inline double sqrt(double v) { return ::sqrt(v); }
__device__ inline float sin(float v) { return ::sinf(v); }
__device__ inline double sin(double v) { return ::sin(v); }
__device__ inline float cos(float v) { return ::cosf(v); }
__device__ inline double cos(double v) { return ::cos(v); }
__device__ inline float erf(float v) { return ::erff(v); }
__device__ inline double erf(double v) { return ::erf(v); }
__device__ inline float tanh(float v) { return ::tanhf(v); }
__device__ inline double tanh(double v) { return ::tanh(v); }
__device__ inline float pow(float x, float y) { return ::powf(x, y); }
__device__ inline double pow(double x, double y) { return ::pow(x, y); }
__device__ inline float fabs(float v) { return ::fabsf(v); }
__device__ inline double fabs(double v) { return ::fabs(v); }

// NaN test that also compiles for integer T (always false there).
template <typename T>
__device__ inline bool is_nan(T v) {
  return v != v;
}
// Finite: not NaN and not +-inf; integers always are.
template <typename T>
__device__ inline bool is_finite(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return ::isfinite(v);
  } else {
    return true;
  }
}

}  // namespace kiln::cuda::math
