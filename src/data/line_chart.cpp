#include "ril/data/line_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "ril/common/error.h"
#include "ril/data/bitmap_font.h"

namespace ril::data {
namespace {

constexpr int kTitleTop = 4;
constexpr int kMargin = 6;

struct Rect {
  int x0, y0, x1, y1;  // inclusive
  bool contains(int y, int x) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

void plot_point(Image& image, const Rect& clip, int y, int x, Rgb colour, int thickness) {
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  for (int dy = lo; dy <= hi; ++dy) {
    for (int dx = lo; dx <= hi; ++dx) {
      if (clip.contains(y + dy, x + dx)) image.set(y + dy, x + dx, colour);
    }
  }
}

// Bresenham from (y0, x0) to (y1, x1).
void draw_line(Image& image, const Rect& clip, int y0, int x0, int y1, int x1, Rgb colour, int thickness) {
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    plot_point(image, clip, y0, x0, colour, thickness);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

std::string fit(const std::string& text, int width_px) {
  const size_t chars = static_cast<size_t>(std::max(0, (width_px + 1) / kGlyphAdvance));
  if (text.size() <= chars) return text;
  return chars >= 2 ? text.substr(0, chars - 2) + ".." : text.substr(0, chars);
}

}  // namespace

AxisTicks nice_ticks(double lo, double hi, int max_ticks, bool integer_step) {
  RIL_CHECK(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: range [", lo, ", ", hi, "] is not finite");
  RIL_CHECK(max_ticks >= 2, "nice_ticks: max_ticks must be >= 2, got ", max_ticks);
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= std::max(std::abs(lo), std::abs(hi)) * 1e-12) {
    const double d = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / (max_ticks - 1);
  double base = std::pow(10.0, std::floor(std::log10(raw)));
  AxisTicks t;
  for (int guard = 0; guard < 64; ++guard) {
    for (double m : {1.0, 2.0, 5.0}) {
      double step = m * base;
      if (step < raw * (1 - 1e-9)) continue;
      if (integer_step) step = std::max(1.0, std::round(step));
      const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
      if (last - first + 1 > max_ticks) continue;
      t.step = step;
      t.lo = first * step;
      t.hi = last * step;
      for (double k = first; k <= last; k += 1) {
        const double v = k * step;
        t.values.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
      }
      return t;
    }
    base *= 10;
  }
  throw Error(cat("nice_ticks: no step found for [", lo, ", ", hi, "] with ", max_ticks, " ticks"));
}

std::string tick_label(double value, double step) {
  if (std::abs(value) < std::abs(step) * 1e-9 || value == 0) return "0";
  char buffer[64];
  if (std::abs(step) < 1e-3 && std::abs(value) < 1e-2) {
    // As many significant digits as tell neighbouring ticks apart: 1.05E-06 at step 5E-08.
    const int digits = static_cast<int>(std::floor(std::log10(std::abs(value)) + 1e-9) -
                                        std::floor(std::log10(std::abs(step)) + 1e-9)) + 1;
    std::snprintf(buffer, sizeof(buffer), "%.*G", std::clamp(digits, 1, 6), value);
    return buffer;
  }
  double unit = 1;
  const char* suffix = "";
  if (step >= 1e9) {
    unit = 1e9;
    suffix = "G";
  } else if (step >= 1e6) {
    unit = 1e6;
    suffix = "M";
  } else if (step >= 1e3) {
    unit = 1e3;
    suffix = "K";
  }
  const double scaled_step = step / unit;
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(scaled_step) + 1e-9)), 0, 9);
  std::snprintf(buffer, sizeof(buffer), "%.*f%s", decimals, value / unit, suffix);
  return buffer;
}

Image render_line_chart(const std::vector<LineSeries>& series, const LineChartOptions& options) {
  const int w = options.width, h = options.height;
  RIL_CHECK(w >= 120 && h >= 80, "line chart of ", w, "x", h, " pixels is too small (at least 120x80)");
  for (const LineSeries& s : series) {
    RIL_CHECK(s.x.size() == s.y.size(), "line series '", s.label, "' has ", s.x.size(), " x values and ",
              s.y.size(), " y values");
  }
  Image image(h, w, options.background);
  draw_text(image, fit(options.title, w - 2 * kMargin), kTitleTop, kMargin, options.title_colour);
  int top = kTitleTop + kLineAdvance + 2;

  // Legend: a short line in the series colour, then its label.
  int legend_x = kMargin;
  bool legend = false;
  for (const LineSeries& s : series) {
    if (s.label.empty()) continue;
    legend = true;
    const int need = 12 + text_width(s.label) + 10;
    if (legend_x + need > w - kMargin && legend_x > kMargin) break;  // one line only
    image.fill_rect(top + 3, legend_x, std::max(1, s.thickness), 9, s.colour);
    draw_text(image, fit(s.label, w - kMargin - legend_x - 12), top, legend_x + 12, options.text);
    legend_x += need;
  }
  if (legend) top += kLineAdvance + 2;
  top += 3;

  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const LineSeries& s : series) {
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  }
  if (!(xmin <= xmax)) {
    const std::string text = "no finite values";
    draw_text(image, text, (top + h) / 2 - kGlyphHeight / 2, std::max(kMargin, (w - text_width(text)) / 2),
              options.text);
    return image;
  }

  const int bottom_text = kLineAdvance + 2 + (options.x_label.empty() ? 0 : kLineAdvance);
  const int plot_h_guess = h - top - bottom_text - kMargin;
  const AxisTicks yt = nice_ticks(ymin, ymax, std::clamp(plot_h_guess / 24 + 1, 2, 8));
  int label_w = 0;
  for (double v : yt.values) label_w = std::max(label_w, text_width(tick_label(v, yt.step)));
  Rect plot{kMargin + label_w + 5, top + kGlyphHeight / 2, w - kMargin - 12, h - kMargin - bottom_text};
  RIL_CHECK(plot.x1 - plot.x0 >= 20 && plot.y1 - plot.y0 >= 20, "line chart of ", w, "x", h,
            " pixels leaves no room for the plot (labels too wide)");
  const int plot_w = plot.x1 - plot.x0, plot_h = plot.y1 - plot.y0;
  const AxisTicks xt = nice_ticks(xmin, xmax, std::clamp(plot_w / 55 + 1, 2, 10), options.integer_x);

  auto px = [&](double x) {
    return plot.x0 + static_cast<int>(std::lround((x - xt.lo) / (xt.hi - xt.lo) * plot_w));
  };
  auto py = [&](double y) {
    return plot.y1 - static_cast<int>(std::lround((y - yt.lo) / (yt.hi - yt.lo) * plot_h));
  };

  // Grid and tick labels.
  for (double v : yt.values) {
    const int y = py(v);
    image.fill_rect(y, plot.x0, 1, plot_w + 1, options.grid);
    const std::string label = tick_label(v, yt.step);
    draw_text(image, label, y - kGlyphHeight / 2, plot.x0 - 4 - text_width(label), options.text);
  }
  int last_label_end = -1000;
  for (double v : xt.values) {
    const int x = px(v);
    image.fill_rect(plot.y0, x, plot_h + 1, 1, options.grid);
    const std::string label = tick_label(v, xt.step);
    const int lx = std::clamp(x - text_width(label) / 2, 0, w - text_width(label) - 1);
    if (lx > last_label_end + 4) {
      draw_text(image, label, plot.y1 + 4, lx, options.text);
      last_label_end = lx + text_width(label);
    }
  }
  if (!options.x_label.empty()) {
    const std::string label = fit(options.x_label, w - 2 * kMargin);
    draw_text(image, label, plot.y1 + 4 + kLineAdvance, plot.x0 + (plot_w - text_width(label)) / 2, options.text);
  }
  // Frame.
  image.fill_rect(plot.y0, plot.x0, 1, plot_w + 1, options.frame);
  image.fill_rect(plot.y1, plot.x0, 1, plot_w + 1, options.frame);
  image.fill_rect(plot.y0, plot.x0, plot_h + 1, 1, options.frame);
  image.fill_rect(plot.y0, plot.x1, plot_h + 1, 1, options.frame);

  // Series, in order (later ones on top). Non-finite points break the line.
  for (const LineSeries& s : series) {
    const int thickness = std::clamp(s.thickness, 1, 3);
    const size_t n = s.y.size();
    auto finite = [&](size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); };
    for (size_t i = 0; i < n; ++i) {
      if (!finite(i)) continue;
      const int x = px(s.x[i]), y = py(s.y[i]);
      const bool prev = i > 0 && finite(i - 1), next = i + 1 < n && finite(i + 1);
      if (next) {
        draw_line(image, plot, y, x, py(s.y[i + 1]), px(s.x[i + 1]), s.colour, thickness);
      } else if (!prev) {
        plot_point(image, plot, y, x, s.colour, thickness + 2);
      }
    }
  }
  return image;
}

}  // namespace ril::data
