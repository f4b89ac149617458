// DType: the element types a tensor can hold, their sizes and names, type promotion,
// and the dispatch helpers that turn a runtime dtype into a compile-time C++ type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>

#include "core/error.h"
#include "core/half.h"

namespace kiln {

// Float16 and BFloat16 (core/half.h): tensors of them convert with to(), move between
// devices, are indexed, compared and saved everywhere; the ops that compute on them
// opt in through dispatch_floating_and_half (see Note [Dtype dispatch]), the others
// accept float32 and float64 only and say so in their error.
enum class DType : uint8_t { Float32, Float64, Int64, UInt8, Bool, Float16, BFloat16 };

constexpr DType kFloat32 = DType::Float32;
constexpr DType kFloat64 = DType::Float64;
constexpr DType kInt64 = DType::Int64;
constexpr DType kUInt8 = DType::UInt8;
constexpr DType kBool = DType::Bool;
constexpr DType kFloat16 = DType::Float16;
constexpr DType kBFloat16 = DType::BFloat16;

size_t element_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", ... as PyTorch spells them
std::ostream& operator<<(std::ostream& os, DType dtype);

inline bool is_floating(DType d) {
  return d == DType::Float32 || d == DType::Float64 || d == DType::Float16 || d == DType::BFloat16;
}
inline bool is_integral(DType d) { return !is_floating(d); }  // bool counts as integral

// PyTorch's promotion lattice for tensor-tensor ops: bool < uint8 < int64 < float16,
// bfloat16 < float32 < float64, where float16 with bfloat16 gives float32.
DType promote_types(DType a, DType b);

// Maps a C++ type to its DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };

// Note [Dtype dispatch]
// Kernels are templates over the element type; these helpers pick the instantiation
// at run time. The callable is a templated lambda, called as f.template operator()<T>():
//
//   dispatch_floating(x.dtype(), "exp", [&]<typename T>() { ...kernel over T... });
//
// Each helper lists the dtypes it accepts, so an op instantiates its kernel only for
// the types it supports (no template bloat), and any other dtype is a clear error.
// dispatch_floating_and_half adds Half and BFloat16: an op opts in by switching to it,
// and its kernel then computes in opmath_t<T> (float for the 16-bit types, see
// core/half.h) and rounds each result once to T, as PyTorch's CPU kernels do.
template <typename F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    default: KILN_FAIL(op, ": expected a floating dtype (float32 or float64), got ", dtype_name(dtype));
  }
}

template <typename F>
void dispatch_floating_and_half(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    case DType::Float16: f.template operator()<Half>(); return;
    case DType::BFloat16: f.template operator()<BFloat16>(); return;
    default:
      KILN_FAIL(op, ": expected a floating dtype (float32, float64, float16 or bfloat16), got ", dtype_name(dtype));
  }
}

// dispatch_numeric plus Half and BFloat16 (neg, relu: ops that take int64 too).
template <typename F>
void dispatch_numeric_and_half(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    case DType::Int64: f.template operator()<int64_t>(); return;
    case DType::Float16: f.template operator()<Half>(); return;
    case DType::BFloat16: f.template operator()<BFloat16>(); return;
    default:
      KILN_FAIL(op, ": expected float32, float64, float16, bfloat16 or int64, got ", dtype_name(dtype));
  }
}

// float32, float64 and int64: arithmetic that makes sense on integers too.
template <typename F>
void dispatch_numeric(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    case DType::Int64: f.template operator()<int64_t>(); return;
    default: KILN_FAIL(op, ": expected float32, float64 or int64, got ", dtype_name(dtype));
  }
}

template <typename F>
void dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    case DType::Int64: f.template operator()<int64_t>(); return;
    case DType::UInt8: f.template operator()<uint8_t>(); return;
    case DType::Bool: f.template operator()<bool>(); return;
    case DType::Float16: f.template operator()<Half>(); return;
    case DType::BFloat16: f.template operator()<BFloat16>(); return;
  }
}

}  // namespace kiln
