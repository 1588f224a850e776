#include "ril/common/logging.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>

namespace ril {

LogLevel parse_log_level(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  if (lower == "off") return LogLevel::kOff;
  throw ConfigError(cat("unknown log level '", text, "' (expected debug, info, warn, error or off)"));
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO ";
    case LogLevel::kWarn: return "WARN ";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kOff: return "OFF  ";
  }
  return "?";
}

Logger& Logger::instance() {
  static Logger logger;
  return logger;
}

// RIL_LOG_LEVEL sets the starting level; --log-level overrides it (see config_parser.cpp).
Logger::Logger() {
  if (const char* env = std::getenv("RIL_LOG_LEVEL")) {
    try {
      level_ = parse_log_level(env);
    } catch (const ConfigError&) {
      level_ = LogLevel::kInfo;  // reported by the config parser, which sees the same variable
    }
  }
}

void Logger::set_identity(int rank, const std::string& roles) {
  identity_ = cat("[r", rank, " ", roles, "]");
}

void Logger::write(LogLevel level, const char* tag, const std::string& text) const {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const int millis = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm_utc{};
  gmtime_r(&seconds, &tm_utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm_utc.tm_year + 1900,
                tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, millis);
  std::string line;
  line.reserve(text.size() + 64);
  line.append(stamp).append(" ").append(identity_).append(" [").append(tag).append("] ");
  line.append(log_level_name(level)).append(" ").append(text);
  // Multi-line messages keep one write: continuation lines are indented, never split.
  for (size_t pos = line.find('\n'); pos != std::string::npos; pos = line.find('\n', pos + 1)) {
    line.insert(pos + 1, "    ");
  }
  line.push_back('\n');
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n <= 0) break;  // nowhere left to report a failing stderr
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace ril
