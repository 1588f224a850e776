// Responses as they travel (roles/response.h) and D's result (roles/discriminator_trainer.h):
// the host wire format round-trips every field, the empty list, non-ASCII and invalid UTF-8
// text and a 1 MB text, and refuses truncated buffers; canonical order; the token budget.
#include "ril/roles/response.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ril/common/error.h"
#include "ril/roles/discriminator_trainer.h"
#include "support/byte_tokenizer.h"

namespace ril::roles {
namespace {

Responses sample_responses() {
  Responses r(5);
  r[0].question = 7;
  r[0].sample = 1;
  r[0].finished = true;
  r[0].ids = {5, 258};
  r[0].logprobs = {-0.5F, -2.25F};
  r[0].version = 12;
  r[0].text = "5";
  r[1].question = 3;
  r[1].source = 1;
  r[1].text = "Gr\xc3\xbc\xc3\x9f" "e \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82";  // non-ASCII
  r[2].question = 3;
  r[2].sample = 2;
  r[2].text = std::string(1 << 20, 'z');                                        // 1 MB
  r[2].ids = std::vector<int64_t>(64, 17);
  r[3].question = 3;
  r[3].source = 0;
  r[3].text = "";                                                               // empty text
  r[4].question = (int64_t{1} << 40);
  r[4].text = std::string("\xff\xfe nul \0 inside", 14);                        // not UTF-8, a NUL
  return r;
}

TEST(ResponseWire, RoundTripKeepsEveryField) {
  const Responses r = sample_responses();
  EXPECT_EQ(decode_responses(encode_responses(r)), r);
  EXPECT_TRUE(decode_responses(encode_responses({})).empty());
}

TEST(ResponseWire, TruncatedOrForeignBuffersThrow) {
  Responses small = sample_responses();
  small.erase(small.begin() + 2);  // without the 1 MB text: every cut is tried
  const std::string bytes = encode_responses(small);
  for (size_t cut = 0; cut < bytes.size(); cut += 3) {
    EXPECT_THROW(decode_responses(bytes.substr(0, cut)), Error) << "cut at " << cut;
  }
  EXPECT_THROW(decode_responses(bytes + "x"), Error);
  EXPECT_THROW(decode_responses(std::string(8, '\xff')), Error);  // count -1
}

TEST(ResponseStaleness, DropsOnlyStudentResponsesOlderThanTheBound) {
  Responses r(4);
  r[0].version = 5;                       // lag 0
  r[1].version = 4;                       // lag 1
  r[2].version = 3;                       // lag 2: older than bound 1
  r[3].source = 0;                        // a teacher response (version 0) always stays
  r[0].sample = 0, r[1].sample = 1, r[2].sample = 2;
  Responses one = r;
  EXPECT_EQ(drop_stale_responses(one, 5, 1), 1);
  ASSERT_EQ(one.size(), 3u);
  EXPECT_EQ(one[0].sample, 0);
  EXPECT_EQ(one[1].sample, 1);
  EXPECT_EQ(one[2].source, 0);
  Responses zero = r;
  EXPECT_EQ(drop_stale_responses(zero, 5, 0), 2);  // lockstep: only this version's
  ASSERT_EQ(zero.size(), 2u);
  EXPECT_EQ(zero[0].version, 5);
  EXPECT_EQ(zero[1].source, 0);
}

TEST(ResponseWire, CanonicalOrderIsQuestionThenStudentsFirstThenSample) {
  const Responses merged = merge_responses({sample_responses()[0], sample_responses()[2]},
                                           {sample_responses()[1], sample_responses()[3]});
  ASSERT_EQ(merged.size(), 4u);
  EXPECT_EQ(merged[0].question, 3);
  EXPECT_TRUE(merged[0].is_student());  // student sample 2 of question 3
  EXPECT_EQ(merged[1].source, 0);
  EXPECT_EQ(merged[2].source, 1);
  EXPECT_EQ(merged[3].question, 7);
}

TEST(ResponseBudget, LongTextsAreCutAndMarkedUnfinished) {
  const text::BpeTokenizer tok = test::byte_tokenizer();  // one token per byte
  Response r;
  r.text = "0123456789";
  fit_to_budget(r, tok, 11);  // 10 tokens + the stop token fit
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.text, "0123456789");
  fit_to_budget(r, tok, 10);  // the stop token does not fit: cut (here: nothing to cut) and unfinished
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.text, "0123456789");
  fit_to_budget(r, tok, 4);
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.text, "0123");
  EXPECT_EQ(response_text_ids(tok, "a<|im_end|>").size(), 11u);  // a control token's text stays plain
}

TEST(DiscriminatorResultWire, RoundTrip) {
  DiscriminatorResult d;
  d.scores = {0.25, std::nan(""), 1.0, 0.0};
  d.stats.loss = 0.69;
  d.stats.accuracy = 0.5;
  d.stats.teacher_prob = 0.125;
  d.skipped_updates = 2;
  const DiscriminatorResult got = DiscriminatorResult::decode(d.encode());
  ASSERT_EQ(got.scores.size(), 4u);
  EXPECT_EQ(got.scores[0], 0.25);
  EXPECT_TRUE(std::isnan(got.scores[1]));
  EXPECT_EQ(got.stats.loss, 0.69);
  EXPECT_EQ(got.stats.accuracy, 0.5);
  EXPECT_TRUE(std::isnan(got.stats.student_accuracy));  // never set: NaN travels as NaN
  EXPECT_EQ(got.stats.teacher_prob, 0.125);
  EXPECT_EQ(got.skipped_updates, 2);
  EXPECT_TRUE(DiscriminatorResult::decode(DiscriminatorResult().encode()).scores.empty());
  EXPECT_THROW(DiscriminatorResult::decode(d.encode().substr(0, 20)), Error);
}

}  // namespace
}  // namespace ril::roles
