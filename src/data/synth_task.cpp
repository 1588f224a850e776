#include "ril/data/synth_task.h"

#include <algorithm>

#include "ril/common/error.h"
#include "ril/data/bitmap_font.h"
#include "ril/data/rationale_writer.h"

namespace ril::data {

const char* family_name(TaskFamily family) {
  switch (family) {
    case TaskFamily::kCounting: return "counting";
    case TaskFamily::kAttribute: return "attribute";
    case TaskFamily::kSpatial: return "spatial";
    case TaskFamily::kComparison: return "comparison";
    case TaskFamily::kArithmetic: return "arithmetic";
  }
  return "?";
}

std::vector<TaskFamily> all_families() {
  return {TaskFamily::kCounting, TaskFamily::kAttribute, TaskFamily::kSpatial,
          TaskFamily::kComparison, TaskFamily::kArithmetic};
}

TaskFamily parse_family(const std::string& name) {
  for (TaskFamily f : all_families()) {
    if (name == family_name(f)) return f;
  }
  throw ConfigError(cat("unknown task family '", name,
                        "' (expected counting, attribute, spatial, comparison, arithmetic)"));
}

const char* relation_phrase(Relation relation) {
  switch (relation) {
    case Relation::kLeftOf: return "to the left of";
    case Relation::kRightOf: return "to the right of";
    case Relation::kAbove: return "above";
    case Relation::kBelow: return "below";
  }
  return "?";
}

void SynthDifficulty::validate(int image_size, bool with_comparison) const {
  RIL_CONFIG_CHECK(image_size >= 32 && image_size <= 1024, "image size must be in [32, 1024], got ", image_size);
  RIL_CONFIG_CHECK(min_objects >= 2, "min objects must be >= 2, got ", min_objects);
  RIL_CONFIG_CHECK(max_objects >= min_objects, "max objects (", max_objects, ") < min objects (", min_objects, ")");
  RIL_CONFIG_CHECK(max_count >= 1 && max_count <= 9, "max count must be in [1, 9], got ", max_count);
  RIL_CONFIG_CHECK(max_objects >= max_count + 1, "max objects (", max_objects,
                   ") must exceed max count (", max_count, ") to leave room for a distractor");
  RIL_CONFIG_CHECK(max_digits >= 2 && max_digits <= 3, "max digits must be 2 or 3, got ", max_digits);
  RIL_CONFIG_CHECK(digit_distractors >= 0 && digit_distractors <= 4, "digit distractors must be in [0, 4], got ",
                   digit_distractors);
  RIL_CONFIG_CHECK(colour_jitter >= 0 && colour_jitter <= 40, "colour jitter must be in [0, 40], got ", colour_jitter,
                   " (more would let colours cross)");
  RIL_CONFIG_CHECK(noise >= 0 && noise <= 128, "noise must be in [0, 128], got ", noise);
  RIL_CONFIG_CHECK(colours >= 2 && colours <= kColourCount, "colours must be in [2, ", kColourCount, "], got ", colours);
  RIL_CONFIG_CHECK(shapes >= 3 && shapes <= kShapeKindCount, "shapes must be in [3, ", kShapeKindCount,
                   "] (comparison scenes need a third shape), got ", shapes);
  if (grid > 0) {
    RIL_CONFIG_CHECK(grid <= 8 && image_size % grid == 0 && image_size / grid >= 12, "grid ", grid,
                     " does not fit a ", image_size, "px image: the image size must be a multiple of the grid and "
                     "each cell at least 12 px (grid in [1, 8])");
    const int cells = grid * grid;
    RIL_CONFIG_CHECK(max_objects <= cells, "a ", grid, "x", grid, " grid has ", cells, " cells: max objects (",
                     max_objects, ") must not exceed it");
    RIL_CONFIG_CHECK(!with_comparison || 2 * max_count + 1 <= cells, "a ", grid, "x", grid, " grid has ", cells,
                     " cells: comparison scenes need 2 x max count + 1 (", 2 * max_count + 1,
                     "); lower --max-count or leave comparison out of --families");
    return;
  }
  RIL_CONFIG_CHECK(grid == 0, "grid must be >= 0, got ", grid);
  // Rough crowding bound: random placement stalls above ~60% coverage by the largest objects
  // (with their gap); generation would then fail after many retries.
  const int largest = image_size * 14 / 64 + 2;
  RIL_CONFIG_CHECK(10 * std::max(max_objects, 2 * max_count) * largest * largest <= 6 * image_size * image_size,
                   "too many objects (", std::max(max_objects, 2 * max_count), ") for a ", image_size,
                   "px image; lower max objects/max count or raise the image size");
}

namespace {

// Placement failed: the caller starts the example over with fresh draws.
struct Crowded {};

class Placer {
 public:
  Placer(Scene& scene, DataRng& rng) : scene_(scene), rng_(rng) {
    const int size = scene.width;
    if (scene.grid > 0) {
      cell_ = size / scene.grid;
      margin_ = std::max(1, cell_ / 8);
      min_size_ = max_size_ = cell_ - 2 * margin_;
      // Digits may use the whole cell but for one pixel each side: 10 x 14 in a 16-px cell.
      digit_scale_ = std::max(1, std::min((cell_ - 2) / kGlyphWidth, (cell_ - 2) / kGlyphHeight));
      return;
    }
    min_size_ = std::max(6, size * 8 / 64);
    max_size_ = std::max(min_size_, size * 14 / 64);
    digit_scale_ = std::max(1, size / 32);
  }

  // Places a shape of random size at a free random spot; returns its index.
  int shape(ShapeKind shape, Colour colour) {
    const int s = cell_ > 0 ? max_size_ : static_cast<int>(rng_.uniform_int(min_size_, max_size_));
    SceneObject o{shape, colour, 0, 0, s, s, -1};
    return place(o);
  }

  int digit(int value, Colour colour) {
    SceneObject o{ShapeKind::kDigit, colour, 0, 0, kGlyphWidth * digit_scale_,
                  kGlyphHeight * digit_scale_, value};
    return place(o);
  }

  // Moves object `index` to a free random spot; false if none was found.
  bool relocate(int index) {
    SceneObject o = scene_.objects[static_cast<size_t>(index)];
    scene_.objects.erase(scene_.objects.begin() + index);
    const bool ok = try_place(o);
    scene_.objects.insert(scene_.objects.begin() + index, o);
    return ok;
  }

 private:
  int place(SceneObject o) {
    if (!try_place(o)) throw Crowded{};
    scene_.objects.push_back(o);
    return static_cast<int>(scene_.objects.size()) - 1;
  }

  bool try_place(SceneObject& o) {
    if (cell_ > 0) return try_place_in_cell(o);
    for (int attempt = 0; attempt < 200; ++attempt) {
      o.x = static_cast<int>(rng_.uniform_int(1, scene_.width - o.w - 1));
      o.y = static_cast<int>(rng_.uniform_int(1, scene_.height - o.h - 1));
      bool free = true;
      for (const SceneObject& other : scene_.objects) {
        // Two pixels of gap so that objects never touch (counting stays unambiguous).
        if (o.x < other.x + other.w + 2 && other.x < o.x + o.w + 2 && o.y < other.y + other.h + 2 &&
            other.y < o.y + o.h + 2) {
          free = false;
          break;
        }
      }
      if (free) return true;
    }
    return false;
  }

  // Grid scenes: a random free cell, the object centred in it.
  bool try_place_in_cell(SceneObject& o) {
    const int grid = scene_.grid;
    std::vector<bool> taken(static_cast<size_t>(grid * grid), false);
    for (const SceneObject& other : scene_.objects) {
      taken[static_cast<size_t>((scene_.row_of(other) - 1) * grid + scene_.column_of(other) - 1)] = true;
    }
    std::vector<int> free;
    for (int c = 0; c < grid * grid; ++c) {
      if (!taken[static_cast<size_t>(c)]) free.push_back(c);
    }
    if (free.empty()) return false;
    const int c = rng_.pick(free);
    o.x = (c % grid) * cell_ + (cell_ - o.w) / 2;
    o.y = (c / grid) * cell_ + (cell_ - o.h) / 2;
    return true;
  }

  Scene& scene_;
  DataRng& rng_;
  int min_size_, max_size_, digit_scale_;
  int cell_ = 0, margin_ = 0;  // grid scenes only
};

// The palette of a dataset: the first d.colours colours and d.shapes shapes.
std::vector<Colour> colours(const SynthDifficulty& d) {
  std::vector<Colour> all = all_colours();
  all.resize(static_cast<size_t>(d.colours));
  return all;
}
std::vector<ShapeKind> shapes(const SynthDifficulty& d) {
  std::vector<ShapeKind> all = all_shapes();
  all.resize(static_cast<size_t>(d.shapes));
  return all;
}
Colour random_colour(const SynthDifficulty& d, DataRng& rng) { return rng.pick(colours(d)); }
ShapeKind random_shape(const SynthDifficulty& d, DataRng& rng) { return rng.pick(shapes(d)); }

template <typename T>
T pick_other(DataRng& rng, const std::vector<T>& values, T excluded) {
  std::vector<T> rest;
  for (T v : values) {
    if (v != excluded) rest.push_back(v);
  }
  return rng.pick(rest);
}

void build_counting(SynthExample& ex, Placer& placer, const SynthDifficulty& d, DataRng& rng) {
  TaskQuery& q = ex.query;
  q.colour = random_colour(d, rng);
  q.shape = random_shape(d, rng);
  const int k = static_cast<int>(rng.uniform_int(0, d.max_count));
  const int total = static_cast<int>(rng.uniform_int(std::max(d.min_objects, k + 1), std::max(d.max_objects, k + 1)));
  for (int i = 0; i < k; ++i) placer.shape(q.shape, q.colour);
  for (int i = k; i < total; ++i) {
    // Hard negatives: mostly objects that share the colour or the shape with the target.
    const int kind = static_cast<int>(rng.uniform_int(0, 2));
    if (kind == 0) {
      placer.shape(pick_other(rng, shapes(d), q.shape), q.colour);
    } else if (kind == 1) {
      placer.shape(q.shape, pick_other(rng, colours(d), q.colour));
    } else {
      ShapeKind s = random_shape(d, rng);
      Colour c = s == q.shape ? pick_other(rng, colours(d), q.colour) : random_colour(d, rng);
      placer.shape(s, c);
    }
  }
  const std::string what = cat(colour_name(q.colour), " ", shape_plural(q.shape));
  switch (rng.uniform_int(0, 2)) {
    case 0: ex.question = cat("How many ", what, " are there?"); break;
    case 1: ex.question = cat("Count the ", what, " in the image."); break;
    default: ex.question = cat("How many ", what, " can you see?"); break;
  }
  ex.answer = std::to_string(k);
}

void build_attribute(SynthExample& ex, Placer& placer, const SynthDifficulty& d, DataRng& rng) {
  TaskQuery& q = ex.query;
  q.shape = random_shape(d, rng);
  q.colour = random_colour(d, rng);
  placer.shape(q.shape, q.colour);
  const int total = static_cast<int>(rng.uniform_int(d.min_objects, d.max_objects));
  for (int i = 1; i < total; ++i) placer.shape(pick_other(rng, shapes(d), q.shape), random_colour(d, rng));
  switch (rng.uniform_int(0, 2)) {
    case 0: ex.question = cat("What colour is the ", shape_name(q.shape), "?"); break;
    case 1: ex.question = cat("Which colour does the ", shape_name(q.shape), " have?"); break;
    default: ex.question = cat("Name the colour of the ", shape_name(q.shape), "."); break;
  }
  ex.answer = colour_name(q.colour);
}

// Whether `a` stands in `relation` to `b` by at least `margin2` (doubled pixels), and
// whether it clearly does not (the opposite holds by the margin).
int relation_gap2(const SceneObject& a, const SceneObject& b, Relation relation) {
  switch (relation) {
    case Relation::kLeftOf: return b.cx2() - a.cx2();
    case Relation::kRightOf: return a.cx2() - b.cx2();
    case Relation::kAbove: return b.cy2() - a.cy2();
    case Relation::kBelow: return a.cy2() - b.cy2();
  }
  return 0;
}

void build_spatial(SynthExample& ex, Placer& placer, const SynthDifficulty& d, DataRng& rng) {
  TaskQuery& q = ex.query;
  q.relation = static_cast<Relation>(rng.uniform_int(0, 3));
  const bool want_yes = rng.coin();
  const ShapeKind sa = random_shape(d, rng), sb = random_shape(d, rng);
  const Colour ca = random_colour(d, rng);
  const Colour cb = sa == sb ? pick_other(rng, colours(d), ca) : random_colour(d, rng);
  q.object_a = placer.shape(sa, ca);
  q.object_b = placer.shape(sb, cb);
  // Centres at least 6 px apart along the asked axis, on the side the answer needs.
  constexpr int kMargin2 = 12;
  auto satisfied = [&] {
    const int gap = relation_gap2(ex.scene.objects[static_cast<size_t>(q.object_a)],
                                  ex.scene.objects[static_cast<size_t>(q.object_b)], q.relation);
    return want_yes ? gap >= kMargin2 : gap <= -kMargin2;
  };
  for (int attempt = 0; !satisfied(); ++attempt) {
    if (attempt > 50 || !placer.relocate(q.object_b)) throw Crowded{};
  }
  const int total = static_cast<int>(rng.uniform_int(d.min_objects, d.max_objects));
  for (int i = 2; i < total; ++i) {
    ShapeKind s = random_shape(d, rng);
    Colour c = random_colour(d, rng);
    // The two named objects must stay unique.
    while ((s == sa && c == ca) || (s == sb && c == cb)) {
      s = random_shape(d, rng);
      c = random_colour(d, rng);
    }
    placer.shape(s, c);
  }
  const std::string a = cat(colour_name(ca), " ", shape_name(sa));
  const std::string b = cat(colour_name(cb), " ", shape_name(sb));
  const char* rel = relation_phrase(q.relation);
  ex.question = rng.coin() ? cat("Is the ", a, " ", rel, " the ", b, "?")
                           : cat("Is it true that the ", a, " is ", rel, " the ", b, "?");
  ex.answer = want_yes ? "yes" : "no";
}

void build_comparison(SynthExample& ex, Placer& placer, const SynthDifficulty& d, DataRng& rng) {
  TaskQuery& q = ex.query;
  q.shape = random_shape(d, rng);
  q.other_shape = pick_other(rng, shapes(d), q.shape);
  const bool want_yes = rng.coin();
  int n1, n2;
  if (want_yes) {
    n1 = static_cast<int>(rng.uniform_int(1, d.max_count));
    n2 = static_cast<int>(rng.uniform_int(0, n1 - 1));
  } else {
    n1 = static_cast<int>(rng.uniform_int(0, d.max_count));
    n2 = static_cast<int>(rng.uniform_int(n1, d.max_count));
  }
  for (int i = 0; i < n1; ++i) placer.shape(q.shape, random_colour(d, rng));
  for (int i = 0; i < n2; ++i) placer.shape(q.other_shape, random_colour(d, rng));
  const int room = std::max(0, d.max_objects - n1 - n2);
  const int distractors = static_cast<int>(rng.uniform_int(std::min(room, 1), room));
  for (int i = 0; i < distractors; ++i) {
    ShapeKind s = random_shape(d, rng);
    while (s == q.shape || s == q.other_shape) s = random_shape(d, rng);
    placer.shape(s, random_colour(d, rng));
  }
  const std::string more = cat("more ", shape_plural(q.shape), " than ", shape_plural(q.other_shape));
  ex.question = rng.coin() ? cat("Are there ", more, "?") : cat("Does the image contain ", more, "?");
  ex.answer = n1 > n2 ? "yes" : "no";
}

void build_arithmetic(SynthExample& ex, Placer& placer, const SynthDifficulty& d, DataRng& rng) {
  TaskQuery& q = ex.query;
  const int n = d.max_digits >= 3 && rng.coin(1.0 / 3.0) ? 3 : 2;
  q.op = n == 3 ? ArithmeticOp::kSum : static_cast<ArithmeticOp>(rng.uniform_int(0, 2));
  std::vector<int> digits;
  for (int i = 0; i < n; ++i) {
    digits.push_back(static_cast<int>(rng.uniform_int(0, 9)));
    placer.digit(digits.back(), random_colour(d, rng));
  }
  const int distractors = static_cast<int>(rng.uniform_int(0, d.digit_distractors));
  for (int i = 0; i < distractors; ++i) placer.shape(random_shape(d, rng), random_colour(d, rng));
  int value = 0;
  switch (q.op) {
    case ArithmeticOp::kSum:
      for (int v : digits) value += v;
      ex.question = rng.coin() ? cat("What is the sum of the ", n == 2 ? "two" : "three", " digits?")
                               : "Add up the digits shown. What is the total?";
      break;
    case ArithmeticOp::kDifference:
      value = std::abs(digits[0] - digits[1]);
      ex.question = rng.coin() ? "What is the larger digit minus the smaller digit?"
                               : "What is the difference between the two digits?";
      break;
    case ArithmeticOp::kProduct:
      value = digits[0] * digits[1];
      ex.question = rng.coin() ? "What is the product of the two digits?" : "Multiply the two digits. What do you get?";
      break;
  }
  ex.answer = std::to_string(value);
}

}  // namespace

SynthExample generate_example(TaskFamily family, int image_size, const SynthDifficulty& difficulty,
                              DataRng& rng) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    SynthExample ex;
    ex.scene.height = ex.scene.width = image_size;
    ex.scene.grid = difficulty.grid;
    ex.query.family = family;
    Placer placer(ex.scene, rng);
    try {
      switch (family) {
        case TaskFamily::kCounting: build_counting(ex, placer, difficulty, rng); break;
        case TaskFamily::kAttribute: build_attribute(ex, placer, difficulty, rng); break;
        case TaskFamily::kSpatial: build_spatial(ex, placer, difficulty, rng); break;
        case TaskFamily::kComparison: build_comparison(ex, placer, difficulty, rng); break;
        case TaskFamily::kArithmetic: build_arithmetic(ex, placer, difficulty, rng); break;
      }
    } catch (const Crowded&) {
      continue;  // too crowded: draw again (deterministic, the rng moved on)
    }
    for (const std::string& style : rationale_styles(difficulty.grid)) {
      ex.rationales[style] = write_rationale(style, ex.scene, ex.query, ex.answer);
    }
    return ex;
  }
  throw Error(cat("could not place the objects of a ", family_name(family), " example in a ", image_size,
                  "px image after 100 attempts; lower max objects/max count"));
}

}  // namespace ril::data
