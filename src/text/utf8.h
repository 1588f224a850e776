// Internal UTF-8 helpers of the text area (not installed; include/ril/text/ has the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ril/common/utf8.h"

namespace ril::text::detail {

// Validation lives in common (ril/common/utf8.h), shared with error messages.
using ::ril::utf8_sequence_length;

// Decodes the (valid) sequence at text[pos] of length len.
char32_t utf8_decode(std::string_view text, size_t pos, size_t len);

void utf8_append(std::string& out, char32_t cp);

}  // namespace ril::text::detail
