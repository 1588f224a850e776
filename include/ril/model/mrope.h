// Multimodal rotary position embedding (M-RoPE) of Qwen2-VL / Qwen2.5-VL's text decoder.
//
// Every token has three position ids (temporal, height, width). Text tokens have three equal ids
// (1-D RoPE); the tokens of an image of llm grid (t, h, w) (patch grid / spatial merge) take
// (t0, row, col) offsets from the position after the preceding text, and the text after the image
// continues at max(image positions) + 1. The rotary frequencies are split into mrope_section
// (temporal, height, width) counts; frequency i rotates by the position of its section's axis.
//
// In generation the prompt's positions are computed once; generated token n of a left-padded row
// (padded length P) sits at P + n + rope_delta, rope_delta = max prompt position + 1 - P (HF's
// rope_deltas), which is the 1-D rule cumsum(mask) - 1 shifted by what the images saved.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace ril::model {

// position_ids [3, B, T] int64 -> cos, sin [B, T, Dh] float32 (HF layout cat(freqs, freqs)).
std::pair<torch::Tensor, torch::Tensor> mrope_cos_sin(const torch::Tensor& position_ids, int64_t head_dim,
                                                      double theta, const std::vector<int64_t>& mrope_section);

struct MropePositions {
  torch::Tensor position_ids;  // [3, B, P] int64 (pad columns hold 1, as HF)
  torch::Tensor rope_deltas;   // [B] int64
};

// HF get_rope_index for image prompts. input_ids [B, P] (left-padded), attention_mask [B, P]
// (undefined: all real), image_grid_thw [N, 3] (patch grids, in the order the images appear in
// the batch, row by row; undefined: no image). Each image's placeholders must be one run of
// t * h * w / merge^2 image tokens. Unlike HF, images are found by their placeholder runs rather
// than by the <|vision_start|> token before them (identical for prompts HF's template writes).
// Throws ril::Error when placeholders and images do not match (counts in the message).
MropePositions mrope_position_ids(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                  const torch::Tensor& image_grid_thw, int64_t image_token_id,
                                  int64_t spatial_merge_size);

// rope_deltas of given positions ([3, B, P] or [B, P]): max over the real columns (and axes)
// + 1 - P, [B] int64.
torch::Tensor rope_deltas_from_positions(const torch::Tensor& position_ids, const torch::Tensor& attention_mask);

// Positions of `count` tokens that follow a padded prompt of length P: [.., B, count] shaped like
// the prompt's (3 axes or 1), value P + offset + j + rope_delta.
torch::Tensor positions_after_prompt(const torch::Tensor& prompt_position_ids, const torch::Tensor& rope_deltas,
                                     int64_t offset, int64_t count);

}  // namespace ril::model
