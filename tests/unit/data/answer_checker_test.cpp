// The rule-based answer reward must be hard to fool: hedges, echoes, junk and very long
// responses are wrong; ordinary correct answers in several forms are right.
#include <gtest/gtest.h>

#include <chrono>

#include "ril/common/error.h"
#include "ril/data/answer_checker.h"

namespace ril::data {
namespace {

bool right(const std::string& response, const std::string& truth, const std::string& question = "") {
  return AnswerChecker().check(response, truth, question).correct;
}

TEST(AnswerChecker, ClassifiesGroundTruth) {
  EXPECT_EQ(classify_answer("3"), AnswerKind::kNumber);
  EXPECT_EQ(classify_answer("three"), AnswerKind::kNumber);
  EXPECT_EQ(classify_answer("twenty one"), AnswerKind::kNumber);
  EXPECT_EQ(classify_answer("-2.50"), AnswerKind::kNumber);
  EXPECT_EQ(classify_answer("Yes"), AnswerKind::kYesNo);
  EXPECT_EQ(classify_answer("green"), AnswerKind::kColour);
  EXPECT_EQ(classify_answer("(B)"), AnswerKind::kOption);
  EXPECT_EQ(classify_answer("a dog on a couch"), AnswerKind::kText);
  EXPECT_THROW(classify_answer("  "), Error);
}

TEST(AnswerChecker, NormalisesNumbers) {
  EXPECT_EQ(normalize_answer("3", AnswerKind::kNumber), "3");
  EXPECT_EQ(normalize_answer("3.0", AnswerKind::kNumber), "3");
  EXPECT_EQ(normalize_answer("+03.50", AnswerKind::kNumber), "3.5");
  EXPECT_EQ(normalize_answer("three", AnswerKind::kNumber), "3");
  EXPECT_EQ(normalize_answer("Twenty-one", AnswerKind::kNumber), "21");
  EXPECT_EQ(normalize_answer("-0", AnswerKind::kNumber), "0");
  EXPECT_EQ(normalize_answer("none", AnswerKind::kNumber), "0");
  EXPECT_EQ(normalize_answer("grey", AnswerKind::kColour), "gray");
  EXPECT_EQ(normalize_answer("The  Red-Dog!", AnswerKind::kText), "red dog");
  EXPECT_FALSE(normalize_answer("many", AnswerKind::kNumber).has_value());
}

TEST(AnswerChecker, AcceptsCorrectAnswersInUsualForms) {
  EXPECT_TRUE(right("There are 3 red squares.\nAnswer: 3", "3"));
  EXPECT_TRUE(right("Answer: three", "3"));
  EXPECT_TRUE(right("answer: 3.0", "3"));
  EXPECT_TRUE(right("**Answer:** 3", "3"));
  EXPECT_TRUE(right("Final answer: 12", "12"));
  EXPECT_TRUE(right("The answer is 7.", "7"));
  EXPECT_TRUE(right("I count 1, 2, 3 objects, so 3", "3"));  // last clause
  EXPECT_TRUE(right("3", "3"));
  EXPECT_TRUE(right("Yes, it is to the left.", "yes"));  // first clause for yes/no
  EXPECT_TRUE(right("No.", "no"));
  EXPECT_TRUE(right("Answer: NO", "no"));
  EXPECT_TRUE(right("The triangle is green.\nAnswer: Green", "green"));
  EXPECT_TRUE(right("It looks grey", "gray"));
  EXPECT_TRUE(right("Answer: (C)", "C"));
  EXPECT_TRUE(right("Answer: C) a red circle", "(C)"));
  EXPECT_TRUE(right("Answer: c", "C"));
  EXPECT_FALSE(right("Answer: a red circle", "A"));  // an article, not option A
  EXPECT_TRUE(right("Answer: 3 red squares (three)", "3"));  // same value twice agrees
  EXPECT_TRUE(right("Answer: 3\nSo yes, Answer: 3", "3"));
  EXPECT_TRUE(right("Answer: A dog on a couch.", "a dog on a couch"));
  EXPECT_TRUE(right("I see two. <answer>2</answer>", "2"));
  EXPECT_TRUE(right("<answer>\nyes\n</answer>", "yes"));
  EXPECT_FALSE(right("<answer>2</answer> <answer>3</answer>", "2"));
  EXPECT_FALSE(right("<answer>2</answer> or maybe 3", "2"));
  EXPECT_FALSE(right("Answer: 2\n<answer>3</answer>", "2"));
}

TEST(AnswerChecker, RejectsWrongAnswers) {
  EXPECT_FALSE(right("Answer: 4", "3"));
  EXPECT_FALSE(right("Answer: 30", "3"));
  EXPECT_FALSE(right("Answer: 3.5", "3"));
  EXPECT_FALSE(right("Answer: yes", "no"));
  EXPECT_FALSE(right("Answer: red", "green"));
  EXPECT_FALSE(right("Answer: B", "C"));
  EXPECT_FALSE(right("Answer: a cat", "a dog"));
}

TEST(AnswerChecker, SeveralDifferentAnswersAreWrong) {
  EXPECT_FALSE(right("Answer: 3 or 4", "3"));
  EXPECT_FALSE(right("Answer: 3\nAnswer: 4", "3"));
  EXPECT_FALSE(right("Answer: 4\nAnswer: 3", "3"));  // not "last one wins"
  EXPECT_FALSE(right("Answer: 0 1 2 3 4 5 6 7 8 9", "3"));
  EXPECT_FALSE(right("Answer: yes/no", "yes"));
  EXPECT_FALSE(right("Answer: no... actually yes", "yes"));
  EXPECT_FALSE(right("Answer: red green blue yellow purple orange", "green"));
  EXPECT_FALSE(right("Answer: (A) (B) (C) (D)", "C"));
  EXPECT_FALSE(right("It is either 3 or 4", "3"));
  EXPECT_FALSE(right("Answer: 3\nActually it might be 4.", "3"));  // a second thought after the answer
  EXPECT_TRUE(right("Answer: 3\nThanks for asking!", "3"));
  EXPECT_FALSE(right("Answer: yes\n(or no)", "yes"));
  EXPECT_FALSE(right("Yes. Or no.", "yes"));
  EXPECT_FALSE(right("yes no", "no"));
}

TEST(AnswerChecker, QuestionEchoDoesNotCount) {
  // The question names a colour and a shape; echoing it is no answer.
  const std::string q = "Is the blue circle to the left of the green square?";
  EXPECT_FALSE(right(q, "yes", q));
  EXPECT_FALSE(right("Is the blue circle to the left of the green square? Answer:", "yes", q));
  EXPECT_TRUE(right("Is the blue circle to the left of the green square? Yes.", "yes", q));
  const std::string q2 = "What is 3 + 4? Answer with a number.";
  EXPECT_FALSE(right(q2, "3", q2));
  EXPECT_FALSE(right(std::string("what is 3 + 4? answer with a number."), "3", q2));  // case-insensitive
  EXPECT_TRUE(right(q2 + "\nAnswer: 7", "7", q2));
  const std::string q3 = "What colour is the red-bordered triangle?";
  EXPECT_FALSE(right(q3 + " Answer: blue", "red", q3));
}

TEST(AnswerChecker, EmptyAndContentFreeOutputsAreWrong) {
  EXPECT_FALSE(right("", "3"));
  EXPECT_FALSE(right("   \n\t ", "yes"));
  EXPECT_FALSE(right("Answer:", "3"));
  EXPECT_FALSE(right("Answer: I don't know", "3"));
  EXPECT_FALSE(right("I cannot tell.", "green"));
  EXPECT_FALSE(right("?!.,;", "a dog"));
  const AnswerVerdict v = AnswerChecker().check("", "3");
  EXPECT_EQ(v.reason, "empty response");
  EXPECT_EQ(v.expected, "3");
}

TEST(AnswerChecker, VeryLongOutputIsWrongAndCheap) {
  std::string junk;
  for (int i = 0; i < 200000; ++i) junk += "blah " + std::to_string(i % 10) + " ";
  const auto start = std::chrono::steady_clock::now();
  const AnswerVerdict v = AnswerChecker().check(junk + "\nAnswer: 3", "3");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(v.correct);
  EXPECT_NE(v.reason.find("too long"), std::string::npos) << v.reason;
  EXPECT_LT(seconds, 0.5);
  // Under the limit, a long but honest response still counts.
  std::string reasoning;
  for (int i = 0; i < 100; ++i) reasoning += "Looking at object " + std::to_string(i) + " carefully.\n";
  EXPECT_TRUE(right(reasoning + "Answer: 3", "3"));
  // The limit is an option.
  AnswerCheckOptions small;
  small.max_response_bytes = 8;
  EXPECT_FALSE(AnswerChecker(small).check("The answer is 3", "3").correct);
}

TEST(AnswerChecker, NonUtf8BytesNeitherCrashNorGlue) {
  EXPECT_TRUE(right("Answer: 3\xff", "3"));
  EXPECT_TRUE(right("\xc3\x28\xa0\xa1 Answer: \xf0\x28\x8c\x28 green", "green"));
  EXPECT_FALSE(right("Answer: 1\xff" "2", "12"));  // an invalid byte separates, it does not join
  EXPECT_FALSE(right(std::string("Answer: \0 3\0 4", 14), "3"));
  std::string noise;
  for (int b = 0; b < 256; ++b) noise += static_cast<char>(b);
  EXPECT_FALSE(right(noise, "yes"));
  EXPECT_NO_THROW(AnswerChecker().check(noise + noise, "a dog"));
}

TEST(AnswerChecker, NumbersInReasoningDoNotCountWhenAnAnswerLineExists) {
  const std::string steps =
      "Going through the objects from left to right:\n1. a red square at (10, 12) - yes, count 1\n"
      "2. a blue circle at (30, 40) - no\n3. a red square at (50, 20) - yes, count 2\nThat makes 2 in total.\n"
      "Answer: 2";
  EXPECT_TRUE(right(steps, "2"));
  EXPECT_FALSE(right(steps, "1"));
  EXPECT_FALSE(right(steps, "10"));
}

}  // namespace
}  // namespace ril::data

// Found by `ril eval` of a barely trained model: punctuation-only responses have no clause.
TEST(AnswerChecker, PunctuationOnlyResponsesAreWrongNotACrash) {
  const ril::data::AnswerChecker checker;
  for (const char* response : {".", ". .", ", .", " ", ""}) {
    for (const char* truth : {"3", "yes", "red", "B", "a cat"}) {
      EXPECT_FALSE(checker.check(response, truth).correct) << "'" << response << "' vs " << truth;
    }
  }
}
