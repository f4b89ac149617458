// CPU kernel of the matrix products in ops/linalg.cpp: one GEMM (ops/cpu/gemm.h) per
// matrix of a possibly batched product, reading transposed operands in place. See
// Note [GEMM operand layout] in ops/kernels/linalg.h. float16 and bfloat16 products
// convert their operands to float32, run the float32 GEMM and round the result once.
#include <algorithm>

#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "core/tensor.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/linalg.h"
#include "ops/view.h"

namespace kiln {

namespace {

// How the GEMM reads one operand: row-major or transposed, with its leading dimension,
// and the distance between consecutive matrices of a batch.
struct Operand {
  bool trans;
  int64_t ld;
  int64_t batch_stride;
};

Operand operand_of(const Tensor& x) {
  int64_t batch_stride = x.dim() == 3 ? x.stride(0) : 0;
  if (x.stride(-1) == 1 || x.size(-1) == 1) return {false, x.stride(-2), batch_stride};
  return {true, x.stride(-1), batch_stride};  // the op guarantees stride(-2) == 1 or size(-2) == 1
}

// Matrices with fewer multiply-adds than this run one per thread; bigger ones run one
// after another, each spread over the threads by gemm() itself.
constexpr int64_t kSmallGemm = 64 * 64 * 64;

// out: (m, n) or (batch, m, n), contiguous; a: (m, k) or (batch, m, k); b: (k, n) or
// (batch, k, n). out = beta * out + alpha * a @ b, out not read when beta == 0.
void gemm_forward_cpu(const Tensor& out, const Tensor& a, const Tensor& b, double beta, double alpha) {
  if (out.dtype() == kFloat16 || out.dtype() == kBFloat16) {
    // float32 copies (a broadcast batch dim is materialised), accumulation in float32,
    // one rounding per output element, as PyTorch's CPU kernels for the 16-bit types.
    NoGradGuard no_grad;
    Tensor a32 = a.to(kFloat32), b32 = b.to(kFloat32);
    Tensor out32 = beta == 0.0 ? empty(out.shape(), TensorOptions(kFloat32)) : out.to(kFloat32);
    gemm_forward_cpu(out32, a32, b32, beta, alpha);
    copy_into(out, out32);
    return;
  }
  const int64_t batch = out.dim() == 3 ? out.size(0) : 1;
  const int64_t m = out.size(-2), n = out.size(-1), k = a.size(-1);
  const Operand oa = operand_of(a), ob = operand_of(b);
  dispatch_floating(out.dtype(), "gemm", [&]<typename T>() {
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* pc = out.data_ptr<T>();
    auto one = [&](int64_t i) {
      cpu::gemm<T>(oa.trans, ob.trans, m, n, k, T(alpha), pa + i * oa.batch_stride, oa.ld, pb + i * ob.batch_stride,
                   ob.ld, T(beta), pc + i * m * n, n);
    };
    const int64_t work = m * n * k;
    if (batch > 1 && work < kSmallGemm) {
      cpu::parallel_for(0, batch, std::max<int64_t>(1, kSmallGemm / std::max<int64_t>(work, 1)),
                        [&](int64_t begin, int64_t end) {
                          for (int64_t i = begin; i < end; ++i) one(i);
                        });
    } else {
      for (int64_t i = 0; i < batch; ++i) one(i);
    }
  });
}

}  // namespace

KILN_REGISTER_KERNEL(gemm_stub, DeviceType::CPU, gemm_forward_cpu);

}  // namespace kiln
