// Which SIMD instruction set the CPU kernels use: detected once from cpuid and the OS's
// saved register state (xgetbv), and lowered on request (KILN_CPU_ISA, set_active_isa).
// ops/cpu/gemm.cpp picks its micro-kernels from active_isa().
#pragma once

#include <string_view>

namespace kiln::cpu {

// Note [CPU ISA levels]
// Three levels, each a superset of the one before:
//   Generic: baseline x86-64 (SSE2), plain C++ kernels; also every non-x86 CPU.
//   Avx2:    AVX2 + FMA (256-bit registers), code in ops/cpu/*_avx2.cpp.
//   Avx512:  AVX-512 F, DQ, BW and VL (512-bit registers), code in ops/cpu/*_avx512.cpp.
// A level counts as present only when the CPU reports its instructions (cpuid) AND the
// operating system saves the wider registers on context switches (XCR0 via xgetbv: SSE
// and YMM state for Avx2, plus the opmask and ZMM state for Avx512); a VM that hides
// AVX-512 state from its guests gets Avx2.
enum class CpuIsa { Generic = 0, Avx2 = 1, Avx512 = 2 };

// "generic", "avx2", "avx512": the names KILN_CPU_ISA accepts.
const char* isa_name(CpuIsa isa);

// The best level this CPU and OS support; detected on the first call.
CpuIsa detected_isa();

// The level the kernels use: detected_isa(), or the lower one named by the environment
// variable KILN_CPU_ISA (generic|avx2|avx512, read on the first call), or the last
// set_active_isa(). Throws kiln::Error when KILN_CPU_ISA is not one of the three names or
// asks for more than the CPU has (the message names both levels).
CpuIsa active_isa();

// The level named by `name` (as KILN_CPU_ISA spells it), checked against `supported`:
// throws kiln::Error when the name is unknown or the level is above `supported` (the
// message names both). active_isa() calls it with detected_isa().
CpuIsa parse_isa(std::string_view name, CpuIsa supported);

// Forces a level (for tests and benchmarks comparing the paths). Throws kiln::Error,
// naming both levels, when `isa` is above detected_isa(). Not thread-safe against
// kernels running at the same time.
void set_active_isa(CpuIsa isa);

}  // namespace kiln::cpu
