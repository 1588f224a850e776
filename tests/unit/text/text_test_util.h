// Helpers shared by the text-area tests.
#pragma once

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace ril::text::testing {

// $RIL_FIXTURES/tokenizer/<name>; fails the test when RIL_FIXTURES is unset.
inline std::string tokenizer_fixture(const std::string& name) {
  const char* root = std::getenv("RIL_FIXTURES");
  if (!root) {
    ADD_FAILURE() << "RIL_FIXTURES is not set (ctest sets it; by hand: "
                     "RIL_FIXTURES=<repo>/tests/fixtures)";
    return "tests/fixtures/tokenizer/" + name;
  }
  return std::string(root) + "/tokenizer/" + name;
}

// A fresh directory under $TMPDIR (or /tmp) for files a test writes.
std::string make_temp_dir(const std::string& tag);

}  // namespace ril::text::testing
