// Every numeric option of every command, walked from the parser's own registry (so an option
// added later is covered without editing this file): NaN, infinities, negative, zero, huge and
// fractional values are either accepted inside the option's documented range or refused with a
// ConfigError naming the option and the value, on the command line and in INI files alike.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ril/common/config_parser.h"
#include "ril/common/error.h"
#include "support/temp_dir.h"

namespace {

// The least each command needs to parse. A new command must be added here (the test says so).
const std::map<std::string, std::vector<std::string>>& minimal_arguments() {
  static const std::map<std::string, std::vector<std::string>> args = {
      {"info", {"file.h5"}},
      {"teach", {"--dataset", "d.h5", "--teacher", "a=dir"}},
      {"smoke", {}},
      {"sft", {"--dataset", "d.h5", "--tokenizer", "tok.json"}},
      {"train", {"--dataset", "d.h5", "--student", "dir", "--teacher-cache", "c.h5"}},
      {"eval", {"--model", "a=dir", "--dataset", "d.h5"}},
      {"plot", {"run"}},
  };
  return args;
}

ril::ParseResult parse(const std::string& command, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"ril", command};
  const auto& minimal = minimal_arguments().at(command);
  args.insert(args.end(), minimal.begin(), minimal.end());
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return ril::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string resolved(const ril::Config& c, const std::string& name) {
  for (const auto& [key, value] : c.resolved) {
    if (key == name) return value;
  }
  return "(absent)";
}

const std::vector<std::string> kHostileValues = {
    "nan", "NaN", "inf", "-inf", "infinity", "-1", "0", "1", "0.5", "1e30", "-1e30", "1e-300", "1e999",
    "9223372036854775807", "-9223372036854775808", "18446744073709551615", "18446744073709551616", "", "1x"};

TEST(ConfigOptions, EveryCommandHasAMinimalCommandLine) {
  for (const std::string& command : ril::command_names()) {
    ASSERT_TRUE(minimal_arguments().count(command)) << "add the new command '" << command << "' to minimal_arguments()";
    EXPECT_NO_THROW(parse(command, {})) << command;
  }
}

TEST(ConfigOptions, EveryNumericOptionHasARangeThatHoldsItsDefaultAndIsInTheHelp) {
  int numeric = 0;
  for (const std::string& command : ril::command_names()) {
    const std::string help = parse(command, {"--help"}).output;
    for (const ril::OptionSpec& spec : ril::option_specs(command)) {
      if (!spec.numeric()) continue;
      ++numeric;
      ASSERT_TRUE(spec.range.has_value()) << command << " --" << spec.name << " (" << spec.value_type
                                          << ") has no range: bind it with one";
      EXPECT_TRUE(spec.range->contains(std::stod(spec.default_text)))
          << command << " --" << spec.name << " default " << spec.default_text << " outside " << spec.range->text();
      EXPECT_NE(help.find("--" + spec.name + " "), std::string::npos) << command << " --" << spec.name;
      EXPECT_NE(help.find(spec.range->text()), std::string::npos)
          << command << " --help does not show the range " << spec.range->text() << " of --" << spec.name;
    }
  }
  EXPECT_GT(numeric, 50);  // the walk saw the options (about 60 today)
}

TEST(ConfigOptions, HostileValuesAreAcceptedInRangeOrRefusedByName) {
  for (const std::string& command : ril::command_names()) {
    for (const ril::OptionSpec& spec : ril::option_specs(command)) {
      if (!spec.numeric()) continue;
      const std::string option = "--" + spec.name;
      for (const std::string& value : kHostileValues) {
        const std::string what = command + " " + option + " '" + value + "'";
        try {
          const ril::Config c = parse(command, {option, value}).config;
          const std::string text = resolved(c, spec.name);
          const double parsed = std::stod(text);
          EXPECT_TRUE(spec.range->contains(parsed)) << what << " accepted as " << text << ", outside "
                                                    << spec.range->text();
        } catch (const ril::ConfigError& e) {
          const std::string message = e.what();
          EXPECT_NE(message.find(option), std::string::npos) << what << ": " << message;
          if (!value.empty()) EXPECT_NE(message.find(value), std::string::npos) << what << ": " << message;
        }
      }
    }
  }
}

TEST(ConfigOptions, IniValuesAreCheckedTheSameWay) {
  ril::test::TempDir dir;
  for (const std::string& command : ril::command_names()) {
    for (const ril::OptionSpec& spec : ril::option_specs(command)) {
      if (!spec.numeric()) continue;
      for (const std::string value : {"nan", "inf", "-1", "1e30"}) {
        const std::string path = dir.path() + "/o.ini";
        std::ofstream(path) << "[" << command << "]\n" << spec.name << " = " << value << "\n";
        try {
          const ril::Config c = parse(command, {"--config", path}).config;
          EXPECT_TRUE(spec.range->contains(std::stod(resolved(c, spec.name)))) << command << " " << spec.name << " = " << value;
        } catch (const ril::ConfigError& e) {
          const std::string message = e.what();
          EXPECT_NE(message.find(spec.name), std::string::npos) << message;
          EXPECT_NE(message.find(path), std::string::npos) << message;
        }
      }
    }
  }
}

// The rows of issue 13 that option validation answers, with their messages.
TEST(ConfigOptions, IssueRowsGetTheirMessages) {
  const auto error = [](const std::string& command, const std::vector<std::string>& extra) {
    try {
      parse(command, extra);
    } catch (const ril::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error("train", {"--lr", "inf"}).find("--lr must be a finite number in (0, 1], got inf"), std::string::npos);
  EXPECT_NE(error("train", {"--lr", "0"}).find("--lr must be in (0, 1], got 0"), std::string::npos);
  EXPECT_NE(error("train", {"--beta", "inf"}).find("--beta must be a finite number in [0, 100], got inf"), std::string::npos);
  EXPECT_NE(error("train", {"--beta", "nan"}).find("--beta must be a finite number"), std::string::npos);
  const std::string seed = error("smoke", {"--seed", "-1"});
  EXPECT_NE(seed.find("--seed must be >= 0 (a negative value is not wrapped around), got -1"), std::string::npos) << seed;
  EXPECT_EQ(parse("smoke", {"--seed", "18446744073709551615"}).config.common.seed, UINT64_MAX);
  EXPECT_NE(error("train", {"--max-new-tokens", "100000000"}).find("--max-new-tokens must be in [1, 1048576]"),
            std::string::npos);
  ril::test::TempDir dir;
  const std::string config_dir = error("smoke", {"--config", dir.path()});
  EXPECT_NE(config_dir.find("config file '" + dir.path() + "' is not a file (it is a directory)"), std::string::npos)
      << config_dir;
}

TEST(ConfigOptions, BinaryGarbageInAnIniFileIsEscapedInTheMessage) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/garbage.ini";
  std::ofstream(path, std::ios::binary) << "[smoke]\n\x1b[31m\x01\xff\xfe red\n";
  std::string message;
  try {
    parse("smoke", {"--config", path});
  } catch (const ril::ConfigError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  EXPECT_NE(message.find("\\x1B[31m\\x01\\xFF\\xFE red"), std::string::npos) << message;
  for (char ch : message) EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) << message;

  const std::string unknown = dir.path() + "/unknown.ini";
  std::ofstream(unknown, std::ios::binary) << "[smoke]\nbad\x07name = 1\n";
  try {
    parse("smoke", {"--config", unknown});
    ADD_FAILURE() << "no error";
  } catch (const ril::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bad\\x07name"), std::string::npos) << e.what();
  }
}

TEST(Printable, EscapesControlsAndBrokenUtf8AndKeepsText) {
  EXPECT_EQ(ril::printable("plain text 1.5"), "plain text 1.5");
  EXPECT_EQ(ril::printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // valid UTF-8 stays
  EXPECT_EQ(ril::printable("a\x1b[2Jb"), "a\\x1B[2Jb");
  EXPECT_EQ(ril::printable("\xff\xc3"), "\\xFF\\xC3");            // invalid and truncated sequences
  EXPECT_EQ(ril::printable("\xc2\x9b"), "\\xC2\\x9B");            // C1 control (CSI)
  EXPECT_EQ(ril::printable("\xed\xa0\x80"), "\\xED\\xA0\\x80");  // UTF-16 surrogate
  EXPECT_EQ(ril::printable("a\nb\tc"), "a\\x0Ab\\x09c");
  EXPECT_EQ(ril::printable("a\nb\tc", /*keep_newlines=*/true), "a\nb\tc");
}

}  // namespace
