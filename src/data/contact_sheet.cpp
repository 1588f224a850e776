#include "ril/data/contact_sheet.h"

#include <algorithm>
#include <cmath>

#include "ril/common/error.h"
#include "ril/data/bitmap_font.h"

namespace ril::data {
namespace {

constexpr Rgb kBackground{12, 12, 16};
constexpr Rgb kTitle{140, 140, 150};
constexpr Rgb kQuestion{235, 235, 235};
constexpr Rgb kAnswer{250, 210, 60};
constexpr Rgb kRationale{120, 200, 140};
constexpr int kPad = 6;

struct Cell {
  int64_t index;
  std::vector<std::pair<std::string, Rgb>> lines;
};

}  // namespace

Image render_contact_sheet(const Dataset& dataset, const ContactSheetOptions& options) {
  RIL_CONFIG_CHECK(options.count >= 1 && options.count <= 1024, "show: --n must be in [1, 1024], got ", options.count);
  RIL_CONFIG_CHECK(options.scale >= 1 && options.scale <= 8, "show: --scale must be in [1, 8], got ", options.scale);
  RIL_CONFIG_CHECK(options.start >= 0, "show: --start must be >= 0, got ", options.start);
  std::vector<int64_t> pool;
  if (options.split.empty()) {
    for (int64_t i = 0; i < dataset.size(); ++i) pool.push_back(i);
  } else {
    pool = dataset.indices(parse_split(options.split));
  }
  RIL_CONFIG_CHECK(options.start < static_cast<int64_t>(pool.size()), "show: --start ", options.start, " but the ",
                   options.split.empty() ? "dataset" : options.split + " split", " has ", pool.size(), " examples");
  if (!options.rationale.empty()) {
    RIL_CONFIG_CHECK(dataset.has_rationale_style(options.rationale), "show: the dataset has no rationale style '",
                     options.rationale, "' (it has ", join_names(dataset.rationale_styles()), ")");
  }
  const int64_t n = std::min<int64_t>(options.count, static_cast<int64_t>(pool.size()) - options.start);
  const int columns = options.columns > 0 ? options.columns : static_cast<int>(std::ceil(std::sqrt(double(n))));
  const int rows = static_cast<int>((n + columns - 1) / columns);
  const int image_w = dataset.image_width() * options.scale, image_h = dataset.image_height() * options.scale;
  // Text at least 22 characters wide, so short images still get readable questions.
  const int cell_w = std::max(image_w, 22 * kGlyphAdvance) + 2 * kPad;
  const int chars = (cell_w - 2 * kPad + 1) / kGlyphAdvance;

  std::vector<Cell> cells;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = pool[static_cast<size_t>(options.start + k)];
    Cell cell{i, {}};
    cell.lines.emplace_back(cat("#", i, " ", dataset.family(i), " ", split_name(dataset.split(i))), kTitle);
    for (const std::string& l : wrap_text(dataset.question(i), chars)) cell.lines.emplace_back(l, kQuestion);
    for (const std::string& l : wrap_text("A: " + dataset.answer(i), chars)) cell.lines.emplace_back(l, kAnswer);
    if (!options.rationale.empty()) {
      const Example e = dataset.example(i);
      for (const std::string& l : wrap_text(e.rationales.at(options.rationale), chars)) {
        cell.lines.emplace_back(l, kRationale);
      }
    }
    cells.push_back(std::move(cell));
  }
  std::vector<int> row_h(static_cast<size_t>(rows), 0);
  for (int64_t k = 0; k < n; ++k) {
    const int h = kPad + image_h + 4 + static_cast<int>(cells[static_cast<size_t>(k)].lines.size()) * kLineAdvance + kPad;
    int& r = row_h[static_cast<size_t>(k / columns)];
    r = std::max(r, h);
  }
  int total_h = 0;
  for (int h : row_h) total_h += h;
  Image sheet(total_h, columns * cell_w, kBackground);
  int y0 = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      const int64_t k = static_cast<int64_t>(r) * columns + c;
      if (k >= n) break;
      const Cell& cell = cells[static_cast<size_t>(k)];
      const int x0 = c * cell_w;
      sheet.blit(Image(dataset.image_height(), dataset.image_width(), dataset.image_bytes(cell.index)), y0 + kPad,
                 x0 + kPad, options.scale);
      int y = y0 + kPad + image_h + 4;
      for (const auto& [line, colour] : cell.lines) {
        draw_text(sheet, line, y, x0 + kPad, colour);
        y += kLineAdvance;
      }
      // A thin separator on the right and bottom edges of the cell.
      sheet.fill_rect(y0, x0 + cell_w - 1, row_h[static_cast<size_t>(r)], 1, Rgb{40, 40, 48});
      sheet.fill_rect(y0 + row_h[static_cast<size_t>(r)] - 1, x0, 1, cell_w, Rgb{40, 40, 48});
    }
    y0 += row_h[static_cast<size_t>(r)];
  }
  return sheet;
}

}  // namespace ril::data
