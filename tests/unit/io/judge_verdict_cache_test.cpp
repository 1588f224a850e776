// JudgeVerdictCache (issue 16, item 3): verdicts on teacher responses survive a reopen, the file
// does not depend on the order verdicts were added in, a file of another judge is refused, and
// nothing reaches the disk before save().
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ril/common/error.h"
#include "ril/io/h5_file.h"
#include "ril/io/judge_verdict_cache.h"
#include "support/temp_dir.h"

using ril::io::JudgeVerdictCache;
using ril::io::JudgeVerdictSettings;

namespace {

JudgeVerdictSettings settings() { return {"/models/judge", "Q {question} A {ground_truth} R {response}", 96, 24}; }

std::string file_bytes(const std::string& path) {
  const ril::io::H5File f = ril::io::H5File::open(path, ril::io::kJudgeVerdictsKind);
  std::string out = std::to_string(f.attr_int("/", "rows"));
  for (int64_t q : f.read_vector<int64_t>("question_id")) out += "," + std::to_string(q);
  for (int32_t d : f.read_vector<int32_t>("decision")) out += "," + std::to_string(d);
  for (const std::string& t : f.read_text("response")) out += "," + t;
  return out;
}

TEST(JudgeVerdictCache, SavedVerdictsAreReadBack) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/judge_verdicts.h5";
  {
    JudgeVerdictCache cache(path, settings());
    EXPECT_EQ(cache.size(), 0);
    cache.add(3, "the answer is 4", 1);
    cache.add(3, "the answer is 5", 0);
    cache.add(7, "", -1);
    cache.add(3, "the answer is 4", 0);  // a verdict does not change: the first one stays
    EXPECT_FALSE(std::filesystem::exists(path)) << "written before save()";
    cache.save();
  }
  JudgeVerdictCache again(path, settings());
  EXPECT_EQ(again.size(), 3);
  EXPECT_EQ(again.find(3, "the answer is 4"), 1);
  EXPECT_EQ(again.find(3, "the answer is 5"), 0);
  EXPECT_EQ(again.find(7, ""), -1);
  EXPECT_FALSE(again.find(4, "the answer is 4").has_value());  // the key is (question, text)
  const std::string summary = ril::io::summarize_judge_verdicts(ril::io::H5File::open(path));
  EXPECT_NE(summary.find("3 (correct 1, wrong 1, unparsed 1)"), std::string::npos) << summary;
}

TEST(JudgeVerdictCache, FileDoesNotDependOnTheOrderOfAdds) {
  ril::test::TempDir dir;
  const std::string a = dir.path() + "/a.h5", b = dir.path() + "/b.h5";
  JudgeVerdictCache first(a, settings()), second(b, settings());
  first.add(2, "x", 1);
  first.save();
  first.add(1, "y", 0);  // a second save, as a later step
  first.save();
  second.add(1, "y", 0);
  second.add(2, "x", 1);
  second.save();
  EXPECT_EQ(file_bytes(a), file_bytes(b));
  EXPECT_EQ(file_bytes(a), "2,1,2,0,1,y,x");
}

TEST(JudgeVerdictCache, AnotherJudgesFileIsRefused) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/judge_verdicts.h5";
  JudgeVerdictCache cache(path, settings());
  cache.add(1, "y", 0);
  cache.save();
  JudgeVerdictSettings other = settings();
  other.judge = "/models/other";
  try {
    JudgeVerdictCache refused(path, other);
    FAIL() << "another judge's verdicts were accepted";
  } catch (const ril::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("holds verdicts of judge '/models/judge', this run has '/models/other'"),
              std::string::npos)
        << e.what();
  }
  other = settings();
  other.response_budget = 32;
  EXPECT_THROW(JudgeVerdictCache(path, other), ril::ConfigError);
}

}  // namespace
