// Command line -> Config, with Boost.Program_options.
//   ril --version | ril --help | ril <command> --help
//   ril <command> [--config FILE.ini] [options]   (command-line values win over the file)
// INI files hold `name = value` lines with the long option names. Lines before any section, and
// in sections [common] or [<command>], apply; other sections are ignored (so one file can hold
// the settings of several commands). Unknown names, malformed lines and bad values are errors.
#pragma once

#include <string>

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

}  // namespace ril
