#include "ril/io/judge_verdict_cache.h"

#include <vector>

#include "ril/common/error.h"
#include "ril/common/paths.h"
#include "ril/io/atomic_file.h"
#include "ril/io/h5_file.h"

namespace ril::io {
namespace {

// The verdict counts of a file: {correct, wrong, unparsed}.
std::vector<int64_t> decision_counts(const std::vector<int32_t>& decisions) {
  std::vector<int64_t> counts(3, 0);
  for (int32_t d : decisions) ++counts[d == 1 ? 0 : d == 0 ? 1 : 2];
  return counts;
}

}  // namespace

JudgeVerdictCache::JudgeVerdictCache(std::string path, JudgeVerdictSettings settings)
    : path_(std::move(path)), settings_(std::move(settings)) {
  if (!path_exists(path_)) return;
  const H5File f = H5File::open(path_, kJudgeVerdictsKind);
  auto same = [&](const char* name, const std::string& stored, const std::string& mine) {
    RIL_CONFIG_CHECK(stored == mine, "ril train: ", path_, " holds verdicts of ", name, " '", stored,
                     "', this run has '", mine,
                     "': they are not this judge's verdicts; use another --run-dir or remove the file");
  };
  same("judge", f.attr_string("/", "judge"), settings_.judge);
  same("prompt", f.attr_string("/", "prompt"), settings_.prompt);
  same("judge_max_new_tokens", std::to_string(f.attr_int("/", "judge_max_new_tokens")),
       std::to_string(settings_.judge_max_new_tokens));
  same("response_budget (--max-new-tokens)", std::to_string(f.attr_int("/", "response_budget")),
       std::to_string(settings_.response_budget));
  const int64_t rows = f.attr_int("/", "rows");
  if (rows == 0) return;
  const std::vector<int64_t> questions = f.read_vector<int64_t>("question_id");
  const std::vector<int32_t> decisions = f.read_vector<int32_t>("decision");
  const std::vector<std::string> responses = f.read_text("response");
  RIL_CHECK(static_cast<int64_t>(questions.size()) == rows && static_cast<int64_t>(decisions.size()) == rows &&
                static_cast<int64_t>(responses.size()) == rows,
            path_, ": ", rows, " rows but ", questions.size(), " question ids, ", decisions.size(), " decisions, ",
            responses.size(), " responses: the file is damaged");
  for (int64_t i = 0; i < rows; ++i) verdicts_.emplace(std::make_pair(questions[i], responses[i]), decisions[i]);
}

std::optional<int> JudgeVerdictCache::find(int64_t question, const std::string& response) const {
  const auto it = verdicts_.find(std::make_pair(question, response));
  if (it == verdicts_.end()) return std::nullopt;
  return it->second;
}

void JudgeVerdictCache::add(int64_t question, const std::string& response, int decision) {
  dirty_ |= verdicts_.emplace(std::make_pair(question, response), decision).second;
}

void JudgeVerdictCache::save() {
  if (!dirty_) return;
  std::vector<int64_t> questions;
  std::vector<int32_t> decisions;
  std::vector<std::string> responses;
  for (const auto& [key, decision] : verdicts_) {  // std::map: sorted by (question, response)
    questions.push_back(key.first);
    responses.push_back(key.second);
    decisions.push_back(decision);
  }
  AtomicFile atomic(path_);
  {
    H5File f = H5File::create(atomic.temp_path(), kJudgeVerdictsKind);
    f.set_attr("/", "judge", settings_.judge);
    f.set_attr("/", "prompt", settings_.prompt);
    f.set_attr("/", "judge_max_new_tokens", settings_.judge_max_new_tokens);
    f.set_attr("/", "response_budget", settings_.response_budget);
    f.set_attr("/", "rows", static_cast<int64_t>(questions.size()));
    f.write_vector("question_id", questions);
    f.write_vector("decision", decisions);
    f.write_text("response", responses);
    f.close();
  }
  atomic.commit();
  dirty_ = false;
}

std::string summarize_judge_verdicts(const H5File& file) {
  const int64_t rows = file.attr_int("/", "rows");
  const std::vector<int64_t> counts =
      rows > 0 ? decision_counts(file.read_vector<int32_t>("decision")) : std::vector<int64_t>(3, 0);
  return cat("judge verdicts on teacher responses: ", rows, " (correct ", counts[0], ", wrong ", counts[1],
             ", unparsed ", counts[2], ")\n  judge ", file.attr_string("/", "judge"), ", at most ",
             file.attr_int("/", "judge_max_new_tokens"), " tokens per verdict, responses cut at ",
             file.attr_int("/", "response_budget"), " tokens\n");
}

}  // namespace ril::io
