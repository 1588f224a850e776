// Drawing, the bitmap font and the image codec.
#include <gtest/gtest.h>

#include "ril/common/error.h"
#include "ril/data/bitmap_font.h"
#include "ril/data/image_codec.h"
#include "ril/data/scene_renderer.h"

namespace ril::data {
namespace {

TEST(BitmapFont, GlyphsHaveExpectedShapes) {
  // The '1' has a vertical stem in column 2 and a base across columns 1-3.
  for (int row = 0; row < kGlyphHeight; ++row) EXPECT_TRUE(glyph_pixel('1', row, 2)) << row;
  EXPECT_TRUE(glyph_pixel('1', 6, 1));
  EXPECT_FALSE(glyph_pixel('1', 0, 0));
  EXPECT_FALSE(glyph_pixel(' ', 3, 2));
  // Lower case is drawn as upper case; unknown bytes as a box.
  for (int r = 0; r < kGlyphHeight; ++r) {
    for (int c = 0; c < kGlyphWidth; ++c) EXPECT_EQ(glyph_pixel('a', r, c), glyph_pixel('A', r, c));
  }
  EXPECT_TRUE(glyph_pixel('\xff', 0, 0));
  // Every digit differs from every other.
  for (char a = '0'; a <= '9'; ++a) {
    for (char b = static_cast<char>(a + 1); b <= '9'; ++b) {
      bool differ = false;
      for (int r = 0; r < kGlyphHeight; ++r) {
        for (int c = 0; c < kGlyphWidth; ++c) differ |= glyph_pixel(a, r, c) != glyph_pixel(b, r, c);
      }
      EXPECT_TRUE(differ) << a << " vs " << b;
    }
  }
}

TEST(BitmapFont, DrawsAndWraps) {
  Image image(10, 20);
  draw_text(image, "1", 1, 1, Rgb{255, 255, 255});
  EXPECT_EQ(image.get(1, 3).r, 255);  // top of the stem
  EXPECT_EQ(image.get(1, 1).r, 0);
  EXPECT_EQ(text_width("ab\nabc"), 3 * kGlyphAdvance - 1);
  EXPECT_EQ(wrap_text("how many red squares are there?", 10),
            (std::vector<std::string>{"how many", "red", "squares", "are there?"}));
  EXPECT_EQ(wrap_text("abcdefghijkl", 5), (std::vector<std::string>{"abcde", "fghij", "kl"}));
  EXPECT_EQ(wrap_text("a\nb", 5), (std::vector<std::string>{"a", "b"}));
}

TEST(SceneRenderer, ShapesCoverTheirArea) {
  SceneObject square{ShapeKind::kSquare, Colour::kRed, 10, 10, 10, 10, -1};
  SceneObject circle{ShapeKind::kCircle, Colour::kRed, 10, 10, 10, 10, -1};
  SceneObject triangle{ShapeKind::kTriangle, Colour::kRed, 10, 10, 10, 10, -1};
  EXPECT_TRUE(object_covers(square, 10, 10));
  EXPECT_FALSE(object_covers(circle, 10, 10));  // corner outside the circle
  EXPECT_TRUE(object_covers(circle, 15, 15));
  EXPECT_FALSE(object_covers(triangle, 10, 10));  // apex row is narrow
  EXPECT_TRUE(object_covers(triangle, 19, 10));   // base spans the box
  EXPECT_FALSE(object_covers(square, 20, 15));
  Scene scene;
  scene.height = scene.width = 32;
  scene.objects = {square};
  DataRng rng(1);
  RenderOptions plain;
  plain.noise = plain.colour_jitter = 0;
  const Image image = render_scene(scene, plain, rng);
  EXPECT_EQ(image.get(12, 12).r, colour_rgb(Colour::kRed).r);
  EXPECT_EQ(image.get(2, 2).r, plain.background.r);
}

TEST(ImageCodec, PngRoundTripAndResize) {
  Image image(6, 4, Rgb{10, 20, 30});
  image.set(1, 2, Rgb{200, 100, 50});
  const Image back = decode_image(encode_png(image), "memory");
  EXPECT_EQ(back.bytes(), image.bytes());
  const Image jpeg = decode_image(encode_jpeg(image), "memory");
  EXPECT_EQ(jpeg.height(), 6);
  const Image stretched = resize_image(image, 12, 12, ResizeMode::kStretch);
  EXPECT_EQ(stretched.height(), 12);
  EXPECT_EQ(stretched.width(), 12);
  // Padding a 6x4 (tall) image to 12x12 leaves black columns at the sides.
  // (A uniform image: the resampling filter rings around a single bright pixel.)
  const Image padded = resize_image(Image(6, 4, Rgb{10, 20, 30}), 12, 12, ResizeMode::kPad);
  EXPECT_EQ(padded.get(6, 0).r, 0);
  EXPECT_EQ(padded.get(6, 11).r, 0);
  EXPECT_NEAR(padded.get(6, 6).r, 10, 1);
  EXPECT_NEAR(padded.get(6, 6).b, 30, 1);
  EXPECT_THROW(decode_image({1, 2, 3}, "junk.png"), Error);
  try {
    read_image_file("/nonexistent/x.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.png"), std::string::npos);
  }
}

}  // namespace
}  // namespace ril::data
