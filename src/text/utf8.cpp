#include "utf8.h"

#include <optional>

#include "ril/text/unicode.h"

namespace ril::text {
namespace detail {

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

char32_t utf8_decode(std::string_view text, size_t pos, size_t len) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  switch (len) {
    case 1: return byte(pos);
    case 2: return (char32_t(byte(pos) & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
    case 3:
      return (char32_t(byte(pos) & 0x0F) << 12) | (char32_t(byte(pos + 1) & 0x3F) << 6) |
             (byte(pos + 2) & 0x3F);
    default:
      return (char32_t(byte(pos) & 0x07) << 18) | (char32_t(byte(pos + 1) & 0x3F) << 12) |
             (char32_t(byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
  }
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace detail

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    // ASCII fast path: 8 bytes at a time.
    while (pos + 8 <= text.size()) {
      uint64_t word = 0;
      for (int k = 0; k < 8; ++k) word |= uint64_t(static_cast<uint8_t>(text[pos + k])) << (8 * k);
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= text.size()) break;
    const size_t len = detail::utf8_sequence_length(text, pos, nullptr);
    if (len == 0) return pos;
    pos += len;
  }
  return std::nullopt;
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t bad = 0;
    const size_t len = detail::utf8_sequence_length(text, pos, &bad);
    if (len > 0) {
      out.append(text.data() + pos, len);
      pos += len;
    } else {
      out += "\xEF\xBF\xBD";
      pos += bad;
    }
  }
  return out;
}

}  // namespace ril::text
