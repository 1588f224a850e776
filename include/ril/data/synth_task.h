// Synthetic visual question answering tasks: one scene, one question with a short checkable
// answer, and reference rationales. Five families:
//   counting    "How many red squares are there?"                 -> "3"
//   attribute   "What colour is the triangle?"                    -> "green"
//   spatial     "Is the blue circle to the left of the green square?" -> "yes"/"no"
//   comparison  "Are there more circles than triangles?"          -> "yes" / "no"
//   arithmetic  "What is the sum of the digits?" (digits drawn)   -> "12"
// Each family has two or three question wordings ("Count the red squares in the image.").
// The generator first draws the answer (uniformly over the family's answers), then builds a
// scene that has it, so no family has a trivial majority answer.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ril/data/data_rng.h"
#include "ril/data/scene.h"

namespace ril::data {

enum class TaskFamily { kCounting, kAttribute, kSpatial, kComparison, kArithmetic };
enum class Relation { kLeftOf, kRightOf, kAbove, kBelow };
enum class ArithmeticOp { kSum, kDifference, kProduct };

const char* family_name(TaskFamily family);
TaskFamily parse_family(const std::string& name);  // throws ril::ConfigError
std::vector<TaskFamily> all_families();
const char* relation_phrase(Relation relation);   // "to the left of", "above"

// The knobs that keep small models from saturating the task.
struct SynthDifficulty {
  int min_objects = 3;          // objects per scene (targets + distractors), shapes only
  int max_objects = 7;
  int max_count = 4;            // counting/comparison answers are drawn from 0..max_count
  int max_digits = 3;           // arithmetic shows 2..max_digits digits (sums only for 3)
  int digit_distractors = 2;    // up to this many shapes drawn beside the digits
  int colour_jitter = 20;       // see RenderOptions
  int noise = 12;
  // > 0: a grid x grid board; every object fills one cell (a margin of 1/8 of the cell around
  // it) and no cell holds two. With the vision tower's patch equal to the cell, each object is
  // exactly one image token: small models can then perceive shape, colour and position. Rationales
  // name cells ("row 2, column 3") instead of pixel centres. 0: free placement of 8-14/64 of the
  // image size objects.
  int grid = 0;
  int colours = 6;              // the first N of red, green, blue, yellow, purple, orange
  int shapes = 4;               // the first N of circle, square, triangle, diamond
  // Throws ril::ConfigError when the knobs cannot produce a scene. Comparison scenes hold two
  // counts and a distractor, so only they need 2 x max count + 1 cells on a grid.
  void validate(int image_size, bool with_comparison = true) const;
};

// What a question asks, in structured form (the text is rendered from this).
struct TaskQuery {
  TaskFamily family = TaskFamily::kCounting;
  Colour colour = Colour::kRed;           // counting: target colour
  ShapeKind shape = ShapeKind::kCircle;   // counting / attribute: target shape; comparison: first
  ShapeKind other_shape = ShapeKind::kSquare;  // comparison: second shape
  int object_a = -1, object_b = -1;       // spatial: indices into scene.objects
  Relation relation = Relation::kLeftOf;
  ArithmeticOp op = ArithmeticOp::kSum;
};

struct SynthExample {
  Scene scene;
  TaskQuery query;
  std::string question;
  std::string answer;                            // canonical: "3", "yes", "green"
  std::map<std::string, std::string> rationales; // style -> text ending in "Answer: <answer>"
};

// Builds one example of `family` in an image of `image_size` pixels square.
SynthExample generate_example(TaskFamily family, int image_size, const SynthDifficulty& difficulty,
                              DataRng& rng);

}  // namespace ril::data
