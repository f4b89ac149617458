// ImageFolder: a Dataset of images stored as root/<class>/<image>, as
// torchvision.datasets.ImageFolder. Images are read with nn/data/image.h and passed
// through a transform of nn/data/transforms.h.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/generator.h"
#include "nn/data/dataloader.h"
#include "nn/data/image.h"
#include "nn/data/transforms.h"

namespace kiln::nn::data {

// The layout is root/<class>/.../<file>: every subfolder of root is a class; its files
// (in any depth of subfolders) whose names end in .png, .jpg or .jpeg, in any case, are
// its samples. Classes are the folder names sorted (byte order), class_to_idx numbers
// them in that order, and samples come class by class, within a class sorted by folder
// and then by file name (torchvision's order). A missing root, a root without class
// folders or a class folder without images is an error.
//
// get(i) reads sample i with read_image(path, mode), applies the transform and returns
// {image, label}, the label an int64 0-d tensor. Without a transform the image becomes
// float32 in [0, 1] (to_tensor). A random transform draws from the dataset's own
// Generator, seeded by `seed`: one DataLoader (which loads in order, on one thread)
// sees the same augmentations on every run.
class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(const std::string& root, transforms::TransformPtr transform = nullptr,
                       ImageReadMode mode = ImageReadMode::RGB, uint64_t seed = 0);

  int64_t size() const override { return int64_t(samples_.size()); }
  Example get(int64_t index) const override;

  const std::string& root() const { return root_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::map<std::string, int64_t>& class_to_idx() const { return class_to_idx_; }
  // (path, class index) of every sample, in order.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }
  std::vector<int64_t> targets() const;  // the class index of every sample

 private:
  std::string root_;
  transforms::TransformPtr transform_;
  ImageReadMode mode_;
  mutable Generator generator_;  // thread-safe; advanced by random transforms
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> class_to_idx_;
  std::vector<std::pair<std::string, int64_t>> samples_;
};

}  // namespace kiln::nn::data
