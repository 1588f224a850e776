// `ril plot RUN --out curves.png`: a run's training curves (its metrics table, io/metrics_table.h)
// as a grid of small line charts (data/line_chart.h), one panel per metric, written as a PNG.
//
// - RUN: a run directory (metrics.h5, or metrics.csv while a live run holds the HDF5 file), a
//   metrics.h5 or a metrics.csv.
// - --metrics: names (repeatable, or comma-separated; "all" = every column). Default: the
//   standard set below, those the table has, in that order; every column when it has none.
// - Panels: title "<metric>  last <value>" (+ how many values are NaN/inf), x = step. With more
//   than 60 rows the raw values are drawn dim and a centred moving average (window about
//   rows / 30, odd) on top.
// Which ranks call: every rank; world rank 0 reads and checks the table and tells the others
// its verdict (so a bad RUN or an unknown metric is a ConfigError on every rank alike); only
// rank 0 draws and writes the PNG.
#pragma once

#include <string>
#include <vector>

#include "ril/common/config.h"
#include "ril/data/image.h"
#include "ril/dist/rank_groups.h"
#include "ril/io/metrics_table.h"

namespace ril::jobs {

// The RIL curves a user watches: val_acc, reward_student, reward_teacher, answer_acc_student,
// disc_acc, kl_student, kl_teacher, entropy, response_len_student, limit_hit_student,
// policy_loss, disc_loss (those the table has; a column measured every few steps is drawn
// through its points).
const std::vector<std::string>& default_plot_metrics();

// The columns to draw (see above). Throws ConfigError naming an unknown metric and listing the
// table's columns.
std::vector<std::string> select_plot_metrics(const io::MetricsData& data, const std::vector<std::string>& requested);

struct CurvesOptions {
  int panel_width = 400;
  int panel_height = 250;
  int columns = 0;    // panels per row; 0: 1-3 panels in one row, 4 as 2x2, else 3 (4 beyond 9)
  std::string title;  // header line above the panels ("" : the table's source and step range)
};

// The grid of panels for `metrics` (columns of `data`; an unknown one throws ril::Error).
data::Image render_curves(const io::MetricsData& data, const std::vector<std::string>& metrics,
                          const CurvesOptions& options = {});

void run_plot_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::jobs
