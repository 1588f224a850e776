// Command line -> Config, with Boost.Program_options.
//   ril --version | ril --help | ril <command> --help
//   ril <command> [--config FILE.ini] [options]   (command-line values win over the file)
// INI files hold `name = value` lines with the long option names. Lines before any section, and
// in sections [common] or [<command>], apply; other sections are ignored (so one file can hold
// the settings of several commands). Unknown names, malformed lines and bad values are errors.
//
// Every numeric option carries its range (NumericRange, shown in --help as e.g. `REAL in (0,1]`)
// and is checked when its text is parsed, on the command line and in INI files alike: NaN and
// infinities never pass, a value out of range is refused with "--NAME must be ..., got VALUE",
// and an unsigned option (--seed) refuses a leading '-' instead of wrapping it modulo 2^64.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ril/common/config.h"

namespace ril {

struct ParseResult {
  Config config;
  bool exit_now = false;  // --help or --version: print `output` and exit 0
  std::string output;
};

// Throws ConfigError (the same on every rank) naming the option, value or file line at fault.
// Also checks values that need no other knowledge (ranges, enumerations, log level).
ParseResult parse_command_line(int argc, const char* const argv[]);

std::string version_text();  // "ril 0.1.0 (LibTorch 1.13.1, CUDA off, Release)"

// The accepted values of a numeric option: finite, and between `min` and `max` (each bound
// inclusive unless `*_open`; an infinite bound is no bound).
struct NumericRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool max_open = false;
  bool contains(double value) const;
  std::string text() const;  // "[1, 1048576]", ">= 0", "> 0", "(0, 1]"
};

// One registered option of a command (the common options included), as the parser sees it:
// what --help lists and what tests walk to check every option's validation.
struct OptionSpec {
  std::string name;                  // long name, without "--"
  std::string value_type;            // "int64", "uint64", "double", "string", "bool", "strings", "" (no value)
  std::optional<NumericRange> range; // set for every numeric option
  std::string default_text;          // "" when there is no default
  bool numeric() const { return value_type == "int64" || value_type == "uint64" || value_type == "double"; }
};

std::vector<std::string> command_names();
// Throws ConfigError for an unknown command.
std::vector<OptionSpec> option_specs(const std::string& command);

}  // namespace ril
