// CPU feature detection (cpuid + xgetbv) and the active ISA level, see
// Note [CPU ISA levels] in ops/cpu/cpu_features.h.
#include "ops/cpu/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define KILN_X86 1
#endif

namespace kiln::cpu {
namespace {

#ifdef KILN_X86
// XCR0, the register-state components the OS saves: bit 1 SSE, 2 AVX (YMM upper halves),
// 5 opmask, 6 ZMM upper halves of 0-15, 7 ZMM 16-31. Read with xgetbv, which exists only
// when cpuid reports OSXSAVE (leaf 1, ecx bit 27).
uint64_t xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

CpuIsa detect() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return CpuIsa::Generic;
  const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28);
  if (!osxsave || !avx || !fma) return CpuIsa::Generic;
  const uint64_t xcr = xcr0();
  const uint64_t ymm_state = (1u << 1) | (1u << 2), zmm_state = ymm_state | (1u << 5) | (1u << 6) | (1u << 7);
  if ((xcr & ymm_state) != ymm_state) return CpuIsa::Generic;
  if (__get_cpuid_max(0, nullptr) < 7) return CpuIsa::Generic;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5);
  if (!avx2) return CpuIsa::Generic;
  const unsigned avx512_bits = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);  // F, DQ, BW, VL
  if ((ebx & avx512_bits) == avx512_bits && (xcr & zmm_state) == zmm_state) return CpuIsa::Avx512;
  return CpuIsa::Avx2;
}
#else
CpuIsa detect() { return CpuIsa::Generic; }
#endif

constexpr int kUnset = -1;
std::atomic<int> active{kUnset};

void check_supported(CpuIsa isa, CpuIsa supported, const char* source) {
  KILN_CHECK(int(isa) <= int(supported), source, ": the ", isa_name(isa), " kernels were asked for, but this CPU ",
             "supports at most ", isa_name(supported));
}

CpuIsa from_environment() {
  const char* value = std::getenv("KILN_CPU_ISA");
  if (value == nullptr || *value == '\0') return detected_isa();
  return parse_isa(value, detected_isa());
}

}  // namespace

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Generic: return "generic";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Avx512: return "avx512";
  }
  return "unknown";
}

CpuIsa parse_isa(std::string_view name, CpuIsa supported) {
  for (CpuIsa isa : {CpuIsa::Generic, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (name == isa_name(isa)) {
      check_supported(isa, supported, "KILN_CPU_ISA");
      return isa;
    }
  }
  KILN_FAIL("KILN_CPU_ISA: expected generic, avx2 or avx512, got '", name, "'");
}

CpuIsa detected_isa() {
  static const CpuIsa isa = detect();
  return isa;
}

CpuIsa active_isa() {
  int isa = active.load(std::memory_order_relaxed);
  if (isa == kUnset) {
    isa = int(from_environment());
    int expected = kUnset;
    if (!active.compare_exchange_strong(expected, isa)) isa = expected;  // a set_active_isa() won the race
  }
  return CpuIsa(isa);
}

void set_active_isa(CpuIsa isa) {
  check_supported(isa, detected_isa(), "set_active_isa");
  active.store(int(isa), std::memory_order_relaxed);
}

}  // namespace kiln::cpu
