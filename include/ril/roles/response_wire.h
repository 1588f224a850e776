// Responses as they travel between rank groups in `ril train`: student rollouts (token ids and
// text) and teacher responses (text only: teachers may use another tokenizer, the receiver
// re-tokenizes). A list of responses packs into ONE flat uint8 tensor, so a rank's whole share
// moves in one message (gather) instead of one per response.
//
// Wire format, little-endian, per response: int64 question, int32 sample, int32 source,
// int32 finished, int64 n_ids, n_ids x int64 ids, int64 n_bytes, n_bytes of UTF-8 text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ril/dist/communicator.h"

namespace ril::roles {

inline constexpr int32_t kStudentSource = -1;  // Response::source of a student rollout

struct Response {
  int64_t question = 0;        // dataset example index
  int32_t sample = 0;          // 0..G-1 within (question, source)
  int32_t source = kStudentSource;  // -1 student, t >= 0: index of the teacher in the run's list
  bool finished = false;       // student: ended with a stop token (else cut at max_new_tokens)
  std::vector<int64_t> ids;    // student: the sampled token ids (exact, for the ratio); teacher: empty
  std::string text;

  bool is_student() const { return source == kStudentSource; }
  bool operator==(const Response& o) const {
    return question == o.question && sample == o.sample && source == o.source && finished == o.finished &&
           ids == o.ids && text == o.text;
  }
};

at::Tensor pack_responses(const std::vector<Response>& responses);
// Throws ril::Error on a truncated or malformed buffer.
std::vector<Response> unpack_responses(const at::Tensor& packed);

// Canonical order: question, then students before teachers (source), then sample.
void sort_responses(std::vector<Response>& responses);

// Collective over `comm`: every member's responses end up on `root`, merged and sorted; other
// ranks get an empty list.
std::vector<Response> gather_responses(dist::Communicator& comm, int root, const std::vector<Response>& mine);
// Collective over `comm`: root's list reaches every member (size first, then the bytes).
void broadcast_responses(dist::Communicator& comm, int root, std::vector<Response>& responses);

}  // namespace ril::roles
