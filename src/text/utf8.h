// Internal UTF-8 helpers of the text area (not installed; include/ril/text/ has the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ril::text::detail {

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when it is invalid; `bad_len`
// then receives the length of the maximal invalid subpart (>= 1) to replace by one U+FFFD.
size_t utf8_sequence_length(std::string_view text, size_t pos, size_t* bad_len);

// Decodes the (valid) sequence at text[pos] of length len.
char32_t utf8_decode(std::string_view text, size_t pos, size_t len);

void utf8_append(std::string& out, char32_t cp);

}  // namespace ril::text::detail
