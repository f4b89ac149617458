// PerDevice<T>: one object per CUDA device (kiln's stream, the cuBLAS and cuDNN handles),
// made at first use by a creation function, safely from any number of threads, and kept
// until the process exits. Pure C++ (no CUDA headers), so it is tested on every machine
// (tests/cuda/runtime_test.cpp). See Note [CUDA streams] in cuda/runtime.h.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <utility>

#include "core/error.h"

namespace kiln::cuda {

// The most devices a process can address through kiln (the CUDA runtime reports far
// fewer on any machine we know of; an index past it is an error, not a silent clamp).
constexpr int kMaxDevices = 64;

// get(device) returns the object of `device`, creating it with create(device) on the
// first call for that device; every later call, from any thread, returns the same
// object with one atomic load and no lock (double-checked: the object is written under
// the mutex, then published by a release store that the fast path's acquire load
// pairs with). If create throws, nothing is stored and the error propagates: the next
// get for that device tries again. Two threads asking for a new device at once run
// create once; the second waits on the mutex and then finds the object.
// The objects are never destroyed (destroying a CUDA stream or library handle during
// static destruction can run after the CUDA runtime has shut down): the driver
// reclaims them at exit.
template <typename T>
class PerDevice {
 public:
  explicit PerDevice(std::function<T(int)> create) : create_(std::move(create)) {}
  PerDevice(const PerDevice&) = delete;
  PerDevice& operator=(const PerDevice&) = delete;

  T get(int device) {
    KILN_CHECK(device >= 0 && device < kMaxDevices, "cuda: expected a device index in [0, ", kMaxDevices, "), got ",
               device);
    Slot& slot = slots_[size_t(device)];
    if (slot.ready.load(std::memory_order_acquire)) return slot.value;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!slot.ready.load(std::memory_order_relaxed)) {
      slot.value = create_(device);
      slot.ready.store(true, std::memory_order_release);
    }
    return slot.value;
  }

 private:
  struct Slot {
    std::atomic<bool> ready{false};
    T value{};  // written once, before `ready` is set; read only after it is seen set
  };
  std::function<T(int)> create_;
  std::mutex mutex_;  // serialises creation only
  std::array<Slot, kMaxDevices> slots_;
};

}  // namespace kiln::cuda
