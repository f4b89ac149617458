// ImageFolder: the folder walk that finds classes and samples (in torchvision's order)
// and the per-sample read and transform. The rules are in nn/data/image_folder.h.
#include "nn/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/factory.h"

namespace kiln::nn::data {

namespace {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// The image files under `dir`, recursively, ordered as torchvision's
// sorted(os.walk(dir)) then sorted(fnames): by folder, then by file name.
std::vector<std::string> image_files(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  std::error_code ec;
  auto options = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  for (fs::recursive_directory_iterator it(dir, options, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (it->is_regular_file(file_ec) && has_image_extension(it->path()))
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
  }
  KILN_CHECK(!ec, "ImageFolder: cannot list ", dir.string(), ": ", ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [folder, name] : found) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, transforms::TransformPtr transform, ImageReadMode mode,
                         uint64_t seed)
    : root_(root), transform_(std::move(transform)), mode_(mode), generator_(seed) {
  std::error_code ec;
  KILN_CHECK(fs::is_directory(root, ec), "ImageFolder: ", root, " is not a directory");
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code dir_ec;
    if (it->is_directory(dir_ec)) classes_.push_back(it->path().filename().string());
  }
  KILN_CHECK(!ec, "ImageFolder: cannot list ", root, ": ", ec.message());
  std::sort(classes_.begin(), classes_.end());
  KILN_CHECK(!classes_.empty(), "ImageFolder: couldn't find any class folder in ", root);
  std::vector<std::string> empty_classes;
  for (size_t k = 0; k < classes_.size(); ++k) {
    class_to_idx_[classes_[k]] = int64_t(k);
    std::vector<std::string> files = image_files(fs::path(root) / classes_[k]);
    if (files.empty()) empty_classes.push_back(classes_[k]);
    for (std::string& f : files) samples_.emplace_back(std::move(f), int64_t(k));
  }
  if (!empty_classes.empty()) {
    std::string names;
    for (const std::string& c : empty_classes) names += (names.empty() ? "" : ", ") + c;
    KILN_FAIL("ImageFolder: found no .png, .jpg or .jpeg file for the classes ", names, " in ", root);
  }
}

Example ImageFolder::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), "ImageFolder: index ", index, " is out of range for ", size(), " samples");
  const auto& [path, label] = samples_[size_t(index)];
  Tensor image = read_image(path, mode_);
  image = transform_ ? (*transform_)(image, generator_) : transforms::to_tensor(image);
  return {image, scalar_tensor(double(label), kInt64)};
}

std::vector<int64_t> ImageFolder::targets() const {
  std::vector<int64_t> t;
  for (const auto& sample : samples_) t.push_back(sample.second);
  return t;
}

}  // namespace kiln::nn::data
