#include "ril/model/image_processor.h"

#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/model/internvl_image_processor.h"
#include "ril/model/qwen2_vl_image_processor.h"

namespace ril::model {

RgbImage rgb_image(const torch::Tensor& hwc_uint8) {
  RIL_CHECK(hwc_uint8.defined() && hwc_uint8.dim() == 3 && hwc_uint8.size(2) == 3 &&
                hwc_uint8.scalar_type() == torch::kUInt8,
            "image must be uint8 [H, W, 3], got ", hwc_uint8.defined() ? hwc_uint8.sizes() : torch::IntArrayRef{});
  torch::Tensor cpu = hwc_uint8.to(torch::kCPU).contiguous();
  RgbImage out;
  out.height = cpu.size(0);
  out.width = cpu.size(1);
  out.pixels.assign(cpu.data_ptr<uint8_t>(), cpu.data_ptr<uint8_t>() + cpu.numel());
  return out;
}

RgbImage rgb_image(int64_t height, int64_t width, std::vector<uint8_t> pixels) {
  RIL_CHECK(height >= 1 && width >= 1 && static_cast<int64_t>(pixels.size()) == height * width * 3,
            "image of ", height, "x", width, " needs ", height * width * 3, " bytes, got ", pixels.size());
  return RgbImage{height, width, std::move(pixels)};
}

torch::Tensor normalise_image(const RgbImage& image, const std::array<double, 3>& mean, const std::array<double, 3>& stdev) {
  torch::Tensor x = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {image.height, image.width, 3},
                                     torch::kUInt8);
  x = x.permute({2, 0, 1}).to(torch::kFloat64).div(255.0);  // [3, H, W]
  const torch::Tensor m = torch::tensor({mean[0], mean[1], mean[2]}, torch::kFloat64).view({3, 1, 1});
  const torch::Tensor s = torch::tensor({stdev[0], stdev[1], stdev[2]}, torch::kFloat64).view({3, 1, 1});
  return ((x - m) / s).to(torch::kFloat32);
}

ImageInputs siglip_preprocess(const LlavaConfig& config, const RgbImage& image) {
  const int64_t s = config.vision_config.image_size;
  const RgbImage sized = (image.height == s && image.width == s) ? image : resize_bicubic(image, s, s);
  // (x / 255 - 0.5) / 0.5 in float32, as ril's jobs always computed it (HF's processor agrees to
  // float32 rounding): a model trained here sees the same pixel values as before.
  torch::Tensor x = torch::from_blob(const_cast<uint8_t*>(sized.pixels.data()), {s, s, 3}, torch::kUInt8);
  ImageInputs out;
  out.pixel_values = ((x.permute({2, 0, 1}).to(torch::kFloat32) / 255.0 - 0.5) / 0.5).unsqueeze(0).contiguous();
  out.tokens = {config.num_image_tokens()};
  return out;
}

ImageInputs preprocess_images(const ModelConfig& config, const std::vector<RgbImage>& images) {
  std::vector<ImageInputs> parts;
  for (const RgbImage& image : images) {
    switch (config.kind) {
      case ModelKind::kLlava: parts.push_back(siglip_preprocess(config.llava, image)); break;
      case ModelKind::kQwen2_5_VL: parts.push_back(qwen2_vl_preprocess(config.qwen2_5_vl, image)); break;
      case ModelKind::kInternVL: parts.push_back(internvl_preprocess(config.internvl, image)); break;
      default: throw ConfigError("preprocess_images: a text-only qwen2 model takes no images");
    }
  }
  return ImageInputs::cat(parts);
}

int64_t num_image_tokens(const ModelConfig& config, int64_t height, int64_t width) {
  switch (config.kind) {
    case ModelKind::kLlava: return config.llava.num_image_tokens();
    case ModelKind::kQwen2_5_VL: return qwen2_vl_num_image_tokens(config.qwen2_5_vl, height, width);
    case ModelKind::kInternVL: return internvl_num_image_tokens(config.internvl, height, width);
    default: throw ConfigError("num_image_tokens: a text-only qwen2 model takes no images");
  }
}

ImagePromptFormat image_prompt_format(const ModelConfig& config) {
  switch (config.kind) {
    case ModelKind::kQwen2_5_VL: return {"<|vision_start|>", "<|image_pad|>", "<|vision_end|>"};
    case ModelKind::kInternVL: return {"<img>", "<IMG_CONTEXT>", "</img>\n"};  // HF's template: "<image>\n"
    default: return {"", "<image>", ""};
  }
}

}  // namespace ril::model
