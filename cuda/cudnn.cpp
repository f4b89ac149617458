// The shared cuDNN pieces declared in cuda/cudnn.h: the handle per device, descriptors,
// the workspace. Only built when CMake finds cuDNN (CMakeLists.txt, the CUDA section).
#include "cuda/cudnn.h"

#include <climits>

#include "cuda/allocator.h"
#include "cuda/per_device.h"

namespace kiln::cuda {

namespace {

int as_int(int64_t v, const char* what) {
  KILN_CHECK(v >= 0 && v <= INT_MAX, "cuDNN: ", what, " = ", v, " does not fit in the int cuDNN takes");
  return int(v);
}

}  // namespace

cudnnHandle_t cudnn_handle(int device) {
  static PerDevice<cudnnHandle_t>* handles = new PerDevice<cudnnHandle_t>([](int d) {  // never destroyed
    KILN_CUDA_CHECK(cudaSetDevice(d));
    const cudaStream_t stream = stream_for(d);
    cudnnHandle_t handle = nullptr;
    KILN_CUDNN_CHECK(cudnnCreate(&handle));
    const cudnnStatus_t status = cudnnSetStream(handle, stream);
    if (status != CUDNN_STATUS_SUCCESS) cudnnDestroy(handle);
    KILN_CUDNN_CHECK(status);
    return handle;
  });
  KILN_CUDA_CHECK(cudaSetDevice(device));
  return handles->get(device);
}

cudnnDataType_t cudnn_dtype(DType dtype) {
  KILN_CHECK(dtype == kFloat32 || dtype == kFloat64, "cuDNN: expected float32 or float64, got ", dtype_name(dtype));
  return dtype == kFloat32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

TensorDescriptor::TensorDescriptor(const Tensor& t) {
  KILN_CHECK(t.dim() == 4 && t.is_contiguous(), "cuDNN: expected a contiguous 4-D tensor, got ", t.meta_str());
  KILN_CHECK(t.numel() <= INT_MAX, "cuDNN: tensor ", t.meta_str(), " has more than 2^31 - 1 elements");
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
  KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, cudnn_dtype(t.dtype()), as_int(t.size(0), "N"),
                                              as_int(t.size(1), "C"), as_int(t.size(2), "H"), as_int(t.size(3), "W")));
}

FilterDescriptor::FilterDescriptor(const Tensor& w) {
  KILN_CHECK(w.dim() == 4 && w.is_contiguous(), "cuDNN: expected a contiguous 4-D weight, got ", w.meta_str());
  KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
  KILN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, cudnn_dtype(w.dtype()), CUDNN_TENSOR_NCHW,
                                              as_int(w.size(0), "C_out"), as_int(w.size(1), "C_in / groups"),
                                              as_int(w.size(2), "kh"), as_int(w.size(3), "kw")));
}

ConvolutionDescriptor::ConvolutionDescriptor(const IntList& padding, const IntList& stride, const IntList& dilation,
                                             int64_t groups, DType dtype) {
  KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
  KILN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
      desc_, as_int(padding[0], "padding"), as_int(padding[1], "padding"), as_int(stride[0], "stride"),
      as_int(stride[1], "stride"), as_int(dilation[0], "dilation"), as_int(dilation[1], "dilation"),
      CUDNN_CROSS_CORRELATION, cudnn_dtype(dtype)));
  KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(desc_, as_int(groups, "groups")));
  KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, CUDNN_FMA_MATH));
}

Workspace::Workspace(size_t nbytes, int device) : nbytes_(nbytes), device_(device) {
  if (nbytes > 0) data_ = device_allocator().allocate(nbytes, device);
}

Workspace::~Workspace() { device_allocator().deallocate(data_, nbytes_, device_); }

}  // namespace kiln::cuda
