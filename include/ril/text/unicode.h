// UTF-8 validation/repair and Unicode NFC, as the tokenizer uses them (no ICU dependency).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ril::text {

// Byte offset of the first invalid UTF-8 sequence in text, or std::nullopt when valid.
// Overlong forms, surrogates (U+D800..DFFF) and code points above U+10FFFF are invalid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// text with each maximal invalid subsequence replaced by U+FFFD (the WHATWG / Unicode
// "substitution of maximal subparts" practice, as browsers and Python's "replace" do).
std::string replace_invalid_utf8(std::string_view text);

// Unicode Normalization Form C of valid UTF-8 (throws ril::Error on invalid input). Tables
// are generated from Perl's Unicode data by tests/tools/generate_tokenizer_nfc_tables.pl.
std::string to_nfc(std::string_view text);
// The Unicode version of those tables.
const char* nfc_unicode_version();

}  // namespace ril::text
