// The judge's output parser (judge_verdict.h): exactly one <answer>0|1</answer>, explanation
// before it allowed, nothing but whitespace after it; everything else unparsed (scores 0).
#include <gtest/gtest.h>

#include <string>

#include "ril/algo/judge_verdict.h"

namespace ril::algo {
namespace {

void expect_parsed(const std::string& output, JudgeDecision decision) {
  const JudgeVerdict v = parse_judge_verdict(output);
  EXPECT_EQ(v.decision, decision) << "output: " << output << "\nreason: " << v.reason;
  EXPECT_TRUE(v.parsed()) << output;
  EXPECT_EQ(v.reason, "parsed") << output;
  EXPECT_EQ(v.score(), decision == JudgeDecision::kCorrect ? 1 : 0) << output;
}

// Unparsed, scored 0, and the reason is exactly `reason`.
void expect_unparsed(const std::string& output, const std::string& reason) {
  const JudgeVerdict v = parse_judge_verdict(output);
  EXPECT_EQ(v.decision, JudgeDecision::kUnparsed) << "output: " << output;
  EXPECT_FALSE(v.parsed()) << output;
  EXPECT_EQ(v.score(), 0) << output;
  EXPECT_EQ(v.reason, reason) << "output: " << output;
}

TEST(JudgeVerdict, WellFormed) {
  expect_parsed("<answer>1</answer>", JudgeDecision::kCorrect);
  expect_parsed("<answer>0</answer>", JudgeDecision::kWrong);
  expect_parsed("The response says 3 and the ground truth is 3, so it is correct.\n<answer>1</answer>",
                JudgeDecision::kCorrect);
  expect_parsed("The response answers 4 but the ground truth is 3. <answer>0</answer>",
                JudgeDecision::kWrong);
  // An explanation may mention tags in other words, and hold braces, digits and markup.
  expect_parsed("Answer: 1? No: {0, 1} says <b>0</b>.<answer>0</answer>", JudgeDecision::kWrong);
}

TEST(JudgeVerdict, WhitespaceAroundTheDigitAndAfterTheTag) {
  expect_parsed("<answer> 1 </answer>", JudgeDecision::kCorrect);
  expect_parsed("<answer>\n0\n</answer>", JudgeDecision::kWrong);
  expect_parsed("Explanation.\n<answer>\t\r\n 1 \n\t</answer>\n", JudgeDecision::kCorrect);
  expect_parsed("<answer>0</answer>   \n\n\t \r\n", JudgeDecision::kWrong);
  expect_parsed("\n\n  <answer>1</answer>", JudgeDecision::kCorrect);
}

TEST(JudgeVerdict, EmptyOutput) {
  expect_unparsed("", "empty output");
  expect_unparsed(" \n\t\r\n", "blank output");
}

TEST(JudgeVerdict, MissingTags) {
  expect_unparsed("1", "no <answer> tag");
  expect_unparsed("The response is correct.", "no <answer> tag");
  expect_unparsed("<Answer>1</Answer>", "no <answer> tag");  // tags are matched byte for byte
  expect_unparsed("<answer >1</answer >", "no <answer> tag");
  expect_unparsed("answer>1</answer", "no <answer> tag");
  expect_unparsed("Correct. 1</answer>", "</answer> without <answer>");
}

TEST(JudgeVerdict, UnclosedTag) {
  expect_unparsed("<answer>1", "<answer> not closed");
  expect_unparsed("Looks right. <answer>1 <answer", "<answer> not closed");
  expect_unparsed("<answer>1<answer/>", "<answer> not closed");
  // Cut at the judge's token budget in the middle of the closing tag.
  expect_unparsed("The final answer matches. <answer>1</ans", "<answer> not closed");
  expect_unparsed("</answer> then <answer>1", "</answer> before <answer>");
}

TEST(JudgeVerdict, TwoVerdicts) {
  expect_unparsed("<answer>1</answer><answer>0</answer>",
                  "2 <answer> tags (exactly one verdict expected)");
  // Two verdicts that agree are still two.
  expect_unparsed("<answer>1</answer>\nOn reflection: <answer>1</answer>",
                  "2 <answer> tags (exactly one verdict expected)");
  expect_unparsed("I put it in <answer></answer>: <answer>1</answer> <answer>1</answer>",
                  "3 <answer> tags (exactly one verdict expected)");
  expect_unparsed("<answer><answer>1</answer>", "2 <answer> tags (exactly one verdict expected)");
  expect_unparsed("<answer>1</answer></answer>", "2 </answer> tags (exactly one verdict expected)");
}

TEST(JudgeVerdict, TextAfterTheTag) {
  expect_unparsed("<answer>1</answer>.", "text after </answer>: '.'");
  expect_unparsed("<answer>0</answer>\nBecause the units differ.",
                  "text after </answer>: 'Because the units differ.'");
  expect_unparsed("<answer>1</answer><|im_end|>", "text after </answer>: '<|im_end|>'");
  // Long trailing text is clipped to 40 bytes, control bytes escaped, quotes escaped.
  expect_unparsed("<answer>1</answer> " + std::string(100, 'x'),
                  "text after </answer>: '" + std::string(40, 'x') + "'...");
  expect_unparsed(std::string("<answer>1</answer> a\x01'b\\c\nd"),
                  "text after </answer>: 'a\\x01\\'b\\\\c\\nd'");
  // Clipping does not cut a UTF-8 sequence: 39 ASCII bytes then a 2-byte character at 39-40.
  expect_unparsed("<answer>0</answer>" + std::string(39, 'y') + "\xC3\xA9zz",
                  "text after </answer>: '" + std::string(39, 'y') + "'...");
}

TEST(JudgeVerdict, OtherContentInsideTheTag) {
  expect_unparsed("<answer>yes</answer>", "'yes' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer>2</answer>", "'2' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer>01</answer>", "'01' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer>1.0</answer>", "'1.0' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer>0 or 1</answer>", "'0 or 1' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer>-1</answer>", "'-1' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer>1\n0</answer>", "'1\\n0' inside <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer></answer>", "empty <answer></answer> (0 or 1 expected)");
  expect_unparsed("<answer> \n </answer>", "empty <answer></answer> (0 or 1 expected)");
  // A full-width digit is not "1".
  expect_unparsed("<answer>\xEF\xBC\x91</answer>",
                  "'\xEF\xBC\x91' inside <answer></answer> (0 or 1 expected)");
}

TEST(JudgeVerdict, AnyBytesNeverThrow) {
  // NUL bytes and invalid UTF-8 are just bytes.
  const std::string nul_inside("<answer>\0" "1</answer>", 19);
  EXPECT_EQ(parse_judge_verdict(nul_inside).decision, JudgeDecision::kUnparsed);
  const std::string nul_before("\0\xFF\xFE<answer>1</answer>", 21);
  EXPECT_EQ(parse_judge_verdict(nul_before).decision, JudgeDecision::kCorrect);
  EXPECT_EQ(parse_judge_verdict(std::string(1 << 20, '<')).decision, JudgeDecision::kUnparsed);
}

TEST(JudgeVerdict, DecisionNames) {
  EXPECT_STREQ(judge_decision_name(JudgeDecision::kCorrect), "correct");
  EXPECT_STREQ(judge_decision_name(JudgeDecision::kWrong), "wrong");
  EXPECT_STREQ(judge_decision_name(JudgeDecision::kUnparsed), "unparsed");
  EXPECT_EQ(static_cast<int>(JudgeDecision::kCorrect), 1);
  EXPECT_EQ(static_cast<int>(JudgeDecision::kWrong), 0);
  JudgeVerdict none;  // default: unparsed, score 0
  EXPECT_FALSE(none.parsed());
  EXPECT_EQ(none.score(), 0);
}

}  // namespace
}  // namespace ril::algo
