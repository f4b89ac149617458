// fused_dropout: the Philox blocks come from the generator here, the kernel draws them;
// backward is the gradient times the saved mask (a kiln op, so it differentiates again).
#include "ops/random.h"

#include "autograd/function.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/random.h"

namespace kiln {

KILN_DEFINE_STUB(dropout_stub, "dropout", DropoutKernel);

namespace {

struct FusedDropout : Function<FusedDropout> {
  static constexpr const char* kName = "dropout";
  Tensor forward(const Tensor& x_in, double p, Generator* gen) {
    Tensor x = x_in.contiguous();
    Generator& g = gen ? *gen : default_generator();
    const int64_t per_block = x.dtype() == DType::Float32 ? 4 : 2;
    const uint64_t offset = g.reserve(uint64_t((x.numel() + per_block - 1) / per_block));
    Tensor out = empty(x.shape(), options_of(x)), mask = empty(x.shape(), options_of(x));
    dropout_stub(x.device(), out, mask, x, p, g.seed(), offset);
    save(mask);
    return out;
  }
  TensorList backward(const Tensor& grad) {
    auto [mask] = saved<1>();
    return {grad * mask};
  }
};

}  // namespace

Tensor fused_dropout(const Tensor& x, double p, Generator* gen) {
  KILN_CHECK(p >= 0.0 && p < 1.0, "fused_dropout: p must be in [0, 1), got ", p);
  // The kernels draw 4 (float32) or 2 (float64) elements per Philox block; the 16-bit
  // floats would need a stream of their own.
  KILN_CHECK(x.defined() && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64),
             "fused_dropout: expected a float32 or float64 tensor, got ",
             x.defined() ? x.meta_str() : std::string("an undefined tensor"));
  return apply<FusedDropout>(x, p, gen);
}

}  // namespace kiln
