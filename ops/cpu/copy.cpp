// CPU kernels for copy (with broadcasting and dtype conversion) and fill.
#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/loops.h"
#include "ops/kernels/view.h"

namespace kiln {

namespace {

// dst: any strides; src: broadcast to dst.shape; converts src's dtype to dst's.
void copy_forward_cpu(const Tensor& dst, const Tensor& src) {
  dispatch_all(dst.dtype(), [&]<typename D>() {
    dispatch_all(src.dtype(), [&]<typename S>() {
      cpu::elementwise<D, S>(dst, [](S v) { return static_cast<D>(v); }, src);
    });
  });
}

void fill_forward_cpu(const Tensor& dst, double value) {
  dispatch_all(dst.dtype(), [&]<typename D>() {
    D v = static_cast<D>(value);
    cpu::elementwise<D>(dst, [v]() { return v; });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(copy_stub, DeviceType::CPU, copy_forward_cpu);
KILN_REGISTER_KERNEL(fill_stub, DeviceType::CPU, fill_forward_cpu);

}  // namespace kiln
