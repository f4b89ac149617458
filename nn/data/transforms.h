// Image transforms on [C, H, W] tensors, as torchvision.transforms 0.14 does them on
// tensors: deterministic functions (resize, crops, flips, rotation, normalize) and
// Transform objects, random ones drawing from a kiln Generator. Images come from
// nn/data/image.h; nn/data/image_folder.h applies a Transform to each sample.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace kiln::nn::data::transforms {

// ---- functional: deterministic, on one CPU image [C, H, W] ----
// The functions take uint8, float32 or float64 images and return the same dtype
// (to_tensor and normalize say otherwise). Sizes are (height, width), positions
// (top, left), in pixels. A bad rank, dtype, size or position is a kiln::Error.

// uint8 [C, H, W] (or [H, W], which becomes [1, H, W]) to float32 in [0, 1]: x / 255.
Tensor to_tensor(const Tensor& img);

// (img[c] - mean[c]) / std[c] for a floating image; mean and std have one entry per
// channel, or one for all. A zero std is an error.
Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std);

// Bilinear resize with align_corners=false and no antialiasing (torchvision's default
// for tensors in 0.14). size = {h, w}: exactly that size. size = {s} or an integer:
// the smaller edge becomes s and the other int(s * long / short) (truncated), so the
// aspect ratio is kept as torchvision computes it; an image whose smaller edge already
// is s is returned as it is (the same tensor). uint8 images are resized in float32 and
// rounded half to even, as torchvision does; where the exact result is a half-integer,
// float32 rounding can tip it to the other neighbour than PyTorch's kernel picks (a
// difference of one level).
Tensor resize(const Tensor& img, const IntList& size);
Tensor resize(const Tensor& img, int64_t size);

// img[:, top:top+height, left:left+width]. Unlike torchvision, which pads a crop that
// reaches outside the image with zeros, a crop must lie inside the image.
Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width);

// The centred {h, w} (or {s, s}) crop; the top-left corner is round((H - h) / 2),
// round((W - w) / 2) with halves rounded to even, as Python's round. A crop larger than
// the image first pads it with zeros ((d - D) / 2 before, the rest after, per dim).
Tensor center_crop(const Tensor& img, const IntList& size);
Tensor center_crop(const Tensor& img, int64_t size);

// resize(crop(img, top, left, height, width), size).
Tensor resized_crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                    const IntList& size);

// Mirrors the columns (the last dim).
Tensor hflip(const Tensor& img);

// Rotates by `angle` degrees counterclockwise about `center` ({x, y} in pixels, from the
// top-left corner; default the image centre), keeping the size (expand=false): each
// output pixel takes the nearest input pixel of its inverse-rotated position, rounded
// half to even as grid_sample does, and `fill` where that lies outside. Follows
// torchvision's tensor rotate: the inverse affine matrix is computed in double, the
// sampling grid in the image's float type (float32 for uint8).
Tensor rotate(const Tensor& img, double angle, std::optional<std::pair<double, double>> center = std::nullopt,
              double fill = 0.0);

// ---- Transform objects ----
//
// A Transform maps an image to an image. Random transforms take their random numbers
// from the Generator passed to each call, so a transform holds no mutable state: one
// object can serve several threads, and the same generator state gives the same output.
// The call without a generator uses kiln's default generator. To write one, derive and
// implement apply().
class Transform {
 public:
  virtual ~Transform() = default;
  Tensor operator()(const Tensor& img, Generator& gen) const { return apply(img, gen); }
  Tensor operator()(const Tensor& img) const { return apply(img, default_generator()); }
  virtual Tensor apply(const Tensor& img, Generator& gen) const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

// Applies each transform in turn, all drawing from the same generator.
class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  const std::vector<TransformPtr>& transforms() const { return transforms_; }

 private:
  std::vector<TransformPtr> transforms_;
};

// Wraps a function of the image.
class Lambda : public Transform {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn) : fn_(std::move(fn)) {}
  Tensor apply(const Tensor& img, Generator&) const override { return fn_(img); }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

class ToTensor : public Transform {
 public:
  Tensor apply(const Tensor& img, Generator&) const override { return to_tensor(img); }
};

class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor apply(const Tensor& img, Generator&) const override { return normalize(img, mean_, std_); }

 private:
  std::vector<double> mean_, std_;
};

class Resize : public Transform {
 public:
  explicit Resize(IntList size);  // {s}: the smaller edge; {h, w}: exact
  explicit Resize(int64_t size) : Resize(IntList{size}) {}
  Tensor apply(const Tensor& img, Generator&) const override { return resize(img, size_); }

 private:
  IntList size_;
};

class CenterCrop : public Transform {
 public:
  explicit CenterCrop(IntList size);  // {h, w} or {s}
  explicit CenterCrop(int64_t size) : CenterCrop(IntList{size}) {}
  Tensor apply(const Tensor& img, Generator&) const override { return center_crop(img, size_); }

 private:
  IntList size_;
};

// hflip with probability p: one uniform draw u in [0, 1) per call, flipped when u < p.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor apply(const Tensor& img, Generator& gen) const override;

 private:
  double p_;
};

struct CropParams {
  int64_t top, left, height, width;
};

// A crop of random area (a fraction in `scale` of the image's) and aspect ratio (w / h,
// log-uniform in `ratio`), resized to `size` ({s} means {s, s}) with resize().
class RandomResizedCrop : public Transform {
 public:
  explicit RandomResizedCrop(IntList size, std::pair<double, double> scale = {0.08, 1.0},
                             std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});
  explicit RandomResizedCrop(int64_t size) : RandomResizedCrop(IntList{size}) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;  // resized_crop(img, get_params(...), size)

  // torchvision's sampling: up to 10 attempts of area = H*W*U(scale), aspect =
  // exp(U(log ratio)), w = round(sqrt(area * aspect)), h = round(sqrt(area / aspect));
  // the first with 0 < w <= W and 0 < h <= H gets a uniform position (top in [0, H - h],
  // left in [0, W - w]). If none fits, the central crop with the aspect ratio clamped
  // into `ratio` (the whole image when its ratio is inside). Rounding is Python's
  // round (halves to even).
  static CropParams get_params(const Tensor& img, std::pair<double, double> scale, std::pair<double, double> ratio,
                               Generator& gen);

 private:
  IntList size_;
  std::pair<double, double> scale_, ratio_;
};

// rotate() by an angle drawn uniformly from [degrees.first, degrees.second).
class RandomRotation : public Transform {
 public:
  explicit RandomRotation(double degrees);  // [-degrees, degrees]; degrees >= 0
  explicit RandomRotation(std::pair<double, double> degrees,
                          std::optional<std::pair<double, double>> center = std::nullopt, double fill = 0.0);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  static double get_params(std::pair<double, double> degrees, Generator& gen);

 private:
  std::pair<double, double> degrees_;
  std::optional<std::pair<double, double>> center_;
  double fill_;
};

}  // namespace kiln::nn::data::transforms
