#include "ril/common/error.h"

#include <cstdio>

#include "ril/common/utf8.h"

namespace ril {
namespace {
int g_error_rank = -1;

// U+0080..U+009F (C1 controls, e.g. CSI) act on terminals like ESC sequences.
bool c1_control(const std::string& s, size_t i, size_t n) {
  return n == 2 && static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

}  // namespace

int error_rank() { return g_error_rank; }
void set_error_rank(int rank) { g_error_rank = rank; }

std::string printable(const std::string& text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (keep_newlines && (c == '\n' || c == '\t')) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t n = c >= 0x80 ? utf8_sequence_length(text, i) : 0; n > 0 && !c1_control(text, i, n)) {
      out.append(text, i, n);
      i += n;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
      ++i;
    }
  }
  return out;
}

}  // namespace ril
