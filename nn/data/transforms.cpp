// The image transforms of nn/data/transforms.h: plain loops over contiguous [C, H, W]
// data, with the arithmetic done in the order and precision torchvision's tensor path
// (and the PyTorch kernels under it) uses, so results match it to the last bit or two.
#include "nn/data/transforms.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <type_traits>

#include "core/error.h"
#include "core/factory.h"

namespace kiln::nn::data::transforms {

namespace {

// uint8, float32 or float64: the dtypes of images.
template <typename F>
void dispatch_image(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::UInt8: f.template operator()<uint8_t>(); return;
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    default: KILN_FAIL(op, ": expected a uint8, float32 or float64 image, got ", dtype_name(dtype));
  }
}

// The type an image of T is computed in: float for uint8 and float32, as torchvision
// converts uint8 images to float32 before interpolating.
template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Converts a computed value back to T: uint8 rounds half to even (torch.round) and
// saturates.
template <typename T, typename A>
T store(A v) {
  if constexpr (std::is_same_v<T, uint8_t>) return uint8_t(std::clamp(std::nearbyint(v), A(0), A(255)));
  else return T(v);
}

void check_image(const Tensor& img, const char* op) {
  KILN_CHECK(img.defined(), op, ": expected a [C, H, W] image, got an undefined tensor");
  KILN_CHECK(img.dim() == 3, op, ": expected a [C, H, W] image, got ", img.meta_str());
  KILN_CHECK(img.device().is_cpu(), op, ": expected an image on the CPU, got ", img.meta_str());
  KILN_CHECK(img.dtype() == kUInt8 || img.is_floating_point(), op,
             ": expected a uint8, float32 or float64 image, got ", img.meta_str());
}

void check_size(const IntList& size, const char* op) {
  KILN_CHECK(size.size() == 1 || size.size() == 2, op, ": expected a size {h, w} or {s}, got ", size);
  for (int64_t s : size) KILN_CHECK(s > 0, op, ": expected positive sizes, got ", size);
}

// Python's round(): halves to even.
int64_t round_half_even(double v) { return int64_t(std::nearbyint(v)); }

// A uniform double in [lo, hi) from the generator (one float64 rand draw).
double uniform(Generator& gen, double lo, double hi) {
  return lo + (hi - lo) * rand({}, kFloat64, &gen).item<double>();
}

// ---- bilinear resize ----

// For output index i along a dim of in_size -> out_size (align_corners=false, PyTorch's
// upsample_bilinear2d): src = max(scale * (i + 0.5) - 0.5, 0) with scale = in / out in
// the compute type; i0 = floor(src), i1 = min(i0 + 1, in - 1), weights (1 - l, l) with
// l = src - i0.
template <typename A>
struct LinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<A> w0, w1;
};

template <typename A>
LinearTaps<A> linear_taps(int64_t in_size, int64_t out_size) {
  LinearTaps<A> taps;
  A scale = A(in_size) / A(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    int64_t i0 = i, i1 = i;
    A l = 0;
    if (in_size != out_size) {
      A src = std::max(scale * (A(i) + A(0.5)) - A(0.5), A(0));
      i0 = int64_t(src);
      i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
      l = std::clamp(src - A(i0), A(0), A(1));
    }
    taps.i0.push_back(i0);
    taps.i1.push_back(i1);
    taps.w0.push_back(A(1) - l);
    taps.w1.push_back(l);
  }
  return taps;
}

// in: (C, H, W) contiguous, out: (C, OH, OW).
// out = h0 * (w0 * x[y0, x0] + w1 * x[y0, x1]) + h1 * (w0 * x[y1, x0] + w1 * x[y1, x1])
template <typename T>
void resize_bilinear_cpu(const T* in, T* out, int64_t channels, int64_t height, int64_t width, int64_t out_height,
                         int64_t out_width) {
  using A = compute_t<T>;
  LinearTaps<A> ty = linear_taps<A>(height, out_height), tx = linear_taps<A>(width, out_width);
  for (int64_t c = 0; c < channels; ++c) {
    const T* plane = in + c * height * width;
    for (int64_t y = 0; y < out_height; ++y) {
      const T* row0 = plane + ty.i0[size_t(y)] * width;
      const T* row1 = plane + ty.i1[size_t(y)] * width;
      A h0 = ty.w0[size_t(y)], h1 = ty.w1[size_t(y)];
      for (int64_t x = 0; x < out_width; ++x) {
        int64_t x0 = tx.i0[size_t(x)], x1 = tx.i1[size_t(x)];
        A w0 = tx.w0[size_t(x)], w1 = tx.w1[size_t(x)];
        A top = A(row0[x0]) * w0 + A(row0[x1]) * w1;
        A bottom = A(row1[x0]) * w0 + A(row1[x1]) * w1;
        *out++ = store<T>(top * h0 + bottom * h1);
      }
    }
  }
}

// torchvision's output size for resize(img, size); see the header.
std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, const IntList& size) {
  if (size.size() == 2) return {size[0], size[1]};
  int64_t short_edge = std::min(height, width), long_edge = std::max(height, width);
  // Python: int(s * long / short), a true division of the integer product.
  int64_t new_long = int64_t(double(size[0] * long_edge) / double(short_edge));
  return width <= height ? std::pair{new_long, size[0]} : std::pair{size[0], new_long};
}

// ---- rotation ----

// torchvision's _get_inverse_affine_matrix for a rotation by `angle` degrees
// counterclockwise (no translation, scale or shear) about (cx, cy), a point given
// relative to the image centre: maps output to input positions, both relative to the
// centre, as [m0 m1 m2; m3 m4 m5].
std::array<double, 6> inverse_rotation(double angle, double cx, double cy) {
  double rot = -angle * std::numbers::pi / 180.0;  // torchvision passes -angle
  double c = std::cos(rot), s = std::sin(rot);
  std::array<double, 6> m = {c, s, 0.0, -s, c, 0.0};
  m[2] += m[0] * -cx + m[1] * -cy;
  m[5] += m[3] * -cx + m[4] * -cy;
  m[2] += cx;
  m[5] += cy;
  return m;
}

// in, out: (C, H, W) contiguous. For output pixel (x, y), with its centre relative to
// the image centre u = x - W/2 + 0.5, v = y - H/2 + 0.5 (the affine grid), torchvision
// normalises gx = (m0 u + m1 v + m2) / (W/2) and grid_sample (align_corners=false)
// reads the input at ix = (gx + 1) * W/2 - 0.5, rounded half to even; likewise y. The
// same steps in the compute type A give the same pixel choices.
template <typename T>
void rotate_nearest_cpu(const T* in, T* out, int64_t channels, int64_t height, int64_t width,
                        const std::array<double, 6>& m, double fill) {
  using A = compute_t<T>;
  A half_w = A(0.5 * double(width)), half_h = A(0.5 * double(height));
  A r[6];
  for (int k = 0; k < 3; ++k) {
    r[k] = A(m[size_t(k)]) / half_w;
    r[3 + k] = A(m[size_t(3 + k)]) / half_h;
  }
  A size_w = A(width) / A(2), size_h = A(height) / A(2);
  T fill_value = store<T>(A(fill));
  int64_t plane = height * width;
  for (int64_t y = 0; y < height; ++y) {
    A v = A(-double(height) * 0.5 + 0.5) + A(y);
    for (int64_t x = 0; x < width; ++x) {
      A u = A(-double(width) * 0.5 + 0.5) + A(x);
      A gx = u * r[0] + v * r[1] + r[2];
      A gy = u * r[3] + v * r[4] + r[5];
      A ix = std::nearbyint((gx + A(1)) * size_w - A(0.5));
      A iy = std::nearbyint((gy + A(1)) * size_h - A(0.5));
      bool inside = ix >= A(0) && ix <= A(width - 1) && iy >= A(0) && iy <= A(height - 1);
      int64_t src = inside ? int64_t(iy) * width + int64_t(ix) : 0;
      for (int64_t c = 0; c < channels; ++c)
        out[c * plane + y * width + x] = inside ? in[c * plane + src] : fill_value;
    }
  }
}

}  // namespace

// ---- functional ----

Tensor to_tensor(const Tensor& img) {
  KILN_CHECK(img.defined() && img.dtype() == kUInt8 && (img.dim() == 2 || img.dim() == 3),
             "to_tensor: expected a uint8 [C, H, W] or [H, W] image, got ",
             img.defined() ? img.meta_str() : "an undefined tensor");
  KILN_CHECK(img.device().is_cpu(), "to_tensor: expected an image on the CPU, got ", img.meta_str());
  Tensor src = (img.dim() == 2 ? img.unsqueeze(0) : img).contiguous();
  Tensor out = empty(src.shape(), kFloat32);
  const uint8_t* in = src.data_ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < src.numel(); ++i) o[i] = float(in[i]) / 255.0f;
  return out;
}

Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std) {
  check_image(img, "normalize");
  KILN_CHECK(img.is_floating_point(), "normalize: expected a float32 or float64 image, got ", img.meta_str(),
             " (convert with to_tensor first)");
  int64_t channels = img.size(0);
  KILN_CHECK(mean.size() == std.size() && (mean.size() == 1 || int64_t(mean.size()) == channels),
             "normalize: expected mean and std with one entry per channel (", channels, ") or one for all, got ",
             mean.size(), " means and ", std.size(), " stds");
  for (double s : std) KILN_CHECK(s != 0.0, "normalize: std evaluated to zero, leading to division by zero");
  Tensor src = img.contiguous();
  Tensor out = empty_like(src);
  int64_t plane = src.size(1) * src.size(2);
  dispatch_floating(src.dtype(), "normalize", [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t c = 0; c < channels; ++c) {
      size_t k = mean.size() == 1 ? 0 : size_t(c);
      T m = T(mean[k]), s = T(std[k]);
      for (int64_t i = c * plane; i < (c + 1) * plane; ++i) o[i] = (in[i] - m) / s;
    }
  });
  return out;
}

Tensor resize(const Tensor& img, const IntList& size) {
  check_image(img, "resize");
  check_size(size, "resize");
  int64_t height = img.size(1), width = img.size(2);
  KILN_CHECK(height > 0 && width > 0, "resize: expected an image with pixels, got ", img.meta_str());
  if (size.size() == 1 && std::min(height, width) == size[0]) return img;
  auto [out_height, out_width] = resized_size(height, width, size);
  Tensor src = img.contiguous();
  Tensor out = empty({img.size(0), out_height, out_width}, img.dtype());
  dispatch_image(img.dtype(), "resize", [&]<typename T>() {
    resize_bilinear_cpu<T>(src.data_ptr<T>(), out.data_ptr<T>(), img.size(0), height, width, out_height, out_width);
  });
  return out;
}

Tensor resize(const Tensor& img, int64_t size) { return resize(img, IntList{size}); }

Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width) {
  check_image(img, "crop");
  KILN_CHECK(height > 0 && width > 0, "crop: expected a positive height and width, got ", height, " x ", width);
  KILN_CHECK(top >= 0 && left >= 0 && top + height <= img.size(1) && left + width <= img.size(2),
             "crop: the ", height, " x ", width, " crop at (top ", top, ", left ", left,
             ") reaches outside the image ", img.meta_str());
  return img.narrow(1, top, height).narrow(2, left, width).contiguous();
}

Tensor center_crop(const Tensor& img, const IntList& size) {
  check_image(img, "center_crop");
  check_size(size, "center_crop");
  int64_t crop_h = size[0], crop_w = size.size() == 2 ? size[1] : size[0];
  Tensor src = img;
  int64_t height = img.size(1), width = img.size(2);
  if (crop_h > height || crop_w > width) {
    // Pad with zeros to at least the crop: (d - D) / 2 before, the rest after.
    int64_t pad_h = std::max<int64_t>(crop_h - height, 0), pad_w = std::max<int64_t>(crop_w - width, 0);
    Tensor padded = zeros({img.size(0), height + pad_h, width + pad_w}, img.dtype());
    padded.narrow(1, pad_h / 2, height).narrow(2, pad_w / 2, width).copy_(img);
    src = padded;
    height = padded.size(1), width = padded.size(2);
  }
  int64_t top = round_half_even(double(height - crop_h) / 2.0);
  int64_t left = round_half_even(double(width - crop_w) / 2.0);
  return crop(src, top, left, crop_h, crop_w);
}

Tensor center_crop(const Tensor& img, int64_t size) { return center_crop(img, IntList{size}); }

Tensor resized_crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                    const IntList& size) {
  return resize(crop(img, top, left, height, width), size);
}

Tensor hflip(const Tensor& img) {
  check_image(img, "hflip");
  Tensor src = img.contiguous();
  Tensor out = empty_like(src);
  int64_t rows = src.size(0) * src.size(1), width = src.size(2);
  dispatch_image(src.dtype(), "hflip", [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t x = 0; x < width; ++x) o[r * width + x] = in[r * width + (width - 1 - x)];
  });
  return out;
}

Tensor rotate(const Tensor& img, double angle, std::optional<std::pair<double, double>> center, double fill) {
  check_image(img, "rotate");
  KILN_CHECK(std::isfinite(angle), "rotate: expected a finite angle, got ", angle);
  int64_t height = img.size(1), width = img.size(2);
  // The centre relative to the image centre, as torchvision's center_f.
  double cx = center ? center->first - 0.5 * double(width) : 0.0;
  double cy = center ? center->second - 0.5 * double(height) : 0.0;
  std::array<double, 6> m = inverse_rotation(angle, cx, cy);
  Tensor src = img.contiguous();
  Tensor out = empty_like(src);
  if (out.numel() == 0) return out;
  dispatch_image(src.dtype(), "rotate", [&]<typename T>() {
    rotate_nearest_cpu<T>(src.data_ptr<T>(), out.data_ptr<T>(), src.size(0), height, width, m, fill);
  });
  return out;
}

// ---- Transform objects ----

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (const TransformPtr& t : transforms_) KILN_CHECK(t != nullptr, "Compose: got a null transform");
}

Tensor Compose::apply(const Tensor& img, Generator& gen) const {
  Tensor x = img;
  for (const TransformPtr& t : transforms_) x = t->apply(x, gen);
  return x;
}

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  KILN_CHECK(!mean_.empty() && mean_.size() == std_.size(), "Normalize: expected as many means as stds, got ",
             mean_.size(), " and ", std_.size());
}

Resize::Resize(IntList size) : size_(std::move(size)) { check_size(size_, "Resize"); }

CenterCrop::CenterCrop(IntList size) : size_(std::move(size)) { check_size(size_, "CenterCrop"); }

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "RandomHorizontalFlip: expected a probability in [0, 1], got ", p);
}

Tensor RandomHorizontalFlip::apply(const Tensor& img, Generator& gen) const {
  return uniform(gen, 0.0, 1.0) < p_ ? hflip(img) : img;
}

RandomResizedCrop::RandomResizedCrop(IntList size, std::pair<double, double> scale, std::pair<double, double> ratio)
    : size_(std::move(size)), scale_(scale), ratio_(ratio) {
  check_size(size_, "RandomResizedCrop");
  if (size_.size() == 1) size_.push_back(size_[0]);
  KILN_CHECK(scale.first >= 0 && scale.first <= scale.second, "RandomResizedCrop: expected 0 <= scale.first <= ",
             "scale.second, got (", scale.first, ", ", scale.second, ")");
  KILN_CHECK(ratio.first > 0 && ratio.first <= ratio.second, "RandomResizedCrop: expected 0 < ratio.first <= ",
             "ratio.second, got (", ratio.first, ", ", ratio.second, ")");
}

CropParams RandomResizedCrop::get_params(const Tensor& img, std::pair<double, double> scale,
                                         std::pair<double, double> ratio, Generator& gen) {
  check_image(img, "RandomResizedCrop");
  int64_t height = img.size(1), width = img.size(2);
  KILN_CHECK(height > 0 && width > 0, "RandomResizedCrop: expected an image with pixels, got ", img.meta_str());
  double area = double(height * width);
  double log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target_area = area * uniform(gen, scale.first, scale.second);
    double aspect = std::exp(uniform(gen, log_lo, log_hi));
    int64_t w = round_half_even(std::sqrt(target_area * aspect));
    int64_t h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      int64_t top = randint(0, height - h + 1, {}, kInt64, &gen).item<int64_t>();
      int64_t left = randint(0, width - w + 1, {}, kInt64, &gen).item<int64_t>();
      return {top, left, h, w};
    }
  }
  // The central crop with the aspect ratio clamped into `ratio`.
  double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio.first) {
    h = round_half_even(double(w) / ratio.first);
  } else if (in_ratio > ratio.second) {
    w = round_half_even(double(h) * ratio.second);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Tensor RandomResizedCrop::apply(const Tensor& img, Generator& gen) const {
  CropParams p = get_params(img, scale_, ratio_, gen);
  return resized_crop(img, p.top, p.left, p.height, p.width, size_);
}

namespace {
std::pair<double, double> symmetric_degrees(double degrees) {
  KILN_CHECK(degrees >= 0, "RandomRotation: expected non-negative degrees, got ", degrees);
  return {-degrees, degrees};
}
}  // namespace

RandomRotation::RandomRotation(double degrees) : RandomRotation(symmetric_degrees(degrees)) {}

RandomRotation::RandomRotation(std::pair<double, double> degrees, std::optional<std::pair<double, double>> center,
                               double fill)
    : degrees_(degrees), center_(center), fill_(fill) {
  KILN_CHECK(std::isfinite(degrees.first) && std::isfinite(degrees.second) && degrees.first <= degrees.second,
             "RandomRotation: expected degrees (min, max) with min <= max, got (", degrees.first, ", ",
             degrees.second, ")");
}

double RandomRotation::get_params(std::pair<double, double> degrees, Generator& gen) {
  return uniform(gen, degrees.first, degrees.second);
}

Tensor RandomRotation::apply(const Tensor& img, Generator& gen) const {
  return rotate(img, get_params(degrees_, gen), center_, fill_);
}

}  // namespace kiln::nn::data::transforms
