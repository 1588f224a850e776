// `ril teach`: fills the HDF5 teacher cache (io/teacher_cache.h) ahead of training.
//
// Which ranks work: the teacher group only; the other ranks return at once (main's final
// barrier waits for the teachers).
// - The teacher group's rank 0 is the ONE writer (serial HDF5): it opens or creates the cache,
//   drops uncommitted rows, adds the teachers, works out which questions are still missing
//   (fewer than N committed responses) and broadcasts that list to the group.
// - Question q goes to teacher rank teacher_rank_for(q, n) = q mod n (dist/sharding.h).
// - Every response (teacher t, question q, sample s) is sampled from its own CPU generator seeded
//   by response_seed(seed, t, q, s) (model::SamplingGenerators, one per row), so the cache
//   content does not depend on the number of ranks, the batch size or how a killed run was
//   resumed -- up to the float differences between a batched and a single-row forward, which
//   could flip a sampled token only where a draw falls within rounding of a token boundary (the
//   tiny teachers of the tests give identical texts at batch 1 and 32, 1 and 2 ranks).
// - A rank's rows are its questions' missing samples, in (question, sample) order. In rounds,
//   each rank generates its next --batch rows as ONE batch (left-padded prompts, a question's
//   samples side by side, each row ending at its own stop token); the group gathers the finished
//   rows (one host message per rank, dist/byte_codec.h) to the writer, which sorts them by
//   (question, sample), appends and commits, then logs questions and responses done/total,
//   tokens/s, responses/s, ETA. A commit leaves each question with a prefix of its samples, so
//   resume restarts every question at its first missing sample.
// - A teacher is a model directory of any supported family with its tokenizer.json; its prompt is
//   the student's layout with its own family's image placeholders, markers and image
//   preprocessing (roles::model_batch_options). Responses are stored as text, so a student of
//   another family and tokenizer re-tokenizes them.
// - --import-jsonl FILE --teacher-name NAME: the writer imports responses made elsewhere.
#pragma once

#include <cstdint>
#include <string>

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"

namespace ril::jobs {

// The teacher rank (in the teacher group) that answers question `question_id`.
int teacher_rank_for(int64_t question_id, int teacher_ranks);

// The seed of one response's generator: a mix of the run seed, the teacher name, the
// question and the sample index (independent of ranks and batching).
uint64_t response_seed(uint64_t seed, const std::string& teacher, int64_t question_id, int64_t sample_index);

// Collective over the teacher group; other ranks return immediately.
void run_teach_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::jobs
