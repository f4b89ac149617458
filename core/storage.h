// Storage: one reference-counted buffer on a device, shared by a tensor and all its
// views; it also carries the version counter (see Note [Version counter]).
// DeviceBackend: the per-device allocator and copy routines (CPU here, CUDA in cuda/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace kiln {

// One per device type, registered at start-up (cuda/ registers the CUDA one).
struct DeviceBackend {
  virtual ~DeviceBackend() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, int device_index) = 0;
  // Copies nbytes between this device and the host, or within this device.
  virtual void copy_to_host(void* dst, const void* src, size_t nbytes, int device_index) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t nbytes, int device_index) = 0;
  virtual void copy_within(void* dst, const void* src, size_t nbytes, int device_index) = 0;
  virtual int device_count() = 0;
  virtual void synchronize(int device_index) = 0;
};

// Installs the backend for a device type and returns the previous one (nullptr if none).
DeviceBackend* register_backend(DeviceType type, DeviceBackend* backend);
// Throws a clear error when the device type has no backend (a build without CUDA) or
// the index is out of range.
DeviceBackend& backend_for(Device device, const char* op);
bool backend_available(DeviceType type);

// Note [Version counter]
// Every in-place write to a tensor bumps the version of its storage. Views share the
// storage, so they share the counter: writing through a view is seen by the base and
// vice versa. Autograd records the version of each tensor it saves for backward and
// refuses to run backward when the version has moved (see autograd/function.h).
class StorageImpl {
 public:
  StorageImpl(size_t nbytes, Device device);
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
};

using Storage = std::shared_ptr<StorageImpl>;

Storage make_storage(size_t nbytes, Device device);

// Copies nbytes between any two devices (through the host when neither is the CPU).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace kiln
