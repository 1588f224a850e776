// Draws a Scene into an RGB image: flat shapes, digits in the bitmap font, then the
// difficulty knobs that make the picture harder to read (colour jitter, pixel noise).
#pragma once

#include "ril/data/data_rng.h"
#include "ril/data/image.h"
#include "ril/data/scene.h"

namespace ril::data {

struct RenderOptions {
  Rgb background{24, 24, 28};
  int colour_jitter = 20;  // each object's colour moves by up to +-this per channel
  int noise = 12;          // every pixel channel moves by up to +-this (uniform)
};

// Deterministic given the rng state. Digits are drawn with the 5x7 font at scale
// object.h / kGlyphHeight.
Image render_scene(const Scene& scene, const RenderOptions& options, DataRng& rng);

// Whether pixel (row, col) lies inside `object`'s shape (pixel centres are tested).
bool object_covers(const SceneObject& object, int row, int col);

}  // namespace ril::data
