// UTF-8 validation shared by the text area (tokenizer, normalisation) and error messages
// (ril::printable). Unicode Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <string_view>

namespace ril {

// Length of the valid UTF-8 sequence starting at text[pos] (1 for ASCII), or 0 when it is
// invalid; `bad_len` then receives the length of the maximal invalid subpart (>= 1) to replace by
// one U+FFFD.
size_t utf8_sequence_length(std::string_view text, size_t pos, size_t* bad_len = nullptr);

}  // namespace ril
