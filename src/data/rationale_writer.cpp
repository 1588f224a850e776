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

// "row 2, column 3"
std::string cell(const Scene& scene, const SceneObject& o) {
  return cat("row ", scene.row_of(o), ", column ", scene.column_of(o));
}

// The step-by-step style on a grid board: short reasoning over cells (what a model that sees one
// object per image token can check), not pixel coordinates.
std::string steps_on_grid(const Scene& scene, const TaskQuery& q, const std::string& answer) {
  switch (q.family) {
    case TaskFamily::kCounting: {
      std::string cells;
      int n = 0;
      for (const SceneObject& o : scene.left_to_right()) {
        if (o.is(q.colour, q.shape)) cells += cat(n++ ? "; " : "", cell(scene, o));
      }
      return capitalised(cat(colour_name(q.colour), " ", shape_plural(q.shape), ": ", n ? cells : "none", ". That makes ", n, "."));
    }
    case TaskFamily::kAttribute: {
      for (const SceneObject& o : scene.objects) {
        if (o.shape == q.shape) return cat("The ", shape_name(q.shape), " is in ", cell(scene, o), ", and it is ", answer, ".");
      }
      return "";
    }
    case TaskFamily::kSpatial: {
      const SceneObject& a = scene.objects[static_cast<size_t>(q.object_a)];
      const SceneObject& b = scene.objects[static_cast<size_t>(q.object_b)];
      const bool horizontal = q.relation == Relation::kLeftOf || q.relation == Relation::kRightOf;
      const char* axis = horizontal ? "column" : "row";
      const int va = horizontal ? scene.column_of(a) : scene.row_of(a);
      const int vb = horizontal ? scene.column_of(b) : scene.row_of(b);
      const std::string na = cat(colour_name(a.colour), " ", shape_name(a.shape));
      const std::string nb = cat(colour_name(b.colour), " ", shape_name(b.shape));
      return cat("The ", na, " is in ", axis, " ", va, ", the ", nb, " in ", axis, " ", vb, ", so the ", na,
                 answer == "yes" ? " is " : " is not ", relation_phrase(q.relation), " the ", nb, ".");
    }
    case TaskFamily::kComparison: {
      const int n1 = scene.count(q.shape), n2 = scene.count(q.other_shape);
      return capitalised(cat(shape_plural(q.shape), ": ", n1, ". ", capitalised(shape_plural(q.other_shape)), ": ", n2,
                             ". ", n1, n1 > n2 ? " is more than " : " is not more than ", n2, "."));
    }
    case TaskFamily::kArithmetic: {
      const std::vector<int> d = digits_left_to_right(scene);
      return cat("The digits are ", number_list(d, ", "), ". ", terse(scene, q, answer));
    }
  }
  return "";
}

}  // namespace

std::vector<std::string> rationale_styles() { return {"terse", "steps"}; }

std::string write_rationale(const std::string& style, const Scene& scene, const TaskQuery& query,
                            const std::string& answer) {
  if (style == "terse") return terse(scene, query, answer) + "\nAnswer: " + answer;
  if (style == "steps") {
    return (scene.grid > 0 ? steps_on_grid(scene, query, answer) : steps(scene, query, answer)) + "\nAnswer: " + answer;
  }
  throw Error(cat("unknown rationale style '", style, "' (expected terse or steps)"));
}

}  // namespace ril::data
