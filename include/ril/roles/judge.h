// The LLM judge (issue 16; DESIGN.md section 1, "Judge prompt"): a language model reads the
// question, the ground-truth answer and a response in the JudgePrompt form (algo/judge_prompt.h)
// and writes a short explanation, then 0 or 1 inside <answer></answer>, parsed strictly
// (algo/judge_verdict.h). An output that does not parse, or one cut at the judge's token budget,
// is kUnparsed: it scores 0 upstream and is counted, never a crash.
// - Model: an HF-layout directory of any supported family (model::load_pretrained) with its
//   tokenizer.json; the judge reads text only (a VLM judge gets no image).
// - Prompt: the rendered template as the user turn of the ChatML template, encoded as plain text
//   (SftBatchBuilder::prompt_ids with no image): a response cannot close the turn or forge the
//   judge's reply.
// - Generation: greedy, batched, with the KV cache (roles::greedy_generate, as `ril eval`).
// Which ranks call: JudgeModel::check on every rank (ConfigError alike everywhere, before any
// weights load), then any rank that judges loads the model; no communication.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/algo/judge_prompt.h"
#include "ril/algo/judge_verdict.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/model/model_config.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

struct JudgeItem {           // what the judge reads
  std::string question, ground_truth, response;
};

struct JudgeOutput {
  algo::JudgeVerdict verdict;  // kUnparsed also when the output was cut at the token budget
  std::string text;            // what the judge wrote (before its stop token)
  int64_t tokens = 0;          // generated tokens, the stop token included
  bool cut = false;            // hit --judge-max-new-tokens before a stop token
};

class JudgeModel {
 public:
  // Every check that needs no weights (ConfigError starting with `who`): `dir` is an HF-layout
  // model directory (config.json, tokenizer.json), the tokenizer has the ChatML tokens and fits
  // the model's vocabulary, and the longest prompt of `longest_item` plus the budget fits the
  // model's positions.
  JudgeModel(const std::string& dir, algo::JudgePrompt prompt, int64_t max_new_tokens, const std::string& who);
  ~JudgeModel();

  // Loads the weights onto `device` (eval mode); judge() loads them itself when needed.
  void load(at::Device device);
  // Verdicts for `items`, one greedy batch (rows in order).
  std::vector<JudgeOutput> judge(const std::vector<JudgeItem>& items, at::Device device);
  // The prompt token ids of one item (tests; the budget check).
  std::vector<int64_t> prompt_ids(const JudgeItem& item) const;

  const std::string& dir() const { return dir_; }
  const algo::JudgePrompt& prompt() const { return prompt_; }
  const model::ModelConfig& config() const { return config_; }
  int64_t max_new_tokens() const { return generation_.max_new_tokens; }

 private:
  std::string dir_;
  algo::JudgePrompt prompt_;
  model::ModelConfig config_;
  std::unique_ptr<text::BpeTokenizer> tokenizer_;
  std::unique_ptr<SftBatchBuilder> builder_;
  model::GenerationOptions generation_;
  std::unique_ptr<model::PretrainedModel> model_;
};

}  // namespace ril::roles
