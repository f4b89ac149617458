// The 16-bit floating types: Half (IEEE 754 binary16, torch.float16) and BFloat16
// (torch.bfloat16: float32's top 16 bits). Storage types: arithmetic converts to float,
// so a kernel written for float compiles for them and computes in float32 as
// PyTorch's CPU kernels do. The conversions are written once, for the host and for
// CUDA device code (KILN_HOST_DEVICE).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/host_device.h"

namespace kiln {

// Note [16-bit float conversions]
// float -> Half and float -> BFloat16 round to nearest, ties to even, as PyTorch and
// the hardware do; NaN stays NaN (float16: quiet, sign kept; bfloat16: PyTorch's
// canonical 0x7FC0) and overflow becomes infinity
// (binary16's largest finite value is 65504: anything from 65520 up rounds to inf).
// Half and BFloat16 -> float are exact. double -> Half goes through float (as
// c10::Half(float) does), so both PyTorch and kiln round twice.

KILN_HOST_DEVICE inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
KILN_HOST_DEVICE inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

KILN_HOST_DEVICE inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f), sign = (x >> 16) & 0x8000u, a = x & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) return uint16_t(sign | (a > 0x7F800000u ? 0x7E00u : 0x7C00u));  // NaN, inf
  if (a >= 0x477FF000u) return uint16_t(sign | 0x7C00u);                                // rounds past 65504
  if (a < 0x38800000u) {  // below 2^-14: a subnormal half (or zero); |f| * 2^24 is exact
    return uint16_t(sign | uint32_t(std::rint(bits_float(a) * 16777216.0f)));
  }
  // Normal: rebias the exponent (127 - 15 = 112) and drop 13 mantissa bits, adding just
  // under half an ulp plus the kept bit's parity (ties to even); a carry moves the
  // exponent up, which is the right rounding too.
  const uint32_t rounded = a + 0x0FFFu + ((a >> 13) & 1u);
  return uint16_t(sign | ((rounded - (112u << 23)) >> 13));
}

KILN_HOST_DEVICE inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in float
    const float v = float(m) * 5.9604644775390625e-8f;
    return bits_float(float_bits(v) | sign);
  }
  if (e == 31) return bits_float(sign | 0x7F800000u | (m << 13));  // inf, NaN (payload kept)
  return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

KILN_HOST_DEVICE inline uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;  // every NaN becomes the canonical one, as in PyTorch
  return uint16_t((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);  // ties to even; overflow reaches inf
}

KILN_HOST_DEVICE inline float bfloat16_bits_to_float(uint16_t b) { return bits_float(uint32_t(b) << 16); }

// The two formats, for Float16Storage.
struct HalfFormat {
  KILN_HOST_DEVICE static uint16_t to_bits(float f) { return float_to_half_bits(f); }
  KILN_HOST_DEVICE static float from_bits(uint16_t b) { return half_bits_to_float(b); }
};
struct BFloat16Format {
  KILN_HOST_DEVICE static uint16_t to_bits(float f) { return float_to_bfloat16_bits(f); }
  KILN_HOST_DEVICE static float from_bits(uint16_t b) { return bfloat16_bits_to_float(b); }
};

// The two types share their shape: 16 bits of storage, implicit conversions from and to
// float, and the compound assignments kernels use (computed in float).
template <typename Format>
struct Float16Storage {
  uint16_t bits;
  Float16Storage() = default;
  KILN_HOST_DEVICE Float16Storage(float f) : bits(Format::to_bits(f)) {}  // implicit, as c10::Half
  KILN_HOST_DEVICE operator float() const { return Format::from_bits(bits); }
  KILN_HOST_DEVICE static Float16Storage from_bits(uint16_t b) {
    Float16Storage s;
    s.bits = b;
    return s;
  }
  KILN_HOST_DEVICE Float16Storage& operator+=(float v) { return *this = float(*this) + v; }
  KILN_HOST_DEVICE Float16Storage& operator-=(float v) { return *this = float(*this) - v; }
  KILN_HOST_DEVICE Float16Storage& operator*=(float v) { return *this = float(*this) * v; }
  KILN_HOST_DEVICE Float16Storage& operator/=(float v) { return *this = float(*this) / v; }
};

using Half = Float16Storage<HalfFormat>;
using BFloat16 = Float16Storage<BFloat16Format>;
static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2, "16-bit floats must be 2 bytes");

// The type a kernel over T computes in (PyTorch's opmath_type): float for the 16-bit
// types, T itself otherwise. A kernel loads T, computes in opmath_t<T> and stores T, so
// each 16-bit result is rounded once.
template <typename T> struct OpMath { using type = T; };
template <> struct OpMath<Half> { using type = float; };
template <> struct OpMath<BFloat16> { using type = float; };
template <typename T> using opmath_t = typename OpMath<T>::type;

template <typename T> inline constexpr bool is_16bit_float_v = false;
template <> inline constexpr bool is_16bit_float_v<Half> = true;
template <> inline constexpr bool is_16bit_float_v<BFloat16> = true;

}  // namespace kiln
