// Seed mixing: the one home of splitmix64 and of the seeds a training step derives from the run
// seed. Stateless and free of library-version dependence (std::seed_seq and the standard
// distributions are implementation-defined), so a seed means the same stream everywhere.
// Which ranks call: any; pure.
#pragma once

#include <cstdint>

namespace ril {

// The splitmix64 finaliser (Steele, Lea, Flood 2014): a bijective mix of a 64-bit value.
uint64_t splitmix64(uint64_t x);

// Seed of the generator for question `question` at optimizer step `step` (0-based) in one of
// the step's random streams (`stream`: rollouts, teacher picks, ...):
//   h = splitmix64(seed ^ (stream * 0x9e3779b97f4a7c15)); h = splitmix64(h ^ step);
//   return splitmix64(h ^ question)
// It depends on nothing else (not on ranks or batching), so every rank count draws the same.
uint64_t step_question_seed(uint64_t seed, int64_t step, int64_t question, uint64_t stream);

// The random streams of `ril train` (kept apart so that no two draw the same numbers). Teacher
// t's picks use kTeacherStream + 16 t; the discriminator's head init splitmix64(seed ^ kDiscInit).
inline constexpr uint64_t kRolloutStream = 1, kTeacherStream = 2, kDiscInitStream = 3;

}  // namespace ril
