// Log lines: "2026-11-27 20:10:26.123 [r3 learner] [comm] INFO  text".
// Each line is formatted whole and written with one write(2), so lines from several ranks
// that share a terminal or a Slurm output file never interleave mid-line.
// Which ranks call: any. Metrics and summaries should be logged from one rank only
// (see RankGroups::is_metrics_rank()).
#pragma once

#include <string>

#include "ril/common/error.h"

namespace ril {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Parses "debug|info|warn|error|off" (case-insensitive); throws ConfigError otherwise.
LogLevel parse_log_level(const std::string& text);
const char* log_level_name(LogLevel level);

class Logger {
 public:
  static Logger& instance();

  // Identity printed in every line; set once MPI and the role map are known.
  void set_identity(int rank, const std::string& roles);
  void set_level(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }
  bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::kOff; }

  void write(LogLevel level, const char* tag, const std::string& text) const;

 private:
  Logger();
  LogLevel level_ = LogLevel::kInfo;
  std::string identity_ = "[r? -]";
};

template <typename... Args>
void log(LogLevel level, const char* tag, const Args&... args) {
  Logger& logger = Logger::instance();
  if (logger.enabled(level)) logger.write(level, tag, cat(args...));
}
template <typename... Args>
void log_debug(const char* tag, const Args&... args) { log(LogLevel::kDebug, tag, args...); }
template <typename... Args>
void log_info(const char* tag, const Args&... args) { log(LogLevel::kInfo, tag, args...); }
template <typename... Args>
void log_warn(const char* tag, const Args&... args) { log(LogLevel::kWarn, tag, args...); }
template <typename... Args>
void log_error(const char* tag, const Args&... args) { log(LogLevel::kError, tag, args...); }

}  // namespace ril
