#include "ril/roles/generation_budget.h"

#include <algorithm>

#include "ril/common/error.h"

namespace ril::roles {

int64_t longest_prompt(const SftBatchBuilder& builder, const data::Dataset& dataset,
                       const std::vector<int64_t>& questions) {
  std::vector<std::pair<size_t, int64_t>> by_bytes;  // (question bytes, index), longest first
  by_bytes.reserve(questions.size());
  for (int64_t q : questions) by_bytes.emplace_back(dataset.question(q).size(), q);
  std::sort(by_bytes.begin(), by_bytes.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const int64_t overhead = static_cast<int64_t>(builder.prompt_ids("").size());
  int64_t longest = overhead;
  for (const auto& [bytes, q] : by_bytes) {
    if (overhead + static_cast<int64_t>(bytes) <= longest) break;  // no shorter text can beat it
    longest = std::max(longest, static_cast<int64_t>(builder.prompt_ids(dataset.question(q)).size()));
  }
  return longest;
}

void check_generation_budget(const GenerationBudget& b, int64_t prompt_tokens) {
  const int64_t room = b.max_positions - prompt_tokens - b.extra_positions;
  RIL_CONFIG_CHECK(room >= 1, b.model, " takes at most ", b.max_positions,
                   " positions (max_position_embeddings), but its longest prompt already has ", prompt_tokens,
                   " tokens");
  RIL_CONFIG_CHECK(b.max_new_tokens <= room, b.option, " ", b.max_new_tokens, " does not fit ", b.model,
                   ": it takes at most ", b.max_positions, " positions (max_position_embeddings) and the longest prompt has ",
                   prompt_tokens, " tokens", b.extra_positions > 0 ? cat(" (+", b.extra_positions, " for the stop token)") : "",
                   ", so at most ", room, " new tokens; lower ", b.option);
}

}  // namespace ril::roles
