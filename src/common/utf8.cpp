#include "ril/common/utf8.h"

#include <cstdint>

namespace ril {

size_t utf8_sequence_length(std::string_view text, size_t pos, size_t* bad_len) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t b0 = byte(pos);
  if (b0 < 0x80) return 1;
  size_t need = 0;
  // Second-byte bounds exclude overlong forms, surrogates and code points above U+10FFFF
  // (Unicode Table 3-7), so the rest of the sequence only needs 80..BF.
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    if (bad_len) *bad_len = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (pos + k >= text.size()) {
      if (bad_len) *bad_len = k;
      return 0;
    }
    const uint8_t b = byte(pos + k);
    const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      if (bad_len) *bad_len = k;
      return 0;
    }
  }
  return need + 1;
}

}  // namespace ril
