#include "ril/data/scene.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ril/common/error.h"

namespace ril::data {

const char* shape_name(ShapeKind shape) {
  switch (shape) {
    case ShapeKind::kCircle: return "circle";
    case ShapeKind::kSquare: return "square";
    case ShapeKind::kTriangle: return "triangle";
    case ShapeKind::kDiamond: return "diamond";
    case ShapeKind::kDigit: return "digit";
  }
  return "?";
}

const char* shape_plural(ShapeKind shape) {
  switch (shape) {
    case ShapeKind::kCircle: return "circles";
    case ShapeKind::kSquare: return "squares";
    case ShapeKind::kTriangle: return "triangles";
    case ShapeKind::kDiamond: return "diamonds";
    case ShapeKind::kDigit: return "digits";
  }
  return "?";
}

const char* colour_name(Colour colour) {
  switch (colour) {
    case Colour::kRed: return "red";
    case Colour::kGreen: return "green";
    case Colour::kBlue: return "blue";
    case Colour::kYellow: return "yellow";
    case Colour::kPurple: return "purple";
    case Colour::kOrange: return "orange";
  }
  return "?";
}

Rgb colour_rgb(Colour colour) {
  // Chosen so that every pair differs by >= 90 in some channel: colour jitter of +-20 cannot
  // make two colours look alike.
  switch (colour) {
    case Colour::kRed: return {220, 40, 40};
    case Colour::kGreen: return {40, 190, 60};
    case Colour::kBlue: return {50, 90, 235};
    case Colour::kYellow: return {235, 215, 40};
    case Colour::kPurple: return {160, 60, 210};
    case Colour::kOrange: return {245, 140, 25};
  }
  return {};
}

std::vector<ShapeKind> all_shapes() {
  return {ShapeKind::kCircle, ShapeKind::kSquare, ShapeKind::kTriangle, ShapeKind::kDiamond};
}

std::vector<Colour> all_colours() {
  return {Colour::kRed, Colour::kGreen, Colour::kBlue, Colour::kYellow, Colour::kPurple, Colour::kOrange};
}

ShapeKind parse_shape(const std::string& name) {
  for (ShapeKind s : {ShapeKind::kCircle, ShapeKind::kSquare, ShapeKind::kTriangle,
                      ShapeKind::kDiamond, ShapeKind::kDigit}) {
    if (name == shape_name(s)) return s;
  }
  throw Error(cat("unknown shape '", name, "' (expected circle, square, triangle, diamond, digit)"));
}

Colour parse_colour(const std::string& name) {
  for (Colour c : all_colours()) {
    if (name == colour_name(c)) return c;
  }
  throw Error(cat("unknown colour '", name, "' (expected red, green, blue, yellow, purple, orange)"));
}

std::string Scene::to_json() const {
  // Written by hand (not nlohmann::dump) so that the key order is fixed and documented.
  std::string out = cat("{\"h\":", height, ",\"w\":", width, grid > 0 ? cat(",\"grid\":", grid) : "", ",\"objects\":[");
  for (size_t i = 0; i < objects.size(); ++i) {
    const SceneObject& o = objects[i];
    out += cat(i ? "," : "", "{\"shape\":\"", shape_name(o.shape), "\",\"colour\":\"",
               colour_name(o.colour), "\",\"x\":", o.x, ",\"y\":", o.y, ",\"w\":", o.w,
               ",\"h\":", o.h, ",\"digit\":", o.digit, "}");
  }
  return out + "]}";
}

Scene Scene::from_json(const std::string& text) {
  Scene scene;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    scene.height = j.at("h").get<int>();
    scene.width = j.at("w").get<int>();
    scene.grid = j.value("grid", 0);
    for (const auto& o : j.at("objects")) {
      SceneObject object;
      object.shape = parse_shape(o.at("shape").get<std::string>());
      object.colour = parse_colour(o.at("colour").get<std::string>());
      object.x = o.at("x").get<int>();
      object.y = o.at("y").get<int>();
      object.w = o.at("w").get<int>();
      object.h = o.at("h").get<int>();
      object.digit = o.at("digit").get<int>();
      scene.objects.push_back(object);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("malformed scene JSON: ", e.what(), " in '", text.substr(0, 200), "'"));
  }
  return scene;
}

int Scene::count(Colour colour, ShapeKind shape) const {
  return static_cast<int>(std::count_if(objects.begin(), objects.end(),
                                        [&](const SceneObject& o) { return o.is(colour, shape); }));
}

int Scene::count(ShapeKind shape) const {
  return static_cast<int>(std::count_if(objects.begin(), objects.end(),
                                        [&](const SceneObject& o) { return o.shape == shape; }));
}

std::vector<SceneObject> Scene::left_to_right() const {
  std::vector<SceneObject> sorted = objects;
  std::stable_sort(sorted.begin(), sorted.end(), [](const SceneObject& a, const SceneObject& b) {
    return a.cx2() != b.cx2() ? a.cx2() < b.cx2() : a.cy2() < b.cy2();
  });
  return sorted;
}

int Scene::row_of(const SceneObject& object) const {
  RIL_CHECK(grid > 0, "row_of needs a grid scene");
  return object.cy2() / 2 / (height / grid) + 1;
}

int Scene::column_of(const SceneObject& object) const {
  RIL_CHECK(grid > 0, "column_of needs a grid scene");
  return object.cx2() / 2 / (width / grid) + 1;
}

std::string describe(const SceneObject& object) {
  if (object.shape == ShapeKind::kDigit) return cat("the digit ", object.digit, " in ", colour_name(object.colour));
  return cat("a ", colour_name(object.colour), " ", shape_name(object.shape));
}

}  // namespace ril::data
