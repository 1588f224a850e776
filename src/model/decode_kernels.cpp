#include "ril/model/decode_kernels.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "ril/model/attention.h"
#include "ril/model/qwen2_decoder.h"

// The helpers of the attention kernels are inlined into their loops.
#if defined(__GNUC__)
#define RIL_INLINE inline __attribute__((always_inline))
#else
#define RIL_INLINE inline
#endif

namespace ril::model {
namespace {

// The value an ATen op in dtype T holds after rounding a float result (identity for float).
template <typename T>
RIL_INLINE float round_to(float x) {
  return static_cast<float>(static_cast<T>(x));
}
template <>
RIL_INLINE float round_to<float>(float x) {
  return x;
}

// sum_i a[i] * b[i] in float with 8 partial sums: a fixed order (the same result however the
// compiler vectorises it), and vectorisable without -ffast-math.
RIL_INLINE float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Four dot products q . k_c (c < 4) of length n: four running sums side by side, folded at the
// end by one 4x4 transpose (SSE2, part of every x86-64 CPU): no horizontal sum per product, and
// four independent dependency chains. Elsewhere: dot() four times.
RIL_INLINE void dot4(const float* q, const float* const k[4], int64_t n, float* out) {
#if defined(__SSE2__)
  __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps(), a3 = _mm_setzero_ps();
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 qv = _mm_loadu_ps(q + i);
    a0 = _mm_add_ps(a0, _mm_mul_ps(qv, _mm_loadu_ps(k[0] + i)));
    a1 = _mm_add_ps(a1, _mm_mul_ps(qv, _mm_loadu_ps(k[1] + i)));
    a2 = _mm_add_ps(a2, _mm_mul_ps(qv, _mm_loadu_ps(k[2] + i)));
    a3 = _mm_add_ps(a3, _mm_mul_ps(qv, _mm_loadu_ps(k[3] + i)));
  }
  _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
  _mm_storeu_ps(out, _mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
  for (; i < n; ++i) {
    for (int c = 0; c < 4; ++c) out[c] += q[i] * k[c][i];
  }
#else
  for (int c = 0; c < 4; ++c) out[c] = dot(q, k[c], n);
#endif
}

template <typename T>
RIL_INLINE void load_row(const T* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

template <typename T>
void rms_norm_kernel(const torch::Tensor& x, const torch::Tensor& weight, float eps, torch::Tensor& y) {
  const int64_t n = x.size(0), d = x.size(1), x_stride = x.stride(0);
  const T* xp = x.data_ptr<T>();
  const T* wp = weight.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  at::parallel_for(0, n, /*grain_size=*/std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)),
                   [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(d));
    for (int64_t r = begin; r < end; ++r) {
      load_row(xp + r * x_stride, row.data(), d);
      const float ss = dot(row.data(), row.data(), d);
      // HF: variance = mean(x^2); x * rsqrt(variance + eps); weight * that.to(dtype)
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
      T* out = yp + r * d;
      for (int64_t i = 0; i < d; ++i) {
        out[i] = static_cast<T>(static_cast<float>(wp[i]) * round_to<T>(row[static_cast<size_t>(i)] * inv));
      }
    }
  });
}

// Rotary embedding of one head vector x [Dh] (HF rotate_half layout), in the rounding of the
// ATen path x * cos + rotate_half(x) * sin (each op rounded to T).
template <typename T>
RIL_INLINE void rope_row(const T* x, const T* cos, const T* sin, int64_t dh, float* out) {
  const int64_t half = dh / 2;
  for (int64_t i = 0; i < dh; ++i) {
    const float xi = static_cast<float>(x[i]);
    const float rot = i < half ? -static_cast<float>(x[i + half]) : static_cast<float>(x[i - half]);
    const float a = round_to<T>(xi * static_cast<float>(cos[i]));
    const float b = round_to<T>(rot * static_cast<float>(sin[i]));
    out[i] = round_to<T>(a + b);
  }
}

// The raw pointers and sizes of one decode_attention call.
template <typename T>
struct AttentionView {
  const T* q;
  const T* k;
  const T* v;
  int64_t q_stride, k_stride, v_stride;
  const T* cos;
  const T* sin;
  const int64_t* rows;
  int64_t step;
  T* kc;
  T* vc;
  int64_t cap, past, s;
  const int64_t* mask;
  int64_t p;
  int64_t h, hkv, rep, dh;
  float scale;
  float* scores;  // [B, H, S] float32: the scores (phase 1), then the probabilities (phase 3)
  T* out;         // [B, H * Dh]
};

// Phase 1 of task (row bi, kv head g): rotary of the rep queries and the key, key and value
// into the cache at `past`, scores [rep, S] = q . k_j * scale (-inf where masked). The scores
// are rounded as the ATen path rounds them (matmul output in T, then the scale in T).
template <typename T>
RIL_INLINE void attention_scores_task(const AttentionView<T>& a, int64_t task, float* q, float* key) {
  const int64_t bi = task / a.hkv, g = task % a.hkv, dh = a.dh, s = a.s;
  const int64_t row = a.rows[bi] + a.step;
  const T* c = a.cos + row * dh;
  const T* sn = a.sin + row * dh;
  for (int64_t r = 0; r < a.rep; ++r) rope_row(a.q + bi * a.q_stride + (g * a.rep + r) * dh, c, sn, dh, &q[r * dh]);
  T* k_base = a.kc + (bi * a.hkv + g) * a.cap * dh;
  T* v_base = a.vc + (bi * a.hkv + g) * a.cap * dh;
  rope_row(a.k + bi * a.k_stride + g * dh, c, sn, dh, key);
  for (int64_t i = 0; i < dh; ++i) {
    k_base[a.past * dh + i] = static_cast<T>(key[i]);
    v_base[a.past * dh + i] = a.v[bi * a.v_stride + g * dh + i];
  }
  const int64_t* mrow = a.mask + bi * a.p;
  float* sc = a.scores + (bi * a.h + g * a.rep) * s;  // rep rows of S
  const float neg_inf = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  if constexpr (std::is_same_v<T, float>) {
    // Four keys at a time (masked ones are computed, then overwritten below).
    for (; j + 4 <= s; j += 4) {
      const float* keys[4] = {k_base + j * dh, k_base + (j + 1) * dh, k_base + (j + 2) * dh, k_base + (j + 3) * dh};
      float d[4];
      for (int64_t r = 0; r < a.rep; ++r) {
        dot4(&q[r * dh], keys, dh, d);
        for (int c = 0; c < 4; ++c) sc[r * s + j + c] = d[c] * a.scale;
      }
    }
  }
  for (; j < s; ++j) {
    const float* kj;
    if constexpr (std::is_same_v<T, float>) {
      kj = k_base + j * dh;
    } else {
      load_row(k_base + j * dh, key, dh);
      kj = key;
    }
    for (int64_t r = 0; r < a.rep; ++r) sc[r * s + j] = round_to<T>(round_to<T>(dot(&q[r * dh], kj, dh)) * a.scale);
  }
  // Keys a row may not see: left padding of its prompt (this token and generated ones are real).
  for (j = 0; j < std::min(a.p, a.past); ++j) {
    if (mrow[j] == 0) {
      for (int64_t r = 0; r < a.rep; ++r) sc[r * s + j] = neg_inf;
    }
  }
}

// Phase 3 of a task: out [rep, Dh] = probs [rep, S] . V [S, Dh], probabilities rounded to T
// (the ATen path's .to(q dtype) before its matmul). Eight output lanes at a time, summed over
// the keys in registers (a running sum in memory would stall on store-to-load forwarding).
template <typename T>
RIL_INLINE void attention_values_task(const AttentionView<T>& a, int64_t task, float* probs) {
  const int64_t bi = task / a.hkv, g = task % a.hkv, dh = a.dh, s = a.s;
  const T* v_base = a.vc + (bi * a.hkv + g) * a.cap * dh;
  T* out = a.out + bi * a.h * dh + g * a.rep * dh;
  for (int64_t r = 0; r < a.rep; ++r) {
    // This head's probabilities in T's rounding, and the keys that carry any weight.
    const float* pr = a.scores + (bi * a.h + g * a.rep + r) * s;
    for (int64_t j = 0; j < s; ++j) probs[j] = round_to<T>(pr[j]);
    int64_t i = 0;
    for (; i + 8 <= dh; i += 8) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t j = 0; j < s; ++j) {
        const float pj = probs[j];
        if (pj == 0.0f) continue;  // masked (or underflowed): adds nothing
        const T* vj = v_base + j * dh + i;
        for (int l = 0; l < 8; ++l) acc[l] += pj * static_cast<float>(vj[l]);
      }
      for (int l = 0; l < 8; ++l) out[r * dh + i + l] = static_cast<T>(acc[l]);
    }
    for (; i < dh; ++i) {
      float acc = 0;
      for (int64_t j = 0; j < s; ++j) {
        if (probs[j] != 0.0f) acc += probs[j] * static_cast<float>(v_base[j * dh + i]);
      }
      out[r * dh + i] = static_cast<T>(acc);
    }
  }
}

template <typename T>
RIL_INLINE void attention_scores_range(const AttentionView<T>& a, int64_t begin, int64_t end) {
  std::vector<float> q(static_cast<size_t>(a.rep * a.dh)), key(static_cast<size_t>(a.dh));
  for (int64_t task = begin; task < end; ++task) attention_scores_task(a, task, q.data(), key.data());
}
template <typename T>
RIL_INLINE void attention_values_range(const AttentionView<T>& a, int64_t begin, int64_t end) {
  std::vector<float> probs(static_cast<size_t>(a.s));
  for (int64_t task = begin; task < end; ++task) attention_values_task(a, task, probs.data());
}

// The two phases as out-of-line functions per dtype (named in profiles; float32 is the decode
// path of the CPU build).
template <typename T>
void attention_scores(const AttentionView<T>& a, int64_t begin, int64_t end) {
  attention_scores_range(a, begin, end);
}
template <typename T>
void attention_values(const AttentionView<T>& a, int64_t begin, int64_t end) {
  attention_values_range(a, begin, end);
}

template <typename T>
void decode_attention_kernel(const DecodeAttentionInput& in, torch::Tensor& out) {
  AttentionView<T> a;
  a.q = in.q.data_ptr<T>();
  a.k = in.k.data_ptr<T>();
  a.v = in.v.data_ptr<T>();
  a.q_stride = in.q.stride(0);
  a.k_stride = in.k.stride(0);
  a.v_stride = in.v.stride(0);
  a.cos = in.cos_table.data_ptr<T>();
  a.sin = in.sin_table.data_ptr<T>();
  a.rows = in.table_rows.data_ptr<int64_t>();
  a.step = in.step;
  a.kc = in.key_cache.data_ptr<T>();
  a.vc = in.value_cache.data_ptr<T>();
  a.cap = in.key_cache.size(2);
  a.past = in.past;
  a.s = in.past + 1;
  a.mask = in.prompt_mask.data_ptr<int64_t>();
  a.p = in.prompt_mask.size(1);
  a.h = in.num_heads;
  a.hkv = in.num_kv_heads;
  a.rep = in.num_heads / in.num_kv_heads;
  a.dh = in.head_dim;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in.head_dim)));
  const int64_t b = in.q.size(0);
  torch::Tensor scores = torch::empty({b, a.h, a.s}, in.q.options().dtype(torch::kFloat32));
  a.scores = scores.data_ptr<float>();
  a.out = out.data_ptr<T>();
  // One task per (row, kv head): its rep query heads share the keys and values.
  at::parallel_for(0, b * a.hkv, /*grain_size=*/1, [&](int64_t begin, int64_t end) { attention_scores(a, begin, end); });
  // Softmax over the keys in float32: ATen's vectorised kernel, as the ATen path's (exp is most
  // of the cost of a scalar softmax).
  const torch::Tensor probs = at::_softmax(scores, -1, /*half_to_float=*/false);
  a.scores = probs.data_ptr<float>();
  at::parallel_for(0, b * a.hkv, /*grain_size=*/1, [&](int64_t begin, int64_t end) { attention_values(a, begin, end); });
}

void check_attention_input(const DecodeAttentionInput& in) {
  const int64_t b = in.q.size(0), h = in.num_heads, hkv = in.num_kv_heads, dh = in.head_dim;
  TORCH_CHECK(h > 0 && hkv > 0 && h % hkv == 0 && dh > 0 && dh % 2 == 0, "decode_attention: ", h, " heads, ", hkv,
              " kv heads, head dim ", dh);
  TORCH_CHECK(in.q.dim() == 2 && in.q.size(1) == h * dh && in.q.stride(1) == 1, "decode_attention: q must be [B, ",
              h * dh, "] with contiguous rows, got ", in.q.sizes(), " strides ", in.q.strides());
  for (const torch::Tensor* t : {&in.k, &in.v}) {
    TORCH_CHECK(t->dim() == 2 && t->size(0) == b && t->size(1) == hkv * dh && t->stride(1) == 1,
                "decode_attention: k and v must be [", b, ", ", hkv * dh, "] with contiguous rows, got ", t->sizes());
    TORCH_CHECK(t->scalar_type() == in.q.scalar_type(), "decode_attention: q, k, v dtypes differ");
  }
  for (const torch::Tensor* t : {&in.key_cache, &in.value_cache}) {
    TORCH_CHECK(t->dim() == 4 && t->size(0) == b && t->size(1) == hkv && t->size(3) == dh && t->is_contiguous() &&
                    t->scalar_type() == in.q.scalar_type(),
                "decode_attention: caches must be contiguous [", b, ", ", hkv, ", capacity, ", dh, "] in q's dtype, got ",
                t->sizes());
  }
  TORCH_CHECK(in.past >= 0 && in.past < in.key_cache.size(2), "decode_attention: position ", in.past,
              " outside the cache capacity ", in.key_cache.size(2));
  TORCH_CHECK(in.prompt_mask.dim() == 2 && in.prompt_mask.size(0) == b && in.prompt_mask.size(1) <= in.past + 1 &&
                  in.prompt_mask.scalar_type() == torch::kInt64 && in.prompt_mask.is_contiguous(),
              "decode_attention: prompt_mask must be contiguous int64 [", b, ", P <= ", in.past + 1, "], got ",
              in.prompt_mask.sizes());
  TORCH_CHECK(in.cos_table.dim() == 2 && in.cos_table.size(1) == dh && in.cos_table.is_contiguous() &&
                  in.sin_table.sizes() == in.cos_table.sizes() && in.sin_table.is_contiguous() &&
                  in.cos_table.scalar_type() == in.q.scalar_type() && in.sin_table.scalar_type() == in.q.scalar_type(),
              "decode_attention: rotary tables must be contiguous [L, ", dh, "] in q's dtype, got ",
              in.cos_table.sizes());
  TORCH_CHECK(in.table_rows.dim() == 1 && in.table_rows.size(0) == b && in.table_rows.scalar_type() == torch::kInt64 &&
                  in.table_rows.is_contiguous(),
              "decode_attention: table_rows must be contiguous int64 [", b, "]");
}

}  // namespace

torch::Tensor rms_norm_rows(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 2 && x.stride(1) == 1 && weight.dim() == 1 &&
                  weight.size(0) == x.size(1) && weight.is_contiguous() && weight.scalar_type() == x.scalar_type(),
              "rms_norm_rows: x must be a CPU [N, D] tensor with contiguous rows and weight [D] of its dtype, got ",
              x.sizes(), " and ", weight.sizes());
  torch::Tensor y = torch::empty({x.size(0), x.size(1)}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "rms_norm_rows", [&] {
    rms_norm_kernel<scalar_t>(x, weight, static_cast<float>(eps), y);
  });
  return y;
}

torch::Tensor rms_norm_rows_aten(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  // RMSNormImpl::forward's math.
  const torch::Tensor h = x.to(torch::kFloat32);
  const torch::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (h * torch::rsqrt(variance + eps)).to(x.scalar_type());
}

torch::Tensor decode_attention(const DecodeAttentionInput& in) {
  check_attention_input(in);
  TORCH_CHECK(in.q.device().is_cpu(), "decode_attention: CPU tensors only (use decode_attention_aten)");
  torch::Tensor out = torch::empty({in.q.size(0), in.num_heads * in.head_dim}, in.q.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.q.scalar_type(), "decode_attention", [&] {
    decode_attention_kernel<scalar_t>(in, out);
  });
  return out;
}

torch::Tensor decode_attention_aten(const DecodeAttentionInput& in) {
  check_attention_input(in);
  const int64_t b = in.q.size(0), h = in.num_heads, hkv = in.num_kv_heads, dh = in.head_dim;
  const int64_t s = in.past + 1, p = in.prompt_mask.size(1);
  const torch::Tensor rows = in.table_rows + in.step;
  const torch::Tensor cos = in.cos_table.index_select(0, rows).unsqueeze(1);  // [B, 1, Dh]
  const torch::Tensor sin = in.sin_table.index_select(0, rows).unsqueeze(1);
  const torch::Tensor q = apply_rotary(in.q.reshape({b, 1, h, dh}).transpose(1, 2), cos, sin);    // [B, H, 1, Dh]
  const torch::Tensor k = apply_rotary(in.k.reshape({b, 1, hkv, dh}).transpose(1, 2), cos, sin);  // [B, Hkv, 1, Dh]
  in.key_cache.narrow(2, in.past, 1).copy_(k);
  in.value_cache.narrow(2, in.past, 1).copy_(in.v.reshape({b, 1, hkv, dh}).transpose(1, 2));
  torch::Tensor visible = torch::ones({b, s}, in.prompt_mask.options().dtype(torch::kBool));
  visible.narrow(1, 0, p).copy_(in.prompt_mask.ne(0));
  visible.select(1, s - 1).fill_(true);
  const torch::Tensor out = grouped_query_attention(q.contiguous(), in.key_cache.narrow(2, 0, s),
                                                    in.value_cache.narrow(2, 0, s), visible.view({b, 1, 1, s}));
  return out.transpose(1, 2).reshape({b, h * dh});  // [B, H * Dh]
}

}  // namespace ril::model
