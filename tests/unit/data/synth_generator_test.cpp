// The synthetic generator: determinism, balance, and answers recomputed from the stored scene
// by code written here, independently of the generator's own answer code.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "ril/common/error.h"
#include "ril/data/answer_checker.h"
#include "ril/data/dataset.h"
#include "ril/data/synth_generator.h"
#include "unit/data/data_test_util.h"

namespace ril::data {
namespace {

using testing::ScratchDir;

SynthOptions small_options(const std::string& out, int64_t seed = 7) {
  SynthOptions o;
  o.output = out;
  o.seed = seed;
  o.n_train = 100;
  o.n_val = 20;
  o.n_test = 20;
  return o;
}

TEST(SynthGenerator, SameSeedGivesByteIdenticalFiles) {
  ScratchDir dir;
  write_synthetic_dataset(small_options(dir.file("a.h5")));
  write_synthetic_dataset(small_options(dir.file("b.h5")));
  const auto a = testing::read_all(dir.file("a.h5")), b = testing::read_all(dir.file("b.h5"));
  ASSERT_GT(a.size(), 10000u);
  EXPECT_TRUE(a == b) << "same options must give the same bytes (HDF5 timestamps? chunk order?)";
  write_synthetic_dataset(small_options(dir.file("c.h5"), 8));
  EXPECT_FALSE(a == testing::read_all(dir.file("c.h5"))) << "another seed must give other data";
}

TEST(SynthGenerator, RefusesToOverwriteUnlessAsked) {
  ScratchDir dir;
  SynthOptions o = small_options(dir.file("a.h5"));
  o.n_train = 5;
  o.n_val = o.n_test = 0;
  write_synthetic_dataset(o);
  EXPECT_THROW(write_synthetic_dataset(o), ConfigError);
  o.overwrite = true;
  EXPECT_NO_THROW(write_synthetic_dataset(o));
}

TEST(SynthGenerator, BadKnobsAreConfigErrors) {
  SynthOptions o = small_options("/tmp/never_written.h5");
  o.difficulty.max_objects = 2;
  EXPECT_THROW(o.validate(), ConfigError);
  o = small_options("/tmp/never_written.h5");
  o.image_size = 16;
  EXPECT_THROW(o.validate(), ConfigError);
  o = small_options("");
  EXPECT_THROW(o.validate(), ConfigError);
  EXPECT_THROW(parse_family("colours"), ConfigError);
}

TEST(SynthGenerator, FamiliesAndSplitsAreBalanced) {
  ScratchDir dir;
  write_synthetic_dataset(small_options(dir.file("a.h5")));
  const Dataset d = Dataset::open(dir.file("a.h5"));
  ASSERT_EQ(d.size(), 140);
  EXPECT_EQ(d.indices(Split::kTrain).size(), 100u);
  EXPECT_EQ(d.indices(Split::kVal).size(), 20u);
  EXPECT_EQ(d.indices(Split::kTest).size(), 20u);
  ASSERT_EQ(d.family_names().size(), 5u);
  for (const std::string& f : d.family_names()) {
    EXPECT_EQ(d.indices(f, Split::kTrain).size(), 20u) << f;
    EXPECT_EQ(d.indices(f, Split::kVal).size(), 4u) << f;
  }
}

TEST(SynthGenerator, AnswersAreNotDominatedByOneValue) {
  SynthOptions o = small_options("");
  std::map<std::string, std::map<std::string, int>> histogram;
  for (int64_t i = 0; i < 1000; ++i) {
    const GeneratedExample g = generate_synthetic_example(o, Split::kTrain, i);
    ++histogram[family_name(g.task.query.family)][g.task.answer];
  }
  for (const auto& [family, answers] : histogram) {
    int most = 0;
    for (const auto& [a, n] : answers) most = std::max(most, n);
    EXPECT_LE(most, 200 * 0.6) << family << ": one answer covers " << most << " of 200 examples";
    EXPECT_GE(answers.size(), 2u) << family;
  }
}

TEST(SynthGenerator, SplitsUseDisjointSeeds) {
  std::set<uint64_t> seen;
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    for (int64_t i = 0; i < 3000; ++i) {
      EXPECT_TRUE(seen.insert(synth_example_seed(1, s, i)).second) << split_name(s) << " " << i;
    }
  }
}

// ---- Independent recomputation of answers from the scene JSON. ----

struct Obj {
  std::string shape, colour;
  int x, y, w, h, digit;
  double cx() const { return x + w / 2.0; }
  double cy() const { return y + h / 2.0; }
};

std::vector<Obj> parse_scene(const std::string& json_text) {
  std::vector<Obj> objects;
  const nlohmann::json scene = nlohmann::json::parse(json_text);  // named: a temporary would die before the loop
  for (const auto& o : scene.at("objects")) {
    objects.push_back({o.at("shape").get<std::string>(), o.at("colour").get<std::string>(), o.at("x").get<int>(),
                       o.at("y").get<int>(), o.at("w").get<int>(), o.at("h").get<int>(), o.at("digit").get<int>()});
  }
  return objects;
}

std::string singular(const std::string& plural) { return plural.substr(0, plural.size() - 1); }

// Returns the answer, or "" when the question matches no known form.
std::string recompute(const std::string& q, const std::vector<Obj>& objects, std::string& why) {
  std::smatch m;
  auto count = [&](const std::string& colour, const std::string& shape) {
    int n = 0;
    for (const Obj& o : objects) n += (colour.empty() || o.colour == colour) && o.shape == shape;
    return n;
  };
  auto unique = [&](const std::string& colour, const std::string& shape) -> const Obj* {
    const Obj* found = nullptr;
    for (const Obj& o : objects) {
      if ((colour.empty() || o.colour == colour) && o.shape == shape) {
        if (found) {
          why = "not unique: " + colour + " " + shape;
          return nullptr;
        }
        found = &o;
      }
    }
    if (!found) why = "absent: " + colour + " " + shape;
    return found;
  };
  std::vector<int> digits;
  for (const Obj& o : objects) {
    if (o.shape == "digit") digits.push_back(o.digit);
  }
  if (std::regex_match(q, m, std::regex(R"((?:How many|Count the) (\w+) (\w+) (?:are there\?|can you see\?|in the image\.))"))) {
    return std::to_string(count(m[1], singular(m[2])));
  }
  if (std::regex_match(q, m, std::regex(R"((?:What colour is the|Which colour does the|Name the colour of the) (\w+)(?:\?| have\?|\.))"))) {
    const Obj* o = unique("", m[1]);
    return o ? o->colour : "";
  }
  if (std::regex_match(q, m, std::regex(R"(Is (?:it true that )?the (\w+) (\w+) (?:is )?(to the left of|to the right of|above|below) the (\w+) (\w+)\?)"))) {
    const Obj* a = unique(m[1], m[2]);
    const Obj* b = unique(m[4], m[5]);
    if (!a || !b) return "";
    const std::string rel = m[3];
    // Image rows grow downwards: "above" means a smaller y.
    const double gap = rel == "to the left of" ? b->cx() - a->cx()
                       : rel == "to the right of" ? a->cx() - b->cx()
                       : rel == "above" ? b->cy() - a->cy()
                                        : a->cy() - b->cy();
    if (std::abs(gap) < 3) why = "ambiguous spatial gap " + std::to_string(gap);
    return gap > 0 ? "yes" : "no";
  }
  if (std::regex_match(q, m, std::regex(R"((?:Are there|Does the image contain) more (\w+) than (\w+)\?)"))) {
    return count("", singular(m[1])) > count("", singular(m[2])) ? "yes" : "no";
  }
  if (q == "What is the sum of the two digits?" || q == "What is the sum of the three digits?" ||
      q == "Add up the digits shown. What is the total?") {
    if (q.find("two") != std::string::npos && digits.size() != 2) why = "wrong number of digits";
    if (q.find("three") != std::string::npos && digits.size() != 3) why = "wrong number of digits";
    if (digits.size() < 2) why = "too few digits";
    int s = 0;
    for (int d : digits) s += d;
    return std::to_string(s);
  }
  if (q == "What is the product of the two digits?" || q == "Multiply the two digits. What do you get?") {
    if (digits.size() != 2) why = "wrong number of digits";
    return digits.size() == 2 ? std::to_string(digits[0] * digits[1]) : "";
  }
  if (q == "What is the larger digit minus the smaller digit?" || q == "What is the difference between the two digits?") {
    if (digits.size() != 2) why = "wrong number of digits";
    return digits.size() == 2 ? std::to_string(std::abs(digits[0] - digits[1])) : "";
  }
  return "";
}

// Every stored answer equals the one recomputed from the scene; objects never overlap and stay
// inside the image; every rationale ends with the answer line that the checker accepts.
void expect_answers_match_scenes(const Dataset& d) {
  const AnswerChecker checker;
  for (int64_t i = 0; i < d.size(); ++i) {
    const Example e = d.example(i);
    ASSERT_FALSE(e.scene_json.empty());
    const std::vector<Obj> objects = parse_scene(e.scene_json);
    std::string why;
    const std::string expected = recompute(e.question, objects, why);
    ASSERT_FALSE(expected.empty()) << "unrecognised question #" << i << ": " << e.question << " (" << why << ") " << e.scene_json;
    EXPECT_TRUE(why.empty()) << "#" << i << " " << e.question << ": " << why;
    EXPECT_EQ(e.answer, expected) << "#" << i << " " << e.question << " scene " << e.scene_json;
    for (size_t a = 0; a < objects.size(); ++a) {
      const Obj& p = objects[a];
      EXPECT_TRUE(p.x >= 0 && p.y >= 0 && p.x + p.w <= d.image_width() && p.y + p.h <= d.image_height()) << "#" << i;
      for (size_t b = a + 1; b < objects.size(); ++b) {
        const Obj& r = objects[b];
        EXPECT_FALSE(p.x < r.x + r.w && r.x < p.x + p.w && p.y < r.y + r.h && r.y < p.y + p.h) << "#" << i << " overlap";
      }
    }
    ASSERT_EQ(e.rationales.size(), d.rationale_styles().size());
    for (const auto& [style, text] : e.rationales) {
      const std::string tail = "\nAnswer: " + e.answer;
      ASSERT_GE(text.size(), tail.size());
      EXPECT_EQ(text.substr(text.size() - tail.size()), tail) << style << " #" << i;
      const AnswerVerdict v = checker.check(text, e.answer, e.question);
      EXPECT_TRUE(v.correct) << style << " #" << i << ": " << v.reason << "\n" << text;
    }
    EXPECT_NE(e.rationales.at("terse"), e.rationales.at("steps"));
    // "explained" is the terse sentence in a frame: the same decision, other words, more tokens.
    const std::string& terse = e.rationales.at("terse");
    const std::string terse_sentence = terse.substr(0, terse.find('\n'));
    EXPECT_EQ(e.rationales.at("explained"), "Let me look at the image. " + terse_sentence + " So the answer is " +
                                                e.answer + ".\nAnswer: " + e.answer)
        << "#" << i;
  }
}

TEST(SynthGenerator, EveryStoredAnswerMatchesItsScene) {
  ScratchDir dir;
  SynthOptions o = small_options(dir.file("a.h5"));
  o.n_train = 600;
  write_synthetic_dataset(o);
  expect_answers_match_scenes(Dataset::open(dir.file("a.h5")));
}

TEST(SynthGenerator, GridScenesHaveOneObjectFillingEachUsedCell) {
  ScratchDir dir;
  SynthOptions o = small_options(dir.file("g.h5"));
  o.n_train = 600;
  o.image_size = 48;
  o.difficulty.grid = 3;
  o.difficulty.min_objects = 2;
  o.difficulty.max_objects = 5;
  o.difficulty.max_count = 3;
  write_synthetic_dataset(o);
  const Dataset d = Dataset::open(dir.file("g.h5"));
  expect_answers_match_scenes(d);
  for (int64_t i = 0; i < d.size(); ++i) {
    const Example e = d.example(i);
    std::set<int> cells;
    for (const Obj& obj : parse_scene(e.scene_json)) {
      // Centred in a 16-px cell: the box's centre is the cell's centre (8 + 16 k), and shapes
      // fill the cell but for a 2-px margin.
      EXPECT_EQ(static_cast<int>(obj.cx()) % 16, 8) << "#" << i << " " << e.scene_json;
      EXPECT_EQ(static_cast<int>(obj.cy()) % 16, 8) << "#" << i << " " << e.scene_json;
      if (obj.shape != "digit") EXPECT_EQ(obj.w, 12) << "#" << i;
      EXPECT_TRUE(cells.insert(static_cast<int>(obj.cy()) / 16 * 3 + static_cast<int>(obj.cx()) / 16).second)
          << "#" << i << " two objects in one cell: " << e.scene_json;
    }
    // The step-by-step style starts with the whole board, row by row, cell by cell.
    const std::string& steps = e.rationales.at("steps");
    std::string cell_text[9];
    for (std::string& c : cell_text) c = "empty";
    for (const Obj& obj : parse_scene(e.scene_json)) {
      const int r = static_cast<int>(obj.cy()) / 16, c = static_cast<int>(obj.cx()) / 16;
      cell_text[r * 3 + c] = obj.colour + " " + (obj.shape == "digit" ? std::to_string(obj.digit) : obj.shape);
    }
    std::string board;
    static const char* row_names[] = {"Top", "Middle", "Bottom"};
    for (int r = 0; r < 3; ++r) {
      board += std::string(row_names[r]) + " row: " + cell_text[r * 3] + ", " + cell_text[r * 3 + 1] + ", " +
               cell_text[r * 3 + 2] + ". ";
    }
    EXPECT_EQ(steps.rfind(board, 0), 0u) << "expected the board " << board << "\nin: " << steps;
    EXPECT_EQ(steps.find("("), std::string::npos) << "grid rationales name cells, not pixels: " << steps;
    // The scan marks every cell in the question's terms; its marks alone give the answer.
    const std::string& scan = e.rationales.at("scan");
    std::smatch scan_rows;
    ASSERT_TRUE(std::regex_search(scan, scan_rows, std::regex(R"(^Top: ([^.]*)\. Middle: ([^.]*)\. Bottom: ([^.]*)\. )")))
        << scan;
    std::vector<std::string> marks;
    for (int r = 1; r <= 3; ++r) {
      std::stringstream row(scan_rows[r].str());
      std::string m;
      while (std::getline(row, m, ',')) marks.push_back(m.substr(m.find_first_not_of(' ')));
    }
    ASSERT_EQ(marks.size(), 9u) << scan;
    std::vector<std::string> set;
    for (const std::string& m : marks) {
      if (m != "-") set.push_back(m);
    }
    if (e.family == "counting") {
      EXPECT_EQ(std::to_string(set.size()), e.answer) << scan;
      for (size_t k = 0; k < set.size(); ++k) EXPECT_EQ(set[k], std::to_string(k + 1)) << scan;
    } else if (e.family == "attribute") {
      ASSERT_EQ(set.size(), 1u) << scan;
      EXPECT_EQ(set[0], e.answer) << scan;
    } else if (e.family == "spatial") {
      EXPECT_EQ(set.size(), 2u) << scan;
    } else if (e.family == "arithmetic") {
      for (const std::string& m : set) EXPECT_TRUE(m.size() == 1 && std::isdigit(static_cast<unsigned char>(m[0]))) << scan;
    }
  }
  // A grid too fine for the image, or too small for the objects asked for, is refused.
  o.difficulty.grid = 5;
  EXPECT_THROW(o.validate(), ConfigError);  // 48 is not a multiple of 5
  o.difficulty.grid = 2;
  EXPECT_THROW(o.validate(), ConfigError);  // 4 cells < 5 objects
  // Only comparison scenes need 2 x max count + 1 cells: without that family a 2x2 board with
  // counts up to 3 is fine, and its answers match its scenes.
  o.difficulty.max_objects = 4;
  EXPECT_THROW(o.validate(), ConfigError);  // comparison: 7 cells > 4
  o.families = {TaskFamily::kAttribute, TaskFamily::kCounting, TaskFamily::kSpatial};
  o.output = dir.file("g2.h5");
  EXPECT_NO_THROW(o.validate());
  write_synthetic_dataset(o);
  const Dataset d2 = Dataset::open(dir.file("g2.h5"));
  expect_answers_match_scenes(d2);
  for (int64_t i = 0; i < d2.size(); ++i) {
    EXPECT_LE(parse_scene(d2.example(i).scene_json).size(), 4u) << "#" << i;
  }
}

TEST(SynthGenerator, ImagesShowTheSceneColours) {
  // The pixel at the centre of every circle, square and diamond is the object's nominal colour
  // up to jitter + noise; the background far from objects is dark.
  SynthOptions o = small_options("");
  for (int64_t i = 0; i < 100; ++i) {
    const GeneratedExample g = generate_synthetic_example(o, Split::kVal, i);
    for (const SceneObject& obj : g.task.scene.objects) {
      if (obj.shape == ShapeKind::kTriangle || obj.shape == ShapeKind::kDigit) continue;
      const Rgb want = colour_rgb(obj.colour);
      const Rgb got = g.image.get(obj.y + obj.h / 2, obj.x + obj.w / 2);
      const int tolerance = o.difficulty.colour_jitter + o.difficulty.noise;
      EXPECT_LE(std::abs(got.r - want.r), tolerance) << "#" << i << " " << describe(obj);
      EXPECT_LE(std::abs(got.g - want.g), tolerance) << "#" << i << " " << describe(obj);
      EXPECT_LE(std::abs(got.b - want.b), tolerance) << "#" << i << " " << describe(obj);
    }
  }
}

TEST(SynthGenerator, RationaleStylesDiffer) {
  SynthOptions o = small_options("");
  const GeneratedExample g = generate_synthetic_example(o, Split::kTrain, 0);  // counting
  const std::string& terse = g.task.rationales.at("terse");
  const std::string& steps = g.task.rationales.at("steps");
  EXPECT_LT(terse.size() * 2, steps.size()) << terse << "\n---\n" << steps;
  EXPECT_NE(steps.find("1. "), std::string::npos) << steps;  // enumerates objects
}

}  // namespace
}  // namespace ril::data
