#include "text_test_util.h"

#include <unistd.h>

#include <vector>

namespace ril::text::testing {

std::string make_temp_dir(const std::string& tag) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ril_" + tag + "_XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return "/tmp";
  }
  return std::string(buf.data());
}

}  // namespace ril::text::testing
