// The CUDA gemm kernel of matmul/mm/bmm/addmm (ops/linalg.cpp): one strided-batched
// cuBLAS call per product, on the device's stream with a cuBLAS handle per device. The
// hand-written ladder is cuda/gemm.cu. See Note [GEMM operand layout] in
// ops/kernels/linalg.h and Note [Row-major GEMM through cuBLAS] below.
#include <algorithm>
#include <climits>
#include <type_traits>

#include <cublas_v2.h>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/per_device.h"
#include "cuda/runtime.h"
#include "ops/kernels/linalg.h"

#define KILN_CUBLAS_CHECK(call)                                                                   \
  do {                                                                                            \
    cublasStatus_t kiln_cublas_status = (call);                                                   \
    KILN_CHECK(kiln_cublas_status == CUBLAS_STATUS_SUCCESS, "cuBLAS error in ", #call, ": ",       \
               cublasGetStatusString(kiln_cublas_status));                                        \
  } while (0)

namespace kiln {

namespace {

// Note [Row-major GEMM through cuBLAS]
// cuBLAS is column-major: it reads a matrix with leading dimension ld as X(r, c) =
// x[c * ld + r]. Row-major storage of C (m x n, ld n) is therefore, to cuBLAS, C^T
// (n x m), and C = op(A) op(B) is the same as C^T = op(B)^T op(A)^T: call cuBLAS with
// the operands swapped (B first), m and n swapped, and each operand's own transpose
// flag: a row-major operand is, to cuBLAS, already the transpose it needs (op N), a
// transposed one is not (op T). Leading dimensions are passed unchanged. cuBLAS asks
// ld >= its row count, which a size-1 dim of a view may not meet (any stride is legal
// there): operand_of picks a valid one, or copies when the layout has none (a matrix
// expanded along its rows, stride 0).
// The handle keeps cuBLAS's default math mode: full float32, no TF32 tensor cores.
// float16 and bfloat16 products go through cublasGemmStridedBatchedEx with 16-bit A, B
// and C and float32 compute (CUBLAS_COMPUTE_32F): float32 accumulation and one rounding
// of each output, as PyTorch's CUDA matmul of those types.

// The cuBLAS handle of `device`, made current: created at first use and bound to kiln's
// stream of the device (Note [CUDA streams]), so every cuBLAS kernel is ordered with
// kiln's own; never destroyed (cuda/per_device.h). One handle serves every thread: its
// stream and math mode are set once, before it is published, and never changed, which
// is what cuBLAS asks of a shared handle.
cublasHandle_t handle_for(int device) {
  static cuda::PerDevice<cublasHandle_t>* handles = new cuda::PerDevice<cublasHandle_t>([](int d) {
    KILN_CUDA_CHECK(cudaSetDevice(d));
    const cudaStream_t stream = cuda::stream_for(d);
    cublasHandle_t handle = nullptr;
    KILN_CUBLAS_CHECK(cublasCreate(&handle));
    const cublasStatus_t status = cublasSetStream(handle, stream);
    if (status != CUBLAS_STATUS_SUCCESS) cublasDestroy(handle);
    KILN_CUBLAS_CHECK(status);
    return handle;
  });
  KILN_CUDA_CHECK(cudaSetDevice(device));
  return handles->get(device);
}

// How cuBLAS reads one operand (rows x cols as the product uses it, row-major or
// transposed), with the tensor that holds it (a contiguous copy when needed).
struct Operand {
  Tensor data;
  bool trans;
  int64_t ld;
  int64_t batch_stride;
};

Operand operand_of(const Tensor& x) {
  const int64_t rows = x.size(-2), cols = x.size(-1);
  const int64_t batch_stride = x.dim() == 3 ? x.stride(0) : 0;
  if (x.stride(-1) == 1 || cols == 1) {
    int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : x.stride(-2);
    if (ld >= std::max<int64_t>(cols, 1)) return {x, false, ld, batch_stride};
  } else {  // stride(-2) == 1 or rows == 1 (the op guarantees one of the two layouts)
    int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : x.stride(-1);
    if (ld >= std::max<int64_t>(rows, 1)) return {x, true, ld, batch_stride};
  }
  Tensor c = x.contiguous();
  return {c, false, std::max<int64_t>(cols, 1), c.dim() == 3 ? c.stride(0) : 0};
}

int as_int(int64_t v, const char* what) {
  KILN_CHECK(v >= 0 && v <= INT_MAX, "gemm (cuda): ", what, " = ", v, " does not fit cuBLAS's 32-bit int");
  return int(v);
}

// The float16/bfloat16 GEMM: out, a, b all of one 16-bit dtype; alpha, beta and the
// accumulation in float32. Shapes as gemm_forward_cuda.
void gemm_16bit_cuda(cublasHandle_t handle, const Tensor& out, const Tensor& a, const Tensor& b, double beta,
                     double alpha) {
  const int64_t batch = out.dim() == 3 ? out.size(0) : 1;
  const int64_t m = out.size(-2), n = out.size(-1), k = a.size(-1);
  const cudaDataType_t type = out.dtype() == kFloat16 ? CUDA_R_16F : CUDA_R_16BF;
  const float ta = float(alpha), tb = float(beta);
  void* pc = out.raw_data();
  if (k == 0 || alpha == 0.0) {  // neither A nor B is read: out = beta * out
    if (beta == 0.0) {
      KILN_CUDA_CHECK(cudaMemsetAsync(pc, 0, out.numel() * 2, cuda::stream_for(out.device().index)));
    } else {
      KILN_CUBLAS_CHECK(
          cublasScalEx(handle, as_int(out.numel(), "numel"), &tb, CUDA_R_32F, pc, type, 1, CUDA_R_32F));
    }
    return;
  }
  const Operand oa = operand_of(a), ob = operand_of(b);
  const cublasOperation_t op_b = ob.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = oa.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  // C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m): see the note above.
  KILN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle, op_b, op_a, as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), &ta, ob.data.raw_data(), type,
      as_int(ob.ld, "ldb"), ob.batch_stride, oa.data.raw_data(), type, as_int(oa.ld, "lda"), oa.batch_stride, &tb,
      pc, type, as_int(n, "n"), m * n, as_int(batch, "batch"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// out: (m, n) or (batch, m, n), contiguous; a: (m, k) or (batch, m, k); b: (k, n) or
// (batch, k, n). out = beta * out + alpha * a @ b, out not read when beta == 0.
void gemm_forward_cuda(const Tensor& out, const Tensor& a, const Tensor& b, double beta, double alpha) {
  const int64_t batch = out.dim() == 3 ? out.size(0) : 1;
  const int64_t m = out.size(-2), n = out.size(-1), k = a.size(-1);
  if (out.numel() == 0) return;
  const int device = out.device().index;
  KILN_CUDA_CHECK(cudaSetDevice(device));
  cublasHandle_t handle = handle_for(device);
  if (out.dtype() == kFloat16 || out.dtype() == kBFloat16) {
    gemm_16bit_cuda(handle, out, a, b, beta, alpha);
    return;
  }
  dispatch_floating(out.dtype(), "gemm", [&]<typename T>() {
    T* pc = static_cast<T*>(out.raw_data());
    if (k == 0 || alpha == 0.0) {  // neither A nor B is read: out = beta * out
      if (beta == 0.0) {
        KILN_CUDA_CHECK(cudaMemsetAsync(pc, 0, out.numel() * sizeof(T), cuda::stream_for(device)));
      } else {
        const T tb = T(beta);
        if constexpr (std::is_same_v<T, float>) {
          KILN_CUBLAS_CHECK(cublasSscal(handle, as_int(out.numel(), "numel"), &tb, pc, 1));
        } else {
          KILN_CUBLAS_CHECK(cublasDscal(handle, as_int(out.numel(), "numel"), &tb, pc, 1));
        }
      }
      return;
    }
    const Operand oa = operand_of(a), ob = operand_of(b);
    const T ta = T(alpha), tb = T(beta);
    const cublasOperation_t op_b = ob.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = oa.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int in = as_int(n, "n"), im = as_int(m, "m"), ik = as_int(k, "k");
    const int ldb = as_int(ob.ld, "ldb"), lda = as_int(oa.ld, "lda"), ib = as_int(batch, "batch");
    const T* pa = static_cast<const T*>(oa.data.raw_data());
    const T* pb = static_cast<const T*>(ob.data.raw_data());
    // C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m): see the note above.
    if constexpr (std::is_same_v<T, float>) {
      KILN_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_b, op_a, in, im, ik, &ta, pb, ldb, ob.batch_stride, pa,
                                                  lda, oa.batch_stride, &tb, pc, in, m * n, ib));
    } else {
      KILN_CUBLAS_CHECK(cublasDgemmStridedBatched(handle, op_b, op_a, in, im, ik, &ta, pb, ldb, ob.batch_stride, pa,
                                                  lda, oa.batch_stride, &tb, pc, in, m * n, ib));
    }
  });
}

// cuBLAS reads the operand as it is: nothing to prepare (Note [Prepared GEMM operand]).
Tensor gemm_prepare_cuda(const Tensor&) { return Tensor(); }

void gemm_prepared_cuda(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor&, double beta,
                        double alpha) {
  gemm_forward_cuda(out, a, b, beta, alpha);
}

}  // namespace

KILN_REGISTER_KERNEL(gemm_stub, DeviceType::CUDA, gemm_forward_cuda);
KILN_REGISTER_KERNEL(gemm_prepare_stub, DeviceType::CUDA, gemm_prepare_cuda);
KILN_REGISTER_KERNEL(gemm_prepared_stub, DeviceType::CUDA, gemm_prepared_cuda);

}  // namespace kiln
