#include "ril/roles/sft_batch.h"

#include <algorithm>
#include <random>

#include "ril/common/error.h"
#include "ril/common/seed.h"
#include "ril/model/image_processor.h"

namespace ril::roles {
namespace {

// A marker is kept when its token (without a trailing newline: InternVL's "</img>\n") is one of
// the tokenizer's; spelled out as plain text it would only mislead the model.
bool has_marker(const text::BpeTokenizer& tokenizer, const std::string& marker) {
  std::string token = marker;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  return !token.empty() && tokenizer.token_to_id(token).has_value();
}

text::ChatTemplateOptions template_options(const text::BpeTokenizer& tokenizer, const SftBatchOptions& options) {
  text::ChatTemplateOptions o;
  o.image_start = has_marker(tokenizer, options.image_start) ? options.image_start : std::string();
  o.image_end = has_marker(tokenizer, options.image_end) ? options.image_end : std::string();
  o.image_token = "<|image_pad|>";  // split point only; replaced by the model's placeholder ids
  o.image_token_count = 1;
  return o;
}

std::vector<int64_t> to_int64(const std::vector<int32_t>& ids) { return std::vector<int64_t>(ids.begin(), ids.end()); }

}  // namespace

SftBatchOptions model_batch_options(const model::ModelConfig& config, int64_t image_height, int64_t image_width) {
  SftBatchOptions o;
  o.with_image = config.has_vision();
  if (!o.with_image) return o;
  o.image_token_id = config.image_token_id();
  o.image_tokens = model::num_image_tokens(config, image_height, image_width);
  o.image_model = config;
  if (config.kind != model::ModelKind::kLlava) {  // ril's LLaVA prompts keep the vision markers they always had
    const model::ImagePromptFormat format = model::image_prompt_format(config);
    o.image_start = format.start;
    o.image_end = format.end;
  }
  return o;
}

std::optional<int32_t> tokenizer_image_token(const model::ModelConfig& config, const text::BpeTokenizer& tokenizer) {
  if (auto own = tokenizer.token_to_id(model::image_prompt_format(config).token)) return own;
  return tokenizer.token_to_id("<|image_pad|>");
}

void check_image_token(const model::ModelConfig& config, const text::BpeTokenizer& tokenizer, const std::string& who) {
  if (!config.has_vision()) return;
  const int64_t id = config.image_token_id();
  if (id >= tokenizer.vocab_size()) return;
  const std::optional<int32_t> own = tokenizer.token_to_id(model::image_prompt_format(config).token);
  const std::optional<int32_t> pad = tokenizer.token_to_id("<|image_pad|>");
  RIL_CONFIG_CHECK((own && *own == id) || (pad && *pad == id), who, ": the model's image token id ", id,
                   " is an ordinary token of its tokenizer ('", tokenizer.id_to_token(static_cast<int32_t>(id)), "')");
}

SftBatchBuilder::SftBatchBuilder(const text::BpeTokenizer& tokenizer, SftBatchOptions options)
    : tokenizer_(tokenizer), options_(std::move(options)), template_(template_options(tokenizer, options_)) {
  const auto& special = tokenizer.special_ids();
  RIL_CONFIG_CHECK(special.im_start && special.im_end,
                   "the tokenizer has no <|im_start|>/<|im_end|> tokens; SFT prompts use the ChatML template");
  im_end_ = *special.im_end;
  pad_ = special.pad ? *special.pad : 0;
  RIL_CONFIG_CHECK(options_.max_response_tokens >= 1, "--max-response-tokens must be >= 1");
  if (options_.with_image) {
    RIL_CONFIG_CHECK(options_.image_token_id >= 0 && options_.image_tokens >= 1 && options_.image_model.has_vision(),
                     "SFT batches with images need the model's image token id and count and a vision model config");
  }
}

std::vector<int64_t> SftBatchBuilder::prompt_ids(const std::string& question) const {
  text::EncodeOptions control;  // the template's markers become single ids
  control.allow_special = true;
  text::EncodeOptions plain;
  plain.allow_special = false;
  // Invalid UTF-8 (a judge prompt holds responses cut mid-character) becomes U+FFFD, as in
  // response_ids(); valid text encodes as before.
  plain.invalid_utf8 = text::InvalidUtf8::kReplace;
  // Render with a sentinel in place of the question so that the question is encoded as plain text.
  const std::string sentinel = "\x01QUESTION\x01";
  const std::string text = options_.with_image
                               ? template_.render({text::ChatMessage::user_with_image(sentinel, 1)}, true)
                               : template_.render({text::ChatMessage::text("user", sentinel)}, true);
  const size_t q = text.find(sentinel);
  const std::string before = text.substr(0, q), after = text.substr(q + sentinel.size());
  std::vector<int64_t> ids;
  auto append = [&](const std::string& s, const text::EncodeOptions& o) {
    if (s.empty()) return;
    const auto piece = to_int64(tokenizer_.encode(s, o));
    ids.insert(ids.end(), piece.begin(), piece.end());
  };
  if (options_.with_image) {
    const std::string& image_token = template_.options().image_token;
    const size_t at = before.find(image_token);
    append(before.substr(0, at), control);
    ids.insert(ids.end(), static_cast<size_t>(options_.image_tokens), options_.image_token_id);
    append(before.substr(at + image_token.size()), control);
  } else {
    append(before, control);
  }
  append(question, plain);
  append(after, control);
  return ids;
}

std::vector<int64_t> SftBatchBuilder::response_ids(const std::string& rationale) const {
  text::EncodeOptions plain;
  plain.allow_special = false;
  plain.invalid_utf8 = text::InvalidUtf8::kReplace;
  std::vector<int64_t> ids = to_int64(tokenizer_.encode(rationale, plain));
  ids.push_back(im_end_);
  if (static_cast<int64_t>(ids.size()) > options_.max_response_tokens) ids.resize(options_.max_response_tokens);
  return ids;
}

SftBatch SftBatchBuilder::build(const data::Dataset& dataset, const std::vector<int64_t>& indices) const {
  std::vector<std::vector<int64_t>> responses;
  // --style a,b: each example is trained in one of the styles, picked by a hash of its index (a
  // fixed mixture, the same each epoch; not index mod 2, since the synthetic families alternate
  // by index and would each get one style).
  const std::vector<std::string> styles = data::split_names(options_.style);
  RIL_CHECK(!styles.empty(), "sft batch: no rationale style");
  for (int64_t index : indices) {
    const uint64_t mixed = (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL) >> 32;
    const std::string& style = styles[mixed % styles.size()];
    responses.push_back(response_ids(dataset.rationale(index, style)));
  }
  return build_with_responses(dataset, indices, responses);
}

SftBatch SftBatchBuilder::build_with_responses(const data::Dataset& dataset, const std::vector<int64_t>& indices,
                                               const std::vector<std::vector<int64_t>>& responses) const {
  RIL_CHECK(!indices.empty(), "SFT batch of no examples");
  RIL_CHECK(indices.size() == responses.size(), "SFT batch: ", indices.size(), " examples but ", responses.size(),
            " responses");
  const int64_t b = static_cast<int64_t>(indices.size());
  std::vector<std::vector<int64_t>> prompts;
  int64_t p = 0, r = 1;  // r >= 1: an empty response still gets a (masked) column
  for (size_t i = 0; i < indices.size(); ++i) {
    prompts.push_back(prompt_ids(dataset.question(indices[i])));
    p = std::max<int64_t>(p, static_cast<int64_t>(prompts.back().size()));
    r = std::max<int64_t>(r, static_cast<int64_t>(responses[i].size()));
  }
  const auto opts = torch::TensorOptions().dtype(torch::kInt64);
  SftBatch batch;
  batch.prompt_ids = torch::full({b, p}, pad_, opts);
  batch.prompt_mask = torch::zeros({b, p}, opts);
  batch.response_ids = torch::full({b, r}, pad_, opts);
  batch.response_mask = torch::zeros({b, r}, opts);
  auto pid = batch.prompt_ids.accessor<int64_t, 2>();
  auto pm = batch.prompt_mask.accessor<int64_t, 2>();
  auto rid = batch.response_ids.accessor<int64_t, 2>();
  auto rm = batch.response_mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const auto& pr = prompts[i];
    const int64_t off = p - static_cast<int64_t>(pr.size());
    for (size_t j = 0; j < pr.size(); ++j) {
      pid[i][off + static_cast<int64_t>(j)] = pr[j];
      pm[i][off + static_cast<int64_t>(j)] = 1;
    }
    const auto& rs = responses[i];
    for (size_t j = 0; j < rs.size(); ++j) {
      rid[i][static_cast<int64_t>(j)] = rs[j];
      rm[i][static_cast<int64_t>(j)] = 1;
    }
    batch.response_tokens += static_cast<int64_t>(rs.size());
    batch.total_tokens += static_cast<int64_t>(rs.size() + pr.size());
  }
  if (options_.with_image) batch.images = images(dataset, indices);
  return batch;
}

model::ImageInputs SftBatchBuilder::images(const data::Dataset& dataset, const std::vector<int64_t>& indices) const {
  RIL_CHECK(options_.with_image, "SftBatchBuilder::images: a text-only batch layout");
  const int64_t h = dataset.image_height(), w = dataset.image_width();
  std::vector<model::RgbImage> rgb;
  rgb.reserve(indices.size());
  for (int64_t index : indices) {
    std::vector<uint8_t> bytes = dataset.image_bytes(index);
    RIL_CHECK(static_cast<int64_t>(bytes.size()) == h * w * 3, "image of example ", index, " has ", bytes.size(),
              " bytes, expected ", h * w * 3);
    rgb.push_back(model::rgb_image(h, w, std::move(bytes)));
  }
  model::ImageInputs out = model::preprocess_images(options_.image_model, rgb);
  for (int64_t n : out.tokens) {
    RIL_CHECK(n == options_.image_tokens, "an image of ", h, "x", w, " takes ", n, " placeholder tokens, the prompts hold ",
              options_.image_tokens, " (the batch options were made for another image size)");
  }
  return out;
}

SftSampler::SftSampler(std::vector<int64_t> pool, uint64_t seed, int64_t per_rank, int ranks)
    : pool_(std::move(pool)), seed_(seed), per_rank_(per_rank), ranks_(ranks) {
  RIL_CONFIG_CHECK(!pool_.empty(), "the dataset's train split is empty");
  RIL_CHECK(per_rank_ >= 1 && ranks_ >= 1, "SftSampler: per_rank and ranks must be >= 1");
}

const std::vector<int64_t>& SftSampler::permutation(int64_t epoch) const {
  for (const auto& [e, perm] : cache_) {
    if (e == epoch) return perm;
  }
  std::vector<int64_t> perm = pool_;
  std::mt19937_64 rng(splitmix64(splitmix64(seed_) ^ static_cast<uint64_t>(epoch)));
  // Fisher-Yates with our own bounded draws (std::shuffle's algorithm is library-specific).
  for (size_t i = perm.size(); i > 1; --i) {
    const uint64_t j = rng() % i;
    std::swap(perm[i - 1], perm[j]);
  }
  if (cache_.size() >= 2) cache_.erase(cache_.begin());
  cache_.emplace_back(epoch, std::move(perm));
  return cache_.back().second;
}

std::vector<int64_t> SftSampler::rank_batch(int64_t step, int rank) const {
  const int64_t n = static_cast<int64_t>(pool_.size());
  const int64_t start = step * per_rank_ * ranks_ + rank * per_rank_;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(per_rank_));
  for (int64_t k = 0; k < per_rank_; ++k) {
    const int64_t pos = start + k;
    out.push_back(permutation(pos / n)[static_cast<size_t>(pos % n)]);
  }
  return out;
}

std::vector<int64_t> SftSampler::global_batch(int64_t step) const {
  std::vector<int64_t> out;
  for (int r = 0; r < ranks_; ++r) {
    const auto part = rank_batch(step, r);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

int64_t SftSampler::epoch_of(int64_t step) const {
  return step * per_rank_ * ranks_ / static_cast<int64_t>(pool_.size());
}

}  // namespace ril::roles
