// One response of a RIL step, as it travels between rank groups: student rollouts (token ids and
// text) and teacher responses (text only: teachers may use another tokenizer; the receiver
// re-tokenizes). `Responses` is a list in canonical order (question, then students before
// teachers, then sample); encode_responses() packs a whole list into ONE host message
// (dist/byte_codec.h), so a rank's share moves in one gather instead of one per response.
//
// Wire layout: int64 count, then per response: int64 question, int32 sample, int32 source,
// int32 finished, int64 version, ids (int64 count + int64 ids), logprobs (int64 count + float32),
// text (int64 length + UTF-8 bytes).
//
// --max-staleness 1 (jobs/train_step.h): a student response carries the weight version it was
// sampled with and the behaviour policy's log-prob of each sampled id, so that the learner's
// ratio is taken against the policy that really sampled it.
//
// The token budget: every consumer of a response (D, the policy gradient, the answer check)
// sees at most --max-new-tokens tokens of the student's tokenizer; fit_to_budget() cuts a longer
// (teacher) text there, so that all of them judge the same text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

inline constexpr int32_t kStudentSource = -1;  // Response::source of a student rollout

struct Response {
  int64_t question = 0;             // dataset example index
  int32_t sample = 0;               // 0..G-1 within (question, source)
  int32_t source = kStudentSource;  // -1 student, t >= 0: index of the teacher in the run's list
  bool finished = false;            // ended with a stop token (else cut at the token budget)
  std::vector<int64_t> ids;         // student: the sampled token ids (exact, for the ratio); teacher: empty
  std::vector<float> logprobs;      // student: log pi_behaviour(ids[k]), unmodified by sampling settings; teacher: empty
  int64_t version = 0;              // student: the weight version that sampled it (dist/weight_sync.h); teacher: 0
  std::string text;

  bool is_student() const { return source == kStudentSource; }
  bool operator==(const Response& o) const {
    return question == o.question && sample == o.sample && source == o.source && finished == o.finished &&
           ids == o.ids && logprobs == o.logprobs && version == o.version && text == o.text;
  }
};

using Responses = std::vector<Response>;

// Canonical order: question, then students before teachers (source), then sample.
void sort_responses(Responses& responses);
// Both lists in one, in canonical order.
Responses merge_responses(Responses students, const Responses& teachers);

// --max-staleness: removes the student responses sampled more than `max_staleness` weight
// versions before `current_version` (the learner's version before the step's update); teacher
// responses stay. Returns how many were removed. The order of the rest is kept.
int64_t drop_stale_responses(Responses& responses, int64_t current_version, int64_t max_staleness);

std::string encode_responses(const Responses& responses);
// Throws ril::Error on a truncated or malformed buffer.
Responses decode_responses(const std::string& bytes);

// Response text -> token ids as the learner and D read them: plain text (a response never
// becomes a control token), invalid UTF-8 replaced, no stop token.
std::vector<int64_t> response_text_ids(const text::BpeTokenizer& tokenizer, const std::string& text);

// Cuts `r.text` to `budget` tokens when it needs more than `budget` tokens with its stop token,
// and sets r.finished (true: it fits with its stop token).
void fit_to_budget(Response& r, const text::BpeTokenizer& tokenizer, int64_t budget);

}  // namespace ril::roles
