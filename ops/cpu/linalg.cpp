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

// b: (k, n) float32/float64 -> a uint8 buffer holding op(b) packed for the active
// micro-kernel (Note [Prepacked B]); other dtypes are not prepared.
Tensor gemm_prepare_cpu(const Tensor& b) {
  if (b.dim() != 2 || (b.dtype() != kFloat32 && b.dtype() != kFloat64)) return Tensor();
  const Operand ob = operand_of(b);
  const int64_t k = b.size(0), n = b.size(1);
  Tensor packed;
  dispatch_floating(b.dtype(), "gemm", [&]<typename T>() {
    packed = empty({int64_t(cpu::gemm_prepacked_b_bytes<T>(k, n))}, TensorOptions(kUInt8));
    cpu::gemm_prepack_b<T>(ob.trans, k, n, b.data_ptr<T>(), ob.ld, packed.data_ptr<uint8_t>());
  });
  return packed;
}

// out: (m, n) contiguous, a: (m, k), b: (k, n); prepared: gemm_prepare_cpu(b) or
// undefined. Falls back to the plain GEMM when the packing does not fit (another ISA).
void gemm_prepared_cpu(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& prepared, double beta,
                       double alpha) {
  if (prepared.defined() && out.dim() == 2 && a.dim() == 2 && out.dtype() == b.dtype()) {
    bool done = false;
    dispatch_floating(out.dtype(), "gemm", [&]<typename T>() {
      const Operand oa = operand_of(a);
      done = cpu::gemm_prepacked<T>(oa.trans, out.size(0), out.size(1), a.size(1), T(alpha), a.data_ptr<T>(), oa.ld,
                                    prepared.data_ptr<uint8_t>(), T(beta), out.data_ptr<T>(), out.size(1));
    });
    if (done) return;
  }
  gemm_forward_cpu(out, a, b, beta, alpha);
}

}  // namespace

KILN_REGISTER_KERNEL(gemm_stub, DeviceType::CPU, gemm_forward_cpu);
KILN_REGISTER_KERNEL(gemm_prepare_stub, DeviceType::CPU, gemm_prepare_cpu);
KILN_REGISTER_KERNEL(gemm_prepared_stub, DeviceType::CPU, gemm_prepared_cpu);

}  // namespace kiln
