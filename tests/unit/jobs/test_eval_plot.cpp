// `ril plot` pieces: axis ticks and labels, the line chart (lines where values are, gaps at NaN),
// metric selection (default set, "all", comma lists, unknown names) and the panel grid.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ril/common/error.h"
#include "ril/data/line_chart.h"
#include "ril/io/metrics_table.h"
#include "ril/jobs/plot_job.h"

namespace ril {
namespace {

using data::AxisTicks;
using data::Image;
using data::LineChartOptions;
using data::LineSeries;
using data::Rgb;

bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

int count_colour(const Image& image, Rgb c, int x0 = 0, int x1 = -1) {
  if (x1 < 0) x1 = image.width() - 1;
  int n = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = x0; x <= x1; ++x) n += same(image.get(y, x), c);
  }
  return n;
}

TEST(LineChart, NiceTicks) {
  AxisTicks t = data::nice_ticks(0.13, 0.87, 6);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  EXPECT_DOUBLE_EQ(t.lo, 0.0);
  EXPECT_DOUBLE_EQ(t.hi, 1.0);
  EXPECT_EQ(t.values.size(), 6u);
  t = data::nice_ticks(1, 100, 6, /*integer_step=*/true);
  EXPECT_DOUBLE_EQ(t.step, 20);
  EXPECT_DOUBLE_EQ(t.lo, 0);
  EXPECT_DOUBLE_EQ(t.hi, 100);
  t = data::nice_ticks(1, 3, 10, true);  // integer steps never go below 1
  EXPECT_DOUBLE_EQ(t.step, 1);
  EXPECT_EQ(t.values, (std::vector<double>{1, 2, 3}));
  t = data::nice_ticks(-0.05, 0.05, 5);
  EXPECT_DOUBLE_EQ(t.step, 0.05);
  ASSERT_EQ(t.values.size(), 3u);
  EXPECT_EQ(t.values[1], 0.0);  // exactly zero, not -1e-18
  t = data::nice_ticks(7, 7, 5);  // a flat series gets a range around it
  EXPECT_LT(t.lo, 7);
  EXPECT_GT(t.hi, 7);
  t = data::nice_ticks(0, 0, 5);
  EXPECT_LE(t.lo, -1);
  EXPECT_GE(t.hi, 1);
  for (double hi : {1e-7, 3.3, 1234.5, 9.9e8}) {
    t = data::nice_ticks(-hi / 3, hi, 7);
    EXPECT_LE(t.values.size(), 7u) << hi;
    EXPECT_LE(t.lo, -hi / 3) << hi;
    EXPECT_GE(t.hi, hi) << hi;
  }
  EXPECT_THROW(data::nice_ticks(0, std::nan(""), 5), Error);
}

TEST(LineChart, TickLabels) {
  EXPECT_EQ(data::tick_label(0.25, 0.05), "0.25");
  EXPECT_EQ(data::tick_label(0.2, 0.2), "0.2");
  EXPECT_EQ(data::tick_label(1500, 500), "1500");
  EXPECT_EQ(data::tick_label(12000, 2000), "12K");
  EXPECT_EQ(data::tick_label(2500, 500), "2500");
  EXPECT_EQ(data::tick_label(1.5e6, 5e5), "1500K");
  EXPECT_EQ(data::tick_label(3e6, 1e6), "3M");
  EXPECT_EQ(data::tick_label(-0.1, 0.1), "-0.1");
  EXPECT_EQ(data::tick_label(1e-18, 0.1), "0");
  EXPECT_EQ(data::tick_label(2.5e-5, 5e-6), "2.5E-05");
  EXPECT_EQ(data::tick_label(1.05e-6, 5e-8), "1.05E-06");
  EXPECT_EQ(data::tick_label(1e-6, 5e-8), "1E-06");
  EXPECT_EQ(data::tick_label(9.5e-7, 5e-8), "9.5E-07");
  EXPECT_EQ(data::tick_label(40, 20), "40");
}

TEST(LineChart, DrawsSeriesAndBreaksAtNan) {
  const Rgb red{250, 20, 20}, green{20, 250, 20};
  LineChartOptions o;
  o.width = 300;
  o.height = 200;
  o.title = "reward";
  o.x_label = "step";
  LineSeries a{"a", {1, 2, 3, 4, 5, 6}, {0, 1, 2, 3, 4, 5}, red, 1};
  const Image one = data::render_line_chart({a}, o);
  EXPECT_EQ(one.width(), 300);
  EXPECT_EQ(one.height(), 200);
  const int full = count_colour(one, red);
  EXPECT_GT(full, 150);  // a diagonal across most of the plot, plus the legend swatch
  // A NaN in the middle removes the two segments that touch it.
  LineSeries b = a;
  b.y[2] = std::nan("");
  const int gapped = count_colour(data::render_line_chart({b}, o), red);
  EXPECT_LT(gapped, full - 40);
  EXPECT_GT(gapped, 60);
  // Two series, both visible.
  LineSeries c{"c", {1, 2, 3, 4, 5, 6}, {5, 4, 3, 2, 1, 0}, green, 2};
  const Image two = data::render_line_chart({a, c}, o);
  EXPECT_GT(count_colour(two, red), 100);
  EXPECT_GT(count_colour(two, green), 200);
  // Only non-finite values: a message instead of axes, no series pixels.
  LineSeries none{"", {1, 2}, {std::nan(""), std::numeric_limits<double>::infinity()}, red, 1};
  EXPECT_EQ(count_colour(data::render_line_chart({none}, o), red), 0);
  // A single point is still drawn (as a dot).
  LineSeries dot{"", {3}, {1.5}, red, 1};
  EXPECT_GE(count_colour(data::render_line_chart({dot}, o), red), 9);
  // Bad input.
  LineSeries bad{"", {1, 2}, {1}, red, 1};
  EXPECT_THROW(data::render_line_chart({bad}, o), Error);
  o.width = 50;
  EXPECT_THROW(data::render_line_chart({a}, o), Error);
}

io::MetricsData table(const std::vector<std::string>& columns, int64_t rows) {
  io::MetricsData d;
  d.columns = columns;
  d.source = "/runs/x/metrics.h5";
  d.values.resize(columns.size());
  for (int64_t r = 1; r <= rows; ++r) {
    d.steps.push_back(r);
    for (size_t c = 0; c < columns.size(); ++c) {
      d.values[c].push_back(std::sin(0.1 * static_cast<double>(r) + static_cast<double>(c)) * static_cast<double>(c + 1));
    }
  }
  return d;
}

TEST(PlotJob, SelectsMetrics) {
  const io::MetricsData d = table({"lr", "kl", "reward_student", "extra", "kl_student", "val_acc"}, 5);
  // Default: the standard set, in its order, where present.
  EXPECT_EQ(jobs::select_plot_metrics(d, {}), (std::vector<std::string>{"val_acc", "reward_student", "kl", "kl_student"}));
  // No standard name at all: every column.
  const io::MetricsData other = table({"a", "b"}, 3);
  EXPECT_EQ(jobs::select_plot_metrics(other, {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(jobs::select_plot_metrics(d, {"extra,lr", "kl", "lr"}), (std::vector<std::string>{"extra", "lr", "kl"}));
  EXPECT_EQ(jobs::select_plot_metrics(d, {"all"}), d.columns);
  try {
    jobs::select_plot_metrics(d, {"kl", "reward_teacher"});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--metrics 'reward_teacher' is not a column of /runs/x/metrics.h5"), std::string::npos) << what;
    EXPECT_NE(what.find("lr, kl, reward_student, extra, kl_student, val_acc"), std::string::npos) << what;
  }
}

TEST(PlotJob, GridOfPanels) {
  const io::MetricsData d = table({"a", "b", "c", "d", "e"}, 200);  // > 60 rows: raw + moving average
  jobs::CurvesOptions o;
  const Image five = jobs::render_curves(d, d.columns, o);
  EXPECT_EQ(five.width(), 3 * o.panel_width);   // 5 panels: 3 per row
  EXPECT_GT(five.height(), 2 * o.panel_height);  // 2 rows + the header
  EXPECT_LT(five.height(), 2 * o.panel_height + 40);
  const Image four = jobs::render_curves(d, {"a", "b", "c", "d"}, o);
  EXPECT_EQ(four.width(), 2 * o.panel_width);
  const Image one = jobs::render_curves(table({"a"}, 3), {"a"}, o);
  EXPECT_EQ(one.width(), o.panel_width);
  EXPECT_THROW(jobs::render_curves(d, {"zzz"}, o), Error);
  // Empty table: panels say there is nothing to draw rather than failing.
  const Image empty = jobs::render_curves(table({"a", "b"}, 0), {"a", "b"}, o);
  EXPECT_EQ(empty.width(), 2 * o.panel_width);
}

}  // namespace
}  // namespace ril
