#include "ril/data/rationale_writer.h"

#include <algorithm>

#include "ril/common/error.h"

namespace ril::data {
namespace {

std::string where(const SceneObject& o) { return cat("(", o.cx2() / 2, ", ", o.cy2() / 2, ")"); }

std::string count_phrase(int n, const std::string& singular, const std::string& plural) {
  if (n == 0) return "no " + plural;
  return cat(n, " ", n == 1 ? singular : plural);
}

std::string number_list(const std::vector<int>& values, const char* joiner) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += cat(i ? joiner : "", values[i]);
  return out;
}

std::vector<int> digits_left_to_right(const Scene& scene) {
  std::vector<int> digits;
  for (const SceneObject& o : scene.left_to_right()) {
    if (o.shape == ShapeKind::kDigit) digits.push_back(o.digit);
  }
  return digits;
}

std::string terse(const Scene& scene, const TaskQuery& q, const std::string& answer) {
  switch (q.family) {
    case TaskFamily::kCounting: {
      const int n = scene.count(q.colour, q.shape);
      const std::string what = cat(colour_name(q.colour), " ", shape_name(q.shape));
      const std::string whats = cat(colour_name(q.colour), " ", shape_plural(q.shape));
      return cat("There ", n == 1 ? "is " : "are ", count_phrase(n, what, whats), ".");
    }
    case TaskFamily::kAttribute:
      return cat("The ", shape_name(q.shape), " is ", answer, ".");
    case TaskFamily::kSpatial: {
      const SceneObject& a = scene.objects[static_cast<size_t>(q.object_a)];
      const SceneObject& b = scene.objects[static_cast<size_t>(q.object_b)];
      return cat("The ", colour_name(a.colour), " ", shape_name(a.shape), answer == "yes" ? " is " : " is not ",
                 relation_phrase(q.relation), " the ", colour_name(b.colour), " ", shape_name(b.shape), ".");
    }
    case TaskFamily::kComparison: {
      const int n1 = scene.count(q.shape), n2 = scene.count(q.other_shape);
      return cat("There ", n1 == 1 ? "is " : "are ", count_phrase(n1, shape_name(q.shape), shape_plural(q.shape)),
                 " and ", count_phrase(n2, shape_name(q.other_shape), shape_plural(q.other_shape)), ".");
    }
    case TaskFamily::kArithmetic: {
      const std::vector<int> d = digits_left_to_right(scene);
      if (q.op == ArithmeticOp::kSum) return cat(number_list(d, " + "), " = ", answer, ".");
      if (q.op == ArithmeticOp::kProduct) return cat(number_list(d, " x "), " = ", answer, ".");
      return cat(std::max(d[0], d[1]), " - ", std::min(d[0], d[1]), " = ", answer, ".");
    }
  }
  return "";
}

std::string steps(const Scene& scene, const TaskQuery& q, const std::string& answer) {
  std::string out;
  switch (q.family) {
    case TaskFamily::kCounting: {
      out = cat("I need to count the ", colour_name(q.colour), " ", shape_plural(q.shape),
                ". Going through the objects from left to right:\n");
      int running = 0, index = 0;
      for (const SceneObject& o : scene.left_to_right()) {
        const bool hit = o.is(q.colour, q.shape);
        running += hit;
        out += cat(++index, ". ", describe(o), " at ", where(o), hit ? cat(" - yes, count ", running) : " - no",
                   "\n");
      }
      out += cat("That makes ", running, " in total.");
      return out;
    }
    case TaskFamily::kAttribute: {
      out = cat("I look for the ", shape_name(q.shape), " among the objects:\n");
      for (const SceneObject& o : scene.left_to_right()) {
        out += cat("- ", describe(o), " at ", where(o), o.shape == q.shape ? " <- this one\n" : "\n");
      }
      out += cat("The ", shape_name(q.shape), " is coloured ", answer, ".");
      return out;
    }
    case TaskFamily::kSpatial: {
      const SceneObject& a = scene.objects[static_cast<size_t>(q.object_a)];
      const SceneObject& b = scene.objects[static_cast<size_t>(q.object_b)];
      const bool horizontal = q.relation == Relation::kLeftOf || q.relation == Relation::kRightOf;
      const char* axis = horizontal ? "x" : "y";
      const int va = horizontal ? a.cx2() / 2 : a.cy2() / 2, vb = horizontal ? b.cx2() / 2 : b.cy2() / 2;
      out = cat("Step 1: the ", colour_name(a.colour), " ", shape_name(a.shape), " is centred at ", where(a), ".\n",
                "Step 2: the ", colour_name(b.colour), " ", shape_name(b.shape), " is centred at ", where(b), ".\n",
                "Step 3: compare ", axis, ": ", va, " vs ", vb, " (", horizontal ? "x grows to the right" : "y grows downwards",
                ").\n");
      out += cat("Step 4: so the ", colour_name(a.colour), " ", shape_name(a.shape), answer == "yes" ? " is " : " is not ",
                 relation_phrase(q.relation), " the ", colour_name(b.colour), " ", shape_name(b.shape), ".");
      return out;
    }
    case TaskFamily::kComparison: {
      for (ShapeKind s : {q.shape, q.other_shape}) {
        std::vector<std::string> places;
        for (const SceneObject& o : scene.left_to_right()) {
          if (o.shape == s) places.push_back(where(o));
        }
        std::string list;
        for (size_t i = 0; i < places.size(); ++i) list += cat(i ? ", " : "", places[i]);
        out += cat("Counting ", shape_plural(s), ": ", places.empty() ? "none" : list, " -> ", places.size(), ".\n");
      }
      const int n1 = scene.count(q.shape), n2 = scene.count(q.other_shape);
      out += cat(n1, n1 > n2 ? " is more than " : " is not more than ", n2, ", so there are ", n1 > n2 ? "" : "not ",
                 "more ", shape_plural(q.shape), " than ", shape_plural(q.other_shape), ".");
      return out;
    }
    case TaskFamily::kArithmetic: {
      out = "Reading the digits from left to right:\n";
      for (const SceneObject& o : scene.left_to_right()) {
        if (o.shape == ShapeKind::kDigit) out += cat("- ", o.digit, " (", colour_name(o.colour), ") at ", where(o), "\n");
      }
      const std::vector<int> d = digits_left_to_right(scene);
      if (q.op == ArithmeticOp::kSum) {
        int running = d[0];
        out += cat("Start with ", d[0], ".");
        for (size_t i = 1; i < d.size(); ++i) {
          out += cat(" Add ", d[i], ": ", running, " + ", d[i], " = ", running + d[i], ".");
          running += d[i];
        }
      } else if (q.op == ArithmeticOp::kProduct) {
        out += cat("Multiply them: ", d[0], " x ", d[1], " = ", answer, ".");
      } else {
        out += cat("The larger is ", std::max(d[0], d[1]), " and the smaller is ", std::min(d[0], d[1]),
                   ", so the difference is ", answer, ".");
      }
      return out;
    }
  }
  return out;
}

std::string capitalised(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

// Where an object stands on the board: "top left", "centre", "bottom right" on a 3x3 board,
// "row 2 column 3" on other boards.
std::string place(const Scene& scene, const SceneObject& o) {
  const int r = scene.row_of(o), c = scene.column_of(o);
  if (scene.grid != 3) return cat("row ", r, " column ", c);
  static const char* rows[] = {"top", "middle", "bottom"};
  static const char* columns[] = {"left", "centre", "right"};
  if (r == 2 && c == 2) return "centre";
  return cat(rows[r - 1], " ", columns[c - 1]);
}

// "red circle", "blue 7"
std::string item(const SceneObject& o) {
  return o.shape == ShapeKind::kDigit ? cat(colour_name(o.colour), " ", o.digit)
                                      : cat(colour_name(o.colour), " ", shape_name(o.shape));
}

// The step-by-step style on a grid board: first the whole board, row by row, every cell in
// reading order (the order of the image patches, so the k-th cell named is the k-th image token)
// with its object or "empty"; then the short reasoning of the terse style with the cells it
// needs. Describing every cell gives each example dense, position-aligned supervision of what
// each image token shows, which is how small models learn to see here.
std::string steps_on_grid(const Scene& scene, const TaskQuery& q, const std::string& answer) {
  std::vector<SceneObject> reading = scene.objects;
  std::stable_sort(reading.begin(), reading.end(), [&](const SceneObject& a, const SceneObject& b) {
    return std::make_pair(scene.row_of(a), scene.column_of(a)) < std::make_pair(scene.row_of(b), scene.column_of(b));
  });
  static const char* row_names[] = {"Top", "Middle", "Bottom"};
  std::string out;
  for (int r = 1; r <= scene.grid; ++r) {
    out += scene.grid == 3 ? cat(row_names[r - 1], " row: ") : cat("Row ", r, ": ");
    for (int c = 1; c <= scene.grid; ++c) {
      const auto it = std::find_if(reading.begin(), reading.end(), [&](const SceneObject& o) {
        return scene.row_of(o) == r && scene.column_of(o) == c;
      });
      out += cat(c > 1 ? ", " : "", it == reading.end() ? std::string("empty") : item(*it));
    }
    out += ". ";
  }
  switch (q.family) {
    case TaskFamily::kCounting: {
      std::string cells;
      for (const SceneObject& o : reading) {
        if (o.is(q.colour, q.shape)) cells += cat(cells.empty() ? "" : ", ", place(scene, o));
      }
      out += capitalised(cat(colour_name(q.colour), " ", shape_plural(q.shape), ": ", cells.empty() ? "none" : cells, ". "));
      break;
    }
    case TaskFamily::kSpatial: {
      for (int index : {q.object_a, q.object_b}) {
        const SceneObject& o = scene.objects[static_cast<size_t>(index)];
        out += capitalised(cat(item(o), ": ", place(scene, o), ". "));
      }
      break;
    }
    case TaskFamily::kAttribute:
    case TaskFamily::kComparison:
    case TaskFamily::kArithmetic:
      break;
  }
  return out + terse(scene, q, answer);
}

// The mark of one cell in the scan style (see the header), or "-".
class ScanMarker {
 public:
  ScanMarker(const Scene& scene, const TaskQuery& q) : scene_(scene), q_(q) {}
  std::string mark(const SceneObject* o) {
    if (o == nullptr) return "-";
    switch (q_.family) {
      case TaskFamily::kCounting:
        return o->is(q_.colour, q_.shape) ? cat(++count_) : "-";
      case TaskFamily::kAttribute:
        return o->shape == q_.shape ? std::string(colour_name(o->colour)) : "-";
      case TaskFamily::kSpatial:
        return is(o, q_.object_a) ? "A" : is(o, q_.object_b) ? "B" : "-";
      case TaskFamily::kComparison:
        if (o->shape == q_.shape) return cat(shape_name(o->shape), " ", ++count_);
        if (o->shape == q_.other_shape) return cat(shape_name(o->shape), " ", ++other_);
        return "-";
      case TaskFamily::kArithmetic:
        return o->shape == ShapeKind::kDigit ? cat(o->digit) : "-";
    }
    return "-";
  }

 private:
  bool is(const SceneObject* o, int index) const { return o == &scene_.objects[static_cast<size_t>(index)]; }
  const Scene& scene_;
  const TaskQuery& q_;
  int count_ = 0, other_ = 0;
};

// The scan style (grid boards): "Top: -, 1, -. Middle: -, -, -. Bottom: 2, -, -. " then the
// conclusion (the terse sentence; spatial first names the two columns or rows).
std::string scan_on_grid(const Scene& scene, const TaskQuery& q, const std::string& answer) {
  RIL_CHECK(scene.grid > 0, "the scan style needs a grid board");
  static const char* row_names[] = {"Top", "Middle", "Bottom"};
  ScanMarker marker(scene, q);
  std::string out;
  for (int r = 1; r <= scene.grid; ++r) {
    out += scene.grid == 3 ? cat(row_names[r - 1], ": ") : cat("Row ", r, ": ");
    for (int c = 1; c <= scene.grid; ++c) {
      const SceneObject* here = nullptr;
      for (const SceneObject& o : scene.objects) {
        if (scene.row_of(o) == r && scene.column_of(o) == c) here = &o;
      }
      out += cat(c > 1 ? ", " : "", marker.mark(here));
    }
    out += ". ";
  }
  if (q.family == TaskFamily::kSpatial) {
    const bool horizontal = q.relation == Relation::kLeftOf || q.relation == Relation::kRightOf;
    const SceneObject& a = scene.objects[static_cast<size_t>(q.object_a)];
    const SceneObject& b = scene.objects[static_cast<size_t>(q.object_b)];
    const char* axis = horizontal ? "column" : "row";
    out += cat("A: ", axis, " ", horizontal ? scene.column_of(a) : scene.row_of(a), ", B: ", axis, " ",
               horizontal ? scene.column_of(b) : scene.row_of(b), ". ");
  }
  return out + terse(scene, q, answer);
}

}  // namespace

std::vector<std::string> rationale_styles(int grid) {
  if (grid > 0) return {"terse", "steps", "scan", "explained"};
  return {"terse", "steps", "explained"};
}

std::string write_rationale(const std::string& style, const Scene& scene, const TaskQuery& query,
                            const std::string& answer) {
  if (style == "terse") return terse(scene, query, answer) + "\nAnswer: " + answer;
  if (style == "steps") {
    return (scene.grid > 0 ? steps_on_grid(scene, query, answer) : steps(scene, query, answer)) + "\nAnswer: " + answer;
  }
  if (style == "scan") return scan_on_grid(scene, query, answer) + "\nAnswer: " + answer;
  if (style == "explained") {
    return cat("Let me look at the image. ", terse(scene, query, answer), " So the answer is ", answer, ".") +
           "\nAnswer: " + answer;
  }
  throw Error(cat("unknown rationale style '", style, "' (expected terse, steps, scan or explained)"));
}

}  // namespace ril::data
