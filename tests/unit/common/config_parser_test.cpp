// The command line and INI parser: precedence, every kind of bad input, help and version.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ril/common/config_parser.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "support/temp_dir.h"

namespace {

ril::ParseResult parse(std::vector<std::string> args) {
  args.insert(args.begin(), "ril");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return ril::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string parse_error(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const ril::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string write_file(const ril::test::TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigParser, DefaultsComeFromTheStruct) {
  const ril::Config c = parse({"smoke"}).config;
  const ril::Config defaults;
  EXPECT_EQ(c.command, "smoke");
  EXPECT_EQ(c.common.layout, defaults.common.layout);
  EXPECT_EQ(c.smoke.iterations, defaults.smoke.iterations);
  EXPECT_EQ(c.common.seed, defaults.common.seed);
}

TEST(ConfigParser, CommandLineWinsOverIniAndSectionsApplyPerCommand) {
  ril::test::TempDir dir;
  const std::string ini = write_file(dir, "run.ini",
                                     "# comment\nseed = 7\n[smoke]\niterations = 5\nbatch = 3\n"
                                     "[train]\nsomething-train-only = 1\n[common]\nlayout = all=1\n");
  const ril::Config c = parse({"smoke", "--config", ini, "--batch", "9"}).config;
  EXPECT_EQ(c.common.seed, 7u);
  EXPECT_EQ(c.smoke.iterations, 5);
  EXPECT_EQ(c.smoke.batch, 9);  // command line wins
  EXPECT_EQ(c.common.layout, "all=1");
  // The resolved configuration lists every option with its final value and reloads as INI.
  const std::string text = c.resolved_text();
  EXPECT_NE(text.find("batch = 9"), std::string::npos) << text;
  EXPECT_NE(text.find("seed = 7"), std::string::npos) << text;
  const std::string again = write_file(dir, "resolved.ini", text);
  const ril::Config d = parse({"smoke", "--config", again}).config;
  EXPECT_EQ(d.smoke.batch, 9);
  EXPECT_EQ(d.resolved, c.resolved);
}

TEST(ConfigParser, BadInputNamesTheProblem) {
  ril::test::TempDir dir;
  EXPECT_NE(parse_error({"smoke", "--frobnicate", "3"}).find("frobnicate"), std::string::npos);
  EXPECT_NE(parse_error({"smok"}).find("unknown command 'smok'"), std::string::npos);
  EXPECT_NE(parse_error({}).find("no command"), std::string::npos);
  EXPECT_NE(parse_error({"smoke", "--iterations", "many"}).find("iterations"), std::string::npos);
  EXPECT_NE(parse_error({"smoke", "--iterations", "0"}).find("--iterations must be in [1, 1000000], got 0"), std::string::npos);
  EXPECT_NE(parse_error({"smoke", "--log-level", "loud"}).find("unknown log level 'loud'"), std::string::npos);
  EXPECT_NE(parse_error({"info"}).find("file"), std::string::npos);

  const std::string malformed = write_file(dir, "bad.ini", "seed = 3\nthis line is not ini\n");
  const std::string e1 = parse_error({"smoke", "--config", malformed});
  EXPECT_NE(e1.find("line 2"), std::string::npos) << e1;
  EXPECT_NE(e1.find(malformed), std::string::npos) << e1;

  const std::string unknown_key = write_file(dir, "unknown.ini", "[smoke]\nbogus-key = 1\n");
  const std::string e2 = parse_error({"smoke", "--config", unknown_key});
  EXPECT_NE(e2.find("bogus-key"), std::string::npos) << e2;
  EXPECT_NE(e2.find(unknown_key), std::string::npos) << e2;

  const std::string bad_section = write_file(dir, "section.ini", "[smoke\nseed = 1\n");
  EXPECT_NE(parse_error({"smoke", "--config", bad_section}).find("malformed section"), std::string::npos);
  EXPECT_NE(parse_error({"smoke", "--config", dir.path() + "/missing.ini"}).find("cannot read config file"),
            std::string::npos);
}

TEST(ConfigParser, HelpAndVersionExitEarly) {
  const ril::ParseResult help = parse({"smoke", "--help"});
  EXPECT_TRUE(help.exit_now);
  EXPECT_NE(help.output.find("--iterations"), std::string::npos);
  EXPECT_NE(help.output.find("--layout"), std::string::npos);
  const ril::ParseResult top = parse({"--help"});
  EXPECT_NE(top.output.find("smoke"), std::string::npos);
  EXPECT_NE(top.output.find("info"), std::string::npos);
  const ril::ParseResult version = parse({"--version"});
  EXPECT_NE(version.output.find("ril "), std::string::npos);
}

TEST(Logging, LevelsParseAndFilter) {
  EXPECT_EQ(ril::parse_log_level("DEBUG"), ril::LogLevel::kDebug);
  EXPECT_EQ(ril::parse_log_level("warning"), ril::LogLevel::kWarn);
  EXPECT_THROW(ril::parse_log_level("verbose"), ril::ConfigError);
  ril::Logger& logger = ril::Logger::instance();
  const ril::LogLevel saved = logger.level();
  logger.set_level(ril::LogLevel::kWarn);
  EXPECT_FALSE(logger.enabled(ril::LogLevel::kInfo));
  EXPECT_TRUE(logger.enabled(ril::LogLevel::kError));
  logger.set_level(saved);
}

TEST(ConfigParser, InfoTakesAFileOrAModel) {
  EXPECT_EQ(parse({"info", "x.h5"}).config.info.path, "x.h5");
  const ril::Config c = parse({"info", "--model", "qwen2.5-vl-3b"}).config;
  EXPECT_EQ(c.info.model, "qwen2.5-vl-3b");
  EXPECT_TRUE(c.info.path.empty());
  EXPECT_NE(parse_error({"info", "x.h5", "--model", "tiny"}).find("one of them"), std::string::npos);
}

}  // namespace
