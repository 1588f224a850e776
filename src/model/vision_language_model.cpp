#include "ril/model/vision_language_model.h"

#include "ril/common/error.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::model {

torch::Tensor merge_image_features(Qwen2ForCausalLM& decoder, const torch::Tensor& input_ids, int64_t image_token_id,
                                   const torch::Tensor& features, const char* family, int64_t num_images) {
  TORCH_CHECK(input_ids.dim() == 2, family, ": input_ids must be [B, T], got ", input_ids.sizes());
  const torch::Tensor is_image = input_ids.eq(image_token_id);
  torch::Tensor ids = input_ids;
  if (image_token_id >= decoder->config().vocab_size) ids = input_ids.masked_fill(is_image, 0);
  torch::Tensor embeds = decoder->embed(ids);  // [B, T, D]
  const int64_t n_placeholders = is_image.sum().item<int64_t>();
  if (!features.defined()) {
    RIL_CHECK(n_placeholders == 0, family, ": prompt has ", n_placeholders, " image tokens (id ", image_token_id,
              ") but no images were given");
    return embeds;
  }
  RIL_CHECK(n_placeholders == features.size(0), family, ": image features and image tokens do not match: prompt has ",
            n_placeholders, " tokens of id ", image_token_id, ", the ", num_images, " images give ", features.size(0),
            " features");
  return embeds.masked_scatter(is_image.unsqueeze(-1).expand_as(embeds), features.to(embeds.scalar_type()));
}

}  // namespace ril::model
