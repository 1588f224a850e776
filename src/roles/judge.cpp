#include "ril/roles/judge.h"

#include <filesystem>

#include "ril/common/error.h"
#include "ril/common/paths.h"
#include "ril/roles/greedy_answerer.h"

namespace ril::roles {

JudgeModel::JudgeModel(const std::string& dir, algo::JudgePrompt prompt, int64_t max_new_tokens,
                       const std::string& who)
    : dir_(dir), prompt_(std::move(prompt)) {
  RIL_CONFIG_CHECK(is_directory(dir), who, ": '", dir, "' is not a directory (an HF-layout model directory)");
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  const std::string tokenizer_path = (std::filesystem::path(dir) / "tokenizer.json").string();
  RIL_CONFIG_CHECK(path_exists(config_path), who, ": '", dir, "' has no config.json: not an HF-layout model directory");
  RIL_CONFIG_CHECK(path_exists(tokenizer_path), who, ": '", dir, "' has no tokenizer.json");
  try {
    config_ = model::load_model_config(dir);
    tokenizer_ = std::make_unique<text::BpeTokenizer>(text::BpeTokenizer::from_tokenizer_json(tokenizer_path));
  } catch (const Error& e) {  // ConfigError too: either way, name the option
    throw ConfigError(cat(who, ": ", e.what()));
  }
  check_chat_tokenizer(*tokenizer_, config_, cat(who, " (", tokenizer_path, ")"));
  RIL_CONFIG_CHECK(max_new_tokens >= 1, who, ": --judge-max-new-tokens must be >= 1");
  SftBatchOptions text_only;
  text_only.with_image = false;  // the judge reads text only
  builder_ = std::make_unique<SftBatchBuilder>(*tokenizer_, text_only);
  generation_ = greedy_generation_options(*tokenizer_, config_, max_new_tokens);
}

JudgeModel::~JudgeModel() = default;

std::vector<int64_t> JudgeModel::prompt_ids(const JudgeItem& item) const {
  return builder_->prompt_ids(prompt_.render(item.question, item.ground_truth, item.response));
}

void JudgeModel::load(at::Device device) {
  if (model_) return;
  model_ = std::make_unique<model::PretrainedModel>(model::load_pretrained(dir_));
  model_->module().to(device);
  model_->module().eval();
}

std::vector<JudgeOutput> JudgeModel::judge(const std::vector<JudgeItem>& items, at::Device device) {
  if (items.empty()) return {};
  load(device);
  const int64_t positions = config_.text().max_position_embeddings;
  std::vector<std::vector<int64_t>> prompts;
  for (const JudgeItem& item : items) {
    prompts.push_back(prompt_ids(item));
    // A prompt that leaves no room for the verdict is a data problem (e.g. a huge response):
    // clear, before any generation.
    RIL_CHECK(static_cast<int64_t>(prompts.back().size()) + generation_.max_new_tokens <= positions, "judge '", dir_,
              "': a prompt of ", prompts.back().size(), " tokens plus --judge-max-new-tokens ",
              generation_.max_new_tokens, " exceeds the model's ", positions, " positions");
  }
  std::vector<GreedyText> texts = greedy_generate(*model_, prompts, model::ImageInputs{}, generation_, *tokenizer_, device);
  std::vector<JudgeOutput> out;
  for (GreedyText& t : texts) {
    JudgeOutput o;
    o.tokens = t.tokens;
    o.cut = !t.finished;
    if (o.cut) {
      o.verdict.decision = algo::JudgeDecision::kUnparsed;
      o.verdict.reason = cat("cut at --judge-max-new-tokens ", generation_.max_new_tokens);
    } else {
      o.verdict = algo::parse_judge_verdict(t.text);
    }
    o.text = std::move(t.text);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace ril::roles
