// Internal: Unicode NFC for the "NFC" normalizer of HF tokenizer.json files (Qwen2 uses it).
#pragma once

#include <string>
#include <string_view>

namespace ril::text::detail {

// NFC of valid UTF-8 (callers validate first). Text whose code points are all below U+0300
// is already NFC and is returned unchanged without decoding.
std::string to_nfc(std::string_view text);

// The Unicode version of the tables (from the generator).
const char* nfc_unicode_version();

}  // namespace ril::text::detail
