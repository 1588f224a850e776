#include "ril/roles/greedy_answerer.h"

#include <algorithm>
#include <optional>

#include "ril/common/error.h"
#include "ril/dist/sharding.h"

namespace ril::roles {

GreedyAnswerer::GreedyAnswerer(const text::BpeTokenizer& tokenizer, const model::ModelConfig& config,
                               const data::Dataset& dataset, int64_t max_new_tokens, const std::string& who)
    : tokenizer_(tokenizer) {
  check_chat_tokenizer(tokenizer, config, who);
  check_image_token(config, tokenizer, who);
  SftBatchOptions prompt;
  try {
    prompt = model_batch_options(config, dataset.image_height(), dataset.image_width());
  } catch (const ConfigError& e) {
    throw ConfigError(cat(who, ": ", dataset.file().path(), ": ", e.what()));
  }
  builder_ = std::make_unique<SftBatchBuilder>(tokenizer, prompt);  // throws ConfigError like SFT would

  generation_ = greedy_generation_options(tokenizer, config, max_new_tokens);
}

void check_chat_tokenizer(const text::BpeTokenizer& tokenizer, const model::ModelConfig& config, const std::string& who) {
  const int64_t model_vocab = config.text().vocab_size;
  const int64_t tok_vocab = tokenizer.vocab_size();
  RIL_CONFIG_CHECK(tok_vocab <= model_vocab, who, ": the tokenizer's vocabulary (", tok_vocab,
                   " tokens) is larger than the model's (", model_vocab,
                   "): they do not belong together; give the model's own tokenizer");
  const auto& special = tokenizer.special_ids();
  RIL_CONFIG_CHECK(special.im_start && special.im_end, who,
                   ": the tokenizer has no <|im_start|>/<|im_end|> tokens; prompts use the ChatML template as SFT does");
}

model::GenerationOptions greedy_generation_options(const text::BpeTokenizer& tokenizer,
                                                  const model::ModelConfig& config, int64_t max_new_tokens) {
  const auto& special = tokenizer.special_ids();
  RIL_CHECK(special.im_end, "greedy_generation_options: the tokenizer has no <|im_end|>");
  model::GenerationOptions g;
  g.max_new_tokens = max_new_tokens;
  g.sampling.do_sample = false;  // greedy
  g.sampling.temperature = 1.0;
  g.sampling.top_k = 0;
  g.sampling.top_p = 1.0;
  g.sampling.repetition_penalty = 1.0;
  auto add_stop = [&](int64_t id) {
    if (std::find(g.stop_token_ids.begin(), g.stop_token_ids.end(), id) == g.stop_token_ids.end()) {
      g.stop_token_ids.push_back(id);
    }
  };
  add_stop(*special.im_end);
  if (special.eos) add_stop(*special.eos);
  for (int64_t id : config.text().eos_token_ids) add_stop(id);
  g.pad_token_id = special.pad ? *special.pad : 0;
  return g;
}

std::vector<GreedyText> greedy_generate(model::PretrainedModel& m, const std::vector<std::vector<int64_t>>& prompts,
                                        const model::ImageInputs& images, const model::GenerationOptions& generation,
                                        const text::BpeTokenizer& tokenizer, at::Device device) {
  torch::NoGradGuard no_grad;
  const int64_t b = static_cast<int64_t>(prompts.size());
  int64_t p = 0;
  for (const auto& pr : prompts) p = std::max<int64_t>(p, static_cast<int64_t>(pr.size()));
  torch::Tensor input_ids = torch::full({b, p}, generation.pad_token_id, torch::kInt64);
  torch::Tensor mask = torch::zeros({b, p}, torch::kInt64);
  for (int64_t i = 0; i < b; ++i) {
    const auto& pr = prompts[static_cast<size_t>(i)];
    const int64_t off = p - static_cast<int64_t>(pr.size());
    for (size_t j = 0; j < pr.size(); ++j) {
      input_ids[i][off + static_cast<int64_t>(j)] = pr[j];
      mask[i][off + static_cast<int64_t>(j)] = 1;
    }
  }
  const model::GenerationResult result =
      m.generate(input_ids.to(device), mask.to(device), images, generation, model::make_cpu_generator(0));
  const torch::Tensor tokens = result.tokens.to(torch::kCPU).contiguous();
  const torch::Tensor lengths = result.lengths.to(torch::kCPU).contiguous();
  const auto& stops = generation.stop_token_ids;
  std::vector<GreedyText> out;
  for (int64_t i = 0; i < b; ++i) {
    GreedyText g;
    g.tokens = lengths[i].item<int64_t>();
    g.finished = false;
    std::vector<int32_t> kept;
    for (int64_t t = 0; t < g.tokens; ++t) {
      const int64_t id = tokens[i][t].item<int64_t>();
      if (std::find(stops.begin(), stops.end(), id) != stops.end()) {
        g.finished = true;
        break;
      }
      if (id < tokenizer.vocab_size()) kept.push_back(static_cast<int32_t>(id));  // model vocab padding: dropped
    }
    g.text = tokenizer.decode(kept, /*skip_special=*/true);
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<std::vector<int64_t>> eval_batches_for_rank(const std::vector<int64_t>& questions, int64_t batch,
                                                        int rank, int ranks) {
  RIL_CHECK(batch >= 1 && ranks >= 1 && rank >= 0 && rank < ranks, "eval_batches_for_rank: batch ", batch,
            ", rank ", rank, " of ", ranks);
  const int64_t n = static_cast<int64_t>(questions.size());
  std::vector<std::vector<int64_t>> out;
  for (int64_t k : dist::owned_items((n + batch - 1) / batch, rank, ranks)) {
    const auto begin = questions.begin() + static_cast<std::ptrdiff_t>(k * batch);
    const auto end = questions.begin() + static_cast<std::ptrdiff_t>(std::min(n, (k + 1) * batch));
    out.emplace_back(begin, end);
  }
  return out;
}

std::vector<EvalAnswer> GreedyAnswerer::answer(model::PretrainedModel& m, const data::Dataset& dataset,
                                               const std::vector<int64_t>& ids, at::Device device) const {
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t index : ids) prompts.push_back(builder_->prompt_ids(dataset.question(index)));
  model::ImageInputs images;
  if (builder_->options().with_image) images = builder_->images(dataset, ids).to(torch::TensorOptions().device(device));
  std::vector<GreedyText> texts = greedy_generate(m, prompts, images, generation_, tokenizer_, device);
  std::vector<EvalAnswer> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    EvalAnswer a;
    a.index = ids[i];
    a.tokens = texts[i].tokens;
    a.response = std::move(texts[i].text);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace ril::roles
