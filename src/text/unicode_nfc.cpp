#include "unicode_nfc.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "utf8.h"

#include "ril/common/error.h"
#include "ril/text/unicode.h"

namespace ril::text::detail {
namespace {

struct CccRange {
  char32_t first, last;
  uint8_t ccc;
};
struct DecompEntry {
  char32_t cp;
  uint16_t offset, length;
};
struct CompEntry {
  char32_t first, second, composite;
};

#include "unicode_nfc_tables.inc"

// Hangul syllables compose and decompose by arithmetic (Unicode section 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

uint8_t ccc_of(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto it = std::upper_bound(std::begin(kCccRanges), std::end(kCccRanges), cp,
                                   [](char32_t c, const CccRange& r) { return c < r.first; });
  if (it == std::begin(kCccRanges)) return 0;
  const CccRange& r = *(it - 1);
  return cp <= r.last ? r.ccc : 0;
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (cp >= 0xC0) {
    const auto it = std::lower_bound(std::begin(kDecomp), std::end(kDecomp), cp,
                                     [](const DecompEntry& e, char32_t c) { return e.cp < c; });
    if (it != std::end(kDecomp) && it->cp == cp) {
      out.insert(out.end(), kDecompData + it->offset, kDecompData + it->offset + it->length);
      return;
    }
  }
  out.push_back(cp);
}

// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const auto it = std::lower_bound(
      std::begin(kComp), std::end(kComp), std::make_pair(a, b),
      [](const CompEntry& e, const std::pair<char32_t, char32_t>& k) {
        return e.first != k.first ? e.first < k.first : e.second < k.second;
      });
  if (it != std::end(kComp) && it->first == a && it->second == b) return it->composite;
  return 0;
}

}  // namespace

const char* nfc_unicode_version() { return kNfcUnicodeVersion; }

std::string to_nfc(std::string_view text) {
  // Lead bytes below 0xCC start code points below U+0300: nothing there decomposes into
  // something NFC would not recompose, nor combines with what precedes it.
  bool simple = true;
  for (const char c : text) {
    if (static_cast<uint8_t>(c) >= 0xCC) {
      simple = false;
      break;
    }
  }
  if (simple) return std::string(text);

  // 1. Full canonical decomposition.
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = utf8_sequence_length(text, pos, nullptr);
    if (len == 0) len = 1;  // callers validate; never loop forever
    decompose(utf8_decode(text, pos, len), cps);
    pos += len;
  }
  // 2. Canonical ordering: stable sort of each run of non-starters by class.
  std::vector<uint8_t> ccc(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) ccc[i] = ccc_of(cps[i]);
  for (size_t i = 0; i < cps.size();) {
    if (ccc[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && ccc[j] != 0) ++j;
    if (j - i > 1) {
      std::vector<std::pair<uint8_t, char32_t>> run;
      for (size_t k = i; k < j; ++k) run.emplace_back(ccc[k], cps[k]);
      std::stable_sort(run.begin(), run.end(),
                       [](const auto& x, const auto& y) { return x.first < y.first; });
      for (size_t k = i; k < j; ++k) {
        ccc[k] = run[k - i].first;
        cps[k] = run[k - i].second;
      }
    }
    i = j;
  }
  // 3. Canonical composition: each character combines with the last starter unless a
  // character in between blocks it (same or higher class, or a starter).
  size_t out = 0;
  std::ptrdiff_t starter = -1;  // index in the output of the last starter
  int last_ccc = -1;            // class of the last character kept after that starter
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    const uint8_t c = ccc[i];
    if (starter >= 0) {
      const bool blocked = last_ccc != -1 && (last_ccc == 0 || last_ccc >= c);
      if (!blocked) {
        const char32_t composite = compose_pair(cps[starter], cp);
        if (composite) {
          cps[starter] = composite;
          continue;
        }
      }
    }
    if (c == 0) {
      starter = static_cast<std::ptrdiff_t>(out);
      last_ccc = -1;
    } else {
      last_ccc = c;
    }
    cps[out] = cp;
    ccc[out] = c;
    ++out;
  }
  std::string result;
  result.reserve(text.size());
  for (size_t i = 0; i < out; ++i) utf8_append(result, cps[i]);
  return result;
}

}  // namespace ril::text::detail

namespace ril::text {

std::string to_nfc(std::string_view text) {
  if (const auto bad = find_invalid_utf8(text)) {
    throw Error(cat("to_nfc: invalid UTF-8 at byte offset ", *bad));
  }
  return detail::to_nfc(text);
}

const char* nfc_unicode_version() { return detail::nfc_unicode_version(); }

}  // namespace ril::text
