#include "ril/roles/response.h"

#include <algorithm>
#include <tuple>

#include "ril/common/error.h"
#include "ril/dist/byte_codec.h"

namespace ril::roles {

void sort_responses(Responses& responses) {
  std::sort(responses.begin(), responses.end(), [](const Response& a, const Response& b) {
    return std::make_tuple(a.question, a.source, a.sample) < std::make_tuple(b.question, b.source, b.sample);
  });
}

Responses merge_responses(Responses students, const Responses& teachers) {
  students.insert(students.end(), teachers.begin(), teachers.end());
  sort_responses(students);
  return students;
}

int64_t drop_stale_responses(Responses& responses, int64_t current_version, int64_t max_staleness) {
  const auto stale = [&](const Response& r) { return r.is_student() && current_version - r.version > max_staleness; };
  const auto end = std::remove_if(responses.begin(), responses.end(), stale);
  const auto dropped = static_cast<int64_t>(responses.end() - end);
  responses.erase(end, responses.end());
  return dropped;
}

std::string encode_responses(const Responses& responses) {
  dist::ByteWriter out;
  out.put<int64_t>(static_cast<int64_t>(responses.size()));
  for (const Response& r : responses) {
    out.put<int64_t>(r.question);
    out.put<int32_t>(r.sample);
    out.put<int32_t>(r.source);
    out.put<int32_t>(r.finished ? 1 : 0);
    out.put<int64_t>(r.version);
    out.put_vector(r.ids);
    out.put_vector(r.logprobs);
    out.put_string(r.text);
  }
  return out.take();
}

Responses decode_responses(const std::string& bytes) {
  dist::ByteReader in(bytes);
  const int64_t n = in.get<int64_t>();
  // Every response takes at least 52 bytes: a larger count is a foreign buffer.
  RIL_CHECK(n >= 0 && static_cast<uint64_t>(n) <= bytes.size() / 52, "response buffer: bad count ", n, " in ",
            bytes.size(), " bytes");
  Responses out(static_cast<size_t>(n));
  for (Response& r : out) {
    r.question = in.get<int64_t>();
    r.sample = in.get<int32_t>();
    r.source = in.get<int32_t>();
    r.finished = in.get<int32_t>() != 0;
    r.version = in.get<int64_t>();
    r.ids = in.get_vector<int64_t>();
    r.logprobs = in.get_vector<float>();
    r.text = in.get_string();
  }
  in.expect_done("response buffer");
  return out;
}

std::vector<int64_t> response_text_ids(const text::BpeTokenizer& tokenizer, const std::string& text) {
  text::EncodeOptions plain;
  plain.allow_special = false;
  plain.invalid_utf8 = text::InvalidUtf8::kReplace;
  const std::vector<int32_t> ids = tokenizer.encode(text, plain);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

void fit_to_budget(Response& r, const text::BpeTokenizer& tokenizer, int64_t budget) {
  const std::vector<int64_t> ids = response_text_ids(tokenizer, r.text);
  r.finished = static_cast<int64_t>(ids.size()) + 1 <= budget;
  if (r.finished) return;
  const std::vector<int32_t> cut(ids.begin(), ids.begin() + budget);
  r.text = tokenizer.decode(cut, /*skip_special=*/true);
}

}  // namespace ril::roles
