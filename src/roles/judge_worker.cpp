#include "ril/roles/judge_worker.h"

#include <algorithm>
#include <csignal>
#include <map>
#include <set>
#include <utility>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/dist/host_messages.h"

namespace ril::roles {

std::string JudgeResult::encode() const {
  dist::ByteWriter out;
  out.put_vector(decisions);
  out.put(judged);
  out.put(cached);
  out.put(tokens);
  return out.take();
}

JudgeResult JudgeResult::decode(const std::string& bytes) {
  dist::ByteReader in(bytes);
  JudgeResult r;
  r.decisions = in.get_vector<int8_t>();
  r.judged = in.get<int64_t>();
  r.cached = in.get<int64_t>();
  r.tokens = in.get<int64_t>();
  in.expect_done("judge verdicts");
  return r;
}

JudgeWorker::JudgeWorker(const data::Dataset& dataset, JudgeWorkerOptions options, dist::Communicator& group,
                         at::Device device)
    : dataset_(dataset),
      options_(std::move(options)),
      group_(group),
      device_(device),
      model_(options_.dir, options_.prompt, options_.max_new_tokens, "ril train: --judge") {
  model_.load(device_);
  if (group_.rank() == 0) {
    cache_ = std::make_unique<io::JudgeVerdictCache>(options_.cache_path, options_.cache_settings);
    if (cache_->size() > 0) {
      log_info("judge", cache_->size(), " verdicts on teacher responses read from ", options_.cache_path);
    }
  }
}

JudgeWorker::~JudgeWorker() = default;

JudgeResult JudgeWorker::judge(int64_t step, const Responses& responses) {
  using Key = std::pair<int64_t, std::string>;  // (question, text)
  const bool root = group_.rank() == 0;
  // 1. Root: the distinct texts without a verdict (teacher ones may have one in the cache).
  std::map<Key, int> known;  // root: (question, text) -> decision
  std::vector<int64_t> questions;
  std::vector<std::string> texts;
  JudgeResult result;
  if (root) {
    std::set<Key> queued;
    for (const Response& r : responses) {
      Key key{r.question, r.text};
      if (known.count(key) || queued.count(key)) continue;
      if (!r.is_student()) {
        if (const std::optional<int> hit = cache_->find(r.question, r.text)) {
          known.emplace(std::move(key), *hit);
          ++result.cached;
          continue;
        }
      }
      queued.insert(key);
      questions.push_back(r.question);
      texts.push_back(r.text);
    }
  }
  // 2. Every judge rank: the texts to judge; item i is judged by rank i mod J.
  if (group_.size() > 1) {
    dist::ByteWriter out;
    out.put_vector(questions);
    out.put_texts(texts);
    const std::string bytes = dist::broadcast_bytes(group_, root ? out.bytes() : "", 0);
    dist::ByteReader in(bytes);
    questions = in.get_vector<int64_t>();
    texts = in.get_texts();
    in.expect_done("judge items");
  }
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(group_.rank()); i < texts.size(); i += static_cast<size_t>(group_.size())) {
    mine.push_back(static_cast<int64_t>(i));
  }
  std::vector<int8_t> decisions;
  int64_t tokens = 0;
  for (size_t begin = 0; begin < mine.size(); begin += kJudgeBatch) {
    const size_t end = std::min(mine.size(), begin + kJudgeBatch);
    std::vector<JudgeItem> items;
    for (size_t k = begin; k < end; ++k) {
      const int64_t q = questions[static_cast<size_t>(mine[k])];
      items.push_back({dataset_.question(q), dataset_.answer(q), texts[static_cast<size_t>(mine[k])]});
    }
    for (const JudgeOutput& o : model_.judge(items, device_)) {
      decisions.push_back(static_cast<int8_t>(o.verdict.decision));
      tokens += o.tokens;
    }
  }
  // 3. Decisions to the root (rank r's k-th decision is item r + k J).
  dist::ByteWriter out;
  out.put_vector(decisions);
  out.put(tokens);
  const std::vector<std::string> parts = dist::gather_bytes(group_, out.bytes(), 0);
  if (!root) return {};
  for (size_t r = 0; r < parts.size(); ++r) {
    dist::ByteReader in(parts[r]);
    const std::vector<int8_t> got = in.get_vector<int8_t>();
    result.tokens += in.get<int64_t>();
    in.expect_done("judge decisions");
    for (size_t k = 0; k < got.size(); ++k) {
      const size_t i = r + k * parts.size();
      RIL_CHECK(i < texts.size(), "judge: rank ", r, " sent ", got.size(), " decisions for ", texts.size(), " items");
      known.emplace(Key{questions[i], texts[i]}, got[k]);
    }
  }
  result.judged = static_cast<int64_t>(texts.size());
  // 4. Teacher verdicts into the run's cache, saved before they are used (a kill after this
  //    point loses no verdict).
  for (const Response& r : responses) {
    if (!r.is_student()) cache_->add(r.question, r.text, known.at(Key{r.question, r.text}));
  }
  cache_->save();
  if (options_.kill_after_steps.count(step + 1)) {
    log_warn("judge", "fault injection: SIGKILL after saving the verdicts of step ", step + 1);
    std::raise(SIGKILL);
  }
  for (const Response& r : responses) {
    result.decisions.push_back(static_cast<int8_t>(known.at(Key{r.question, r.text})));
  }
  return result;
}

}  // namespace ril::roles
