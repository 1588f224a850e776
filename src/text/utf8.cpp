#include "utf8.h"

#include <optional>

#include "ril/text/unicode.h"

namespace ril::text {
namespace detail {

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
