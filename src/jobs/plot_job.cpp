#include "ril/jobs/plot_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/data/bitmap_font.h"
#include "ril/data/image_codec.h"
#include "ril/data/line_chart.h"
#include "ril/dist/agreement.h"

namespace ril::jobs {
namespace {

constexpr const char* kTag = "plot";
constexpr data::Rgb kBackground{12, 12, 16};
constexpr data::Rgb kHeader{235, 235, 235};
// One colour per panel, cycled; the raw line of a smoothed panel is the same colour, dimmed.
constexpr data::Rgb kColours[] = {{90, 170, 250}, {250, 160, 60}, {110, 210, 120}, {240, 90, 100},
                                  {190, 140, 250}, {80, 210, 210}, {240, 210, 80}, {220, 130, 190}};
constexpr int kSmoothAbove = 60;

data::Rgb dim(data::Rgb c, data::Rgb background, double keep) {
  auto mix = [&](uint8_t a, uint8_t b) { return static_cast<uint8_t>(std::lround(a * keep + b * (1 - keep))); };
  return {mix(c.r, background.r), mix(c.g, background.g), mix(c.b, background.b)};
}

std::string short_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", v);
  return buffer;
}

// Centred moving average over the finite values of the window; NaN where y itself is not
// finite, so that gaps in the raw series stay gaps.
std::vector<double> moving_average(const std::vector<double>& y, int window) {
  const int n = static_cast<int>(y.size()), half = window / 2;
  std::vector<double> out(y.size(), std::nan(""));
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(y[static_cast<size_t>(i)])) continue;
    double sum = 0;
    int count = 0;
    for (int j = std::max(0, i - half); j <= std::min(n - 1, i + half); ++j) {
      if (std::isfinite(y[static_cast<size_t>(j)])) {
        sum += y[static_cast<size_t>(j)];
        ++count;
      }
    }
    if (count > 0) out[static_cast<size_t>(i)] = sum / count;
  }
  return out;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}


}  // namespace

const std::vector<std::string>& default_plot_metrics() {
  static const std::vector<std::string> names = {"val_acc", "reward_student", "reward_teacher",
                                                 "answer_acc_student", "disc_acc", "kl", "kl_student",
                                                 "kl_teacher", "entropy", "response_len_student",
                                                 "limit_hit_student", "policy_loss", "disc_loss"};
  return names;
}

std::vector<std::string> select_plot_metrics(const io::MetricsData& data, const std::vector<std::string>& requested) {
  std::vector<std::string> names;
  for (const std::string& r : requested) {
    size_t start = 0;
    while (start <= r.size()) {
      const size_t comma = r.find(',', start);
      const std::string name = r.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) names.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  if (names.empty()) {
    for (const std::string& name : default_plot_metrics()) {
      if (data.column_index(name) >= 0) add(name);
    }
    if (out.empty()) out = data.columns;
  } else {
    for (const std::string& name : names) {
      if (name == "all") {
        for (const std::string& c : data.columns) add(c);
        continue;
      }
      RIL_CONFIG_CHECK(data.column_index(name) >= 0, "ril plot: --metrics '", name, "' is not a column of ",
                       data.source, " (it has: ", data.columns.empty() ? std::string("none") : join(data.columns),
                       ")");
      add(name);
    }
  }
  RIL_CONFIG_CHECK(!out.empty(), "ril plot: ", data.source, " has no metric columns to draw");
  return out;
}

data::Image render_curves(const io::MetricsData& data, const std::vector<std::string>& metrics,
                          const CurvesOptions& options) {
  RIL_CHECK(!metrics.empty(), "render_curves: no metrics to draw");
  const int n = static_cast<int>(metrics.size());
  const int columns = options.columns > 0 ? std::min(options.columns, n)
                      : n <= 3               ? n
                      : n == 4               ? 2
                      : n <= 9               ? 3
                                             : 4;
  const int rows = (n + columns - 1) / columns;
  const int header = data::kLineAdvance * 2 + 4;
  data::Image sheet(header + rows * options.panel_height, columns * options.panel_width, kBackground);
  std::string title = options.title;
  if (title.empty()) {
    title = cat(data.source, ": ", data.rows(), " rows");
    if (!data.steps.empty()) title += cat(", steps ", data.steps.front(), "..", data.steps.back());
  }
  const int chars = std::max(1, (sheet.width() - 8) / data::kGlyphAdvance);
  draw_text(sheet, title.size() > static_cast<size_t>(chars) ? ".." + title.substr(title.size() - chars + 2) : title,
            6, 4, kHeader);

  std::vector<double> x(data.steps.begin(), data.steps.end());
  for (int k = 0; k < n; ++k) {
    const int64_t c = data.column_index(metrics[static_cast<size_t>(k)]);
    RIL_CHECK(c >= 0, "render_curves: '", metrics[static_cast<size_t>(k)], "' is not a column of ", data.source);
    const std::vector<double>& y = data.values[static_cast<size_t>(c)];
    const data::Rgb colour = kColours[k % (sizeof(kColours) / sizeof(kColours[0]))];
    int64_t bad = 0;
    double last = std::nan("");
    for (double v : y) {
      if (std::isfinite(v)) {
        last = v;
      } else {
        ++bad;
      }
    }
    data::LineChartOptions chart;
    chart.width = options.panel_width;
    chart.height = options.panel_height;
    chart.title = cat(metrics[static_cast<size_t>(k)], "  last ", short_number(last));
    chart.x_label = "step";
    chart.background = kBackground;
    std::vector<data::LineSeries> series;
    const int64_t finite = static_cast<int64_t>(y.size()) - bad;
    if (finite >= 2 && bad > finite) {
      // A column measured every few steps (val_acc): join its points instead of leaving gaps.
      std::vector<double> xs, ys;
      for (size_t i = 0; i < y.size(); ++i) {
        if (std::isfinite(y[i])) {
          xs.push_back(x[i]);
          ys.push_back(y[i]);
        }
      }
      chart.title += cat("  (", finite, " points)");
      series.push_back({"", xs, ys, colour, 2});
    } else if (data.rows() > kSmoothAbove) {
      if (bad > 0) chart.title += cat("  (", bad, " nan/inf)");
      const int window = std::max(5, static_cast<int>(data.rows() / 30)) | 1;
      series.push_back({"raw", x, y, dim(colour, kBackground, 0.35), 1});
      series.push_back({cat("mean of ", window), x, moving_average(y, window), colour, 2});
    } else {
      if (bad > 0) chart.title += cat("  (", bad, " nan/inf)");
      series.push_back({"", x, y, colour, 1});
    }
    const data::Image panel = data::render_line_chart(series, chart);
    sheet.blit(panel, header + (k / columns) * options.panel_height, (k % columns) * options.panel_width);
  }
  return sheet;
}

void run_plot_job(const dist::RankGroups& groups, const Config& config) {
  const PlotConfig& p = config.plot;
  dist::Communicator& world = *groups.channel(dist::Channel::kWorld);
  const bool reader = world.rank() == 0;
  io::MetricsData data;
  std::vector<std::string> metrics;
  std::string error;
  if (reader) {
    try {
      data = io::read_metrics(p.run);
      metrics = select_plot_metrics(data, p.metrics);
    } catch (const ConfigError& e) {
      error = e.what();
    } catch (const Error& e) {
      error = cat("ril plot: ", e.what());
    }
  }
  // Rank 0's verdict on every rank: a ConfigError alike everywhere, nobody left waiting.
  dist::agree_or_throw(world, error);
  if (!reader) return;

  if (data.rows() == 0) log_warn(kTag, data.source, " has no rows yet: the panels will be empty");
  const data::Image image = render_curves(data, metrics);
  const std::filesystem::path out(p.out);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  data::write_png(image, p.out);
  log_info(kTag, "wrote ", p.out, " (", image.width(), "x", image.height(), " pixels): ", metrics.size(),
           " panel(s) [", join(metrics), "], ", data.rows(), " rows from ", data.source);
}

}  // namespace ril::jobs
