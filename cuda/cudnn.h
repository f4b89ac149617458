// What every cuDNN call of kiln shares: the KILN_CUDNN_CHECK macro, the per-device handle
// on kiln's stream, RAII descriptors for NCHW tensors, filters and convolutions, and a
// workspace from the caching allocator. The convolutions are in cuda/conv_cudnn.cpp.
#pragma once

#include <cstddef>

#include <cudnn.h>

#include "core/tensor.h"
#include "cuda/runtime.h"

// Checks a cuDNN call; the error names the call, cuDNN's message and file:line.
#define KILN_CUDNN_CHECK(call)                                                                    \
  do {                                                                                            \
    cudnnStatus_t kiln_cudnn_status = (call);                                                     \
    KILN_CHECK(kiln_cudnn_status == CUDNN_STATUS_SUCCESS, "cuDNN error in ", #call, ": ",         \
               cudnnGetErrorString(kiln_cudnn_status));                                           \
  } while (0)

namespace kiln::cuda {

// The cuDNN handle of `device`, created at first use (safely from any thread; see
// cuda/per_device.h) and bound to kiln's stream of the device with cudnnSetStream, so
// cuDNN's kernels are ordered with kiln's (Note [CUDA streams]); never destroyed, like
// the backend. Also makes `device` current. One handle per device, not per thread:
// cuDNN forbids using one handle from two threads at the same time, so kiln's cuDNN
// calls must come from one thread at a time (all of them go to the one stream anyway).
cudnnHandle_t cudnn_handle(int device);

// cuDNN's data type for a float32 or float64 tensor.
cudnnDataType_t cudnn_dtype(DType dtype);

// A descriptor of a contiguous NCHW tensor.
class TensorDescriptor {
 public:
  explicit TensorDescriptor(const Tensor& t);
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// A descriptor of a contiguous (C_out, C_in / groups, kh, kw) convolution weight.
class FilterDescriptor {
 public:
  explicit FilterDescriptor(const Tensor& w);
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

// A cross-correlation (what deep learning calls convolution) with the given (h, w)
// padding, stride and dilation and group count, accumulating in `dtype`, in FMA math
// (no TF32 tensor cores for float32; see Note [cuDNN convolution]).
class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor(const IntList& padding, const IntList& stride, const IntList& dilation, int64_t groups,
                        DType dtype);
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

// Scratch memory for one cuDNN call, from kiln's caching allocator; freed (back to the
// cache) at scope exit, which is safe before the call has run because the handle's
// stream is kiln's stream of the device, which every later user of the block is queued
// on too (Note [CUDA caching allocator]).
class Workspace {
 public:
  Workspace(size_t nbytes, int device);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* data() const { return data_; }
  size_t size() const { return nbytes_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  int device_ = 0;
};

}  // namespace kiln::cuda
