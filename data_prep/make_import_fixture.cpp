// Writes the importer's test fixture (tests/fixtures/data/llava/): a few small PNG/JPEG images
// drawn with the scene renderer, one corrupt image, and JSONL/JSON record files that mix good
// records with every kind of bad one. Run once and commit the output:
//   build/data_prep/ril-make-import-fixture tests/fixtures/data/llava
#include <fstream>
#include <iostream>
#include <string>

#include "ril/data/data_rng.h"
#include "ril/data/image_codec.h"
#include "ril/data/scene_renderer.h"

using namespace ril::data;

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

Image draw(int height, int width, std::vector<SceneObject> objects) {
  Scene scene;
  scene.height = height;
  scene.width = width;
  scene.objects = std::move(objects);
  DataRng rng(7);
  RenderOptions options;
  options.noise = 4;
  options.colour_jitter = 0;
  return render_scene(scene, options, rng);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ril-make-import-fixture OUTPUT_DIR (must exist, with an img/ subdirectory)\n";
    return 2;
  }
  const std::string dir = argv[1];
  try {
    // 48x32 (not square: exercises padding), PNG.
    write_bytes(dir + "/img/red_square.png",
                encode_png(draw(32, 48, {{ShapeKind::kSquare, Colour::kRed, 14, 6, 20, 20, -1}})));
    // 40x40 JPEG with two shapes.
    write_bytes(dir + "/img/blue_circle.jpg",
                encode_jpeg(draw(40, 40, {{ShapeKind::kCircle, Colour::kBlue, 4, 10, 16, 16, -1},
                                          {ShapeKind::kTriangle, Colour::kYellow, 22, 12, 14, 14, -1}}),
                            85));
    // 64x64 PNG with two digits.
    write_bytes(dir + "/img/digits.png",
                encode_png(draw(64, 64, {{ShapeKind::kDigit, Colour::kGreen, 10, 20, 10, 14, 3},
                                         {ShapeKind::kDigit, Colour::kOrange, 40, 24, 10, 14, 4}})));
    // A PNG signature followed by garbage: stb must refuse it.
    write_bytes(dir + "/img/corrupt.png", {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8});

    // Line numbers matter: the test expects the bad records exactly where they are.
    write_text(dir + "/records.jsonl",
               // 1: good, PNG
               R"({"id": "a1", "image": "img/red_square.png", "conversations": [{"from": "human", "value": "<image>\nWhat colour is the square?"}, {"from": "gpt", "value": "The square is red.\nAnswer: red"}]})" "\n"
               // 2: good, JPEG, two turns -> two examples; explicit split
               R"({"id": "a2", "image": "img/blue_circle.jpg", "split": "test", "family": "shapes", "conversations": [{"from": "human", "value": "What shape is blue?\n<image>"}, {"from": "gpt", "value": "A circle."}, {"from": "human", "value": "Is there a yellow triangle?"}, {"from": "gpt", "value": "Yes, on the right.\nAnswer: yes"}]})" "\n"
               // 3: missing image
               R"({"id": "a3", "image": "img/missing.png", "conversations": [{"from": "human", "value": "<image>\nHow many?"}, {"from": "gpt", "value": "Answer: 2"}]})" "\n"
               // 4: undecodable image
               R"({"id": "a4", "image": "img/corrupt.png", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "Answer: noise"}]})" "\n"
               // 5: blank line (ignored, not counted)
               "\n"
               // 6: malformed turn (unknown speaker)
               R"({"id": "a6", "image": "img/digits.png", "conversations": [{"from": "human", "value": "<image>\nSum?"}, {"from": "robot", "value": "7"}]})" "\n"
               // 7: not JSON
               R"({"id": "a7", "image": "img/digits.png", "conversations": [)" "\n"
               // 8: first human turn without <image>
               R"({"id": "a8", "image": "img/digits.png", "conversations": [{"from": "human", "value": "What is the sum of the digits?"}, {"from": "gpt", "value": "Answer: 7"}]})" "\n"
               // 9: good, digits
               R"({"id": "a9", "image": "img/digits.png", "family": "arithmetic", "conversations": [{"from": "human", "value": "<image>\nWhat is the sum of the digits?"}, {"from": "gpt", "value": "3 + 4 = 7.\nAnswer: 7"}]})" "\n");

    write_text(dir + "/records.json",
               "[\n"
               R"(  {"id": "b1", "image": "img/digits.png", "conversations": [{"from": "human", "value": "<image>\nWhat is the product of the digits?"}, {"from": "gpt", "value": "Answer: 12"}]},)" "\n"
               R"(  {"id": "b2", "image": "img/red_square.png", "conversations": [{"from": "gpt", "value": "Answer: red"}, {"from": "human", "value": "<image>\nColour?"}]},)" "\n"
               R"(  {"id": "b3", "image": "img/blue_circle.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat colour is the circle?"}, {"from": "gpt", "value": "Answer: blue"}]})" "\n"
               "]\n");
  } catch (const std::exception& e) {
    std::cerr << "ril-make-import-fixture: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
