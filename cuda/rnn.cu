// CUDA kernels of the fused LSTM cell pointwise op (ops/rnn.cpp): one thread per element
// of (N, H), computed by the formulas of ops/kernels/rnn.h that the CPU kernels share.
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/rnn.h"

namespace kiln {

namespace {

// gates, act, addend: (N, 4H); bias (4H); c, h, c_new, tanh_c: (N, H); n = N * H; all
// contiguous; addend and bias may be nullptr.
template <typename T>
__global__ void lstm_pointwise_kernel1(T* h, T* c_new, T* act, T* tanh_c, const T* gates, const T* c,
                                       const T* addend, const T* bias, int64_t n, int64_t hidden) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    lstm_pointwise_element(e, hidden, h, c_new, act, tanh_c, gates, c, addend, bias);
}

void lstm_pointwise_cuda(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                         const Tensor& gates, const Tensor& c, const Tensor& addend, const Tensor& bias) {
  const int64_t n = c.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(c.device().index));
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(n);
    lstm_pointwise_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(c.device().index)>>>(
        h.data_ptr<T>(), c_new.data_ptr<T>(), act.data_ptr<T>(), tanh_c.data_ptr<T>(), gates.data_ptr<T>(),
        c.data_ptr<T>(), addend.defined() ? addend.data_ptr<T>() : nullptr,
        bias.defined() ? bias.data_ptr<T>() : nullptr, n, c.size(1));
  });
  cuda::check_launch("lstm_cell_pointwise (cuda)");
}

// dgates, act: (N, 4H); dc_prev, dh, dc, tanh_c, c: (N, H); dh, dc may be nullptr (zero).
template <typename T>
__global__ void lstm_pointwise_backward_kernel1(T* dgates, T* dc_prev, const T* dh, const T* dc, const T* act,
                                                const T* tanh_c, const T* c, int64_t n, int64_t hidden) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    lstm_pointwise_backward_element(e, hidden, dgates, dc_prev, dh, dc, act, tanh_c, c);
}

void lstm_pointwise_backward_cuda(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dc,
                                  const Tensor& act, const Tensor& tanh_c, const Tensor& c) {
  const int64_t n = c.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(c.device().index));
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const T* dhp = dh.defined() ? dh.data_ptr<T>() : nullptr;
    const T* dcp = dc.defined() ? dc.data_ptr<T>() : nullptr;
    const auto cfg = cuda::launch_config_1d(n);
    lstm_pointwise_backward_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(c.device().index)>>>(
        dgates.data_ptr<T>(), dc_prev.data_ptr<T>(), dhp, dcp, act.data_ptr<T>(), tanh_c.data_ptr<T>(),
        c.data_ptr<T>(), n, c.size(1));
  });
  cuda::check_launch("lstm_cell_pointwise backward (cuda)");
}

// Each step's kernels use the whole device, so the time loop runs once over all rows
// (Note [LSTM row bands]).
void lstm_row_bands_cuda(int64_t rows, int64_t, const std::function<void(int64_t, int64_t)>& body) {
  if (rows > 0) body(0, rows);
}

}  // namespace

KILN_REGISTER_KERNEL(lstm_pointwise_stub, DeviceType::CUDA, lstm_pointwise_cuda);
KILN_REGISTER_KERNEL(lstm_pointwise_backward_stub, DeviceType::CUDA, lstm_pointwise_backward_cuda);
KILN_REGISTER_KERNEL(lstm_row_bands_stub, DeviceType::CUDA, lstm_row_bands_cuda);

}  // namespace kiln
