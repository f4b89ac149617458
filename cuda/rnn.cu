// CUDA kernels of the fused LSTM cell pointwise op (ops/rnn.cpp): one thread per (row, j)
// of (N, H), reading its four gates; the formulas of ops/cpu/rnn.cpp, device math in T.
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/math.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/rnn.h"

namespace kiln {

namespace {

namespace m = cuda::math;

template <typename T>
__device__ T sigmoid_of(T x) {
  return T(1) / (T(1) + m::exp(-x));
}

// gates, act: (N, 4H); c, h, c_new, tanh_c: (N, H); n = N * H; all contiguous.
template <typename T>
__global__ void lstm_pointwise_kernel1(T* h, T* c_new, T* act, T* tanh_c, const T* gates, const T* c, int64_t n,
                                       int64_t hidden) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / hidden, j = e % hidden, base = row * 4 * hidden + j;
    const T i = sigmoid_of(gates[base]), f = sigmoid_of(gates[base + hidden]);
    const T g = m::tanh(gates[base + 2 * hidden]), o = sigmoid_of(gates[base + 3 * hidden]);
    const T cn = f * c[e] + i * g, tc = m::tanh(cn);
    act[base] = i;
    act[base + hidden] = f;
    act[base + 2 * hidden] = g;
    act[base + 3 * hidden] = o;
    c_new[e] = cn;
    tanh_c[e] = tc;
    h[e] = o * tc;
  }
}

void lstm_pointwise_cuda(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                         const Tensor& gates, const Tensor& c) {
  const int64_t n = c.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(c.device().index));
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(n);
    lstm_pointwise_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(c.device().index)>>>(
        h.data_ptr<T>(), c_new.data_ptr<T>(), act.data_ptr<T>(), tanh_c.data_ptr<T>(), gates.data_ptr<T>(),
        c.data_ptr<T>(), n, c.size(1));
  });
  cuda::check_launch("lstm_cell_pointwise (cuda)");
}

// dc_total = dc + dh * o * (1 - tanh(c')^2); dc_prev = dc_total * f;
// d(i, f, g, o pre-activations) = dc_total * g * i (1 - i), dc_total * c * f (1 - f),
//                                 dc_total * i * (1 - g^2),  dh * tanh(c') * o (1 - o).
// dgates, act: (N, 4H); dc_prev, dh, dc, tanh_c, c: (N, H); dh, dc may be nullptr (zero).
template <typename T>
__global__ void lstm_pointwise_backward_kernel1(T* dgates, T* dc_prev, const T* dh, const T* dc, const T* act,
                                                const T* tanh_c, const T* c, int64_t n, int64_t hidden) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / hidden, j = e % hidden, base = row * 4 * hidden + j;
    const T i = act[base], f = act[base + hidden], g = act[base + 2 * hidden], o = act[base + 3 * hidden];
    const T tc = tanh_c[e], dh_e = dh ? dh[e] : T(0);
    const T dct = (dc ? dc[e] : T(0)) + dh_e * o * (T(1) - tc * tc);
    dgates[base] = dct * g * i * (T(1) - i);
    dgates[base + hidden] = dct * c[e] * f * (T(1) - f);
    dgates[base + 2 * hidden] = dct * i * (T(1) - g * g);
    dgates[base + 3 * hidden] = dh_e * tc * o * (T(1) - o);
    dc_prev[e] = dct * f;
  }
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

}  // namespace

KILN_REGISTER_KERNEL(lstm_pointwise_stub, DeviceType::CUDA, lstm_pointwise_cuda);
KILN_REGISTER_KERNEL(lstm_pointwise_backward_stub, DeviceType::CUDA, lstm_pointwise_backward_cuda);

}  // namespace kiln
