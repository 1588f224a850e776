// Small line charts drawn into an Image with the built-in bitmap font (no plotting library):
// one or more series over shared axes, "nice" ticks (1, 2 or 5 x 10^k) with grid lines and
// labels, a title line and a legend. Used by `ril plot` for training curves.
//
// Non-finite y values (NaN, inf) break a series' line: the points on either side are not
// joined, and a finite point with no finite neighbour is drawn as a dot. Axis ranges cover the
// finite values of every series; a chart with no finite value says so instead of drawing axes.
#pragma once

#include <string>
#include <vector>

#include "ril/data/image.h"

namespace ril::data {

struct LineSeries {
  std::string label;       // legend entry; "" for none
  std::vector<double> x;   // same length as y, increasing
  std::vector<double> y;
  Rgb colour{90, 170, 250};
  int thickness = 1;       // pixels (1-3)
};

struct LineChartOptions {
  int width = 400;   // the whole chart, labels included
  int height = 240;
  std::string title;
  std::string x_label;        // under the x axis ("" for none)
  bool integer_x = true;      // x ticks on whole numbers only (steps)
  Rgb background{18, 18, 24};
  Rgb frame{110, 110, 125};
  Rgb grid{40, 40, 50};
  Rgb text{170, 170, 185};
  Rgb title_colour{235, 235, 235};
};

// Ticks covering [lo, hi]: step = 1, 2 or 5 x 10^k chosen so that there are at most
// `max_ticks` of them; `lo`/`hi` of the result are widened to multiples of the step.
// lo == hi is widened first (by 1, or by a tenth of |lo|).
struct AxisTicks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values;
};
AxisTicks nice_ticks(double lo, double hi, int max_ticks, bool integer_step = false);

// A tick value as text with as many decimals as the step needs: "0.25" for step 0.05, "1500"
// for step 500; steps of 1000 or more in K/M/G, the unit chosen by the step ("12K" for 12000 at
// step 2000, "2500K" for 2.5e6 at step 5e5); values below 0.01 at steps below 0.001 in exponent
// form ("2.5E-05").
std::string tick_label(double value, double step);

// Draws the chart. Throws ril::Error for a size below 120 x 80 or a series whose x and y
// lengths differ.
Image render_line_chart(const std::vector<LineSeries>& series, const LineChartOptions& options);

}  // namespace ril::data
