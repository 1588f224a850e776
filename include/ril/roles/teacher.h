// The teacher role (DESIGN.md section 2): serves G teacher responses per question of a step from
// the teacher cache, which `ril teach` fills ahead of training. (Later: generates missing
// responses online and judges answers.)
//
// Picks: question j of the step belongs to teacher rank j mod T (dist/sharding.h); of its G
// responses, sample s comes from teacher s mod K (K = the selected teachers, in order), taken
// from that teacher's cached responses to the question in an order shuffled by
// step_question_seed(seed, step, question, kTeacherStream + 16 t), cycling when G / K exceeds
// the cache's N. Every pick is cut to the token budget (response.h: fit_to_budget). Nothing
// depends on the number of teacher ranks.
// Which ranks call: teacher ranks; no communication.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ril/dist/communicator.h"
#include "ril/roles/response.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

struct TeacherOptions {
  std::string cache_path;             // the teacher cache (io/teacher_cache.h)
  std::vector<std::string> teachers;  // selected teacher names; Response::source = index here
  int64_t group = 4;                  // G: teacher responses per question
  int64_t budget = 64;                // token budget of every response (--max-new-tokens)
  uint64_t seed = 0;                  // run seed
};

class Teacher {
 public:
  // Reads the selected teachers' cached responses. Keeps a reference to `tokenizer` (the
  // student's: it measures the budget).
  Teacher(const text::BpeTokenizer& tokenizer, TeacherOptions options);

  // The responses to the questions of `questions` (the step's, in order) that this rank of the
  // teacher group owns, G per question; step is 0-based.
  Responses pick(int64_t step, const std::vector<int64_t>& questions, const dist::Communicator& group) const;

 private:
  const text::BpeTokenizer& tokenizer_;
  TeacherOptions options_;
  std::vector<std::map<int64_t, std::vector<std::string>>> rows_;  // [teacher][question] -> responses
};

}  // namespace ril::roles
