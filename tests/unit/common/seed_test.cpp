// Seed mixing (common/seed.h): splitmix64 against the reference generator's published outputs,
// and the step seeds of `ril train` pinned (a changed value would change every run's rollouts
// and teacher picks) and independent of each argument.
#include "ril/common/seed.h"

#include <gtest/gtest.h>

#include <set>

namespace ril {
namespace {

TEST(Seed, Splitmix64MatchesTheReference) {
  // Vigna's splitmix64.c seeded with x: next() returns splitmix64(x). 0 -> 0xe220a8397b1dcdaf is
  // the generator's well-known first output; the others come from a Python transcription.
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(1), 0x910a2dec89025cc1ULL);
  EXPECT_EQ(splitmix64(0x0123456789abcdefULL), 0x157a3807a48faa9dULL);
}

TEST(Seed, StepQuestionSeedsArePinned) {
  // h = sm(seed ^ stream * golden); h = sm(h ^ step); sm(h ^ question), from a Python transcription.
  EXPECT_EQ(step_question_seed(1234, 0, 0, kRolloutStream), 0x93e60f8a3bf2be0fULL);
  EXPECT_EQ(step_question_seed(1234, 0, 0, kTeacherStream), 0x0abaf5d9aa8d936eULL);
  EXPECT_EQ(step_question_seed(1234, 5, 17, kRolloutStream), 0x87cbe0a6ea6cbac1ULL);
  EXPECT_EQ(step_question_seed(1234, 5, 17, kTeacherStream + 16), 0xbaaff97425557351ULL);
  EXPECT_EQ(step_question_seed(0, 0, 0, kDiscInitStream), 0x0fe49ee3ded54739ULL);
}

TEST(Seed, EveryArgumentChangesTheSeed) {
  std::set<uint64_t> seen;
  for (uint64_t seed : {1ULL, 2ULL})
    for (int64_t step : {0, 1, 2})
      for (int64_t question : {0, 1, 100})
        for (uint64_t stream : {kRolloutStream, kTeacherStream, kTeacherStream + 16, kDiscInitStream})
          EXPECT_TRUE(seen.insert(step_question_seed(seed, step, question, stream)).second)
              << seed << " " << step << " " << question << " " << stream;
  // Swapping step and question gives another seed (they are mixed in one after the other).
  EXPECT_NE(step_question_seed(7, 3, 5, kRolloutStream), step_question_seed(7, 5, 3, kRolloutStream));
}

}  // namespace
}  // namespace ril
