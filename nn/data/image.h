// Image files: PNG (libpng) and JPEG (libjpeg-turbo) decoded into uint8 [C, H, W] tensors,
// as torchvision.io does, and PNG writing. Transforms on the decoded tensors are in
// nn/data/transforms.h; a folder of images as a Dataset in nn/data/image_folder.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::nn::data {

// The channels read_image returns, as torchvision.io.ImageReadMode:
//   Unchanged  the file's own channels: 1 (gray), 2 (gray + alpha), 3 (RGB), 4 (RGBA,
//              or a JPEG's CMYK)
//   Gray       1 channel; colour is converted with libpng's rgb_to_gray (PNG) using
//              torchvision's weights 0.2989 R + 0.587 G + 0.1141 B, or is the JPEG's
//              luma (Y) channel; alpha is dropped
//   GrayAlpha  2 channels: gray as above, and alpha (255 where the file has none)
//   RGB        3 channels: gray replicated, alpha dropped
//   RGBAlpha   4 channels: RGB as above, and alpha (255 where the file has none)
enum class ImageReadMode { Unchanged, Gray, GrayAlpha, RGB, RGBAlpha };

// Reads a PNG or JPEG file into a uint8 [C, H, W] tensor. The format comes from the
// file's first bytes, not its name. PNG: every bit depth and colour type; palettes are
// expanded to RGB (RGBA when the file has a tRNS chunk), 1/2/4-bit gray to 8 bits,
// 16-bit samples keep their high byte, Adam7 interlacing is undone; a tRNS colour key of
// a gray or RGB image is ignored, as are gamma and colour-profile chunks. JPEG: baseline
// and progressive, gray, YCbCr or RGB, decoded as torchvision does (same pixels); CMYK
// (Adobe's inverted, as Photoshop and PIL write it) is returned as its 4 channels when
// Unchanged and converted (R = C * K / 255, ...) for the other modes. The file is
// untrusted: a bad signature, a truncated file, a failed CRC of a critical chunk,
// corrupt compressed data, a JPEG of more than 1000 scans or an image of more than 2^31
// bytes is a kiln::Error naming the file.
Tensor read_image(const std::string& path, ImageReadMode mode = ImageReadMode::Unchanged);

// The same, from the bytes of a file held in memory (errors name "<memory>").
Tensor decode_image(const std::vector<uint8_t>& data, ImageReadMode mode = ImageReadMode::Unchanged);

// The bytes of an 8-bit PNG of `image`: uint8 [C, H, W] with C = 1 (gray), 2 (gray +
// alpha), 3 (RGB) or 4 (RGBA), or [H, W] (gray); any strides. H and W must be positive.
std::vector<uint8_t> encode_png(const Tensor& image);

// Writes encode_png(image) to `path` atomically: into a temporary file next to it that
// is then renamed over `path`, so a reader never sees half a file and a failed write
// leaves an existing file untouched.
void write_png(const std::string& path, const Tensor& image);

}  // namespace kiln::nn::data
