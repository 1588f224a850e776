// PNG/JPEG in and out (stb), and resizing to a dataset's fixed image size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ril/data/image.h"

namespace ril::data {

// Decodes PNG/JPEG/BMP/GIF(first frame) bytes to RGB; throws ril::Error with stb's reason and
// `what` (a path, usually) on failure.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& what);
Image read_image_file(const std::string& path);  // reads + decodes; errors name the path

enum class ResizeMode {
  kStretch,  // scale each axis independently
  kPad,      // keep the aspect ratio, centre, fill the rest with black
};
ResizeMode parse_resize_mode(const std::string& name);  // "stretch" | "pad"

// Resamples to height x width (stb's default filter, sRGB-agnostic linear in byte space).
Image resize_image(const Image& image, int height, int width, ResizeMode mode = ResizeMode::kPad);

// Writes a PNG (atomically: temporary file then rename); throws with the path on failure.
void write_png(const Image& image, const std::string& path);
std::vector<uint8_t> encode_png(const Image& image);
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 90);

}  // namespace ril::data
