// Kernels of the one-token decode step (fused_decode.h): each replaces a chain of small ATen ops
// by one pass over the data, which is what a decode step of a small model is made of (a tiny
// ATen op costs ~0.5-1 us of dispatch; bench/RESULTS.md, issue 17).
//
// Every kernel has a portable twin built from ATen ops (`*_aten`): the path on devices other than
// the CPU, and the oracle of the kernel tests. Dtypes: float32, bfloat16, float16; statistics,
// scores and softmax in float32.
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace ril::model {

// HF RMSNorm of rows: x [N, D] (rows may be strided, elements contiguous), weight [D] ->
// [N, D] contiguous in x's dtype: weight * (x * rsqrt(mean(x^2) + eps)).to(dtype), statistics in
// float32 (RMSNormImpl::forward's math). CPU only.
torch::Tensor rms_norm_rows(const torch::Tensor& x, const torch::Tensor& weight, double eps);
torch::Tensor rms_norm_rows_aten(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// One new token per row: rotary embedding of its query and key, its key and value written into
// the KV cache at position `past`, then grouped-query attention of the query over cache
// positions [0, past] (HF repeat_kv grouping: query head h reads kv head h / (H / Hkv)).
// Key j is visible to row b when j == past, or j >= P, or prompt_mask[b, j] != 0 (left-padded
// prompts of padded length P; every generated position is real).
struct DecodeAttentionInput {
  torch::Tensor q;  // [B, H * Dh]   rows may be strided (views into the fused q/k/v output)
  torch::Tensor k;  // [B, Hkv * Dh]
  torch::Tensor v;  // [B, Hkv * Dh]
  // Rotary tables [L, Dh] in the compute dtype, HF layout cat(freqs, freqs): row i holds the
  // angles of position table_start + i (fused_decode.cpp builds them with rotary_for).
  torch::Tensor cos_table, sin_table;
  torch::Tensor table_rows;     // [B] int64: row of this token's position is table_rows[b] + step
  int64_t step = 0;
  torch::Tensor key_cache;      // [B, Hkv, capacity, Dh] of this layer, contiguous
  torch::Tensor value_cache;    // [B, Hkv, capacity, Dh]
  int64_t past = 0;             // positions already cached; this token is written at `past`
  torch::Tensor prompt_mask;    // [B, P] int64 0/1 (P <= past + 1)
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
};

// Returns the attention output [B, H * Dh] in q's dtype (before o_proj). Writes the cache.
// CPU only. Scale 1/sqrt(Dh); scores and softmax in float32.
torch::Tensor decode_attention(const DecodeAttentionInput& in);
// The same with ATen ops (apply_rotary, a cache copy, grouped_query_attention): any device.
torch::Tensor decode_attention_aten(const DecodeAttentionInput& in);

}  // namespace ril::model
