// The cuDNN kernels of conv2d_cudnn (ops/conv_cudnn.cpp): forward, backward data and
// backward filter through cuDNN's convolution API, each with its algorithm chosen once
// per shape. See Note [cuDNN convolution]; handle and descriptors are in cuda/cudnn.h.
#include <array>
#include <map>
#include <mutex>

#include "core/dispatch.h"
#include "cuda/cudnn.h"
#include "ops/kernels/conv_cudnn.h"

namespace kiln {

namespace {

// Note [cuDNN convolution]
// conv2d on a GPU goes through cuDNN's convolution API (cudnnConvolutionForward,
// BackwardData, BackwardFilter; in cuDNN 9's libcudnn_cnn), NCHW, with:
//   - one cuDNN handle per device, created at first use and bound to kiln's stream of
//     that device (cudnnSetStream), so cuDNN's kernels are ordered with kiln's (Note
//     [CUDA streams]);
//   - FMA math for float32: no TF32 tensor cores, so results agree with the CPU's
//     im2col + GEMM to float32 rounding, as kiln's cuBLAS calls do (PyTorch's default,
//     torch.backends.cudnn.allow_tf32 = True, trades ~3 decimal digits for speed);
//   - the algorithm of each direction from cuDNN's heuristics,
//     cudnnGetConvolution*Algorithm_v7 (what PyTorch does with cudnn.benchmark = False):
//     the first candidate, in cuDNN's order of expected speed, that reports success and
//     whose workspace query succeeds with a workspace of at most kMaxWorkspace. The
//     choice is cached per (direction, device, dtype, shapes, geometry), so the
//     heuristics run once per layer shape, not every step. cudnnFind* (timing every
//     algorithm, cudnn.benchmark = True) is not used: it allocates outside kiln's
//     caching allocator and costs seconds per new shape;
//   - the workspace from kiln's caching allocator (cuda::Workspace), returned to the
//     cache right after the call is queued, which is safe because the next user of the
//     block is queued on the same stream (Note [CUDA caching allocator]).
// Backward filter's algorithms may accumulate with atomics, so dw can differ in the
// last bits from run to run (PyTorch's cudnn.deterministic = False).
constexpr size_t kMaxWorkspace = size_t(1) << 30;  // 1 GiB

enum Direction : int64_t { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
using AlgoKey = std::array<int64_t, 18>;

struct Choice {
  int algo = 0;
  size_t workspace = 0;
};

AlgoKey key_of(Direction dir, const Tensor& x, const Shape& w_shape, const CudnnConvParams& p) {
  return {dir,           x.device().index, int64_t(x.dtype()), x.size(0),     x.size(1),     x.size(2),
          x.size(3),     w_shape[0],       w_shape[1],         w_shape[2],    w_shape[3],    p.padding[0],
          p.padding[1],  p.stride[0],      p.stride[1],        p.dilation[0], p.dilation[1], p.groups};
}

// The cached choice for `key`, or `choose()`'s, remembered.
template <typename Choose>
Choice cached_choice(const AlgoKey& key, Choose choose) {
  static std::mutex mutex;
  static std::map<AlgoKey, Choice> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  Choice c = choose();
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(key, c);
  return c;
}

// The first of cuDNN's ranked candidates that can run (see the Note).
template <typename Perf, typename WorkspaceOf>
Choice first_usable(const Perf* perfs, int count, WorkspaceOf workspace_of, const char* direction,
                    const Tensor& x, const Shape& w_shape) {
  for (int i = 0; i < count; ++i) {
    if (perfs[i].status != CUDNN_STATUS_SUCCESS) continue;
    size_t bytes = 0;
    if (workspace_of(perfs[i].algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspace) continue;
    return {int(perfs[i].algo), bytes};
  }
  KILN_FAIL("conv2d_cudnn: cuDNN offers no usable ", direction, " algorithm for input ", x.meta_str(), " and weight ",
            w_shape);
}

// alpha = 1, beta = 0 in the computation's type (float for float32, double for float64).
const void* one_of(DType dtype) {
  static const float f = 1.0f;
  static const double d = 1.0;
  return dtype == kFloat32 ? static_cast<const void*>(&f) : static_cast<const void*>(&d);
}
const void* zero_of(DType dtype) {
  static const float f = 0.0f;
  static const double d = 0.0;
  return dtype == kFloat32 ? static_cast<const void*>(&f) : static_cast<const void*>(&d);
}

// y: (N, C_out, oh, ow) <- conv2d(x: (N, C_in, H, W), w: (C_out, C_in / G, kh, kw)).
void conv2d_forward_cudnn(const Tensor& y, const Tensor& x, const Tensor& w, const CudnnConvParams& p) {
  const int device = x.device().index;
  cudnnHandle_t handle = cuda::cudnn_handle(device);
  cuda::TensorDescriptor xd(x), yd(y);
  cuda::FilterDescriptor wd(w);
  cuda::ConvolutionDescriptor cd(p.padding, p.stride, p.dilation, p.groups, x.dtype());
  int n = 0, c = 0, h = 0, wo = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(cd.get(), xd.get(), wd.get(), &n, &c, &h, &wo));
  KILN_CHECK(y.shape() == Shape({n, c, h, wo}), "conv2d_cudnn: cuDNN computes an output of (", n, ", ", c, ", ", h,
             ", ", wo, "), kiln expected ", y.meta_str());
  const Choice choice = cached_choice(key_of(kForward, x, w.shape(), p), [&] {
    std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perfs{};
    int count = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, xd.get(), wd.get(), cd.get(), yd.get(),
                                                            int(perfs.size()), &count, perfs.data()));
    auto workspace_of = [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
      return cudnnGetConvolutionForwardWorkspaceSize(handle, xd.get(), wd.get(), cd.get(), yd.get(), algo, bytes);
    };
    return first_usable(perfs.data(), count, workspace_of, "forward", x, w.shape());
  });
  cuda::Workspace ws(choice.workspace, device);
  KILN_CUDNN_CHECK(cudnnConvolutionForward(handle, one_of(x.dtype()), xd.get(), x.raw_data(), wd.get(), w.raw_data(),
                                           cd.get(), cudnnConvolutionFwdAlgo_t(choice.algo), ws.data(), ws.size(),
                                           zero_of(x.dtype()), yd.get(), y.raw_data()));
}

// dx: (N, C_in, H, W) <- dL/dx of the convolution, given dy: (N, C_out, oh, ow) and w.
void conv2d_backward_data_cudnn(const Tensor& dx, const Tensor& dy, const Tensor& w, const CudnnConvParams& p) {
  const int device = dy.device().index;
  cudnnHandle_t handle = cuda::cudnn_handle(device);
  cuda::TensorDescriptor dxd(dx), dyd(dy);
  cuda::FilterDescriptor wd(w);
  cuda::ConvolutionDescriptor cd(p.padding, p.stride, p.dilation, p.groups, dy.dtype());
  const Choice choice = cached_choice(key_of(kBackwardData, dx, w.shape(), p), [&] {
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perfs{};
    int count = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, wd.get(), dyd.get(), cd.get(), dxd.get(),
                                                                 int(perfs.size()), &count, perfs.data()));
    auto workspace_of = [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
      return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wd.get(), dyd.get(), cd.get(), dxd.get(), algo,
                                                          bytes);
    };
    return first_usable(perfs.data(), count, workspace_of, "backward data", dx, w.shape());
  });
  cuda::Workspace ws(choice.workspace, device);
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, one_of(dy.dtype()), wd.get(), w.raw_data(), dyd.get(),
                                                dy.raw_data(), cd.get(), cudnnConvolutionBwdDataAlgo_t(choice.algo),
                                                ws.data(), ws.size(), zero_of(dy.dtype()), dxd.get(), dx.raw_data()));
}

// dw: (C_out, C_in / G, kh, kw) <- dL/dw of the convolution, given x and dy.
void conv2d_backward_filter_cudnn(const Tensor& dw, const Tensor& x, const Tensor& dy, const CudnnConvParams& p) {
  const int device = x.device().index;
  cudnnHandle_t handle = cuda::cudnn_handle(device);
  cuda::TensorDescriptor xd(x), dyd(dy);
  cuda::FilterDescriptor dwd(dw);
  cuda::ConvolutionDescriptor cd(p.padding, p.stride, p.dilation, p.groups, x.dtype());
  const Choice choice = cached_choice(key_of(kBackwardFilter, x, dw.shape(), p), [&] {
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perfs{};
    int count = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, xd.get(), dyd.get(), cd.get(), dwd.get(),
                                                                   int(perfs.size()), &count, perfs.data()));
    auto workspace_of = [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xd.get(), dyd.get(), cd.get(), dwd.get(), algo,
                                                            bytes);
    };
    return first_usable(perfs.data(), count, workspace_of, "backward filter", x, dw.shape());
  });
  cuda::Workspace ws(choice.workspace, device);
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, one_of(x.dtype()), xd.get(), x.raw_data(), dyd.get(),
                                                  dy.raw_data(), cd.get(),
                                                  cudnnConvolutionBwdFilterAlgo_t(choice.algo), ws.data(), ws.size(),
                                                  zero_of(x.dtype()), dwd.get(), dw.raw_data()));
}

// A device present and cuDNN loadable (its version query needs no device).
bool cudnn_available_cuda() { return cuda::device_count() > 0 && cudnnGetVersion() >= 9000; }

}  // namespace

KILN_REGISTER_KERNEL(conv2d_cudnn_forward_stub, DeviceType::CUDA, conv2d_forward_cudnn);
KILN_REGISTER_KERNEL(conv2d_cudnn_backward_data_stub, DeviceType::CUDA, conv2d_backward_data_cudnn);
KILN_REGISTER_KERNEL(conv2d_cudnn_backward_filter_stub, DeviceType::CUDA, conv2d_backward_filter_cudnn);
KILN_REGISTER_KERNEL(cudnn_available_stub, DeviceType::CUDA, cudnn_available_cuda);

}  // namespace kiln
