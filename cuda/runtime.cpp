// The CUDA DeviceBackend: allocation with cudaMalloc, copies with cudaMemcpy; registered
// for DeviceType::CUDA at start-up, so cuda:N tensors work wherever a device exists.
// A caching allocator and streams come with the CUDA backend issue; this is the base.
#include "cuda/runtime.h"

#include "core/storage.h"

namespace kiln::cuda {

namespace {

struct DeviceProbe {
  int count = 0;
  cudaError_t status = cudaSuccess;
  DeviceProbe() {
    status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      count = 0;
      cudaGetLastError();  // clear the sticky error so later calls report their own
    }
  }
};

const DeviceProbe& probe() {
  static DeviceProbe p;
  return p;
}

struct CudaBackend final : DeviceBackend {
  void* allocate(size_t nbytes, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    void* p = nullptr;
    if (nbytes > 0) KILN_CUDA_CHECK(cudaMalloc(&p, nbytes));
    return p;
  }
  void deallocate(void* ptr, size_t, int device) override {
    if (!ptr) return;
    cudaSetDevice(device);
    cudaFree(ptr);  // no throw from a destructor path; a failure here means the context is gone
  }
  void copy_to_host(void* dst, const void* src, size_t n, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
  }
  void copy_from_host(void* dst, const void* src, size_t n, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
  }
  void copy_within(void* dst, const void* src, size_t n, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice));
  }
  int device_count() override { return probe().count; }
  void synchronize(int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaDeviceSynchronize());
  }
};

// Never destroyed, like the CPU backend (see the note in core/storage.cpp).
[[maybe_unused]] const bool registered = (register_backend(DeviceType::CUDA, new CudaBackend), true);

}  // namespace

int device_count() { return probe().count; }

const char* unavailable_reason() {
  if (probe().count > 0) return "";
  return probe().status == cudaSuccess ? "no CUDA device found" : cudaGetErrorString(probe().status);
}

LaunchConfig launch_config_1d(int64_t n, unsigned threads, unsigned max_blocks) {
  if (n <= 0) return {1, threads};
  int64_t blocks = (n + threads - 1) / threads;
  return {unsigned(blocks < int64_t(max_blocks) ? blocks : max_blocks), threads};
}

}  // namespace kiln::cuda
