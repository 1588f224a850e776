// A synthetic scene: the objects drawn in one image. Questions, answers and rationales are
// computed from the scene, and the scene is stored beside each example (JSON text) so that
// tests and users can recompute every answer without trusting the text that was written.
#pragma once

#include <string>
#include <vector>

#include "ril/data/image.h"

namespace ril::data {

enum class ShapeKind { kCircle, kSquare, kTriangle, kDiamond, kDigit };
enum class Colour { kRed, kGreen, kBlue, kYellow, kPurple, kOrange };

constexpr int kShapeKindCount = 4;  // drawable shapes, kDigit excluded
constexpr int kColourCount = 6;

const char* shape_name(ShapeKind shape);         // "circle"
const char* shape_plural(ShapeKind shape);       // "circles"
const char* colour_name(Colour colour);          // "red"
Rgb colour_rgb(Colour colour);                   // the nominal colour, before jitter
ShapeKind parse_shape(const std::string& name);  // throws ril::Error on unknown names
Colour parse_colour(const std::string& name);
std::vector<ShapeKind> all_shapes();             // the drawable ones
std::vector<Colour> all_colours();

// One object, with its bounding box in pixels (x: column, y: row of the top-left corner).
struct SceneObject {
  ShapeKind shape = ShapeKind::kCircle;
  Colour colour = Colour::kRed;
  int x = 0, y = 0, w = 0, h = 0;
  int digit = -1;  // 0-9 for kDigit, -1 otherwise

  // Centre, doubled to stay integral (spatial relations compare these).
  int cx2() const { return 2 * x + w; }
  int cy2() const { return 2 * y + h; }
  bool is(Colour c, ShapeKind s) const { return colour == c && shape == s; }
};

struct Scene {
  int height = 0, width = 0;
  // > 0: the image is a grid x grid board of equal square cells and every object fills one
  // cell (see SynthDifficulty::grid); 0: objects stand anywhere.
  int grid = 0;
  std::vector<SceneObject> objects;

  // {"h":64,"w":64,"objects":[{"shape":"circle","colour":"red","x":3,"y":4,"w":10,"h":10,"digit":-1},...]}
  // ("grid":N follows "w" when grid > 0, so scenes without a grid keep their old text.)
  std::string to_json() const;
  static Scene from_json(const std::string& text);  // throws ril::Error on malformed input

  int count(Colour colour, ShapeKind shape) const;
  int count(ShapeKind shape) const;
  // Objects sorted left to right (then top to bottom): the order rationales enumerate them in.
  std::vector<SceneObject> left_to_right() const;
  // Grid scenes: the 1-based row (from the top) and column (from the left) of `object`'s cell.
  int row_of(const SceneObject& object) const;
  int column_of(const SceneObject& object) const;
};

// "a red circle", "the digit 7 in blue".
std::string describe(const SceneObject& object);

}  // namespace ril::data
