// DispatchStub: a tiny per-device kernel table. An op file declares a stub with the
// kernel's signature; ops/cpu/ and cuda/ register their kernels into it at start-up.
// See Note [Kernel registration].
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace kiln {

// Every stub, listed at start-up, so tests and docs can see which ops have kernels on
// which devices (docs/ops-coverage.md is generated from it).
struct StubInfo {
  const char* name;
  bool (*has_kernel)(DeviceType);
};
std::vector<StubInfo>& stub_registry();
bool register_stub(StubInfo info);
// The coverage table: one row per stub, one column per device type.
std::string stub_coverage_markdown();

// Note [Kernel registration]
// In ops/kernels/unary.h: KILN_DECLARE_STUB(exp_stub, void(const Tensor& out, const Tensor& in));
// In ops/exp.cpp:        KILN_DEFINE_STUB(exp_stub, "exp", void(const Tensor& out, const Tensor& in));
// In ops/cpu/exp.cpp:    KILN_REGISTER_KERNEL(exp_stub, DeviceType::CPU, exp_forward_cpu);
// In cuda/exp.cu:        KILN_REGISTER_KERNEL(exp_stub, DeviceType::CUDA, exp_forward_cuda);
// Calling exp_stub(device, out, in) runs the kernel registered for device.type, or
// throws "exp: no CUDA kernel (kiln was built without CUDA)". The table is constinit
// (filled with nullptr before any constructor runs), so registrations from other
// translation units can never run before it exists. The library is linked whole, so
// self-registering kernel files are never dropped by the linker.
template <typename Signature>
class DispatchStub;

template <typename Ret, typename... Args>
class DispatchStub<Ret(Args...)> {
 public:
  using Fn = Ret (*)(Args...);
  constexpr explicit DispatchStub(const char* name) : name_(name) {}

  bool set(DeviceType type, Fn fn) {
    table_[static_cast<int>(type)] = fn;
    return true;
  }
  bool has(DeviceType type) const { return table_[static_cast<int>(type)] != nullptr; }
  const char* name() const { return name_; }

  Ret operator()(Device device, Args... args) const {
    Fn fn = table_[static_cast<int>(device.type)];
    KILN_CHECK(fn != nullptr, name_, ": no kernel for device ", device,
               device.is_cuda() ? " (kiln was built without CUDA, or this op has no CUDA kernel yet)" : "");
    return fn(std::forward<Args>(args)...);
  }

 private:
  const char* name_;
  Fn table_[kNumDeviceTypes] = {};
};

}  // namespace kiln

#define KILN_DECLARE_STUB(stub, signature) extern ::kiln::DispatchStub<signature> stub
#define KILN_DEFINE_STUB(stub, op_name, signature)                                                 \
  constinit ::kiln::DispatchStub<signature> stub(op_name);                                         \
  [[maybe_unused]] static const bool kiln_listed_##stub =                                          \
      ::kiln::register_stub({op_name, [](::kiln::DeviceType t) { return (stub).has(t); }})
#define KILN_REGISTER_KERNEL(stub, device_type, fn) \
  [[maybe_unused]] static const bool kiln_registered_##stub##_##fn = (stub).set(device_type, fn)
