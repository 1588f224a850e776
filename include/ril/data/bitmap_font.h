// The built-in 5x7 bitmap font: draws the digits inside synthetic images and the captions of
// contact sheets, so no font file or library is needed. Upper-case only: lower-case letters
// are drawn as capitals (captions stay readable, the glyph table stays small); characters
// without a glyph (non-ASCII bytes included) are drawn as a hollow box.
#pragma once

#include <string>
#include <vector>

#include "ril/data/image.h"

namespace ril::data {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;
constexpr int kGlyphAdvance = 6;  // glyph + one column of spacing
constexpr int kLineAdvance = 9;   // glyph + two rows of spacing

// Whether pixel (row, col) of the glyph for `c` is set; row 0 is the top.
bool glyph_pixel(char c, int row, int col);

// Draws `text` with its top-left corner at (y, x); every font pixel becomes a scale x scale
// block. '\n' starts a new line. Clipped at the image border.
void draw_text(Image& image, const std::string& text, int y, int x, Rgb colour, int scale = 1);

// Width in pixels of the longest line of `text`.
int text_width(const std::string& text, int scale = 1);

// Greedy word wrap to lines of at most `max_chars` characters (long words are cut).
std::vector<std::string> wrap_text(const std::string& text, int max_chars);

}  // namespace ril::data
